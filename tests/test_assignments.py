"""Tests of shallowlearn.assignments: each checker passes the reference solution and fails
several kinds of wrong submission with a message that names the specific problem."""

import autograd.numpy as anp
import numpy as np
import pytest
from scipy.special import expit

import shallowlearn as sl
from shallowlearn import Activation
from shallowlearn.assignments import (
    Check,
    Feedback,
    check_activation,
    check_phase_transition,
    check_spurious_minimum,
)


# --- the feedback type -------------------------------------------------------------------------


def test_feedback_text_and_lookup():
    fb = Feedback("demo", (Check("a", True, "fine"), Check("b", False, "broken at z = 1")),
                  not_run=("c",))
    assert not fb.passed and fb.failed == ("b",)
    assert fb["b"].message == "broken at z = 1" and "a" in fb and "c" not in fb
    text = str(fb)
    assert text.splitlines()[0] == "demo: NOT PASSED (1 of 2 checks failed)"
    assert "[FAIL] b: broken at z = 1" in text and "not run until" in text and "c" in text
    assert repr(fb) == text
    with pytest.raises(KeyError, match="no check named 'z'"):
        fb["z"]
    assert not Feedback("empty", ()).passed   # nothing checked is not a pass


# --- assignment 1: the swish activation --------------------------------------------------------


def swish(z):
    return z / (1.0 + anp.exp(-z))


def dswish(z):
    s = expit(z)
    return s * (1.0 + z * (1.0 - s))


def ddswish(z):
    s = expit(z)
    return s * (1.0 - s) * (2.0 + z * (1.0 - 2.0 * s))


def submit(dphi=dswish, ddphi=ddswish, phi=swish):
    return check_activation(Activation("swish", phi=phi, dphi=dphi, ddphi=ddphi),
                            reference=swish)


def test_activation_right_submission_passes():
    fb = submit()
    assert fb.passed, str(fb)
    assert [c.name for c in fb.items] == [
        "vectorised", "autograd", "phi", "dphi", "ddphi", "objective", "assumption 2.3"]
    assert "case (a)" in fb["assumption 2.3"].message      # γ(σ) > 0 for every σ
    # a tuple of callables is accepted as well
    assert check_activation((swish, dswish, ddswish)).passed


def test_activation_sign_error():
    fb = submit(ddphi=lambda z: -ddswish(z))
    assert "ddphi" in fb.failed and fb["dphi"].ok
    assert fb["ddphi"].message.startswith("sign error")
    assert "worst at z = " in fb["ddphi"].message
    assert "assumption 2.3" in fb.not_run


def test_activation_constant_factor():
    fb = submit(dphi=lambda z: 2.0 * dswish(z))
    assert "dphi" in fb.failed
    assert "constant factor: yours is 2 times" in fb["dphi"].message
    # φ″ is then checked against second differences of φ, and it is right
    assert fb["ddphi"].ok and "second differences of your phi" in fb["ddphi"].message


def test_activation_missing_product_rule_term():
    fb = submit(dphi=lambda z: expit(z))    # forgot z·σ′(z)
    assert "dphi" in fb.failed
    assert "right at z = 0 but wrong away from it" in fb["dphi"].message
    assert "objective" in fb.failed and "check_derivatives fails" in fb["objective"].message


def test_activation_second_derivative_returns_first():
    fb = submit(ddphi=dswish)
    assert fb.failed == ("ddphi", "objective")
    assert "returns the same values as dphi" in fb["ddphi"].message


def test_activation_additive_constant():
    fb = submit(dphi=lambda z: dswish(z) + 0.25)
    assert "additive constant" in fb["dphi"].message and "0.25" in fb["dphi"].message


def test_activation_not_vectorised():
    import math

    fb = submit(dphi=lambda z: 1.0 / (1.0 + math.exp(-z)))      # math only takes scalars
    assert fb.failed == ("vectorised",)
    assert "dphi raised TypeError" in fb["vectorised"].message
    fb = submit(ddphi=lambda z: 0.5)                            # a scalar, not an array
    assert "ddphi returned shape ()" in fb["vectorised"].message
    assert "np.full_like" in fb["vectorised"].message


def test_activation_plain_numpy_phi_breaks_autograd():
    def converting_phi(z):
        z = np.array(z, dtype=float)        # autograd cannot trace through this conversion
        return z / (1.0 + np.exp(-z))

    fb = submit(phi=converting_phi)
    assert "autograd" in fb.failed
    assert "autograd.numpy" in fb["autograd"].message
    assert "objective" in fb.not_run


def test_activation_wrong_phi_and_bad_input():
    fb = submit(phi=lambda z: z * anp.tanh(z), dphi=lambda z: anp.tanh(z), ddphi=ddswish)
    assert "phi" in fb.failed and "the assignment's φ" in fb["phi"].message
    fb = check_activation("swish")
    assert fb.failed == ("input",) and "got str" in fb["input"].message
    with pytest.raises(TypeError, match="reference must be a callable"):
        check_activation((swish, dswish, ddswish), reference=3.0)


# --- assignment 2: a spurious local minimum ----------------------------------------------------


@pytest.fixture(scope="module")
def landscape():
    """k = 2 < d = 4, v = (1, -1), random labels: trust-region end points at several losses."""
    data = sl.random_labels(n=8, d=4, rng=0)
    obj = sl.Objective(data.X, data.y, "quadratic", v=[1.0, -1.0])
    ends = []
    for seed in range(30):
        theta0 = np.random.default_rng(seed).normal(scale=0.5, size=obj.p)
        res = sl.trust_region(obj, theta0, grad_tol=1e-12, max_iter=500, progress=False)
        ends.append(res.theta)
    ends.sort(key=obj.value)
    return obj, ends


def test_spurious_right_submission_passes(landscape):
    obj, ends = landscape
    theta = np.array(ends[-1])
    before = theta.copy()
    fb = check_spurious_minimum(obj, theta)
    assert fb.passed, str(fb)
    assert np.array_equal(theta, before)                       # not mutated
    assert "gap" in fb["above global"].message


def test_spurious_global_minimum_is_not_spurious(landscape):
    obj, ends = landscape
    fb = check_spurious_minimum(obj, ends[0])                  # the lowest end point
    assert fb.failed == ("above global",)
    assert "this point is a global minimum, not a spurious one" in fb["above global"].message


def test_spurious_not_critical(landscape):
    obj, ends = landscape
    fb = check_spurious_minimum(obj, ends[-1] + 1e-3)
    assert fb.failed == ("gradient",)
    message = fb["gradient"].message
    assert "not a critical point" in message and "> tolerance" in message
    assert fb.not_run == ("curvature", "higher order")


def test_spurious_saddle(landscape):
    obj, _ = landscape
    fb = check_spurious_minimum(obj, np.zeros(obj.p))          # W = 0: a strict saddle
    assert fb.failed == ("curvature",)
    assert "strict saddle" in fb["curvature"].message
    assert "escape direction" in fb["curvature"].message


def test_spurious_hypotheses_hold():
    data = sl.random_labels(n=8, d=2, rng=1)
    obj = sl.Objective(data.X, data.y, "quadratic", v=[1.0, 1.0, -1.0, -1.0])
    theta = sl.trust_region(obj, np.random.default_rng(0).normal(size=obj.p), grad_tol=1e-12,
                            max_iter=500, progress=False).theta
    fb = check_spurious_minimum(obj, theta)
    assert "hypotheses" in fb.failed and "above global" in fb.failed
    assert "'symmetric' cone" in fb["hypotheses"].message
    assert "lifted convex optimum" in fb["above global"].message


def test_spurious_degenerate_is_flagged(landscape, monkeypatch):
    obj, ends = landscape
    real = sl.classify_point          # the checker looks it up as sl.classify_point

    def degenerate(*args, **kwargs):
        import dataclasses

        return dataclasses.replace(real(*args, **kwargs), verdict="degenerate", n_zero=3,
                                   n_symmetry=1)

    monkeypatch.setattr(sl, "classify_point", degenerate)
    fb = check_spurious_minimum(obj, ends[-1])
    assert fb.failed == ("higher order",)
    assert "second-order test is inconclusive" in fb["higher order"].message


def test_spurious_bad_input(landscape):
    obj, ends = landscape
    fb = check_spurious_minimum(obj, ends[-1][:3])
    assert fb.failed == ("input",) and "shape (8,)" in fb["input"].message
    trained = sl.Objective(obj.X, obj.y, "quadratic", k=2)
    assert "trains v" in check_spurious_minimum(trained, np.zeros(trained.p))["input"].message
    tanh = sl.Objective(obj.X, obj.y, "tanh", v=[1.0, -1.0])
    assert "quadratic activation" in check_spurious_minimum(tanh, ends[-1])["input"].message
    assert "got list" in check_spurious_minimum([1, 2], ends[-1])["input"].message
    with pytest.raises(ValueError, match="grad_rtol"):
        check_spurious_minimum(obj, ends[-1], grad_rtol=-1.0)


# --- assignment 3: a phase transition ----------------------------------------------------------

N = [14, 15, 16, 17, 18, 19, 20, 21]
WON = [20, 20, 19, 15, 9, 3, 0, 0]


def test_transition_right_submission_passes():
    values, won = list(N), list(WON)
    fb = check_phase_transition(values, won, 20, 17.8)
    assert fb.passed, str(fb)
    assert "fit_logistic puts the 50% point at 17.8" in fb["50% point"].message
    assert values == N and won == WON


def test_transition_wrong_crossing():
    fb = check_phase_transition(N, WON, 20, 19.5)
    assert fb.failed == ("50% point",)
    message = fb["50% point"].message
    assert "yours, 19.5, is 1.7 away" in message and "more than the tolerance" in message
    fb = check_phase_transition(N, WON, 20, 0.45)              # a rate, not a sweep value
    assert "outside the swept range" in fb["50% point"].message


def test_transition_counts_not_whole_or_too_large():
    fb = check_phase_transition(N, [1.0, 1.0, 0.95, 0.75, 0.45, 0.15, 0.0, 0.0], 20, 17.8)
    assert fb.failed == ("counts",) and "counts, not rates" in fb["counts"].message
    fb = check_phase_transition(N, [21] + WON[1:], 20, 17.8)
    assert "successes at value 14 is 21, more than its 20 trials" in fb["counts"].message
    fb = check_phase_transition(N, WON, [20] * 7 + [30], 17.8)
    assert "same number of trials" in fb["counts"].message


def test_transition_unsorted_and_no_bracket():
    fb = check_phase_transition(N[::-1], WON, 20, 17.8)
    assert fb.failed == ("sweep values",) and "strictly increasing" in fb["sweep values"].message
    fb = check_phase_transition(N[:4], WON[:4], 20, 17.8)
    assert fb.failed == ("bracket",)
    assert "at or above 1/2" in fb["bracket"].message and "50% point" in fb.not_run


def test_transition_bad_input():
    fb = check_phase_transition(N, WON[:-1], 20, 17.8)
    assert fb.failed == ("input",) and "8 values and 7 successes" in fb["input"].message
    fb = check_phase_transition(N, WON, 20, "17.8")
    assert "crossing must be a finite real number" in fb["input"].message
    fb = check_phase_transition(np.array([N, N]), WON, 20, 17.8)
    assert "1-D sequence" in fb["input"].message
    with pytest.raises(ValueError, match="rerun_trials"):
        check_phase_transition(N, WON, 20, 17.8, rerun_trials=0)


def logistic_trial(n, rng):
    return bool(rng.random() < 1.0 / (1.0 + np.exp(1.5 * (n - 17.8))))


def test_transition_rerun():
    fb = check_phase_transition(N, WON, 20, 17.8, trial=logistic_trial)
    assert fb.passed, str(fb)
    assert "at 18 you report 9/20" in fb["rerun"].message
    # counts that the trial function cannot reproduce (it always succeeds)
    fb = check_phase_transition(N, WON, 20, 17.8, trial=lambda n, rng: True, rerun_trials=20)
    assert fb.failed == ("rerun",)
    assert "a rerun gave 20/20" in fb["rerun"].message
    assert "recheck how you counted" in fb["rerun"].message
