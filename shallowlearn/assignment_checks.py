"""The named checks behind the assignment checkers of :mod:`shallowlearn.assignments`.

One sequence of checks per assignment (:data:`ACTIVATION_CHECKS`,
:data:`SPURIOUS_MINIMUM_CHECKS`, :data:`PHASE_TRANSITION_CHECKS`), each check a function of the
shared :class:`~shallowlearn.checks.CheckState` that returns ``(ok, message)`` and declares the
earlier checks it needs; :func:`~shallowlearn.checks.run_checks` runs a sequence. The checkers
in :mod:`shallowlearn.assignments` validate their options, fill the state and call the runner.
Every call of submitted code goes through ``state.call``, under the checker's time limit.
"""

from __future__ import annotations

import numbers

import numpy as np
from autograd import elementwise_grad
from scipy import stats

import shallowlearn as sl

from .checks import NotRun, SubmissionError, named_check
from .statistics import crossing_standard_error, fit_logistic
from .quadratic import lifted_optimum, reachable_cone

__all__ = ["ACTIVATION_CHECKS", "GRID", "PHASE_TRANSITION_CHECKS", "SPURIOUS_MINIMUM_CHECKS"]


def _fmt(x) -> str:
    return f"{float(x):.6g}"


# --- assignment 1: a new activation's derivatives ---------------------------------------------

GRID = np.linspace(-6.0, 6.0, 241)  #: the grid of z on which derivatives are compared (has 0)
_SMALL = np.linspace(-2.0, 2.0, 15).reshape(3, 5)
_H = 1e-5
_DERIV_RTOL = 1e-6
_SIGMAS = np.array([0.1, 0.3, 1.0, 3.0, 10.0])
_Z_MAX = 14.0 * 10.0  # the largest abs(z) at which the Gaussian moments on _SIGMAS evaluate φ′


def _evaluate(state, fn, z, label):
    """fn(z) as a float array, or an error message; timeouts and exits propagate."""
    try:
        out = state.call(fn, z.copy(), what=label)
    except SubmissionError as err:
        if err.kind != "raised":
            raise
        return None, err.detail
    try:
        out = state.call(lambda: np.asarray(out, dtype=float), what=f"the value of {label}")
    except SubmissionError as err:
        if err.kind != "raised":
            raise
        return None, f"returned something that is not an array of floats ({err.error})"
    if out.shape != z.shape:
        return None, (f"returned shape {out.shape} for an input of shape {z.shape}; it must work "
                      "elementwise (for a constant, use np.full_like(z, c))")
    if not np.all(np.isfinite(out)):
        bad = z.ravel()[~np.isfinite(out.ravel())]
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


def _compare(name, got, want, z, how, lower=None, lower_name=""):
    """(ok, message) of one derivative against its reference values."""
    if not np.all(np.isfinite(want)):
        return False, (f"{how} are not finite on the grid (your functions overflow near "
                       f"z = {_fmt(z[np.argmax(~np.isfinite(want))])})")
    err = np.abs(got - want)
    i = int(np.argmax(err))
    where = (f"worst at z = {_fmt(z[i])}: yours {_fmt(got[i])}, {how} {_fmt(want[i])} "
             f"(difference {err[i]:.2e})")
    if np.all(_close(got, want)):
        return True, f"agrees with {how} on {z.size} points in [{_fmt(z[0])}, {_fmt(z[-1])}]; {where}"
    return False, f"{_diagnose(got, want, z, lower, lower_name, name)}; {where}"


@named_check("input", quiet=True)
def _activation_input(s):
    a = s.submitted
    if isinstance(a, sl.Activation):
        s.act = a
    elif isinstance(a, (tuple, list)) and len(a) == 3 and all(callable(f) for f in a):
        s.act = sl.Activation("submitted", phi=a[0], dphi=a[1], ddphi=a[2])
    else:
        return False, ("expected a shallowlearn Activation or a tuple (phi, dphi, ddphi) of "
                       f"three callables; got {type(a).__name__}")
    return True, "an activation"


@named_check("vectorised", needs=("input",))
def _vectorised(s):
    s.values, problems = {}, []
    for label, fn in (("phi", s.act.phi), ("dphi", s.act.dphi), ("ddphi", s.act.ddphi)):
        for z in (GRID, _SMALL):
            out, err = _evaluate(s, fn, z, label)
            if err is not None:
                problems.append(f"{label} {err} (input of shape {z.shape})")
                break
            if z.ndim == 1:
                s.values[label] = out
    if problems:
        return False, "; ".join(problems)
    return True, "phi, dphi and ddphi map arrays of shapes (241,) and (3, 5) elementwise to finite floats"


@named_check("autograd", needs=("vectorised",))
def _autograd(s):
    try:
        traced = s.call(lambda: np.asarray(elementwise_grad(s.act.phi)(GRID.copy()), dtype=float),
                        what="autograd's derivative of phi")
        fd = s.call(_central, s.act.phi, GRID, what="phi")
        ok = traced.shape == GRID.shape and bool(np.allclose(traced, fd, rtol=1e-4, atol=1e-4))
        why = "" if ok else "autograd's derivative of phi disagrees with differences of phi"
    except SubmissionError as err:  # autograd cannot trace plain numpy
        if err.kind != "raised":
            raise
        ok, why = False, (f"autograd cannot differentiate phi ({type(err.error).__name__}: "
                          f"{err.error})")
    if ok:
        return True, "autograd differentiates phi"
    return False, (f"{why}: write phi with autograd.numpy operations (import autograd.numpy as "
                   "anp; anp.exp, anp.log, ...), without the math module, np.array/np.asarray "
                   "conversions or in-place assignment, so that the objective's reference "
                   "derivatives work")


@named_check("phi", needs=("vectorised",), applies=lambda s: s.reference is not None)
def _phi(s):
    return _compare("phi", s.values["phi"], s.reference_values, GRID, "the assignment's φ")


@named_check("dphi", needs=("vectorised",))
def _dphi(s):
    s.want_d = s.call(_central, s.act.phi, GRID, what="phi")
    return _compare("dphi", s.values["dphi"], s.want_d, GRID, "differences of your phi",
                    lower=s.values["phi"], lower_name="phi")


@named_check("ddphi", needs=("vectorised",))
def _ddphi(s):
    if s.passed("dphi"):
        want, how = s.call(_central, s.act.dphi, GRID, what="dphi"), "differences of your dphi"
    else:
        h, phi = 1e-4, s.act.phi
        want = s.call(lambda: (np.asarray(phi(GRID + h)) - 2 * s.values["phi"]
                               + np.asarray(phi(GRID - h))) / h**2, what="phi")
        how = "second differences of your phi"
    lower = getattr(s, "want_d", None)
    if lower is None:
        lower = s.call(_central, s.act.phi, GRID, what="phi")
    return _compare("ddphi", s.values["ddphi"], want, GRID, how, lower=lower,
                    lower_name="dphi (the first derivative)")


@named_check("objective", needs=("autograd",))
def _objective(s):
    rng = s.rng
    data = sl.random_labels(n=12, d=3, rng=rng)
    obj = sl.Objective(data.X, data.y, s.act, k=2)
    theta = rng.normal(scale=0.7, size=obj.p)
    try:
        report = s.call(lambda: sl.check_derivatives(obj, theta, rng=rng), what="check_derivatives")
    except SubmissionError as err:
        if err.kind != "raised":
            raise
        return False, (f"building or differentiating the objective failed: "
                       f"{type(err.error).__name__}: {err.error}")
    numbers_ = (f"gradient vs autograd {report.grad_vs_autograd:.1e}, vs differences "
                f"{report.grad_vs_fd:.1e}; Hessian-vector product vs autograd "
                f"{report.hvp_vs_autograd:.1e}, vs differences {report.hvp_vs_fd:.1e}")
    if report.passed():
        return True, f"check_derivatives passes ({numbers_})"
    return False, (f"check_derivatives fails on an objective built on your activation "
                   f"({numbers_}); fix the derivative checks above first")


@named_check("assumption 2.3", needs=("dphi", "ddphi"))
def _assumption(s):
    where = f"(the quadrature calls it at abs(z) up to {_Z_MAX:g})"
    mu = np.asarray(s.call(s.act.mu, _SIGMAS, what=f"your dphi, inside μ(σ) = E φ′(σg) {where},"),
                    dtype=float)
    gamma = np.asarray(s.call(s.act.gamma, _SIGMAS,
                              what=f"your ddphi, inside γ(σ) = E φ″(σg) {where},"), dtype=float)
    if not (np.all(np.isfinite(mu)) and np.all(np.isfinite(gamma))):
        return False, (f"μ(σ) or γ(σ) is not finite on σ = {', '.join(_fmt(x) for x in _SIGMAS)}: "
                       f"your dphi or ddphi overflows or returns NaN for large arguments {where}")
    tol = 1e-8
    mu_ok = bool(np.all(mu > tol) or np.all(mu < -tol) or np.all(np.abs(mu) <= tol))
    if np.all(gamma > tol) or np.all(gamma < -tol):
        case = "(a): γ(σ) ≠ 0"
    elif np.all(np.abs(gamma) <= tol):
        case = "(b): γ ≡ 0"
    else:
        case = None
    text = (f"on σ = {', '.join(_fmt(x) for x in _SIGMAS)}: μ from {_fmt(mu.min())} to "
            f"{_fmt(mu.max())}, γ from {_fmt(gamma.min())} to {_fmt(gamma.max())}")
    if mu_ok and case:
        return True, f"holds, case {case}; {text}"
    why = "μ changes sign or vanishes at some σ only" if not mu_ok else \
        "γ vanishes or changes sign at some σ but not at all"
    return False, f"fails: {why}; {text}"


#: The checks of ``check_activation``, in the order they run.
ACTIVATION_CHECKS = (_activation_input, _vectorised, _autograd, _phi, _dphi, _ddphi, _objective,
                     _assumption)





# --- assignment 2: a spurious local minimum ----------------------------------------------------


def _is_numeric(value) -> bool:
    try:
        np.asarray(value, dtype=float)
    except (TypeError, ValueError, OverflowError):
        return False
    return True


@named_check("input", quiet=True)
def _spurious_input(s):
    objective, theta = s.objective, s.theta
    if not isinstance(objective, sl.Objective):
        return False, ("expected a shallowlearn Objective, for example "
                       f"sl.Objective(X, y, 'quadratic', v=v); got {type(objective).__name__}")
    if objective.activation.name != "quadratic":
        return False, (f"the objective must use the quadratic activation; it has "
                       f"{objective.activation!r}")
    if objective.trains_v:
        return False, ("the objective trains v (it was built with k=...); fix the output weights "
                       "with Objective(X, y, 'quadratic', v=v), as in the assignment")
    th = np.array(theta, dtype=float, copy=True) if _is_numeric(theta) else None
    if th is None or th.shape != (objective.p,):
        shape = None if th is None else th.shape
        return False, (f"theta must be a float array of shape ({objective.p},) = k·d, as "
                       f"objective.pack(W) gives for W of shape ({objective.k}, {objective.d}); "
                       f"got {type(theta).__name__} of shape {shape}")
    if not np.all(np.isfinite(th)):
        return False, "theta contains NaN or infinite entries"
    with np.errstate(over="ignore", invalid="ignore"):
        loss = float(s.call(objective.value, th, what="the objective at theta"))
    if not np.isfinite(loss):
        return False, (f"the loss at theta is {loss} (it overflows: the largest entry of theta "
                       f"is {np.max(np.abs(th)):.3g}); a local minimum has a finite loss")
    s.obj, s.th, s.loss = objective, th, loss
    s.pos, s.neg = int(np.sum(objective.v > 0)), int(np.sum(objective.v < 0))
    return True, "an objective and a point"


@named_check("hypotheses", needs=("input",))
def _hypotheses(s):
    try:
        s.cone = reachable_cone(s.obj.v, s.obj.d)
    except ValueError:
        s.cone = None
    counts = f"v has {s.pos} positive and {s.neg} negative entries with d = {s.obj.d}"
    if s.cone is None:
        return True, (f"{counts}: the reachable matrices WᵀD_vW are not a convex set, so "
                      "Theorem 2.1 does not apply")
    return False, (f"{counts}, so WᵀD_vW reaches the convex {s.cone!r} cone and every local "
                   "minimum is global (see the chapter 'When the hypotheses fail'); use fewer "
                   "than d entries of one sign, e.g. k < d")


@named_check("gradient", needs=("input",))
def _gradient(s):
    s.cp = cp = s.call(lambda: sl.classify_point(s.obj, s.th, grad_rtol=s.grad_rtol,
                                                 eig_rtol=s.eig_rtol, method="dense"),
                       what="classifying theta (gradient and Hessian of your objective)")
    if cp.grad_norm <= cp.grad_tol:
        return True, f"‖∇L‖ = {cp.grad_norm:.2e} ≤ tolerance {cp.grad_tol:.2e}"
    return False, (f"‖∇L‖ = {cp.grad_norm:.2e} > tolerance {cp.grad_tol:.2e} (relative to the "
                   "loss and the Hessian's scale): not a critical point; run your optimizer "
                   "longer or polish the point with sl.trust_region(obj, theta, grad_tol=1e-12)")


@named_check("curvature", needs=("gradient",))
def _curvature(s):
    cp = s.cp
    if cp.lambda_min < -cp.eig_tol:
        return False, (f"λ_min = {cp.lambda_min:.3e} < −{cp.eig_tol:.1e}: a strict saddle, not a "
                       f"minimum; a step of {cp.escape_step:.3g} along the escape direction (the "
                       f"bottom eigenvector) lowers the loss by about {cp.predicted_decrease:.3g}")
    return True, (f"λ_min = {cp.lambda_min:.3e} ≥ −{cp.eig_tol:.1e}: the Hessian is positive "
                  "semidefinite up to the tolerance")


@named_check("higher order", needs=("curvature",))
def _higher_order(s):
    cp, obj, theta = s.cp, s.obj, s.th
    if cp.verdict == "degenerate":
        return False, (f"the Hessian has {cp.n_zero} eigenvalues within ±{cp.eig_tol:.1e} of zero "
                       f"but the model's symmetries explain only {cp.n_symmetry}: the "
                       "second-order test is inconclusive, so this may be a higher-order saddle")
    size = max(1.0, float(np.linalg.norm(theta)))

    def probe():
        lowest, where = 0.0, None
        for radius in (1e-4, 1e-3, 1e-2):
            u = s.rng.normal(size=(200, obj.p))
            u /= np.linalg.norm(u, axis=1, keepdims=True)
            for row in u:
                change = obj.value(theta + radius * size * row) - s.loss
                if change < lowest:
                    lowest, where = change, radius * size
        return lowest, where

    lowest, where = s.call(probe, what="probing the loss around theta")
    if lowest < -1e-12 * max(1.0, s.loss):
        return False, (f"a random probe at distance {where:.1e} lowers the loss by "
                       f"{-lowest:.2e}: not a local minimum despite the second-order test (a "
                       "higher-order saddle)")
    return True, (f"no unexplained flat directions ({cp.n_zero} near-zero eigenvalue(s), all from "
                  f"symmetries), and 600 random probes at distances {1e-4 * size:.0e} to "
                  f"{1e-2 * size:.0e} find no lower loss")


@named_check("above global", needs=("input",))
def _above_global(s):
    obj, cone = s.obj, getattr(s, "cone", None)
    loss = float(s.cp.loss) if hasattr(s, "cp") else s.loss
    base = 0.5 * float(np.mean(obj.y**2))
    gap_tol = 1e-6 * base
    if cone is not None:
        best = s.call(lifted_optimum, obj.X, obj.y, cone, what="the lifted convex optimum").loss
        how = f"the global minimum (the lifted convex optimum over the {cone!r} cone)"
    else:
        relaxed = "psd" if s.neg == 0 else "nsd" if s.pos == 0 else "symmetric"
        bound = s.call(lifted_optimum, obj.X, obj.y, relaxed, what="the convex relaxation").loss
        scale = np.sqrt(np.sqrt(2 * base) / (obj.k * obj.d))
        best = loss
        for _ in range(s.starts):
            start = s.rng.normal(scale=scale, size=obj.p)
            res = s.call(lambda: sl.trust_region(obj, start, grad_tol=1e-10, max_iter=300,
                                                 progress=False),
                         what="a trust-region run on your objective")
            best = min(best, float(res.loss))
        how = (f"the lowest loss that {s.starts} trust-region runs from random starts reach "
               f"(the convex relaxation's lower bound is {bound:.3g})")
    gap = loss - best
    if gap > gap_tol:
        return True, f"L(θ) = {loss:.6g} exceeds {best:.6g}, {how}: gap {gap:.3e} > {gap_tol:.1e}"
    return False, (f"L(θ) = {loss:.6g} does not exceed {best:.6g}, {how} (gap {gap:.2e}, needed "
                   f"> {gap_tol:.1e}): this point is a global minimum, not a spurious one; look "
                   "for end points of gradient descent with higher losses")


#: The checks of ``check_spurious_minimum``, in the order they run.
SPURIOUS_MINIMUM_CHECKS = (_spurious_input, _hypotheses, _gradient, _curvature, _higher_order,
                           _above_global)





# --- assignment 3: a phase transition and its 50% point ---------------------------------------


@named_check("input", quiet=True)
def _transition_input(s):
    arrays = {}
    for label, value in (("values", s.values), ("successes", s.successes)):
        if not _is_numeric(value) or np.ndim(value) != 1:
            return False, (f"{label} must be a 1-D sequence of numbers, one per sweep point; got "
                           f"{type(value).__name__}" + (f" with {np.ndim(value)} dimensions"
                                                        if _is_numeric(value) else ""))
        arrays[label] = np.array(value, dtype=float, copy=True)
    x, succ, trials = arrays["values"], arrays["successes"], s.trials
    if succ.size != x.size:
        return False, (f"values and successes must have one entry per sweep point; got {x.size} "
                       f"values and {succ.size} successes")
    if x.size < 3:
        return False, f"a sweep needs at least 3 points to locate a transition; got {x.size}"
    if not _is_numeric(trials) or np.ndim(trials) not in (0, 1) or \
            (np.ndim(trials) == 1 and np.size(trials) != x.size):
        return False, (f"trials must be one number, or one per sweep point ({x.size}); got "
                       f"{type(trials).__name__} of shape {np.shape(trials)}")
    crossing = s.crossing
    if isinstance(crossing, bool) or not isinstance(crossing, numbers.Real) or \
            not np.isfinite(crossing):
        return False, f"crossing must be a finite real number (your 50% point); got {crossing!r}"
    s.x, s.s, s.crossing = x, succ, float(crossing)
    s.t = np.broadcast_to(np.array(trials, dtype=float), x.shape).copy()
    return True, "a sweep"


@named_check("sweep values", needs=("input",))
def _sweep_values(s):
    x = s.x
    if not np.all(np.isfinite(x)):
        return False, "values contains NaN or infinite entries"
    if np.any(np.diff(x) <= 0):
        i = int(np.argmax(np.diff(x) <= 0))
        return False, (f"values must be strictly increasing; entry {i + 1} ({_fmt(x[i + 1])}) "
                       f"follows {_fmt(x[i])}: sort the sweep (and its counts with it) and merge "
                       "repeated values")
    return True, f"{x.size} increasing values from {_fmt(x[0])} to {_fmt(x[-1])}"


@named_check("counts", needs=("input",))
def _counts(s):
    x, succ, t = s.x, s.s, s.t
    problems = []
    for label, arr in (("successes", succ), ("trials", t)):
        frac = ~np.isfinite(arr) | (arr != np.round(arr))
        if np.any(frac):
            i = int(np.argmax(frac))
            problems.append(f"{label} must be whole numbers (counts, not rates); entry {i} is "
                            f"{_fmt(arr[i])}")
    if not problems:
        if np.any(t < 1):
            problems.append(f"trials must be positive; got {_fmt(t.min())}")
        low, high = succ < 0, succ > t
        if np.any(low):
            i = int(np.argmax(low))
            problems.append(f"successes at value {_fmt(x[i])} is negative ({_fmt(succ[i])})")
        if np.any(high):
            i = int(np.argmax(high))
            problems.append(f"successes at value {_fmt(x[i])} is {_fmt(succ[i])}, more than its "
                            f"{_fmt(t[i])} trials")
        if np.any(t != t[0]):
            i = int(np.argmax(t != t[0]))
            problems.append(f"every sweep point needs the same number of trials for fit_logistic; "
                            f"got {_fmt(t[0])} at {_fmt(x[0])} but {_fmt(t[i])} at {_fmt(x[i])}")
    if problems:
        return False, "; ".join(problems)
    return True, f"whole successes out of {int(t[0])} trials at each point"


@named_check("bracket", needs=("sweep values", "counts"))
def _bracket(s):
    s.n_trials = int(s.t[0])
    rate = s.rate = s.s / s.n_trials
    s.rates = ", ".join(f"{_fmt(a)}:\u00a0{r:.2f}" for a, r in zip(s.x, rate))  # no break inside
    if np.any(rate < 0.5) and np.any(rate > 0.5):
        return True, f"some rates are below 1/2 and some above ({s.rates})"
    side = "below" if np.all(rate <= 0.5) else "above"
    return False, (f"every rate is at or {side} 1/2 ({s.rates}): the sweep does not contain the "
                   "transition; extend it past the end where you expect the rate to cross 1/2")


@named_check("50% point", needs=("bracket",))
def _crossing(s):
    x, crossing = s.x, s.crossing
    fit = fit_logistic(x, s.s, s.n_trials)
    pkg = s.pkg = fit["crossing"]
    if not np.isfinite(pkg):
        return False, (f"fit_logistic finds no 50% crossing inside the sweep ({s.rates}): the "
                       "rates do not follow one logistic curve across 1/2; add points or trials "
                       "around the transition")
    se = crossing_standard_error(x, fit, s.n_trials)
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
        near = x[np.argmin(np.abs(s.rate - 0.5))]
        text += (f"; the rate closest to 1/2 is at {_fmt(near)}: check that your estimate is the "
                 "value where the fitted curve crosses 1/2 (−intercept/slope), not a rate or "
                 "an index into the sweep")
    return ok, text


@named_check("rerun", needs=("bracket",), applies=lambda s: s.trial is not None)
def _rerun(s):
    pkg, x, n_trials = getattr(s, "pkg", float("nan")), s.x, s.n_trials
    if not np.isfinite(pkg):
        raise NotRun("fit_logistic found no 50% crossing to rerun the sweep around")
    order = np.argsort(np.abs(x - pkg), kind="stable")[:s.rerun_points]
    parts, worst = [], (1.0, None)
    for j in sorted(order):
        value = int(x[j]) if float(x[j]).is_integer() else float(x[j])
        got = 0
        for _ in range(s.rerun_trials):
            try:
                out = s.call(s.trial, value, s.rng, what="your trial function")
            except SubmissionError as err:
                return False, f"{err} at value {_fmt(x[j])}"
            if not isinstance(out, (bool, np.bool_)):
                return False, (f"your trial function returned {out!r} ({type(out).__name__}) at "
                               f"value {_fmt(x[j])}; a trial must return True or False, for "
                               "example bool(res.loss <= target)")
            got += bool(out)
        table = [[int(s.s[j]), n_trials - int(s.s[j])], [got, s.rerun_trials - got]]
        p_value = float(stats.fisher_exact(table).pvalue)
        parts.append(f"at {_fmt(x[j])} you report {int(s.s[j])}/{n_trials}, a rerun gave "
                     f"{got}/{s.rerun_trials} (p = {p_value:.2g})")
        worst = min(worst, (p_value, j), key=lambda item: item[0])
    if worst[0] < s.alpha:
        return False, "; ".join(parts) + (
            f": counts this different arise by chance with probability below {s.alpha:g}; "
            "recheck how you counted successes at these values (the right sweep value? "
            "successes, not failures?)")
    return True, "; ".join(parts) + " (consistent)"


#: The checks of ``check_phase_transition``, in the order they run.
PHASE_TRANSITION_CHECKS = (_transition_input, _sweep_values, _counts, _bracket, _crossing, _rerun)
