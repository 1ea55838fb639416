r"""The stopping contract shared by every single-run solver and the batched engine.

A run ends with one of :data:`STATUSES`, and each status means the same thing everywhere:

- ``"converged"``: the loss fell to ``loss_tol``, or the point is stationary in the solver's
  sense: :math:`\lVert\nabla\mathcal L\rVert \le` ``grad_tol`` for first-order methods
  (gradient descent, SGD and the batched engine), and also
  :math:`\lambda_{\min}(\nabla^2\mathcal L) \ge` ``-curvature_tol`` for the second-order ones;
- ``"max_iter"``: the iteration cap was reached;
- ``"diverged"``: the loss became non-finite or exceeded :func:`divergence_limit`; the run keeps
  its last iterate before that, :math:`\theta_{t-1}`, and reports :math:`t - 1` iterations;
- ``"stalled"``: the method cannot make progress (a line search, trust region or cubic
  regularization shrank its steps below machine precision);
- ``"stopped"``: the caller's callback asked to stop.

The tests are made in this order at every iterate :math:`\theta_t`, before the step: the loss
test, the stationarity test, the iteration cap. Divergence is tested on each new iterate.
"""

from __future__ import annotations

import numpy as np

__all__ = ["DIVERGENCE_FACTOR", "STATUSES", "divergence_limit", "diverged"]

#: The ways a run can end.
STATUSES = ("converged", "max_iter", "diverged", "stalled", "stopped")

#: A loss this many times the run's starting scale counts as divergence.
DIVERGENCE_FACTOR = 1e6


def divergence_limit(initial_loss, null_loss):
    r"""The loss above which a run has diverged.

    The limit is :math:`10^6 \max(\mathcal L(\theta_0), \frac12 \operatorname{mean} y^2)`: the
    scale is the larger of the starting loss and the loss of the zero network, so that a start
    that already fits well (:math:`\mathcal L(\theta_0) \approx 0`) is not declared diverged
    by a harmless first step.
    Works elementwise on arrays (the batched engine).

    Examples
    --------
    >>> from shallowlearn.stopping import divergence_limit
    >>> divergence_limit(2.0, 0.5)
    2000000.0
    """
    scale = np.maximum(initial_loss, null_loss)
    limit = DIVERGENCE_FACTOR * np.where(scale > 0, scale, 1.0)
    return float(limit) if limit.ndim == 0 else limit


def diverged(loss, limit):
    """Whether a loss counts as divergence: not finite, or above ``limit`` (elementwise).

    Examples
    --------
    >>> from shallowlearn.stopping import diverged
    >>> bool(diverged(float("nan"), 1.0)), bool(diverged(0.5, 1.0))
    (True, False)
    """
    return ~(np.asarray(loss) <= limit)
