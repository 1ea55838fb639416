"""Local-search solvers for the training loss: one call shape, one result type.

Every solver is called as ``solver(objective, theta0, *, <options>, max_iter, grad_tol, loss_tol,
history_stride, callback, progress, rng)`` and returns a frozen :class:`SolverResult`: the final
θ, a status with a readable reason, iteration and evaluation counts, a history of the loss and
the gradient norm, the smallest Hessian eigenvalue at the end (when p is small enough for a
dense Hessian) and the wall time. :data:`SOLVERS` maps each solver's name to the function, so
that experiments and tests can run all of them on the same problems.

Stopping, divergence, history, callback and progress bar live in one private loop,
``_solve``; each solver only supplies its step. A run ends with one of these statuses:

- ``"converged"``: the loss fell to ``loss_tol``, or the point is stationary in the solver's
  sense (see below);
- ``"max_iter"``: the iteration cap was reached;
- ``"diverged"``: the loss became non-finite, or more than 10¹⁰ times its starting scale; θ is
  then the last iterate before that happened, never NaN, and nothing is raised;
- ``"stalled"``: the solver cannot make progress (a line search or a trust region shrank below
  machine precision);
- ``"stopped"``: the callback asked to stop.

What "stationary" means depends on what the solver knows. Gradient descent and SGD stop at
‖∇L‖ ≤ ``grad_tol``, which includes saddle points: started exactly at the saddle W = 0 of a
quadratic network they never move. Negative-curvature descent, the trust region and cubic
regularization also require λ_min(∇²L) ≥ −``curvature_tol`` and otherwise step along negative
curvature. Perturbed gradient descent uses Jin et al.'s test instead: a random perturbation that
fails to lower the loss.

Algorithms and sources
----------------------
- :func:`gradient_descent`: fixed step, or Armijo backtracking.
- :func:`perturbed_gradient_descent`: Jin, Ge, Netrapalli, Kakade & Jordan, "How to escape saddle
  points efficiently", ICML 2017 (arXiv:1703.00887), Algorithm 2.
- :func:`negative_curvature_descent`: gradient steps, and at near-critical points a step along
  the eigenvector of the most negative Hessian eigenvalue (Moré & Sorensen 1979; Carmon, Duchi,
  Hinder & Sidford, SIAM J. Optim. 2018).
- :func:`trust_region`: Nocedal & Wright, *Numerical Optimization*, ch. 4 and Algorithm 7.2
  (Steihaug 1983); exact subproblem solved in the Hessian's eigenbasis (Moré & Sorensen 1983).
- :func:`cubic_regularization`: Nesterov & Polyak, Math. Program. 108 (2006), with the adaptive
  regularization of Cartis, Gould & Toint, Math. Program. 127 (2011).
- :func:`sgd`: minibatch stochastic gradient descent with heavy-ball momentum.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np
from numpy.typing import ArrayLike
from tqdm.auto import tqdm

from .objective import Objective
from .spectrum import hessian_spectrum
from .validation import as_rng, check_positive_int, check_real

__all__ = [
    "SOLVERS",
    "SolverHistory",
    "SolverResult",
    "cubic_regularization",
    "gradient_descent",
    "negative_curvature_descent",
    "perturbed_gradient_descent",
    "pgd_theory_parameters",
    "sgd",
    "trust_region",
]

_DENSE_MAX = 2000  # largest p for which Hessians are formed densely
_EXPLODE = 1e10  # a loss this many times its starting scale counts as divergence
_MAX_HALVINGS = 60  # a backtracking line search gives up after this many halvings
_SIGMA_MIN = 1e-8  # floor of the cubic regularization weight
_QUIET = dict(over="ignore", invalid="ignore", divide="ignore")  # runs check finiteness themselves

Callback = Callable[[int, np.ndarray, float, float], "bool | None"]
Seed = int | np.random.Generator | None


def _read_only(arr: np.ndarray) -> np.ndarray:
    arr.setflags(write=False)
    return arr


# --- results ---------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class SolverHistory:
    """The loss and the gradient norm along a run, every ``history_stride`` iterations.

    The start (iteration 0) and the final point are always recorded.

    Attributes
    ----------
    iteration : numpy.ndarray of int
    loss : numpy.ndarray
    grad_norm : numpy.ndarray

    Examples
    --------
    >>> import numpy as np
    >>> from shallowlearn import Objective
    >>> from shallowlearn.solvers import gradient_descent
    >>> obj = Objective(np.eye(2), [1.0, 1.0], v=[1.0])
    >>> hist = gradient_descent(obj, [0.5, 0.5], step=0.1, max_iter=10, history_stride=4).history
    >>> hist.iteration
    array([ 0,  4,  8, 10])
    >>> bool(np.all(np.diff(hist.loss) < 0))
    True
    """

    iteration: np.ndarray
    loss: np.ndarray
    grad_norm: np.ndarray

    def __len__(self) -> int:
        return self.iteration.size

    def __repr__(self) -> str:
        return (
            f"SolverHistory({len(self)} records, iterations "
            f"{self.iteration[0]}..{self.iteration[-1]})"
        )


@dataclass(frozen=True, eq=False)
class SolverResult:
    """What a solver returns: the final point and how the run went.

    Attributes
    ----------
    theta : numpy.ndarray, shape (p,)
        The final parameters (read-only); ``objective.unpack(theta)`` gives (v, W).
    status : str
        ``"converged"``, ``"max_iter"``, ``"diverged"``, ``"stalled"`` or ``"stopped"``.
    reason : str
        Why the run ended, in words, with the numbers that decided it.
    solver : str
        The solver's name, a key of :data:`SOLVERS`.
    iterations : int
        Iterations taken (for :func:`sgd`, epochs). Rejected trust-region and cubic steps count.
    loss, grad_norm : float
        L(θ) and ‖∇L(θ)‖ at the final θ.
    lambda_min : float or None
        The smallest eigenvalue of the dense Hessian at the final θ when p ≤ 2000, else None.
    n_grad : int
        Evaluations of the loss with its gradient (in :func:`sgd`, each minibatch gradient
        counts one, and so does the full evaluation at the end of each epoch).
    n_hvp : int
        Hessian-vector products. A dense Hessian counts as p products (it costs about as
        much). The final ``lambda_min`` diagnostic is not counted.
    history : SolverHistory
    time : float
        Wall time of the run in seconds (without the final ``lambda_min`` diagnostic).

    Examples
    --------
    >>> import numpy as np
    >>> from shallowlearn import Objective
    >>> from shallowlearn.solvers import trust_region
    >>> obj = Objective(np.eye(2), [1.0, 1.0], v=[1.0])
    >>> result = trust_region(obj, [0.0, 0.0])     # a saddle: λ_min = −1 there
    >>> result.status, round(result.loss, 12), result.lambda_min > 0
    ('converged', 0.0, True)
    """

    theta: np.ndarray
    status: str
    reason: str
    solver: str
    iterations: int
    loss: float
    grad_norm: float
    lambda_min: float | None
    n_grad: int
    n_hvp: int
    history: SolverHistory
    time: float

    def __repr__(self) -> str:
        lam = "None" if self.lambda_min is None else f"{self.lambda_min:.4g}"
        return (
            f"SolverResult(solver={self.solver!r}, status={self.status!r}, "
            f"iterations={self.iterations}, loss={self.loss:.4g}, "
            f"grad_norm={self.grad_norm:.3g}, lambda_min={lam}, n_grad={self.n_grad}, "
            f"n_hvp={self.n_hvp}, time={self.time:.3g}s)\n  reason: {self.reason}"
        )


# --- the bookkeeping of one run ----------------------------------------------------------


class _Run:
    """The current point of a run with its loss and gradient, and the evaluation counts.

    Curvature at the current point (dense eigendecomposition, smallest eigenpair) is computed
    at most once per point and cached until :meth:`move`.
    """

    def __init__(self, objective: Objective, theta: np.ndarray, rng, grad_tol: float):
        self.objective = objective
        self.rng = rng
        self.grad_tol = grad_tol
        self.n_grad = self.n_hvp = self.iteration = 0
        self.move(theta, *self.evaluate(theta))

    def evaluate(self, theta):
        self.n_grad += 1
        f, g = self.objective._value_and_grad(theta)
        return float(f), g

    def move(self, theta, f, g):
        self.theta, self.f, self.g = theta, f, g
        self.gnorm = float(np.linalg.norm(g))
        self._spectrum = None
        self._bottom = None

    def hvp(self, u):
        self.n_hvp += 1
        return self.objective._hvp(self.theta, u)

    def minibatch_grad(self, theta, rows):
        """∇ of the loss on the samples ``rows`` only."""
        self.n_grad += 1
        return self.objective._value_and_grad(theta, rows)[1]

    def eigh(self):
        """Eigenvalues (ascending) and eigenvectors of the dense Hessian; counts p products."""
        if self._spectrum is None:
            self.n_hvp += self.objective.p
            self._spectrum = np.linalg.eigh(_dense_hessian(self.objective, self.theta))
        return self._spectrum

    def smallest_eigenpair(self):
        """λ_min and a unit eigenvector: dense for p ≤ _DENSE_MAX, else the structured
        iterative route of :func:`~shallowlearn.spectrum.hessian_spectrum`."""
        if self._bottom is None:
            if self.objective.p <= _DENSE_MAX:
                w, V = self.eigh()
            else:
                spectrum = hessian_spectrum(
                    self.objective, self.theta, method="iterative", n_top=1, rng=self.rng
                )
                self.n_hvp += spectrum.n_products
                w, V = spectrum.eigenvalues, spectrum.eigenvectors
            self._bottom = (float(w[0]), V[:, 0])
        return self._bottom


def _dense_hessian(objective: Objective, theta: np.ndarray) -> np.ndarray:
    H = objective._hessian(theta)
    return 0.5 * (H + H.T)


def _in_notebook() -> bool:
    """Whether the code runs inside a Jupyter (IPython) kernel."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and "IPKernelApp" in shell.config


def _stationarity_reason(run: _Run, stationarity: str, curvature_tol: float | None):
    """Why the current point counts as stationary for this solver, or None."""
    if stationarity == "own" or run.gnorm > run.grad_tol:
        return None
    first = f"gradient norm {run.gnorm:.3g} ≤ grad_tol = {run.grad_tol:g}"
    if stationarity == "first":
        return first + " (first-order stationary; curvature not checked)"
    lam = run.smallest_eigenpair()[0]
    if lam >= -curvature_tol:
        return (
            f"{first} and λ_min = {lam:.3g} ≥ −curvature_tol = {-curvature_tol:.3g} "
            "(second-order stationary)"
        )
    return None


def _solve(
    solver, objective, theta0, step, *, stationarity, curvature_tol=None, max_iter, grad_tol,
    loss_tol, history_stride, callback, progress, rng,
) -> SolverResult:
    """The loop shared by every solver.

    ``step(run)`` advances ``run`` by one iteration (calling ``run.move``, or not, for a
    rejected step) and returns None, or ``(status, reason)`` to end the run. ``stationarity``
    is "first" (‖g‖ ≤ grad_tol), "second" (also λ_min ≥ −curvature_tol) or "own" (the step
    decides).
    """
    objective = _check_objective(objective)
    theta0 = objective._check_theta(theta0, "theta0")
    max_iter = check_positive_int(max_iter, "max_iter")
    grad_tol = check_real(grad_tol, "grad_tol", low=0.0)
    loss_tol = check_real(loss_tol, "loss_tol", low=0.0)
    history_stride = check_positive_int(history_stride, "history_stride")
    if callback is not None and not callable(callback):
        raise TypeError(f"callback must be callable or None; got {type(callback).__name__}")
    if progress is not None and not isinstance(progress, bool):
        raise TypeError(f"progress must be True, False or None (auto); got {progress!r}")
    if stationarity == "second":
        curvature_tol = (
            math.sqrt(grad_tol)
            if curvature_tol is None
            else check_real(curvature_tol, "curvature_tol", low=0.0)
        )
    show = _in_notebook() if progress is None else progress
    rng = as_rng(rng)

    start = time.perf_counter()
    with np.errstate(**_QUIET):
        run = _Run(objective, theta0, rng, grad_tol)
    if not (np.isfinite(run.f) and np.all(np.isfinite(run.g))):
        raise ValueError(f"the loss or its gradient is not finite at theta0 (loss = {run.f})")
    scale = max(run.f, 0.5 * float(np.mean(objective.y**2))) or 1.0
    records = [(0, run.f, run.gnorm)]
    with np.errstate(**_QUIET), tqdm(total=max_iter, desc=solver, disable=not show) as bar:
        while True:
            if run.f <= loss_tol:
                status, reason = "converged", f"loss {run.f:.3g} ≤ loss_tol = {loss_tol:g}"
                break
            why = _stationarity_reason(run, stationarity, curvature_tol)
            if why is not None:
                status, reason = "converged", why
                break
            if run.iteration == max_iter:
                status, reason = "max_iter", f"reached max_iter = {max_iter}"
                break
            previous = (run.theta, run.f, run.g)
            outcome = step(run)
            if outcome is not None:
                status, reason = outcome
                break
            if not (run.f <= _EXPLODE * scale and np.all(np.isfinite(run.g))):
                status, reason = "diverged", (
                    f"at iteration {run.iteration + 1} the loss became {run.f:.3g} "
                    f"(non-finite, or above {_EXPLODE:g} × its starting scale {scale:.3g}); "
                    f"theta is the last iterate before that, from iteration {run.iteration}"
                )
                run.move(*previous)
                break
            run.iteration += 1
            bar.update()
            if run.iteration % history_stride == 0:
                records.append((run.iteration, run.f, run.gnorm))
                bar.set_postfix(loss=f"{run.f:.3g}", grad=f"{run.gnorm:.2g}", refresh=False)
            if callback is not None and callback(
                run.iteration, _read_only(run.theta.copy()), run.f, run.gnorm
            ):
                status = "stopped"
                reason = f"the callback asked to stop at iteration {run.iteration}"
                break
        bar.set_postfix_str(status)
    elapsed = time.perf_counter() - start

    if records[-1][0] == run.iteration:
        records.pop()
    records.append((run.iteration, run.f, run.gnorm))
    iteration, loss, grad_norm = (np.array(column) for column in zip(*records))
    lambda_min = None
    if objective.p <= _DENSE_MAX:
        H = _dense_hessian(objective, run.theta)
        if np.all(np.isfinite(H)):
            lambda_min = float(np.linalg.eigvalsh(H)[0])
    return SolverResult(
        theta=_read_only(np.array(run.theta)),
        status=status,
        reason=reason,
        solver=solver,
        iterations=run.iteration,
        loss=run.f,
        grad_norm=run.gnorm,
        lambda_min=lambda_min,
        n_grad=run.n_grad,
        n_hvp=run.n_hvp,
        history=SolverHistory(
            iteration=_read_only(iteration), loss=_read_only(loss), grad_norm=_read_only(grad_norm)
        ),
        time=elapsed,
    )


def _check_objective(objective) -> Objective:
    if not isinstance(objective, Objective):
        raise TypeError(
            f"objective must be a shallowlearn.Objective; got {type(objective).__name__}"
        )
    return objective


# --- steps shared by several solvers -------------------------------------------------------


def _gradient_step(run: _Run, step: float) -> None:
    theta = run.theta - step * run.g
    run.move(theta, *run.evaluate(theta))


def _backtrack(run: _Run, direction, t: float, required_decrease) -> float | None:
    """Halve t until L(θ + t·direction) ≤ L(θ) − required_decrease(t); move there, return t.

    Returns None, without moving, when no trial passed within _MAX_HALVINGS halvings.
    """
    for _ in range(_MAX_HALVINGS):
        theta = run.theta + t * direction
        f_new, g_new = run.evaluate(theta)
        if f_new <= run.f - required_decrease(t):
            run.move(theta, f_new, g_new)
            return t
        t *= 0.5
    return None


def _descent_eigenvector(run: _Run):
    """(λ_min, u) with u turned so that gᵀu ≤ 0."""
    lam, u = run.smallest_eigenpair()
    return lam, (-u if run.g @ u > 0 else u)


def _shifted_newton_step(w, a, target, span):
    """The step c = −(diag(w) + λI)⁺a of the trust-region and cubic models, in the eigenbasis.

    ``w`` are the Hessian's eigenvalues (ascending) and ``a = Vᵀg``. The shift λ is the
    smallest λ ≥ λ_lo = max(0, −w₀) with ‖c(λ)‖ ≤ target(λ), for a non-decreasing ``target``
    (the radius Δ for the trust region, λ/σ for the cubic model); it lies in
    [λ_lo, λ_lo + span]. Bisection finds it, keeping ‖c‖ ≤ target. In the hard case (a has no
    component on the bottom eigenspace and ‖c(λ_lo)‖ < target(λ_lo)) the step is filled up to
    length target(λ_lo) along a bottom eigenvector: this is how the step leaves a critical
    point (a = 0) with negative curvature.
    """
    lam_lo = max(0.0, -w[0])
    edge = w + lam_lo <= 1e-12 * max(abs(w[0]), abs(w[-1]), np.finfo(float).tiny)
    c = np.zeros_like(a)
    c[~edge] = -a[~edge] / (w[~edge] + lam_lo)
    hard = np.all(np.abs(a[edge]) <= 1e-12 * np.linalg.norm(a))
    if hard and np.linalg.norm(c) <= target(lam_lo):
        if edge.any():
            j = np.flatnonzero(edge)[0]
            c[j] = -math.copysign(math.sqrt(max(target(lam_lo) ** 2 - c @ c, 0.0)), a[j])
        return c
    lo, hi = lam_lo, lam_lo + span
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if not lo < mid < hi:
            break
        if np.linalg.norm(a / (w + mid)) > target(mid):
            lo = mid
        else:
            hi = mid
    return -a / (w + hi)


def _steihaug_cg(hvp, g, radius):
    """Steihaug–Toint truncated CG for min gᵀs + ½sᵀHs on ‖s‖ ≤ radius (g ≠ 0).

    Nocedal & Wright, Algorithm 7.2, with the forcing tolerance ‖r‖ ≤ ‖g‖·min(½, √‖g‖).
    Returns the step and the model decrease −(gᵀs + ½sᵀHs).
    """
    gnorm = np.linalg.norm(g)
    tol = gnorm * min(0.5, math.sqrt(gnorm))
    s, Hs, r, d = np.zeros_like(g), np.zeros_like(g), g, -g
    for _ in range(g.size):
        Hd = hvp(d)
        dHd = d @ Hd
        if dHd <= 0 or np.linalg.norm(s + (r @ r) / dHd * d) >= radius:
            # negative curvature, or the CG step leaves the ball: go to the boundary along d
            sd, dd = s @ d, d @ d
            tau = (-sd + math.sqrt(sd**2 + dd * (radius**2 - s @ s))) / dd
            s, Hs = s + tau * d, Hs + tau * Hd
            break
        alpha = (r @ r) / dHd
        s, Hs = s + alpha * d, Hs + alpha * Hd
        r_new = r + alpha * Hd
        if np.linalg.norm(r_new) <= tol:
            break
        d = -r_new + (r_new @ r_new) / (r @ r) * d
        r = r_new
    return s, -(g @ s + 0.5 * (s @ Hs))


def _ratio_test(run: _Run, s, decrease):
    """Evaluate θ + s; return (ρ, f_new, g_new) with ρ = actual / predicted decrease."""
    f_new, g_new = run.evaluate(run.theta + s)
    rho = (run.f - f_new) / decrease if np.isfinite(f_new) else -np.inf
    return rho, f_new, g_new


def _negligible(s, theta) -> bool:
    return np.linalg.norm(s) <= np.finfo(float).eps * max(1.0, np.linalg.norm(theta))


# --- the solvers ----------------------------------------------------------------------------

_START_PARAMETERS = """\
    objective : Objective
        The loss to minimise (W only, or v and W jointly).
    theta0 : array_like, shape (p,)
        The start (copied, never modified); build it with ``objective.pack``.
"""

_COMMON_PARAMETERS = """\
    max_iter : int
        Iteration cap.
    grad_tol : float
        Gradient-norm threshold of the stationarity test (see above for what else it needs).
    loss_tol : float
        Stop as converged once L ≤ loss_tol (the default 0 only stops at an exact zero).
    history_stride : int
        Record loss and gradient norm every this many iterations (start and end always).
    callback : callable, optional
        Called as ``callback(iteration, theta, loss, grad_norm)`` after every iteration, with
        a read-only copy of θ; returning True stops the run with status "stopped".
    progress : bool or None
        Show a tqdm progress bar. None (default): only inside a Jupyter kernel.
    rng : None, int or numpy.random.Generator
        Source of randomness, where the solver uses any (see above).

"""


def _shared_doc(func):
    """Fill the parameters every solver shares into its docstring."""
    doc = func.__doc__.replace("    {start}\n", _START_PARAMETERS)
    func.__doc__ = doc.replace("    {common}\n", _COMMON_PARAMETERS)
    return func


@_shared_doc
def gradient_descent(
    objective: Objective,
    theta0: ArrayLike,
    *,
    step: float = 0.01,
    line_search: bool = False,
    max_iter: int = 1000,
    grad_tol: float = 1e-6,
    loss_tol: float = 0.0,
    history_stride: int = 1,
    callback: Callback | None = None,
    progress: bool | None = None,
    rng: Seed = None,
) -> SolverResult:
    """Gradient descent θ ← θ − η∇L(θ), with a fixed step or Armijo backtracking.

    Stops at ‖∇L‖ ≤ ``grad_tol``, a first-order test that saddle points pass too. Uses no
    randomness.

    Parameters
    ----------
    {start}
    step : float
        The step η > 0. With ``line_search``, the largest step tried.
    line_search : bool
        Armijo backtracking: halve the trial step (starting from twice the last accepted one,
        at most ``step``) until L decreases by at least 10⁻⁴·t‖∇L‖².
    {common}
    Returns
    -------
    SolverResult

    Examples
    --------
    >>> import numpy as np
    >>> from shallowlearn import Objective
    >>> from shallowlearn.solvers import gradient_descent
    >>> obj = Objective(np.eye(2), [1.0, 1.0], v=[1.0])
    >>> gradient_descent(obj, [0.5, 0.5], step=0.1).status
    'converged'
    >>> gradient_descent(obj, [0.0, 0.0]).iterations     # W = 0 is a saddle: GD cannot leave
    0
    """
    step = check_real(step, "step", low=0.0, strict=True)
    if not isinstance(line_search, bool):
        raise TypeError(f"line_search must be True or False; got {line_search!r}")
    last = step / 2

    def take_step(run):
        nonlocal last
        if not line_search:
            return _gradient_step(run, step)
        gnorm2 = run.gnorm**2
        t = _backtrack(run, -run.g, min(step, 2 * last), lambda t: 1e-4 * t * gnorm2)
        if t is None:
            return "stalled", f"Armijo backtracking found no decrease in {_MAX_HALVINGS} halvings"
        last = t
        return None

    return _solve(
        "gradient_descent", objective, theta0, take_step, stationarity="first",
        max_iter=max_iter, grad_tol=grad_tol, loss_tol=loss_tol, history_stride=history_stride,
        callback=callback, progress=progress, rng=rng,
    )


@_shared_doc
def perturbed_gradient_descent(
    objective: Objective,
    theta0: ArrayLike,
    *,
    step: float = 0.01,
    r: float = 1e-3,
    t_thres: int = 100,
    f_thres: float = 1e-10,
    max_iter: int = 1000,
    grad_tol: float = 1e-6,
    loss_tol: float = 0.0,
    history_stride: int = 1,
    callback: Callback | None = None,
    progress: bool | None = None,
    rng: Seed = None,
) -> SolverResult:
    """Perturbed gradient descent (Jin et al. 2017, Algorithm 2).

    Gradient descent with a fixed step, except that when ‖∇L‖ ≤ ``grad_tol`` (Jin et al.'s
    g_thres) and no perturbation happened in the last ``t_thres`` iterations, the point is
    remembered as θ̃ and moved by ξ, drawn uniformly from the ball of radius ``r`` (from
    ``rng``). If ``t_thres`` iterations later L has not dropped below L(θ̃) − ``f_thres``, the
    run stops as converged and returns θ̃, which is then an approximate second-order stationary
    point with high probability. Near a saddle the perturbation grows along negative curvature
    and the loss drops, so the run continues.

    Parameters
    ----------
    {start}
    step : float
        The step η > 0.
    r : float
        Perturbation radius.
    t_thres : int
        Iterations allowed for a perturbation to pay off.
    f_thres : float
        The decrease that counts as an escape.
    {common}
    Returns
    -------
    SolverResult

    See Also
    --------
    pgd_theory_parameters : the parameter values of Jin et al.'s theorem.

    Examples
    --------
    >>> import numpy as np
    >>> from shallowlearn import Objective
    >>> from shallowlearn.solvers import perturbed_gradient_descent
    >>> obj = Objective(np.eye(2), [1.0, 1.0], v=[1.0])
    >>> result = perturbed_gradient_descent(obj, [0.0, 0.0], step=0.1, t_thres=50, rng=0)
    >>> result.status, result.loss < 1e-10        # escaped the saddle at W = 0
    ('converged', True)
    """
    step = check_real(step, "step", low=0.0, strict=True)
    r = check_real(r, "r", low=0.0, strict=True)
    t_thres = check_positive_int(t_thres, "t_thres")
    f_thres = check_real(f_thres, "f_thres", low=0.0)
    anchor = None  # (θ̃, L(θ̃), ∇L(θ̃)) before the last perturbation
    t_noise = -t_thres - 1

    def take_step(run):
        nonlocal anchor, t_noise
        t = run.iteration
        if anchor is not None and t - t_noise == t_thres and run.f - anchor[1] > -f_thres:
            run.move(*anchor)
            return "converged", (
                f"a perturbation of radius {r:g} did not lower the loss by f_thres = {f_thres:g} "
                f"within t_thres = {t_thres} iterations; theta is the point before it "
                f"(gradient norm {run.gnorm:.3g} ≤ grad_tol = {run.grad_tol:g})"
            )
        if run.gnorm <= run.grad_tol and t - t_noise > t_thres:
            anchor, t_noise = (run.theta, run.f, run.g), t
            theta = run.theta + _uniform_ball(run.rng, run.objective.p, r)
            run.move(theta, *run.evaluate(theta))
        return _gradient_step(run, step)

    return _solve(
        "perturbed_gradient_descent", objective, theta0, take_step, stationarity="own",
        max_iter=max_iter, grad_tol=grad_tol, loss_tol=loss_tol, history_stride=history_stride,
        callback=callback, progress=progress, rng=rng,
    )


def _uniform_ball(rng, p: int, radius: float) -> np.ndarray:
    z = rng.standard_normal(p)
    return radius * rng.random() ** (1.0 / p) * z / np.linalg.norm(z)


def pgd_theory_parameters(
    *, ell: float, rho: float, epsilon: float, delta_f: float, dim: int, c: float,
    delta: float = 0.1,
) -> dict[str, float]:
    """The parameters of perturbed gradient descent prescribed by Jin et al. (2017).

    For an ℓ-gradient-Lipschitz, ρ-Hessian-Lipschitz loss, Algorithm 2 of Jin, Ge, Netrapalli,
    Kakade & Jordan (ICML 2017, arXiv:1703.00887) reaches an ε-second-order stationary point
    (‖∇L‖ ≤ ε, λ_min ≥ −√(ρε)) with probability at least 1 − δ using

    - χ = 3·max(log(dℓΔ_f / (cε²δ)), 4),
    - η = c/ℓ,  r = (√c/χ²)·ε/ℓ,  g_thres = (√c/χ²)·ε,
    - f_thres = (c/χ³)·√(ε³/ρ),  t_thres = (χ/c²)·ℓ/√(ρε).

    The absolute constant ``c`` is a free parameter: the theorem holds for c below some
    constant whose value the paper leaves unspecified, so no choice of c here is certified.
    These formulas are transcribed from the project's notes on the paper and should be
    re-checked against it. The values are usually far more conservative than needed in
    practice (tiny steps and perturbations, very long waits).

    Parameters
    ----------
    ell : float
        Gradient Lipschitz constant ℓ > 0.
    rho : float
        Hessian Lipschitz constant ρ > 0.
    epsilon : float
        Target accuracy ε > 0.
    delta_f : float
        An upper bound Δ_f ≥ L(θ₀) − min L, > 0.
    dim : int
        Number of parameters d (``objective.p``).
    c : float
        The absolute constant c > 0.
    delta : float
        Failure probability δ in (0, 1).

    Returns
    -------
    dict
        Keyword arguments for :func:`perturbed_gradient_descent`: ``step`` (η),
        ``grad_tol`` (g_thres), ``r``, ``t_thres`` (rounded up) and ``f_thres``.

    Examples
    --------
    >>> from shallowlearn.solvers import pgd_theory_parameters
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
    chi = 3 * max(math.log(dim * ell * delta_f / (c * epsilon**2 * delta)), 4.0)
    return {
        "step": c / ell,
        "grad_tol": math.sqrt(c) / chi**2 * epsilon,
        "r": math.sqrt(c) / chi**2 * epsilon / ell,
        "t_thres": math.ceil(chi / c**2 * ell / math.sqrt(rho * epsilon)),
        "f_thres": c / chi**3 * math.sqrt(epsilon**3 / rho),
    }


@_shared_doc
def negative_curvature_descent(
    objective: Objective,
    theta0: ArrayLike,
    *,
    step: float = 0.01,
    hessian_lipschitz: float = 1.0,
    curvature_tol: float | None = None,
    max_iter: int = 1000,
    grad_tol: float = 1e-6,
    loss_tol: float = 0.0,
    history_stride: int = 1,
    callback: Callback | None = None,
    progress: bool | None = None,
    rng: Seed = None,
) -> SolverResult:
    """Gradient descent that steps along negative curvature at near-critical points.

    While ‖∇L‖ > ``grad_tol`` it takes fixed gradient steps. Otherwise it computes the
    smallest Hessian eigenpair (λ, u) (dense for p ≤ 2000, else the iterative route of
    :func:`~shallowlearn.spectrum.hessian_spectrum`, seeded by ``rng``); if λ ≥ −``curvature_tol`` the point
    is second-order stationary and the run stops; else it moves to θ + αu with gᵀu ≤ 0 and
    α = 2|λ|/ρ, the step that guarantees a decrease of 2|λ|³/(3ρ²) for a ρ-Lipschitz Hessian,
    halving α until L(θ + αu) ≤ L(θ) + αgᵀu + α²λ/6.

    Parameters
    ----------
    {start}
    step : float
        Step η > 0 of the gradient steps.
    hessian_lipschitz : float
        An estimate of ρ > 0. Too small costs a few halvings; too large gives short steps.
    curvature_tol : float, optional
        Curvature tolerance ε_H ≥ 0; default √grad_tol (the Nesterov–Polyak ε-second-order
        point with ρ = 1).
    {common}
    Returns
    -------
    SolverResult

    Examples
    --------
    >>> import numpy as np
    >>> from shallowlearn import Objective
    >>> from shallowlearn.solvers import negative_curvature_descent
    >>> obj = Objective(np.eye(2), [1.0, 1.0], v=[1.0])
    >>> result = negative_curvature_descent(obj, [0.0, 0.0], step=0.1)
    >>> result.status, result.loss < 1e-10, result.lambda_min > 0
    ('converged', True, True)
    """
    step = check_real(step, "step", low=0.0, strict=True)
    rho = check_real(hessian_lipschitz, "hessian_lipschitz", low=0.0, strict=True)

    def take_step(run):
        if run.gnorm > run.grad_tol:
            return _gradient_step(run, step)
        lam, u = _descent_eigenvector(run)  # λ < −curvature_tol, or the run would have stopped
        gu = run.g @ u
        if _backtrack(run, u, 2 * abs(lam) / rho, lambda t: -(t * gu + t * t * lam / 6)) is None:
            return "stalled", (
                f"no decrease along the negative-curvature direction (λ = {lam:.3g}) "
                f"in {_MAX_HALVINGS} halvings"
            )
        return None

    return _solve(
        "negative_curvature_descent", objective, theta0, take_step, stationarity="second",
        curvature_tol=curvature_tol, max_iter=max_iter, grad_tol=grad_tol, loss_tol=loss_tol,
        history_stride=history_stride, callback=callback, progress=progress, rng=rng,
    )


_SUBPROBLEMS = ("auto", "exact", "cg")


@_shared_doc
def trust_region(
    objective: Objective,
    theta0: ArrayLike,
    *,
    radius: float = 1.0,
    max_radius: float = 100.0,
    eta: float = 0.1,
    subproblem: str = "auto",
    curvature_tol: float | None = None,
    max_iter: int = 1000,
    grad_tol: float = 1e-6,
    loss_tol: float = 0.0,
    history_stride: int = 1,
    callback: Callback | None = None,
    progress: bool | None = None,
    rng: Seed = None,
) -> SolverResult:
    """Trust-region Newton method on the quadratic model of L.

    Each iteration minimises m(s) = L + gᵀs + ½sᵀHs over ‖s‖ ≤ Δ, then compares the actual
    decrease with the predicted one, ρ = (L(θ) − L(θ+s)) / (m(0) − m(s)): the step is accepted
    if ρ > ``eta``; Δ is quartered if ρ < ¼ and doubled (up to ``max_radius``) if ρ > ¾ and the
    step reached the boundary (Nocedal & Wright, Algorithm 4.1). The run stops when
    ‖∇L‖ ≤ ``grad_tol`` and λ_min ≥ −``curvature_tol``.

    Two subproblem solvers:

    - ``"exact"``: eigendecompose the dense Hessian (counted as p Hessian-vector products) and
      solve for the shift λ with ‖(H + λI)⁻¹g‖ = Δ, including the hard case; at a critical
      point with negative curvature the step is Δ times a bottom eigenvector.
    - ``"cg"``: Steihaug–Toint truncated conjugate gradients, matrix-free (Nocedal & Wright,
      Algorithm 7.2). CG cannot move from a critical point, so when ‖∇L‖ ≤ ``grad_tol`` the
      step is Δ times the bottom eigenvector (from
      :func:`~shallowlearn.spectrum.hessian_spectrum` for p > 2000).
    - ``"auto"``: ``"exact"`` for p ≤ 2000, else ``"cg"``.

    Parameters
    ----------
    {start}
    radius : float
        Initial trust radius Δ₀ > 0.
    max_radius : float
        Largest trust radius, ≥ ``radius``.
    eta : float
        Acceptance threshold in [0, ¼).
    subproblem : {"auto", "exact", "cg"}
    curvature_tol : float, optional
        Curvature tolerance ≥ 0; default √grad_tol.
    {common}
    Returns
    -------
    SolverResult

    Examples
    --------
    >>> import numpy as np
    >>> from shallowlearn import Objective
    >>> from shallowlearn.solvers import trust_region
    >>> obj = Objective(np.eye(2), [1.0, 1.0], v=[1.0])
    >>> result = trust_region(obj, [0.0, 0.0], subproblem="cg")
    >>> result.status, result.loss < 1e-10
    ('converged', True)
    """
    radius = check_real(radius, "radius", low=0.0, strict=True)
    max_radius = check_real(max_radius, "max_radius", low=radius)
    eta = check_real(eta, "eta", low=0.0)
    if eta >= 0.25:
        raise ValueError(f"eta must be in [0, 0.25); got {eta}")
    if subproblem not in _SUBPROBLEMS:
        raise ValueError(f"subproblem must be one of {_SUBPROBLEMS}; got {subproblem!r}")
    if subproblem == "auto":
        subproblem = "exact" if _check_objective(objective).p <= _DENSE_MAX else "cg"

    def model_step(run):
        if subproblem == "exact":
            w, V = run.eigh()
            a = V.T @ run.g
            c = _shifted_newton_step(w, a, lambda lam: radius, np.linalg.norm(a) / radius)
            return V @ c, -(a @ c + 0.5 * (w * c) @ c)
        if run.gnorm <= run.grad_tol:
            lam, u = _descent_eigenvector(run)
            return radius * u, -(radius * (run.g @ u) + 0.5 * lam * radius**2)
        return _steihaug_cg(run.hvp, run.g, radius)

    def take_step(run):
        nonlocal radius
        s, decrease = model_step(run)
        if not decrease > 0:
            return "stalled", f"the model predicts no decrease (predicted {decrease:.3g})"
        rho, f_new, g_new = _ratio_test(run, s, decrease)
        if rho < 0.25:
            radius = 0.25 * radius
        elif rho > 0.75 and np.linalg.norm(s) >= 0.99 * radius:
            radius = min(2 * radius, max_radius)
        if rho > eta:
            run.move(run.theta + s, f_new, g_new)
        elif _negligible(s, run.theta):
            return "stalled", f"the trust radius shrank to {radius:.3g}, below machine precision"
        return None

    return _solve(
        "trust_region", objective, theta0, take_step, stationarity="second",
        curvature_tol=curvature_tol, max_iter=max_iter, grad_tol=grad_tol, loss_tol=loss_tol,
        history_stride=history_stride, callback=callback, progress=progress, rng=rng,
    )


@_shared_doc
def cubic_regularization(
    objective: Objective,
    theta0: ArrayLike,
    *,
    sigma: float = 1.0,
    curvature_tol: float | None = None,
    max_iter: int = 1000,
    grad_tol: float = 1e-6,
    loss_tol: float = 0.0,
    history_stride: int = 1,
    callback: Callback | None = None,
    progress: bool | None = None,
    rng: Seed = None,
) -> SolverResult:
    """Cubic-regularized Newton with adaptive regularization (ARC).

    Each iteration minimises the cubic model m(s) = L + gᵀs + ½sᵀHs + (σ/3)‖s‖³ exactly: its
    global minimiser satisfies (H + σ‖s‖I)s = −g with H + σ‖s‖I ⪰ 0 (Nesterov & Polyak 2006,
    whose M/6 is σ/3 here), found in the eigenbasis of the dense Hessian (counted as p
    Hessian-vector products per new point; cost O(p³)), hard case included, so the step leaves
    critical points along negative curvature. With ρ = actual / predicted decrease, the step is
    accepted if ρ ≥ 0.1; σ is halved (not below 10⁻⁸) if ρ > 0.9 and doubled if ρ < 0.1
    (Cartis, Gould & Toint 2011). The run stops when ‖∇L‖ ≤ ``grad_tol`` and
    λ_min ≥ −``curvature_tol``. Uses no randomness.

    Parameters
    ----------
    {start}
    sigma : float
        Initial regularization weight σ > 0 (σ ≈ ρ/2 for a ρ-Lipschitz Hessian is safe).
    curvature_tol : float, optional
        Curvature tolerance ≥ 0; default √grad_tol.
    {common}
    Returns
    -------
    SolverResult

    Examples
    --------
    >>> import numpy as np
    >>> from shallowlearn import Objective
    >>> from shallowlearn.solvers import cubic_regularization
    >>> obj = Objective(np.eye(2), [1.0, 1.0], v=[1.0])
    >>> result = cubic_regularization(obj, [0.0, 0.0])
    >>> result.status, result.loss < 1e-10
    ('converged', True)
    """
    sigma = check_real(sigma, "sigma", low=0.0, strict=True)

    def take_step(run):
        nonlocal sigma
        w, V = run.eigh()
        a = V.T @ run.g
        span = math.sqrt(sigma * np.linalg.norm(a))
        c = _shifted_newton_step(w, a, lambda lam: lam / sigma, span)
        decrease = -(a @ c + 0.5 * (w * c) @ c + sigma / 3 * np.linalg.norm(c) ** 3)
        if not decrease > 0:
            return "stalled", f"the model predicts no decrease (predicted {decrease:.3g})"
        s = V @ c
        rho, f_new, g_new = _ratio_test(run, s, decrease)
        if rho > 0.9:
            sigma = max(0.5 * sigma, _SIGMA_MIN)
        elif rho < 0.1:
            sigma = 2 * sigma
        if rho >= 0.1:
            run.move(run.theta + s, f_new, g_new)
        elif _negligible(s, run.theta):
            return "stalled", f"σ grew to {sigma:.3g}; the steps fell below machine precision"
        return None

    return _solve(
        "cubic_regularization", objective, theta0, take_step, stationarity="second",
        curvature_tol=curvature_tol, max_iter=max_iter, grad_tol=grad_tol, loss_tol=loss_tol,
        history_stride=history_stride, callback=callback, progress=progress, rng=rng,
    )


@_shared_doc
def sgd(
    objective: Objective,
    theta0: ArrayLike,
    *,
    step: float = 0.01,
    batch_size: int | None = None,
    momentum: float = 0.0,
    max_iter: int = 1000,
    grad_tol: float = 1e-6,
    loss_tol: float = 0.0,
    history_stride: int = 1,
    callback: Callback | None = None,
    progress: bool | None = None,
    rng: Seed = None,
) -> SolverResult:
    """Minibatch stochastic gradient descent with heavy-ball momentum.

    One iteration is one epoch: the rows are shuffled (by ``rng``) and split into minibatches
    of ``batch_size`` (the last one may be smaller); for each, with g_B the gradient of the
    loss on the batch, u ← μu − ηg_B and θ ← θ + u. At the end of the epoch the full loss and
    gradient are evaluated for the stopping test (‖∇L‖ ≤ ``grad_tol``, first order), the history
    and the divergence check. In the over-parameterized regime, where a zero-loss point fits
    every batch, the noise vanishes there and SGD converges with a constant step.

    Parameters
    ----------
    {start}
    step : float
        Step η > 0.
    batch_size : int, optional
        Rows per minibatch, 1 to n; default min(32, n).
    momentum : float
        Momentum μ in [0, 1); 0 is plain SGD.
    {common}
    Returns
    -------
    SolverResult

    Examples
    --------
    >>> import numpy as np
    >>> from shallowlearn import Objective
    >>> from shallowlearn.solvers import sgd
    >>> obj = Objective(np.eye(2), [1.0, 1.0], v=[1.0])
    >>> result = sgd(obj, [0.5, 0.5], step=0.1, batch_size=1, rng=0)
    >>> result.status, result.loss < 1e-10
    ('converged', True)
    """
    objective = _check_objective(objective)
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
        run.move(theta, *run.evaluate(theta))

    return _solve(
        "sgd", objective, theta0, take_step, stationarity="first",
        max_iter=max_iter, grad_tol=grad_tol, loss_tol=loss_tol, history_stride=history_stride,
        callback=callback, progress=progress, rng=rng,
    )


SOLVERS: dict[str, Callable[..., SolverResult]] = {
    solver.__name__: solver
    for solver in (
        gradient_descent,
        perturbed_gradient_descent,
        negative_curvature_descent,
        trust_region,
        cubic_regularization,
        sgd,
    )
}
"""Every solver by name; all share the call shape ``solver(objective, theta0, **options)``."""
