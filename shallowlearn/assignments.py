"""Checkers for the book's course assignments, with specific feedback.

Each assignment has one checker, a function that takes what the student submits and returns
a :class:`Feedback`: a list of named checks, each passed or failed with a message that says
what was measured, what was expected and, where it can tell, what the mistake looks like.

- :func:`check_activation`: the first two derivatives of a new activation, the objective built
  on it, and Assumption 2.3 of the paper.
- :func:`check_spurious_minimum`: a claimed spurious local minimum of a quadratic network.
- :func:`check_phase_transition`: a success-rate sweep and its 50% point.

**One rule for bad input.** Anything wrong with the *submission* (a wrong type, a wrong
shape, values that are not finite) is reported as a failed check named ``"input"``, and the
checks that need a valid submission are listed as not run; a checker never raises because of
what the student handed in. The checker's own options (tolerances, numbers of reruns) are
the caller's, not the student's: a bad option raises a ``ValueError`` or ``TypeError``, as
everywhere else in the package. Submitted arrays are copied, never modified.
"""

from __future__ import annotations

import numbers
import textwrap
from dataclasses import dataclass
from typing import Callable

import numpy as np
from autograd import elementwise_grad
from scipy import stats

from .activations import Activation
from .critical_points import classify_point
from .data import random_labels
from .derivative_checks import check_derivatives
from .statistics import fit_logistic
from .objective import Objective
from .quadratic import lifted_optimum, reachable_cone
from .second_order import trust_region
from .validation import as_rng, check_positive_int, check_real

__all__ = [
    "Check",
    "Feedback",
    "check_activation",
    "check_phase_transition",
    "check_spurious_minimum",
]


# --- the feedback type -----------------------------------------------------------------------

_WIDTH = 64  # the width Feedback wraps its text to (fits a book page)


@dataclass(frozen=True)
class Check:
    """One named check of a submission.

    Attributes
    ----------
    name : str
        What was checked (for example ``"dphi"`` or ``"gradient"``).
    ok : bool
        Whether the submission passed it.
    message : str
        What was measured and, on failure, what is wrong and where.
    """

    name: str
    ok: bool
    message: str


@dataclass(frozen=True)
class Feedback:
    """The checker's verdict on one submission.

    Attributes
    ----------
    assignment : str
        Which assignment was checked.
    items : tuple of Check
        The checks that were run, in order.
    not_run : tuple of str
        Checks skipped because an earlier check they depend on failed.

    Examples
    --------
    >>> from shallowlearn.assignments import Check, Feedback
    >>> fb = Feedback("demo", (Check("shape", True, "(3,) as expected"),
    ...                        Check("sign", False, "yours is the negative of the reference")))
    >>> fb.passed, fb.failed
    (False, ('sign',))
    >>> print(fb)
    demo: NOT PASSED (1 of 2 checks failed)
      [ok]   shape: (3,) as expected
      [FAIL] sign: yours is the negative of the reference
    """

    assignment: str
    items: tuple
    not_run: tuple = ()

    @property
    def passed(self) -> bool:
        """True when every check ran and passed."""
        return bool(self.items) and not self.not_run and all(c.ok for c in self.items)

    @property
    def failed(self) -> tuple:
        """Names of the failed checks."""
        return tuple(c.name for c in self.items if not c.ok)

    def __getitem__(self, name: str) -> Check:
        """The check called ``name``."""
        for check in self.items:
            if check.name == name:
                return check
        raise KeyError(f"no check named {name!r}; the checks are {[c.name for c in self.items]}")

    def __contains__(self, name) -> bool:
        return any(c.name == name for c in self.items)

    def __str__(self) -> str:
        bad = len(self.failed)
        if self.passed:
            head = f"{self.assignment}: PASSED (all {len(self.items)} checks)"
        else:
            head = f"{self.assignment}: NOT PASSED ({bad} of {len(self.items)} checks failed)"
        lines = [head]
        for c in self.items:
            mark = "[ok]  " if c.ok else "[FAIL]"
            lines.append(textwrap.fill(f"{c.name}: {c.message}", width=_WIDTH,
                                       initial_indent=f"  {mark} ", subsequent_indent=" " * 11,
                                       break_on_hyphens=False, break_long_words=False))
        if self.not_run:
            lines.append(textwrap.fill(
                f"not run until the failures above are fixed: {', '.join(self.not_run)}",
                width=_WIDTH, initial_indent="  ", subsequent_indent=" " * 11))
        return "\n".join(lines)

    __repr__ = __str__


def _fmt(x) -> str:
    return f"{float(x):.6g}"


# --- assignment 1: a new activation's derivatives ---------------------------------------------

_GRID = np.linspace(-6.0, 6.0, 241)  # contains z = 0
_H = 1e-5
_DERIV_RTOL = 1e-6


def _call(fn, z):
    """fn(z) as a float array, or an error message."""
    try:
        out = fn(z.copy())
    except Exception as err:  # the student's function failed: say how
        return None, f"raised {type(err).__name__}: {err}"
    try:
        out = np.asarray(out, dtype=float)
    except (TypeError, ValueError) as err:
        return None, f"returned something that is not an array of floats ({err})"
    if out.shape != z.shape:
        return None, (f"returned shape {out.shape} for an input of shape {z.shape}; it must work "
                      "elementwise (for a constant, use np.full_like(z, c))")
    if not np.all(np.isfinite(out)):
        bad = z[~np.isfinite(out)] if out.ndim == 1 else z.ravel()[~np.isfinite(out.ravel())]
        return None, f"returned non-finite values, first at z = {_fmt(bad[0])}"
    return out, None


def _central(fn, z, h=_H):
    return (np.asarray(fn(z + h), dtype=float) - np.asarray(fn(z - h), dtype=float)) / (2 * h)


def _close(got, want) -> np.ndarray:
    scale = max(1.0, float(np.max(np.abs(want))))
    return np.abs(got - want) <= _DERIV_RTOL * (scale + np.abs(want))


def _diagnose(got, want, z, lower=None, lower_name="", own_name="") -> str:
    """A guess at the kind of mistake, from the shape of the disagreement."""
    if not np.any(got):
        return f"your {own_name} returns 0 everywhere (not implemented yet?)"
    if lower is not None and np.all(_close(got, lower)):
        return (f"your {own_name} returns the same values as {lower_name}: it looks like one "
                "derivative too few (differentiate once more)")
    big = np.abs(want) > 1e-3 * max(1e-12, float(np.max(np.abs(want))))
    if np.any(big):
        if np.all(_close(got, -want)):
            return "sign error: your values are the negatives of the expected ones everywhere"
        c = float(got[big] @ want[big] / (want[big] @ want[big]))
        if abs(c - 1.0) > 1e-3 and np.all(_close(got, c * want)):
            return (f"off by a constant factor: yours is {c:.4g} times the expected values "
                    "everywhere (a missing or extra factor, for example from the chain rule)")
    shift = float(np.mean(got - want))
    if abs(shift) > 1e-9 and np.all(_close(got - shift, want)):
        return (f"off by an additive constant: yours minus the expected is {shift:.4g} "
                "everywhere (a term's constant was dropped or added)")
    ok = _close(got, want)
    zero = int(np.argmin(np.abs(z)))
    if ok[zero] and not np.all(ok):
        return ("right at z = 0 but wrong away from it: a term that vanishes at z = 0 "
                "(for example a factor z from the product rule) is missing or wrong")
    wrong = z[~ok]
    return (f"wrong at {wrong.size} of {z.size} grid points, for z in "
            f"[{_fmt(wrong.min())}, {_fmt(wrong.max())}]; no simple pattern (sign, factor, "
            "constant) explains it: re-derive it")


def _compare(name, got, want, z, how, lower=None, lower_name="") -> Check:
    err = np.abs(got - want)
    i = int(np.argmax(err))
    where = (f"worst at z = {_fmt(z[i])}: yours {_fmt(got[i])}, {how} {_fmt(want[i])} "
             f"(difference {err[i]:.2e})")
    if np.all(_close(got, want)):
        return Check(name, True, f"agrees with {how} on {z.size} points in "
                                 f"[{_fmt(z[0])}, {_fmt(z[-1])}]; {where}")
    return Check(name, False, f"{_diagnose(got, want, z, lower, lower_name, name)}; {where}")


def check_activation(activation, *, reference: Callable | None = None, rng=0) -> Feedback:
    """Check an activation's φ′ and φ″, the objective built on them, and Assumption 2.3.

    The checks, in order: ``vectorised`` (each of φ, φ′, φ″ maps float arrays of shapes
    (241,) and (3, 5) elementwise to finite float arrays of the same shape); ``autograd``
    (autograd can differentiate φ, as the objective's reference derivatives need); ``phi``
    (φ equals ``reference`` on the grid, when one is given); ``dphi`` (φ′ against central
    differences of φ); ``ddphi`` (φ″ against central differences of φ′, or second
    differences of φ when φ′ is wrong); ``objective`` (:func:`check_derivatives` on a small
    objective with this activation, v and W trained); ``assumption 2.3`` (μ(σ) and γ(σ) on
    σ = 0.1 ... 10 are each of one strict sign, or γ vanishes identically). A failed
    derivative check names the worst grid point z with both values and, when the pattern
    shows it, the kind of mistake: a sign error, a constant factor, an additive constant,
    φ″ returning φ′, or a term that vanishes at z = 0.

    Parameters
    ----------
    activation : Activation or tuple of three callables
        The student's activation, or its ``(phi, dphi, ddphi)``. ``phi`` must be written
        with ``autograd.numpy``; ``dphi`` and ``ddphi`` may use plain numpy.
    reference : callable, optional
        The φ the assignment asks for, to check ``phi`` against.
    rng : None, int or numpy.random.Generator
        Data and point of the objective check.

    Returns
    -------
    Feedback

    Examples
    --------
    >>> import numpy as np
    >>> import autograd.numpy as anp
    >>> from shallowlearn import Activation
    >>> from shallowlearn.assignments import check_activation
    >>> cubic = Activation("cubic", phi=lambda z: z ** 3 / 3 + z, dphi=lambda z: z ** 2 + 1,
    ...                    ddphi=lambda z: -2 * z)
    >>> fb = check_activation(cubic)
    >>> fb.failed
    ('ddphi', 'objective')
    >>> print(fb["ddphi"].message)
    sign error: your values are the negatives of the expected ones everywhere; worst at z = -6: yours 12, differences of your dphi -12 (difference 2.40e+01)
    """
    name = "activation"
    items: list[Check] = []
    rng = as_rng(rng)
    if isinstance(activation, Activation):
        act = activation
    elif (isinstance(activation, (tuple, list)) and len(activation) == 3
          and all(callable(f) for f in activation)):
        act = Activation("submitted", phi=activation[0], dphi=activation[1], ddphi=activation[2])
    else:
        items.append(Check("input", False,
                           "expected a shallowlearn Activation or a tuple (phi, dphi, ddphi) of "
                           f"three callables; got {type(activation).__name__}"))
        return Feedback(name, tuple(items), ("vectorised", "autograd", "dphi", "ddphi", "objective", "assumption 2.3"))
    if reference is not None and not callable(reference):
        raise TypeError(f"reference must be a callable φ; got {type(reference).__name__}")

    # vectorised, finite, same shape
    values, problems = {}, []
    for label, fn in (("phi", act.phi), ("dphi", act.dphi), ("ddphi", act.ddphi)):
        for z in (_GRID, np.linspace(-2.0, 2.0, 15).reshape(3, 5)):
            out, err = _call(fn, z)
            if err is not None:
                problems.append(f"{label} {err} (input of shape {z.shape})")
                break
            if z.ndim == 1:
                values[label] = out
    if problems:
        items.append(Check("vectorised", False, "; ".join(problems)))
        return Feedback(name, tuple(items), ("autograd", "dphi", "ddphi", "objective", "assumption 2.3"))
    items.append(Check("vectorised", True, "phi, dphi and ddphi map arrays of shapes (241,) and "
                                           "(3, 5) elementwise to finite floats"))
    phi, dphi, ddphi = values["phi"], values["dphi"], values["ddphi"]

    # autograd can trace phi
    try:
        traced = np.asarray(elementwise_grad(act.phi)(_GRID.copy()), dtype=float)
        fd = _central(act.phi, _GRID)
        ag_ok = traced.shape == _GRID.shape and np.allclose(traced, fd, rtol=1e-4, atol=1e-4)
        ag_msg = "" if ag_ok else "autograd's derivative of phi disagrees with differences of phi"
    except Exception as err:  # autograd cannot trace plain numpy
        ag_ok, ag_msg = False, f"autograd cannot differentiate phi ({type(err).__name__}: {err})"
    items.append(Check("autograd", ag_ok, "autograd differentiates phi" if ag_ok else
                       f"{ag_msg}: write phi with autograd.numpy operations (import "
                       "autograd.numpy as anp; anp.exp, anp.log, ...), without the math module, "
                       "np.array/np.asarray conversions or in-place assignment, so that the "
                       "objective's reference derivatives work"))

    if reference is not None:
        ref, err = _call(reference, _GRID)
        if err is not None:
            raise TypeError(f"the reference φ {err}")
        items.append(_compare("phi", phi, ref, _GRID, "the assignment's φ"))

    # derivatives against finite differences
    want_d = _central(act.phi, _GRID)
    check_d = _compare("dphi", dphi, want_d, _GRID, "differences of your phi",
                       lower=phi, lower_name="phi")
    items.append(check_d)
    if check_d.ok:
        want_dd, how = _central(act.dphi, _GRID), "differences of your dphi"
    else:
        h = 1e-4
        want_dd = (np.asarray(act.phi(_GRID + h)) - 2 * phi + np.asarray(act.phi(_GRID - h))) / h**2
        how = "second differences of your phi"
    check_dd = _compare("ddphi", ddphi, want_dd, _GRID, how, lower=want_d,
                        lower_name="dphi (the first derivative)")
    items.append(check_dd)

    # the objective's fused derivatives
    data = random_labels(n=12, d=3, rng=rng)
    obj = Objective(data.X, data.y, act, k=2)
    theta = rng.normal(scale=0.7, size=obj.p)
    if ag_ok:
        try:
            report = check_derivatives(obj, theta, rng=rng)
            numbers_ = (f"gradient vs autograd {report.grad_vs_autograd:.1e}, vs differences "
                        f"{report.grad_vs_fd:.1e}; Hessian-vector product vs autograd "
                        f"{report.hvp_vs_autograd:.1e}, vs differences {report.hvp_vs_fd:.1e}")
            ok = report.passed()
            items.append(Check("objective", ok, (
                f"check_derivatives passes ({numbers_})" if ok else
                f"check_derivatives fails on an objective built on your activation ({numbers_}); "
                "fix the derivative checks above first")))
        except Exception as err:
            items.append(Check("objective", False, f"building or differentiating the objective "
                                                   f"failed: {type(err).__name__}: {err}"))
    # Assumption 2.3
    not_run = () if ag_ok else ("objective",)
    if check_d.ok and check_dd.ok:
        items.append(_assumption(act))
    else:
        not_run = not_run + ("assumption 2.3",)
    return Feedback(name, tuple(items), not_run)


def _assumption(act: Activation) -> Check:
    sigmas = np.array([0.1, 0.3, 1.0, 3.0, 10.0])
    mu, gamma = np.asarray(act.mu(sigmas)), np.asarray(act.gamma(sigmas))
    tol = 1e-8
    mu_ok = bool(np.all(mu > tol) or np.all(mu < -tol) or np.all(np.abs(mu) <= tol))
    if np.all(gamma > tol) or np.all(gamma < -tol):
        case = "(a): γ(σ) ≠ 0"
    elif np.all(np.abs(gamma) <= tol):
        case = "(b): γ ≡ 0"
    else:
        case = None
    text = (f"on σ = {', '.join(_fmt(s) for s in sigmas)}: μ from {_fmt(mu.min())} to "
            f"{_fmt(mu.max())}, γ from {_fmt(gamma.min())} to {_fmt(gamma.max())}")
    if mu_ok and case:
        return Check("assumption 2.3", True, f"holds, case {case}; {text}")
    why = "μ changes sign or vanishes at some σ only" if not mu_ok else \
        "γ vanishes or changes sign at some σ but not at all"
    return Check("assumption 2.3", False, f"fails: {why}; {text}")


# --- assignment 2: a spurious local minimum ----------------------------------------------------


def check_spurious_minimum(
    objective,
    theta,
    *,
    grad_rtol: float = 1e-6,
    eig_rtol: float = 1e-6,
    starts: int = 20,
    rng=0,
) -> Feedback:
    """Check that θ is a spurious local minimum of a quadratic network with fixed v.

    The checks, in order: ``hypotheses`` (Theorem 2.1's hypotheses fail: v has fewer than d
    entries of some sign that it uses, so the reachable matrices WᵀD_vW are not a convex
    cone; otherwise every local minimum is global); ``gradient`` (‖∇L(θ)‖ at most the
    scale-relative tolerance of :func:`~shallowlearn.critical_points.classify_point`);
    ``curvature`` (λ_min of the Hessian at least −ε_H; if not, the point is a strict saddle and
    the escape step is reported); ``higher order`` (the second-order test is conclusive: no
    unexplained flat directions, and 600 random probes at distances 10⁻⁴ to 10⁻² ·
    max(1, ‖θ‖) find no lower loss); ``above global`` (L(θ) exceeds the global minimum: the
    lifted convex optimum when the reachable set is a cone, otherwise the lowest loss that
    ``starts`` trust-region runs find, which an exact spurious minimum must exceed).

    Parameters
    ----------
    objective : Objective
        Quadratic activation, fixed output weights v (``Objective(X, y, "quadratic", v=v)``).
    theta : array_like, shape (p,)
        The claimed minimum, ``objective.pack(W)``.
    grad_rtol, eig_rtol : float
        Tolerances of the gradient and curvature tests, as in ``classify_point``.
    starts : int
        Trust-region runs that look for a lower point when the global optimum has no convex
        lifting.
    rng : None, int or numpy.random.Generator
        Starts and probes.

    Returns
    -------
    Feedback

    Examples
    --------
    The origin is a critical point, but with negative curvature:

    >>> import numpy as np
    >>> import shallowlearn as sl
    >>> from shallowlearn.assignments import check_spurious_minimum
    >>> data = sl.random_labels(n=8, d=4, rng=0)
    >>> obj = sl.Objective(data.X, data.y, "quadratic", v=[1.0, -1.0])
    >>> fb = check_spurious_minimum(obj, np.zeros(obj.p))
    >>> fb.failed
    ('curvature',)
    >>> fb["curvature"].message.startswith("λ_min = -")
    True
    """
    name = "spurious minimum"
    grad_rtol = check_real(grad_rtol, "grad_rtol", low=0.0, strict=True)
    eig_rtol = check_real(eig_rtol, "eig_rtol", low=0.0, strict=True)
    starts = check_positive_int(starts, "starts")
    rng = as_rng(rng)
    later = ("hypotheses", "gradient", "curvature", "higher order", "above global")
    problem = None
    if not isinstance(objective, Objective):
        problem = ("expected a shallowlearn Objective, for example "
                   f"sl.Objective(X, y, 'quadratic', v=v); got {type(objective).__name__}")
    elif objective.activation.name != "quadratic":
        problem = (f"the objective must use the quadratic activation; it has "
                   f"{objective.activation!r}")
    elif objective.trains_v:
        problem = ("the objective trains v (it was built with k=...); fix the output weights "
                   "with Objective(X, y, 'quadratic', v=v), as in the assignment")
    else:
        th = np.array(theta, dtype=float, copy=True) if _is_numeric(theta) else None
        if th is None or th.shape != (objective.p,):
            shape = None if th is None else th.shape
            problem = (f"theta must be a float array of shape ({objective.p},) = k·d, as "
                       f"objective.pack(W) gives for W of shape ({objective.k}, {objective.d}); "
                       f"got {type(theta).__name__} of shape {shape}")
        elif not np.all(np.isfinite(th)):
            problem = "theta contains NaN or infinite entries"
    if problem:
        return Feedback(name, (Check("input", False, problem),), later)
    obj = objective
    v, d = obj.v, obj.d
    pos, neg = int(np.sum(v > 0)), int(np.sum(v < 0))
    items = []

    # the hypotheses
    try:
        cone = reachable_cone(v, d)
    except ValueError:
        cone = None
    if cone is None:
        items.append(Check("hypotheses", True, (
            f"v has {pos} positive and {neg} negative entries with d = {d}: the reachable "
            "matrices WᵀD_vW are not a convex set, so Theorem 2.1 does not apply")))
    else:
        items.append(Check("hypotheses", False, (
            f"v has {pos} positive and {neg} negative entries with d = {d}, so WᵀD_vW reaches "
            f"the convex {cone!r} cone and every local minimum is global (see the chapter "
            "'When the hypotheses fail'); use fewer than d entries of one sign, e.g. k < d")))

    cp = classify_point(obj, th, grad_rtol=grad_rtol, eig_rtol=eig_rtol, method="dense")
    ok = cp.grad_norm <= cp.grad_tol
    items.append(Check("gradient", ok, (
        f"‖∇L‖ = {cp.grad_norm:.2e} ≤ tolerance {cp.grad_tol:.2e}" if ok else
        f"‖∇L‖ = {cp.grad_norm:.2e} > tolerance {cp.grad_tol:.2e} (relative to the loss and "
        "the Hessian's scale): not a critical point; run your optimizer longer or polish the "
        "point with sl.trust_region(obj, theta, grad_tol=1e-12)")))
    not_run: tuple = ()
    if ok:
        if cp.lambda_min < -cp.eig_tol:
            items.append(Check("curvature", False, (
                f"λ_min = {cp.lambda_min:.3e} < −{cp.eig_tol:.1e}: a strict saddle, not a "
                f"minimum; a step of {cp.escape_step:.3g} along the escape direction (the "
                f"bottom eigenvector) lowers the loss by about {cp.predicted_decrease:.3g}")))
            not_run = ("higher order",)
        else:
            items.append(Check("curvature", True, (
                f"λ_min = {cp.lambda_min:.3e} ≥ −{cp.eig_tol:.1e}: the Hessian is positive "
                "semidefinite up to the tolerance")))
            items.append(_higher_order(obj, th, cp, rng))
    else:
        not_run = ("curvature", "higher order")

    # the global minimum
    loss = float(cp.loss)
    base = 0.5 * float(np.mean(obj.y**2))
    gap_tol = 1e-6 * base
    if cone is not None:
        best = lifted_optimum(obj.X, obj.y, cone).loss
        how = f"the global minimum (the lifted convex optimum over the {cone!r} cone)"
    else:
        relaxed = "psd" if neg == 0 else "nsd" if pos == 0 else "symmetric"
        bound = lifted_optimum(obj.X, obj.y, relaxed).loss
        scale = np.sqrt(np.sqrt(2 * base) / (obj.k * d))
        best = loss
        for _ in range(starts):
            res = trust_region(obj, rng.normal(scale=scale, size=obj.p), grad_tol=1e-10,
                               max_iter=300, progress=False)
            best = min(best, float(res.loss))
        how = (f"the lowest loss that {starts} trust-region runs from random starts reach (the "
               f"convex relaxation's lower bound is {bound:.3g})")
    gap = loss - best
    if gap > gap_tol:
        items.append(Check("above global", True, (
            f"L(θ) = {loss:.6g} exceeds {best:.6g}, {how}: gap {gap:.3e} > {gap_tol:.1e}")))
    else:
        items.append(Check("above global", False, (
            f"L(θ) = {loss:.6g} does not exceed {best:.6g}, {how} (gap {gap:.2e}, needed > "
            f"{gap_tol:.1e}): this point is a global minimum, not a spurious one; look for "
            "end points of gradient descent with higher losses")))
    return Feedback(name, tuple(items), not_run)


def _is_numeric(value) -> bool:
    try:
        np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        return False
    return True


def _higher_order(obj: Objective, theta, cp, rng) -> Check:
    if cp.verdict == "degenerate":
        return Check("higher order", False, (
            f"the Hessian has {cp.n_zero} eigenvalues within ±{cp.eig_tol:.1e} of zero but the "
            f"model's symmetries explain only {cp.n_symmetry}: the second-order test is "
            "inconclusive, so this may be a higher-order saddle"))
    loss = obj.value(theta)
    size = max(1.0, float(np.linalg.norm(theta)))
    lowest, where = 0.0, None
    for radius in (1e-4, 1e-3, 1e-2):
        u = rng.normal(size=(200, obj.p))
        u /= np.linalg.norm(u, axis=1, keepdims=True)
        for row in u:
            change = obj.value(theta + radius * size * row) - loss
            if change < lowest:
                lowest, where = change, radius * size
    floor = 1e-12 * max(1.0, loss)
    if lowest < -floor:
        return Check("higher order", False, (
            f"a random probe at distance {where:.1e} lowers the loss by {-lowest:.2e}: "
            "not a local minimum despite the second-order test (a higher-order saddle)"))
    return Check("higher order", True, (
        f"no unexplained flat directions ({cp.n_zero} near-zero eigenvalue(s), all from "
        "symmetries), and 600 random probes at distances "
        f"{1e-4 * size:.0e} to {1e-2 * size:.0e} find no lower loss"))


# --- assignment 3: a phase transition and its 50% point ---------------------------------------


def check_phase_transition(
    values,
    successes,
    trials,
    crossing,
    *,
    trial: Callable | None = None,
    rerun_points: int = 2,
    rerun_trials: int = 10,
    alpha: float = 1e-3,
    rng=0,
) -> Feedback:
    """Check a success-rate sweep and its estimated 50% point.

    The checks, in order: ``input`` (only when something has the wrong type or shape);
    ``sweep values`` (finite and strictly increasing); ``counts`` (integer successes between
    0 and the trials, the same positive number of trials at every point); ``bracket`` (some
    rate below 1/2 and some above, so the sweep contains the transition); ``50% point``
    (``crossing`` agrees with :func:`~shallowlearn.experiments.fit_logistic` on the same
    counts within two standard errors of the fitted crossing, from binomial sampling by the
    delta method, and at least a quarter of the median spacing of the sweep); ``rerun``
    (only with ``trial``: at the ``rerun_points`` sweep values nearest the fitted crossing,
    ``rerun_trials`` fresh trials agree with the reported counts by Fisher's exact test at
    level ``alpha``).

    Parameters
    ----------
    values : array_like, shape (m,)
        Sweep values, increasing.
    successes : array_like of int, shape (m,)
        Successes at each value.
    trials : int or array_like of int, shape (m,)
        Trials at each value (all equal).
    crossing : float
        The student's estimate of the value where the success rate is 1/2.
    trial : callable, optional
        ``trial(value, rng) -> bool`` runs one fresh trial at a sweep value with the
        ``numpy.random.Generator`` it is given.
    rerun_points, rerun_trials : int
        How many sweep values to rerun, and trials at each.
    alpha : float
        Level of the rerun test: a failure means counts this different would arise by chance
        with probability below ``alpha``.
    rng : None, int or numpy.random.Generator
        Seeds of the reruns.

    Returns
    -------
    Feedback

    Examples
    --------
    >>> from shallowlearn.assignments import check_phase_transition
    >>> fb = check_phase_transition([3, 4, 5, 6, 7, 8], [0, 1, 4, 8, 10, 10], 10, crossing=5.2)
    >>> fb.passed
    True
    >>> check_phase_transition([3, 4, 5, 6, 7, 8], [0, 1, 4, 8, 10, 10], 10, crossing=7.0).failed
    ('50% point',)
    """
    name = "phase transition"
    rerun_points = check_positive_int(rerun_points, "rerun_points")
    rerun_trials = check_positive_int(rerun_trials, "rerun_trials")
    alpha = check_real(alpha, "alpha", low=0.0, strict=True)
    if trial is not None and not callable(trial):
        raise TypeError(f"trial must be a callable trial(value, rng) -> bool; got "
                        f"{type(trial).__name__}")
    later = ("sweep values", "counts", "bracket", "50% point") + (("rerun",) if trial else ())

    def bad(message):
        return Feedback(name, (Check("input", False, message),), later)

    arrays = {}
    for label, value in (("values", values), ("successes", successes)):
        if not _is_numeric(value) or np.ndim(value) != 1:
            return bad(f"{label} must be a 1-D sequence of numbers, one per sweep point; got "
                       f"{type(value).__name__}" + (f" with {np.ndim(value)} dimensions"
                                                    if _is_numeric(value) else ""))
        arrays[label] = np.array(value, dtype=float, copy=True)
    x, s = arrays["values"], arrays["successes"]
    if s.size != x.size:
        return bad(f"values and successes must have one entry per sweep point; got {x.size} "
                   f"values and {s.size} successes")
    if x.size < 3:
        return bad(f"a sweep needs at least 3 points to locate a transition; got {x.size}")
    if not _is_numeric(trials) or np.ndim(trials) not in (0, 1) or \
            (np.ndim(trials) == 1 and np.size(trials) != x.size):
        return bad(f"trials must be one number, or one per sweep point ({x.size}); got "
                   f"{type(trials).__name__} of shape {np.shape(trials)}")
    t = np.broadcast_to(np.array(trials, dtype=float), x.shape).copy()
    if isinstance(crossing, bool) or not isinstance(crossing, numbers.Real) or \
            not np.isfinite(crossing):
        return bad(f"crossing must be a finite real number (your 50% point); got {crossing!r}")
    crossing = float(crossing)

    items = []
    # the sweep values
    if not np.all(np.isfinite(x)):
        items.append(Check("sweep values", False, "values contains NaN or infinite entries"))
    elif np.any(np.diff(x) <= 0):
        i = int(np.argmax(np.diff(x) <= 0))
        items.append(Check("sweep values", False, (
            f"values must be strictly increasing; entry {i + 1} ({_fmt(x[i + 1])}) follows "
            f"{_fmt(x[i])}: sort the sweep (and its counts with it) and merge repeated values")))
    else:
        items.append(Check("sweep values", True, f"{x.size} increasing values from "
                                                 f"{_fmt(x[0])} to {_fmt(x[-1])}"))
    # the counts
    problems = []
    for label, arr in (("successes", s), ("trials", t)):
        frac = ~np.isfinite(arr) | (arr != np.round(arr))
        if np.any(frac):
            i = int(np.argmax(frac))
            problems.append(f"{label} must be whole numbers (counts, not rates); entry {i} is "
                            f"{_fmt(arr[i])}")
    if not problems:
        if np.any(t < 1):
            problems.append(f"trials must be positive; got {_fmt(t.min())}")
        low, high = s < 0, s > t
        if np.any(low):
            i = int(np.argmax(low))
            problems.append(f"successes at value {_fmt(x[i])} is negative ({_fmt(s[i])})")
        if np.any(high):
            i = int(np.argmax(high))
            problems.append(f"successes at value {_fmt(x[i])} is {_fmt(s[i])}, more than its "
                            f"{_fmt(t[i])} trials")
        if np.any(t != t[0]):
            i = int(np.argmax(t != t[0]))
            problems.append(f"every sweep point needs the same number of trials for fit_logistic; "
                            f"got {_fmt(t[0])} at {_fmt(x[0])} but {_fmt(t[i])} at {_fmt(x[i])}")
    if problems:
        items.append(Check("counts", False, "; ".join(problems)))
    else:
        items.append(Check("counts", True, f"whole successes out of {int(t[0])} trials at each "
                                           "point"))
    if not all(c.ok for c in items):
        return Feedback(name, tuple(items), later[2:])
    n_trials = int(t[0])
    rate = s / n_trials
    rates = ", ".join(f"{_fmt(a)}:\u00a0{r:.2f}" for a, r in zip(x, rate))  # no break inside

    # the bracket
    if np.any(rate < 0.5) and np.any(rate > 0.5):
        items.append(Check("bracket", True, f"some rates are below 1/2 and some above ({rates})"))
    else:
        side = "below" if np.all(rate <= 0.5) else "above"
        items.append(Check("bracket", False, (
            f"every rate is at or {side} 1/2 ({rates}): the sweep does not contain the "
            "transition; extend it past the end where you expect the rate to cross 1/2")))
        return Feedback(name, tuple(items), later[3:])

    # the 50% point
    fit = fit_logistic(x, s, n_trials)
    pkg = fit["crossing"]
    if not np.isfinite(pkg):
        items.append(Check("50% point", False, (
            f"fit_logistic finds no 50% crossing inside the sweep ({rates}): the rates do not "
            "follow one logistic curve across 1/2; add points or trials around the transition")))
        return Feedback(name, tuple(items), ("rerun",) if trial else ())
    se = _crossing_se(x, fit, n_trials)
    spacing = float(np.median(np.diff(x)))
    tol = max(2 * se, 0.25 * spacing)
    dist = abs(crossing - pkg)
    ok = dist <= tol
    text = (f"fit_logistic puts the 50% point at {pkg:.4g} (standard error {se:.2g} from "
            f"the binomial sampling); yours, {crossing:.4g}, is {dist:.3g} away, "
            f"{'within' if ok else 'more than'} the tolerance {tol:.3g} (the larger of two "
            f"standard errors and a quarter of the sweep spacing {spacing:.3g})")
    if not ok and not x[0] <= crossing <= x[-1]:
        text += "; your value is outside the swept range"
    elif not ok:
        near = x[np.argmin(np.abs(rate - 0.5))]
        text += (f"; the rate closest to 1/2 is at {_fmt(near)}: check that your estimate is the "
                 "value where the fitted curve crosses 1/2 (−intercept/slope), not a rate or "
                 "an index into the sweep")
    items.append(Check("50% point", ok, text))

    # rerun a few points
    if trial is not None:
        items.append(_rerun(trial, x, s, n_trials, pkg, rerun_points, rerun_trials, alpha,
                            as_rng(rng)))
    return Feedback(name, tuple(items))


def _crossing_se(x, fit, trials: int) -> float:
    """Delta-method standard error of −a/b from the binomial Fisher information."""
    a, b = fit["intercept"], fit["slope"]
    p = 1.0 / (1.0 + np.exp(-(a + b * x)))
    w = trials * p * (1.0 - p)
    info = np.array([[w.sum(), (w * x).sum()], [(w * x).sum(), (w * x * x).sum()]])
    try:
        cov = np.linalg.inv(info)
    except np.linalg.LinAlgError:
        return 0.0
    grad = np.array([-1.0 / b, a / b**2])
    var = float(grad @ cov @ grad)
    return float(np.sqrt(var)) if np.isfinite(var) and var > 0 else 0.0


def _rerun(trial, x, s, n_trials, pkg, points, reruns, alpha, rng) -> Check:
    order = np.argsort(np.abs(x - pkg), kind="stable")[:points]
    parts, worst = [], (1.0, None)
    for j in sorted(order):
        try:
            value = int(x[j]) if float(x[j]).is_integer() else float(x[j])
            got = sum(bool(trial(value, rng)) for _ in range(reruns))
        except Exception as err:
            return Check("rerun", False, f"your trial function raised {type(err).__name__}: "
                                         f"{err} at value {_fmt(x[j])}")
        table = [[int(s[j]), n_trials - int(s[j])], [got, reruns - got]]
        p_value = float(stats.fisher_exact(table).pvalue)
        parts.append(f"at {_fmt(x[j])} you report {int(s[j])}/{n_trials}, a rerun gave "
                     f"{got}/{reruns} (p = {p_value:.2g})")
        worst = min(worst, (p_value, j), key=lambda item: item[0])
    if worst[0] < alpha:
        return Check("rerun", False, "; ".join(parts) + (
            f": counts this different arise by chance with probability below {alpha:g}; "
            "recheck how you counted successes at these values (the right sweep value? "
            "successes, not failures?)"))
    return Check("rerun", True, "; ".join(parts) + " (consistent)")
