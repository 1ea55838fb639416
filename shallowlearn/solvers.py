r"""What every local-search solver shares: the call shape, the run loop, the result type.

Every solver is called as ``solver(objective, theta0, *, <its options>, max_iter, grad_tol,
loss_tol, history_stride, callback, progress, rng)`` and returns a frozen
:class:`SolverResult`: the final :math:`\theta`, a status with a readable reason, iteration and
evaluation counts, a history of the loss and the gradient norm, a second-order certificate at the
end (the smallest Hessian eigenvalue, with the route that computed it and its residual) and the
wall time. :data:`SOLVERS` maps
each solver's name to the function, so that experiments and tests can run all of them on the
same problems.

A solver is written as a function that checks its own options and returns its *step*, and the
:func:`solver` decorator turns it into the public function: it adds the shared options to the
signature and the docstring, checks them, and runs the one loop, ``_solve``, which owns
stopping, divergence, history, callback and progress bar. The statuses and the stopping rules
are those of :mod:`shallowlearn.stopping`, which the batched engine follows too.

What "stationary" means depends on what the solver knows. Gradient descent and SGD stop at
:math:`\lVert\nabla\mathcal L\rVert \le` ``grad_tol``, which includes saddle points: started
exactly at the saddle :math:`W = 0` of a quadratic network they never move. Negative-curvature
descent, the trust region and cubic regularization also require
:math:`\lambda_{\min}(\nabla^2\mathcal L) \ge` ``-curvature_tol`` and otherwise step along
negative curvature. Perturbed gradient descent uses Jin et al.'s test instead: a random
perturbation that fails to lower the loss.

Curvature at a point (the smallest eigenpair of the stationarity test, and the final
certificate) comes from the dense eigendecomposition or from the iterative route of
:func:`~shallowlearn.spectrum.hessian_spectrum`, whichever :mod:`shallowlearn.costs` measures
to be cheaper for the objective (always iterative above
:data:`~shallowlearn.spectrum.DENSE_LIMIT`); a solver may fix the route.

The solvers themselves are in :mod:`shallowlearn.first_order` (gradient descent, perturbed
gradient descent, SGD) and :mod:`shallowlearn.second_order` (negative-curvature descent, trust
region, cubic regularization).
"""

from __future__ import annotations

import inspect
import math
import re
import textwrap
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np
import scipy.linalg
from tqdm.auto import tqdm

from . import spectrum
from .costs import curvature_costs
from .stopping import divergence_limit, diverged
from .validation import as_rng, check_objective, check_positive_int, check_real, read_only

__all__ = [
    "Run",
    "SOLVERS",
    "SolverHistory",
    "SolverResult",
    "backtrack",
    "descent_eigenvector",
    "gradient_step",
    "negligible",
    "ratio_test",
    "solver",
]

_MAX_HALVINGS = 60  # a backtracking line search gives up after this many halvings
_QUIET = dict(over="ignore", invalid="ignore", divide="ignore")  # runs check finiteness themselves


#: Every solver by name; all share the call shape ``solver(objective, theta0, **options)``.
SOLVERS: dict[str, Callable[..., SolverResult]] = {}


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
    >>> from shallowlearn import Objective, gradient_descent
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
    r"""What a solver returns: the final point and how the run went.

    Attributes
    ----------
    theta : numpy.ndarray, shape (p,)
        The final parameters (read-only); ``objective.unpack(theta)`` gives (v, W).
    status : str
        One of :data:`shallowlearn.stopping.STATUSES`: ``"converged"``, ``"max_iter"``,
        ``"diverged"``, ``"stalled"`` or ``"stopped"``.
    reason : str
        Why the run ended, in words, with the numbers that decided it.
    solver : str
        The solver's name, a key of :data:`SOLVERS`.
    iterations : int
        Iterations taken (for :func:`~shallowlearn.first_order.sgd`, epochs). Rejected trust-region and
        cubic steps count.
    loss, grad_norm : float
        :math:`\mathcal L(\theta)` and :math:`\lVert\nabla\mathcal L(\theta)\rVert` at the final
        :math:`\theta`.
    lambda_min : float or None
        The second-order certificate: the smallest eigenvalue of the Hessian at the final
        :math:`\theta` (None only if the Hessian is not finite there).
    n_grad : int
        Evaluations of the loss with its gradient (in :func:`~shallowlearn.first_order.sgd`, each minibatch
        gradient counts one, and so does the full evaluation at the end of each epoch).
    n_hvp : int
        Hessian-vector products. A dense Hessian counts as p products (it costs about as
        much). The final ``lambda_min`` diagnostic is not counted, nor are the few products that
        time the objective's curvature costs once (:func:`~shallowlearn.costs.curvature_costs`).
    history : SolverHistory
    time : float
        Wall time of the run in seconds (without the final ``lambda_min`` diagnostic).
    lambda_min_route : str or None
        How ``lambda_min`` was computed: ``"dense"`` (eigendecomposition of the dense Hessian)
        or ``"iterative"`` (:func:`~shallowlearn.spectrum.hessian_spectrum` on products),
        whichever is cheaper for the objective (:mod:`shallowlearn.costs`).
    lambda_min_residual : float or None
        :math:`\lVert Hu - \lambda u\rVert` of the eigenpair found: some eigenvalue of :math:`H`
        lies within it of ``lambda_min`` (rounding level for the dense route).

    Examples
    --------
    >>> import numpy as np
    >>> from shallowlearn import Objective, trust_region
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
    lambda_min_route: str | None = None
    lambda_min_residual: float | None = None

    def __repr__(self) -> str:
        lam = ("None" if self.lambda_min is None else
               f"{self.lambda_min:.4g} ({self.lambda_min_route}, residual "
               f"{self.lambda_min_residual:.1g})")
        return (
            f"SolverResult(solver={self.solver!r}, status={self.status!r}, "
            f"iterations={self.iterations}, loss={self.loss:.4g}, "
            f"grad_norm={self.grad_norm:.3g}, lambda_min={lam}, n_grad={self.n_grad}, "
            f"n_hvp={self.n_hvp}, time={self.time:.3g}s)\n  reason: {self.reason}"
        )


# --- the bookkeeping of one run ----------------------------------------------------------


class Run:
    """The state of a run that a solver's step function receives and advances.

    Attributes ``point`` (the current evaluation point), ``theta``, ``f`` (the loss), ``g``
    (the gradient), ``gnorm``, ``iteration``, the counts ``n_grad`` and ``n_hvp``, the
    tolerances ``grad_tol`` and ``curvature_tol``, the ``objective``, the ``rng`` and
    ``curvature_route``: ``"dense"``, ``"iterative"`` or None (the cheaper, by
    :attr:`costs`). Curvature at the current point (dense eigendecomposition, smallest
    eigenpair) is computed at most once per point and kept until the run moves.
    """

    def __init__(self, objective, theta: np.ndarray, rng, grad_tol: float,
                 curvature_tol: float | None = None, curvature_route: str | None = None):
        self.objective = objective
        self.rng = rng
        self.grad_tol = grad_tol
        self.curvature_tol = curvature_tol
        self.curvature_route = curvature_route
        self.n_grad = self.n_hvp = self.iteration = 0
        self.move(self.evaluate(theta))

    def evaluate(self, theta):
        r"""The evaluation point at :math:`\theta` (counted as one evaluation); the run does not
        move."""
        self.n_grad += 1
        return self.objective.at(theta, validate=False)

    def move(self, point) -> None:
        """Make ``point`` (from :meth:`evaluate`) the current point."""
        self.point = point
        self.theta, self.f, self.g = point.theta, point.value, point.grad
        self.gnorm = float(np.linalg.norm(self.g))
        self._spectrum = None
        self._bottom = None

    @property
    def costs(self):
        """The measured costs of curvature for the objective
        (:func:`~shallowlearn.costs.curvature_costs`, measured at the first point asked)."""
        return curvature_costs(self.objective, self.point)

    def hvp(self, u):
        """The Hessian at the current point times u (counted)."""
        self.n_hvp += 1
        return self.point.hvp(u)

    def minibatch_grad(self, theta, rows):
        r""":math:`\nabla` of the loss on the samples ``rows`` only."""
        self.n_grad += 1
        return self.objective.at(theta, rows=rows, validate=False).grad

    def eigh(self):
        """Eigenvalues (ascending) and eigenvectors of the dense Hessian; counts p products."""
        if self._spectrum is None:
            self.n_hvp += self.objective.p
            H = self.point.hessian()
            if not np.all(np.isfinite(H)):
                raise np.linalg.LinAlgError("the Hessian is not finite at this point")
            w, V = np.linalg.eigh(H)
            self._spectrum = (w, V, float(np.linalg.norm(H @ V[:, 0] - w[0] * V[:, 0])))
        return self._spectrum[:2]

    def curvature_is_dense(self) -> bool:
        """Whether curvature at this point comes from the dense Hessian: the solver's
        ``curvature_route``, else the cheaper route; never above the dense limit."""
        if self.objective.p > spectrum.DENSE_LIMIT:
            return False
        if self.curvature_route is not None:
            return self.curvature_route == "dense"
        return self.costs.prefers_dense_spectrum()

    def smallest_eigenpair(self):
        r""":math:`\lambda_{\min}` and a unit eigenvector, by the route of
        :meth:`curvature_is_dense`: dense (the full :meth:`eigh` on the ``"dense"`` route, which
        the exact subproblem reuses, else the bottom pair alone), or the iterative route of
        :func:`~shallowlearn.spectrum.hessian_spectrum`."""
        if self._bottom is None:
            if self._spectrum is not None or self.curvature_route == "dense":
                w, V = self.eigh()  # the exact subproblem at this point needs all of them
                self._bottom = (float(w[0]), V[:, 0], "dense", self._spectrum[2])
            elif self.curvature_is_dense():
                self.n_hvp += self.objective.p
                H = self.point.hessian()
                if not np.all(np.isfinite(H)):
                    raise np.linalg.LinAlgError("the Hessian is not finite at this point")
                w, V = scipy.linalg.eigh(H, subset_by_index=[0, 0], driver="evr")
                u = V[:, 0]
                self._bottom = (float(w[0]), u, "dense", float(np.linalg.norm(H @ u - w[0] * u)))
            else:
                found = spectrum.hessian_spectrum(
                    self.objective, self.point, method="iterative", n_top=1, rng=self.rng
                )
                self.n_hvp += found.n_products
                self._bottom = (found.lambda_min, found.eigenvectors[:, 0], "iterative",
                                float(found.residuals[0]))
        return self._bottom[:2]

    def certificate(self):
        r"""(:math:`\lambda_{\min}`, route, residual) at the current point, or (None, None, None) if
        the loss or its gradient is not finite there; not counted in ``n_hvp``."""
        if not (np.isfinite(self.f) and np.all(np.isfinite(self.g))):
            return None, None, None
        counted = self.n_hvp
        try:
            self.smallest_eigenpair()
        except (np.linalg.LinAlgError, ValueError):  # a Hessian that is not finite
            return None, None, None
        finally:
            self.n_hvp = counted
        lam, _, route, residual = self._bottom
        return (lam, route, residual) if np.isfinite(lam) else (None, None, None)


def _in_notebook() -> bool:
    """Whether the code runs inside a Jupyter (IPython) kernel."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and "IPKernelApp" in shell.config


# --- the shared options and the decorator ----------------------------------------------------

_START = [
    ("objective", inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.empty,
     "shallowlearn.objective.BaseObjective",
     "objective : Objective or another objective of the package",
     "The loss to minimise (W only, or v and W jointly)."),
    ("theta0", inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.empty,
     "numpy.typing.ArrayLike",
     "theta0 : array_like, shape (p,)",
     "The start (copied, never modified); build it with ``objective.pack``."),
]
_CURVATURE = ("curvature_tol", inspect.Parameter.KEYWORD_ONLY, None, "float | None",
              "curvature_tol : float, optional",
              r"Curvature tolerance :math:`\epsilon_H \ge 0` of the stationarity test; default "
              r"``sqrt(grad_tol)`` (the Nesterov–Polyak :math:`\epsilon`-second-order point with "
              r":math:`\rho = 1`).")
_COMMON = [
    ("max_iter", 1000, "int", "max_iter : int", "Iteration cap."),
    ("grad_tol", 1e-6, "float", "grad_tol : float",
     "Gradient-norm threshold of the stationarity test (see above for what else it needs)."),
    ("loss_tol", 0.0, "float", "loss_tol : float",
     r"Stop as converged once :math:`\mathcal L \le` ``loss_tol`` (the default 0 only stops at "
     "an exact zero)."),
    ("history_stride", 1, "int", "history_stride : int",
     "Record loss and gradient norm every this many iterations (start and end always)."),
    ("callback", None, "collections.abc.Callable | None", "callback : callable, optional",
     "Called as ``callback(iteration, theta, loss, grad_norm)`` after every iteration, with a "
     r'read-only copy of :math:`\theta`; returning True stops the run with status "stopped".'),
    ("progress", None, "bool | None", "progress : bool or None",
     "Show a tqdm progress bar. None (default): only inside a Jupyter kernel."),
    ("rng", None, "int | numpy.random.Generator | None", "rng : None, int or numpy.random.Generator",
     "Source of randomness, where the solver uses any (see above)."),
]
_COMMON_NAMES = [entry[0] for entry in _COMMON]


def _parameter_doc(entries) -> list[str]:
    return [line for _, _, _, _, head, text in entries for line in [head] + _wrap(text)]


def _wrap(text: str) -> list[str]:
    """``text`` wrapped to 88 columns, indented, never breaking inside a :math: role or literal
    (a role split over two lines reads badly in help())."""
    kept = re.sub(r"``[^`]*``|`[^`]*`", lambda m: m.group().replace(" ", "\0"), text)
    return [line.replace("\0", " ")
            for line in textwrap.wrap(kept, 88, initial_indent="    ", subsequent_indent="    ",
                                      break_on_hyphens=False)]


def _assemble_doc(doc: str, second_order: bool) -> str:
    """The solver's docstring with the shared parameters and the Returns section added.

    The step function's own Parameters section lists only its options; the start parameters go
    first, ``curvature_tol`` (second-order solvers) and the common options last.
    """
    lines = inspect.cleandoc(doc).splitlines()
    heading = lines.index("Parameters")
    end = next(
        (i for i in range(heading + 2, len(lines) - 1)
         if lines[i] and not lines[i].startswith(" ") and set(lines[i + 1]) == {"-"}),
        len(lines),
    )
    while end > heading and not lines[end - 1].strip():
        end -= 1
    start = _parameter_doc(_START)
    common = _parameter_doc(([_CURVATURE] if second_order else [])
                            + [(name, None, default, None, head, text)
                               for name, default, _, head, text in _COMMON])
    body = lines[heading + 2 : end]
    result = ["", "Returns", "-------", "SolverResult"]
    rest = lines[end:]
    while rest and not rest[0].strip():
        rest = rest[1:]
    return "\n".join(lines[: heading + 2] + start + body + common + result + [""] + rest)


def _signature(make_step, second_order: bool) -> inspect.Signature:
    own = list(inspect.signature(make_step).parameters.values())[1:]
    params = [inspect.Parameter(name, kind, annotation=annotation)
              for name, kind, _, annotation, _, _ in _START]
    params += own
    if second_order:
        name, kind, default, annotation, _, _ = _CURVATURE
        params.append(inspect.Parameter(name, kind, default=default, annotation=annotation))
    params += [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default,
                                 annotation=annotation)
               for name, default, annotation, _, _ in _COMMON]
    return inspect.Signature(params, return_annotation="shallowlearn.solvers.SolverResult")


def solver(*, stationarity: str):
    r"""Make a solver from a function ``make_step(objective, *, <options>) -> step``.

    ``make_step`` checks its own options and returns ``step(run)``, which advances the run by
    one iteration (calling ``run.move`` with a new evaluation point, or not, for a rejected
    step) and returns None, or ``(status, reason)`` to end the run. A ``curvature_route``
    attribute of ``step`` (``"dense"`` or ``"iterative"``) fixes the ``curvature_route`` of :class:`Run`
    from the first point on. The decorated function has
    the signature ``(objective, theta0, *, <options>, [curvature_tol,] max_iter, grad_tol,
    loss_tol, history_stride, callback, progress, rng)``, checks the shared options, runs the
    loop and is registered in :data:`SOLVERS` under ``make_step``'s name.

    Parameters
    ----------
    stationarity : {"first", "second", "own"}
        The stationarity test: :math:`\lVert\nabla\mathcal L\rVert \le` ``grad_tol``
        (``"first"``), also :math:`\lambda_{\min} \ge` ``-curvature_tol`` (``"second"``, which
        adds the ``curvature_tol`` option), or none: the step decides (``"own"``).
    """
    if stationarity not in ("first", "second", "own"):
        raise ValueError(f"stationarity must be 'first', 'second' or 'own'; got {stationarity!r}")
    second_order = stationarity == "second"

    def register(make_step):
        name = make_step.__name__
        signature = _signature(make_step, second_order)

        def run_solver(*args, **kwargs):
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            options = dict(bound.arguments)
            objective = check_objective(options.pop("objective"))
            theta0 = objective.check_theta(options.pop("theta0"), "theta0")
            common = _check_common(**{key: options.pop(key) for key in _COMMON_NAMES})
            curvature_tol = None
            if second_order:
                tol = options.pop("curvature_tol")
                curvature_tol = (math.sqrt(common["grad_tol"]) if tol is None
                                 else check_real(tol, "curvature_tol", low=0.0))
            step = make_step(objective, **options)
            return _solve(name, objective, theta0, step, stationarity, curvature_tol, **common)

        run_solver.__name__ = run_solver.__qualname__ = name
        run_solver.__module__ = make_step.__module__
        run_solver.__doc__ = _assemble_doc(make_step.__doc__, second_order)
        run_solver.__signature__ = signature
        SOLVERS[name] = run_solver
        return run_solver

    return register


def _check_common(*, max_iter, grad_tol, loss_tol, history_stride, callback, progress, rng):
    if callback is not None and not callable(callback):
        raise TypeError(f"callback must be callable or None; got {type(callback).__name__}")
    if progress is not None and not isinstance(progress, bool):
        raise TypeError(f"progress must be True, False or None (auto); got {progress!r}")
    return dict(
        max_iter=check_positive_int(max_iter, "max_iter"),
        grad_tol=check_real(grad_tol, "grad_tol", low=0.0),
        loss_tol=check_real(loss_tol, "loss_tol", low=0.0),
        history_stride=check_positive_int(history_stride, "history_stride"),
        callback=callback,
        show=_in_notebook() if progress is None else progress,
        rng=as_rng(rng),
    )


# --- the loop --------------------------------------------------------------------------------


def _stationarity_reason(run: Run, stationarity: str):
    """Why the current point counts as stationary for this solver, or None."""
    if stationarity == "own" or run.gnorm > run.grad_tol:
        return None
    first = f"gradient norm {run.gnorm:.3g} ≤ grad_tol = {run.grad_tol:g}"
    if stationarity == "first":
        return first + " (first-order stationary; curvature not checked)"
    lam = run.smallest_eigenpair()[0]
    if lam >= -run.curvature_tol:
        return (
            f"{first} and λ_min = {lam:.3g} ({run._bottom[2]}) ≥ −curvature_tol = "
            f"{-run.curvature_tol:.3g} (second-order stationary)"
        )
    return None


def _solve(name, objective, theta0, step, stationarity, curvature_tol, *, max_iter, grad_tol,
           loss_tol, history_stride, callback, show, rng) -> SolverResult:
    """Run ``step`` until the stopping contract of :mod:`shallowlearn.stopping` ends the run."""
    start = time.perf_counter()
    with np.errstate(**_QUIET):
        run = Run(objective, theta0, rng, grad_tol, curvature_tol,
                  getattr(step, "curvature_route", None))
    if not (np.isfinite(run.f) and np.all(np.isfinite(run.g))):
        raise ValueError(f"the loss or its gradient is not finite at theta0 (loss = {run.f})")
    limit = divergence_limit(run.f, objective.null_loss)
    records = [(0, run.f, run.gnorm)]
    with np.errstate(**_QUIET), tqdm(total=max_iter, desc=name, disable=not show) as bar:
        while True:
            if run.f <= loss_tol:
                status, reason = "converged", f"loss {run.f:.3g} ≤ loss_tol = {loss_tol:g}"
                break
            why = _stationarity_reason(run, stationarity)
            if why is not None:
                status, reason = "converged", why
                break
            if run.iteration == max_iter:
                status, reason = "max_iter", f"reached max_iter = {max_iter}"
                break
            previous = run.point
            outcome = step(run)
            if outcome is not None:
                status, reason = outcome
                break
            if diverged(run.f, limit):
                status, reason = "diverged", (
                    f"at iteration {run.iteration + 1} the loss became {run.f:.3g} "
                    f"(non-finite, or above the divergence limit {limit:.3g}); "
                    f"theta is the last iterate before that, from iteration {run.iteration}"
                )
                run.move(previous)
                break
            run.iteration += 1
            bar.update()
            if run.iteration % history_stride == 0:
                records.append((run.iteration, run.f, run.gnorm))
                bar.set_postfix(loss=f"{run.f:.3g}", grad=f"{run.gnorm:.2g}", refresh=False)
            if callback is not None and callback(
                run.iteration, read_only(run.theta.copy()), run.f, run.gnorm
            ):
                status = "stopped"
                reason = f"the callback asked to stop at iteration {run.iteration}"
                break
        bar.set_postfix_str(status)
    elapsed = time.perf_counter() - start
    if run.f > records[0][1]:
        reason += f"; the final loss {run.f:.3g} is above the starting loss {records[0][1]:.3g}"

    if records[-1][0] == run.iteration:
        records.pop()
    records.append((run.iteration, run.f, run.gnorm))
    iteration, loss, grad_norm = (read_only(np.array(column)) for column in zip(*records))
    with np.errstate(**_QUIET):
        lambda_min, route, residual = run.certificate()
    return SolverResult(
        theta=read_only(np.array(run.theta)), status=status, reason=reason, solver=name,
        iterations=run.iteration, loss=run.f, grad_norm=run.gnorm, lambda_min=lambda_min,
        n_grad=run.n_grad, n_hvp=run.n_hvp,
        history=SolverHistory(iteration=iteration, loss=loss, grad_norm=grad_norm),
        time=elapsed, lambda_min_route=route, lambda_min_residual=residual,
    )


# --- steps shared by several solvers -------------------------------------------------------


def gradient_step(run: Run, step: float) -> None:
    r"""Move the run to :math:`\theta - \eta\nabla\mathcal L(\theta)`."""
    run.move(run.evaluate(run.theta - step * run.g))


def backtrack(run: Run, direction, t: float, required_decrease) -> float | None:
    r"""Halve ``t`` until the loss along ``direction`` drops enough; move there, return ``t``.

    Enough is :math:`\mathcal L(\theta + t d) \le \mathcal L(\theta) - r(t)`, with :math:`d` the
    ``direction`` and :math:`r` the function ``required_decrease``. Returns None, without moving,
    when no trial passed within 60 halvings.
    """
    for _ in range(_MAX_HALVINGS):
        point = run.evaluate(run.theta + t * direction)
        if point.value <= run.f - required_decrease(t):
            run.move(point)
            return t
        t *= 0.5
    return None


def descent_eigenvector(run: Run):
    r""":math:`(\lambda_{\min}, u)` with :math:`u` turned so that :math:`g^\top u \le 0`."""
    lam, u = run.smallest_eigenpair()
    return lam, (-u if run.g @ u > 0 else u)


def ratio_test(run: Run, s, decrease):
    r"""The trial point :math:`\theta + s` and the ratio :math:`\rho` of the actual to the predicted
    decrease, regularized against round-off.

    Near a minimum both decreases shrink to the rounding level of :math:`\mathcal L`, where their
    ratio is noise: both get :math:`\nu = 10\,\mathrm{eps}\max(1, |\mathcal L|)` added (Conn,
    Gould & Toint, *Trust-Region Methods*, SIAM 2000, §17.4.2), so that a step whose effect is
    below the rounding level of :math:`\mathcal L` is not rejected for it. A non-finite trial
    loss gives :math:`\rho = -\infty`.
    """
    point = run.evaluate(run.theta + s)
    if not np.isfinite(point.value):
        return -np.inf, point
    noise = 10 * np.finfo(float).eps * max(1.0, abs(run.f))
    return (run.f - point.value + noise) / (decrease + noise), point


def negligible(s, theta) -> bool:
    r"""Whether the step :math:`s` is below machine precision relative to :math:`\theta`."""
    return np.linalg.norm(s) <= np.finfo(float).eps * max(1.0, np.linalg.norm(theta))
