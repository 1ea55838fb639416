r"""Why a run ended where it did: each run of a protocol classified, with the numbers that decided.

A run that did not reach the loss threshold within its budget can be in very different
states, and telling them apart is what explains a success curve. :func:`diagnose_run` puts a
run in one of :data:`CATEGORIES`, tested in this order:

* ``"succeeded"``: the loss reached ``loss_tol``.
* ``"diverged"``: the run's status says so (see :mod:`shallowlearn.stopping`).
* ``"slow"``: stopped by its budget (status ``"max_iter"`` or ``"stopped"``) while still
  descending, at a rate that would reach ``loss_tol`` within ``horizon`` times the budget. The
  rate is the least-squares slope :math:`s` of :math:`\log_{10}\mathcal L` per step over the
  last quarter of the recorded losses; the projected steps are
  :math:`\log_{10}(\mathcal L/\mathcal L_{\mathrm{tol}})/(-s)`, with
  :math:`\mathcal L_{\mathrm{tol}}` = ``loss_tol``.
* ``"stuck at a second-order point"``: the gradient is negligible and no curvature is
  negative: a spurious local minimum, or a degenerate point (the flat directions of the
  symmetries included).
* ``"stuck near a saddle"``: the gradient is negligible but :math:`\lambda_{\min} < -\epsilon_H`.
* ``"oscillating"``: a large gradient, and the loss did not decrease over the tail (its
  slope is not negative, or it rose somewhere in the tail): fixed-step gradient descent
  bouncing in a region it cannot descend with that step.
* ``"crawling"``: a large gradient and a descending loss, but too slowly to reach
  ``loss_tol`` within the horizon.

The tolerances are those of :func:`~shallowlearn.critical_points.classify_point`, relative to
the problem's own scale: the gradient is negligible when :math:`\lVert\nabla\mathcal L\rVert` is
at most ``grad_rtol`` times :math:`\sqrt{2\max(\mathcal L_0, \mathcal L)\,\lVert H\rVert_2}`, with
:math:`\mathcal L_0 = \tfrac12 \operatorname{mean} y^2`, and a curvature :math:`\lambda` is
negative when it lies below minus ``eig_rtol`` times :math:`\lVert H\rVert_2` (plus the
Hessian's rounding level). The defaults, :math:`10^{-3}` and :math:`10^{-4}`, are looser than
``classify_point``'s because a run stopped by its budget sits near a critical point, not on it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .critical_points import classify_point
from .validation import check_positive_int, check_real

__all__ = ["CATEGORIES", "RunDiagnosis", "diagnose_run", "tail_slope"]

#: The categories of :func:`diagnose_run`, in the order they are tested.
CATEGORIES = ("succeeded", "diverged", "slow", "stuck at a second-order point",
              "stuck near a saddle", "oscillating", "crawling")

# The statuses of a run cut short while it may still have been descending; a run that stopped
# because its solver found it stationary, or could make no progress, is not "slow".
_INTERRUPTED = ("max_iter", "stopped")


@dataclass(frozen=True)
class RunDiagnosis:
    r"""The category of one run and the numbers that decided it.

    Attributes
    ----------
    category : str
        One of :data:`CATEGORIES`.
    loss, grad_norm, lambda_min : float
        At the run's final point (:math:`\lambda_{\min}` of the dense Hessian; NaN when not
        computed).
    grad_tol, eig_tol : float
        The scale-relative tolerances that were applied.
    slope : float
        The slope of :math:`\log_{10}\mathcal L` per step over the last quarter of the recorded
        losses (NaN when fewer than three positive losses were recorded).
    steps_needed : float
        The steps that slope would take to reach ``loss_tol`` (infinite when not descending).
    """

    category: str
    loss: float
    grad_norm: float
    lambda_min: float
    grad_tol: float
    eig_tol: float
    slope: float
    steps_needed: float


def tail_slope(history, record_every: int) -> tuple[float, bool]:
    r"""The slope of :math:`\log_{10}\mathcal L` per step over the last quarter of a loss
    history, and whether the loss rose anywhere in that tail.

    Parameters
    ----------
    history : array_like, shape (m,)
        Losses recorded every ``record_every`` steps; NaN after a run stopped.
    record_every : int

    Returns
    -------
    slope : float
        NaN when fewer than three positive losses are recorded.
    rose : bool

    Examples
    --------
    >>> import numpy as np
    >>> from shallowlearn.diagnosis import tail_slope
    >>> slope, rose = tail_slope(10.0 ** -np.arange(8.0), record_every=100)
    >>> round(slope, 6), rose
    (-0.01, False)
    """
    history = np.asarray(history, dtype=float)
    if history.ndim != 1:
        raise ValueError(f"history must be a 1-D array of losses; got shape {history.shape}")
    record_every = check_positive_int(record_every, "record_every")
    steps = np.arange(history.size) * record_every
    keep = np.isfinite(history) & (history > 0)
    steps, losses = steps[keep], history[keep]
    if losses.size < 3:
        return float("nan"), False
    tail = slice(int(0.75 * (losses.size - 1)), None)
    steps, logs = steps[tail], np.log10(losses[tail])
    if steps.size < 2:
        steps, logs = np.arange(losses.size)[-2:] * record_every, np.log10(losses[-2:])
    slope = float(np.polyfit(steps, logs, 1)[0])
    return slope, bool(np.any(np.diff(logs) > 0))


def diagnose_run(objective, theta, history, *, record_every: int, status: str, loss_tol: float,
                 max_iter: int, grad_rtol: float = 1e-3, eig_rtol: float = 1e-4,
                 horizon: float = 10.0) -> RunDiagnosis:
    """Classify one run by its final point and its loss history (module docstring).

    Parameters
    ----------
    objective : Objective
        The run's loss.
    theta : array_like, shape (p,)
        Its final point.
    history : array_like
        Its losses every ``record_every`` steps (NaN after it stopped).
    record_every : int
    status : str
        The run's status.
    loss_tol : float
        The success threshold.
    max_iter : int
        The budget.
    grad_rtol, eig_rtol : float
        Tolerances relative to the problem's scale (module docstring).
    horizon : float
        A run is "slow" when it would succeed within this many times the budget.

    Returns
    -------
    RunDiagnosis

    Examples
    --------
    The saddle W = 0 of a quadratic network, after a budget spent there:

    >>> import numpy as np
    >>> from shallowlearn import Objective, random_labels
    >>> from shallowlearn.diagnosis import diagnose_run
    >>> data = random_labels(n=10, d=3, rng=0)
    >>> obj = Objective(data.X, data.y, "quadratic", v=[1.0, -1.0, 1.0, -1.0])
    >>> diagnose_run(obj, np.zeros(obj.p), np.full(11, obj.null_loss), record_every=10,
    ...              status="converged", loss_tol=1e-8, max_iter=100).category
    'stuck near a saddle'
    """
    loss_tol = check_real(loss_tol, "loss_tol", low=0.0)
    max_iter = check_positive_int(max_iter, "max_iter")
    horizon = check_real(horizon, "horizon", low=1.0)
    slope, rose = tail_slope(history, record_every)
    theta = objective.check_theta(theta)
    with np.errstate(all="ignore"):
        point = objective.at(theta, validate=False)
    loss = float(point.value)
    if status == "diverged" or not np.isfinite(loss):
        return RunDiagnosis("diverged", loss, float("nan"), float("nan"), float("nan"),
                            float("nan"), slope, float("inf"))
    needed = (np.log10(max(loss, np.finfo(float).tiny) / loss_tol) / -slope
              if loss_tol > 0 and slope < 0 else float("inf"))
    if loss <= loss_tol:
        return RunDiagnosis("succeeded", loss, float(np.linalg.norm(point.grad)), float("nan"),
                            float("nan"), float("nan"), slope, 0.0)
    verdict = classify_point(objective, theta, grad_rtol=grad_rtol, eig_rtol=eig_rtol)
    numbers = (loss, verdict.grad_norm, verdict.lambda_min, verdict.grad_tol, verdict.eig_tol,
               slope, float(needed))
    if status in _INTERRUPTED and slope < 0 and needed <= horizon * max_iter:
        category = "slow"
    elif verdict.verdict == "strict saddle":
        category = "stuck near a saddle"
    elif verdict.verdict in ("second-order stationary", "degenerate"):
        category = "stuck at a second-order point"
    elif not slope < 0 or rose:
        category = "oscillating"
    else:
        category = "crawling"
    return RunDiagnosis(category, *numbers)
