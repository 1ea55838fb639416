"""First-order solvers: gradient descent, perturbed gradient descent and SGD.

All share the call shape, stopping contract and result type of :mod:`shallowlearn.solvers`.

- :func:`gradient_descent`: fixed step, or Armijo backtracking.
- :func:`perturbed_gradient_descent`: Jin, Ge, Netrapalli, Kakade & Jordan, "How to escape saddle
  points efficiently", ICML 2017 (arXiv:1703.00887), Algorithm 2; :func:`pgd_theory_parameters`
  gives the parameters of their theorem.
- :func:`sgd`: minibatch stochastic gradient descent with heavy-ball momentum.
"""

from __future__ import annotations

import math

import numpy as np

from .objective import Objective
from .solvers import backtrack, gradient_step, solver
from .validation import check_bool, check_positive_int, check_real

__all__ = ["gradient_descent", "perturbed_gradient_descent", "pgd_theory_parameters", "sgd"]


@solver(stationarity="first")
def gradient_descent(objective, *, step: float = 0.01, line_search: bool = False):
    r"""Gradient descent :math:`\theta \leftarrow \theta - \eta\nabla\mathcal L(\theta)`, with a
    fixed step or Armijo backtracking.

    Stops at :math:`\lVert\nabla\mathcal L\rVert \le` ``grad_tol``, a first-order test that
    saddle points pass too. Uses no randomness.

    Parameters
    ----------
    step : float
        The step :math:`\eta > 0`. With ``line_search``, the largest step tried.
    line_search : bool
        Armijo backtracking: halve the trial step (starting from twice the last accepted one,
        at most ``step``) until :math:`\mathcal L` decreases by at least
        :math:`10^{-4}\, t \lVert\nabla\mathcal L\rVert^2`.

    Examples
    --------
    >>> import numpy as np
    >>> from shallowlearn import Objective, gradient_descent
    >>> obj = Objective(np.eye(2), [1.0, 1.0], v=[1.0])
    >>> gradient_descent(obj, [0.5, 0.5], step=0.1).status
    'converged'
    >>> gradient_descent(obj, [0.0, 0.0]).iterations     # W = 0 is a saddle: GD cannot leave
    0
    """
    step = check_real(step, "step", low=0.0, strict=True)
    line_search = check_bool(line_search, "line_search")
    last = step / 2

    def take_step(run):
        nonlocal last
        if not line_search:
            return gradient_step(run, step)
        gnorm2 = run.gnorm**2
        t = backtrack(run, -run.g, min(step, 2 * last), lambda t: 1e-4 * t * gnorm2)
        if t is None:
            return "stalled", "Armijo backtracking found no decrease in 60 halvings"
        last = t
        return None

    return take_step


@solver(stationarity="own")
def perturbed_gradient_descent(
    objective, *, step: float = 0.01, r: float = 1e-3, t_thres: int = 100, f_thres: float = 1e-10
):
    r"""Perturbed gradient descent (Jin et al. 2017, Algorithm 2).

    Gradient descent with a fixed step, except that when
    :math:`\lVert\nabla\mathcal L\rVert \le` ``grad_tol`` (Jin et al.'s :math:`g_{\mathrm{thres}}`)
    and no perturbation happened in the last ``t_thres`` iterations, the point is remembered as
    :math:`\tilde\theta` and moved by :math:`\xi`, drawn uniformly from the ball of radius ``r``
    (from ``rng``). If ``t_thres`` iterations later :math:`\mathcal L` has not dropped below
    :math:`\mathcal L(\tilde\theta)` minus ``f_thres``, the run stops as converged and returns
    :math:`\tilde\theta`, which is then an approximate second-order stationary point with high
    probability. Near a saddle the perturbation grows along negative curvature and the loss
    drops, so the run continues.

    Parameters
    ----------
    step : float
        The step :math:`\eta > 0`.
    r : float
        Perturbation radius.
    t_thres : int
        Iterations allowed for a perturbation to pay off.
    f_thres : float
        The decrease that counts as an escape.

    See Also
    --------
    pgd_theory_parameters : the parameter values of Jin et al.'s theorem.

    Examples
    --------
    >>> import numpy as np
    >>> from shallowlearn import Objective, perturbed_gradient_descent
    >>> obj = Objective(np.eye(2), [1.0, 1.0], v=[1.0])
    >>> result = perturbed_gradient_descent(obj, [0.0, 0.0], step=0.1, t_thres=50, rng=0)
    >>> result.status, result.loss < 1e-10        # escaped the saddle at W = 0
    ('converged', True)
    """
    step = check_real(step, "step", low=0.0, strict=True)
    r = check_real(r, "r", low=0.0, strict=True)
    t_thres = check_positive_int(t_thres, "t_thres")
    f_thres = check_real(f_thres, "f_thres", low=0.0)
    anchor = None  # the evaluation point θ̃ before the last perturbation
    t_noise = -t_thres - 1

    def take_step(run):
        nonlocal anchor, t_noise
        t = run.iteration
        if anchor is not None and t - t_noise == t_thres and run.f - anchor.value > -f_thres:
            run.move(anchor)
            return "converged", (
                f"a perturbation of radius {r:g} did not lower the loss by f_thres = {f_thres:g} "
                f"within t_thres = {t_thres} iterations; theta is the point before it "
                f"(gradient norm {run.gnorm:.3g} ≤ grad_tol = {run.grad_tol:g})"
            )
        if run.gnorm <= run.grad_tol and t - t_noise > t_thres:
            anchor, t_noise = run.point, t
            run.move(run.evaluate(run.theta + _uniform_ball(run.rng, run.objective.p, r)))
        return gradient_step(run, step)

    return take_step


def _uniform_ball(rng, p: int, radius: float) -> np.ndarray:
    z = rng.standard_normal(p)
    return radius * rng.random() ** (1.0 / p) * z / np.linalg.norm(z)


def pgd_theory_parameters(
    *, ell: float, rho: float, epsilon: float, delta_f: float, dim: int, c: float,
    delta: float = 0.1,
) -> dict[str, float]:
    r"""The parameters of perturbed gradient descent prescribed by Jin et al. (2017).

    For an :math:`\ell`-gradient-Lipschitz, :math:`\rho`-Hessian-Lipschitz loss, Algorithm 2 of
    Jin, Ge, Netrapalli, Kakade & Jordan (ICML 2017, arXiv:1703.00887) reaches an
    :math:`\epsilon`-second-order stationary point
    (:math:`\lVert\nabla\mathcal L\rVert \le \epsilon`,
    :math:`\lambda_{\min} \ge -\sqrt{\rho\epsilon}`) with probability at least
    :math:`1 - \delta` using

    .. math::

        \chi &= 3\max\bigl(\log(d\ell\Delta_f / (c\epsilon^2\delta)), 4\bigr),

        \eta &= c/\ell, \quad r = (\sqrt c/\chi^2)\,\epsilon/\ell, \quad
        g_{\mathrm{thres}} = (\sqrt c/\chi^2)\,\epsilon,

        f_{\mathrm{thres}} &= (c/\chi^3)\sqrt{\epsilon^3/\rho}, \quad
        t_{\mathrm{thres}} = (\chi/c^2)\,\ell/\sqrt{\rho\epsilon}.

    The absolute constant ``c`` is a free parameter: the theorem holds for c below some
    constant whose value the paper leaves unspecified, so no choice of c here is certified.
    These formulas are transcribed from the project's notes on the paper and should be
    re-checked against it. The values are usually far more conservative than needed in
    practice (tiny steps and perturbations, very long waits).

    Parameters
    ----------
    ell : float
        Gradient Lipschitz constant :math:`\ell > 0`.
    rho : float
        Hessian Lipschitz constant :math:`\rho > 0`.
    epsilon : float
        Target accuracy :math:`\epsilon > 0`.
    delta_f : float
        An upper bound :math:`\Delta_f \ge \mathcal L(\theta_0) - \min \mathcal L`, with
        :math:`\Delta_f > 0`.
    dim : int
        Number of parameters :math:`d` (``objective.p``).
    c : float
        The absolute constant :math:`c > 0`.
    delta : float
        Failure probability :math:`\delta \in (0, 1)`.

    Returns
    -------
    dict
        Keyword arguments for :func:`perturbed_gradient_descent`: ``step`` (:math:`\eta`),
        ``grad_tol`` (:math:`g_{\mathrm{thres}}`), ``r``, ``t_thres`` (rounded up) and
        ``f_thres``.

    Examples
    --------
    >>> from shallowlearn import pgd_theory_parameters
    >>> params = pgd_theory_parameters(ell=1.0, rho=1.0, epsilon=1e-2, delta_f=1.0, dim=10, c=1.0)
    >>> sorted(params)
    ['f_thres', 'grad_tol', 'r', 'step', 't_thres']
    >>> params["step"], params["t_thres"]
    (1.0, 415)
    """
    ell = check_real(ell, "ell", low=0.0, strict=True)
    rho = check_real(rho, "rho", low=0.0, strict=True)
    epsilon = check_real(epsilon, "epsilon", low=0.0, strict=True)
    delta_f = check_real(delta_f, "delta_f", low=0.0, strict=True)
    dim = check_positive_int(dim, "dim")
    c = check_real(c, "c", low=0.0, strict=True)
    delta = check_real(delta, "delta", low=0.0, strict=True)
    if delta >= 1:
        raise ValueError(f"delta must be a probability in (0, 1); got {delta}")
    # in logarithms, so that a tiny epsilon does not underflow to a division by zero
    log_ratio = (math.log(dim) + math.log(ell) + math.log(delta_f) - math.log(c)
                 - 2 * math.log(epsilon) - math.log(delta))
    chi = 3 * max(log_ratio, 4.0)
    return {
        "step": c / ell,
        "grad_tol": math.sqrt(c) / chi**2 * epsilon,
        "r": math.sqrt(c) / chi**2 * epsilon / ell,
        "t_thres": math.ceil(chi / c**2 * ell / math.sqrt(rho * epsilon)),
        "f_thres": c / chi**3 * math.sqrt(epsilon**3 / rho),
    }


@solver(stationarity="first")
def sgd(objective, *, step: float = 0.01, batch_size: int | None = None, momentum: float = 0.0):
    r"""Minibatch stochastic gradient descent with heavy-ball momentum.

    One iteration is one epoch: the rows are shuffled (by ``rng``) and split into minibatches
    of ``batch_size`` (the last one may be smaller); for each, with :math:`g_B` the gradient of
    the loss on the batch, :math:`u \leftarrow \mu u - \eta g_B` and
    :math:`\theta \leftarrow \theta + u`. At the end of the epoch the full loss and gradient are
    evaluated for the stopping test (:math:`\lVert\nabla\mathcal L\rVert \le` ``grad_tol``,
    first order), the history and the divergence check. In the over-parameterized regime,
    where a zero-loss point fits every batch, the noise vanishes there and SGD converges with a
    constant step. Needs data: an :class:`~shallowlearn.objective.Objective`.

    Parameters
    ----------
    step : float
        Step :math:`\eta > 0`.
    batch_size : int, optional
        Rows per minibatch, 1 to n; default min(32, n).
    momentum : float
        Momentum :math:`\mu \in [0, 1)`; 0 is plain SGD.

    Examples
    --------
    >>> import numpy as np
    >>> from shallowlearn import Objective, sgd
    >>> obj = Objective(np.eye(2), [1.0, 1.0], v=[1.0])
    >>> result = sgd(obj, [0.5, 0.5], step=0.1, batch_size=1, rng=0)
    >>> result.status, result.loss < 1e-10
    ('converged', True)
    """
    if not isinstance(objective, Objective):
        raise TypeError(
            f"sgd samples minibatches of data: objective must be a shallowlearn.Objective; got "
            f"{type(objective).__name__}"
        )
    step = check_real(step, "step", low=0.0, strict=True)
    if batch_size is None:
        batch_size = min(32, objective.n)
    batch_size = check_positive_int(batch_size, "batch_size")
    if batch_size > objective.n:
        raise ValueError(f"batch_size must be at most n = {objective.n}; got {batch_size}")
    momentum = check_real(momentum, "momentum", low=0.0)
    if momentum >= 1:
        raise ValueError(f"momentum must be in [0, 1); got {momentum}")
    velocity = np.zeros(objective.p)

    def take_step(run):
        nonlocal velocity
        theta = run.theta
        order = run.rng.permutation(objective.n)
        for start in range(0, objective.n, batch_size):
            rows = order[start : start + batch_size]
            velocity = momentum * velocity - step * run.minibatch_grad(theta, rows)
            theta = theta + velocity
        run.move(run.evaluate(theta))

    return take_step
