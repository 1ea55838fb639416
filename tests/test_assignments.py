"""Tests of shallowlearn.assignments: each checker passes the reference solution and fails
several kinds of wrong submission with a message that names the specific problem; hostile
submissions (slow, crashing, exiting, overflowing) fail a check instead of hanging or raising."""

import signal
import sys
import threading
import time

import autograd.numpy as anp
import numpy as np
import pytest
from scipy.special import expit

import shallowlearn as sl
from shallowlearn import Activation, checks
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


# --- the runner: dependencies and reasons ------------------------------------------------------


def test_not_run_checks_carry_their_reason():
    fb = submit(ddphi=lambda z: -ddswish(z))
    assert fb.reason("assumption 2.3") == "needs 'dphi' and 'ddphi', and 'ddphi' failed"
    fb = submit(dphi=lambda z: 0.5)                  # not vectorised: everything after waits
    assert fb.not_run == ("autograd", "phi", "dphi", "ddphi", "objective", "assumption 2.3")
    assert fb.reason("dphi") == "needs 'vectorised', which failed"
    assert fb.reason("objective") == "needs 'autograd', which was not run"
    assert fb.reason("assumption 2.3") == ("needs 'dphi' and 'ddphi', and 'dphi' was not run and "
                                           "'ddphi' was not run")
    assert not fb.ok("dphi") and not fb.ok("vectorised")
    with pytest.raises(KeyError, match="not among the checks that were not run"):
        fb.reason("vectorised")


def test_rerun_is_not_run_without_a_fitted_crossing():
    # the rates cross 1/2 twice, so the logistic fit is flat and finds no crossing to rerun at
    fb = check_phase_transition([1, 2, 3], [6, 4, 6], 10, 2.0, trial=logistic_trial)
    assert fb.failed == ("50% point",) and fb.not_run == ("rerun",)
    assert "no 50% crossing" in fb.reason("rerun")


def test_feedback_round_trips_through_a_dict():
    fb = submit(ddphi=lambda z: -ddswish(z))
    again = Feedback.from_dict(fb.to_dict())
    assert again == fb and str(again) == str(fb)
    with pytest.raises(ValueError, match="not a feedback record"):
        Feedback.from_dict({"items": [["a"]]})


# --- containment of student code ---------------------------------------------------------------


def sleeping_dphi(z):
    time.sleep(60)
    return dswish(z)


def test_sleeping_submission_times_out_within_the_limit():
    start = time.monotonic()
    fb = check_activation((swish, sleeping_dphi, ddswish), time_limit=0.5)
    elapsed = time.monotonic() - start
    assert elapsed < 5.0                                  # not the 60 s the submission asks for
    assert fb.failed == ("vectorised",)
    assert "dphi did not finish within the time limit of 0.5 s" in fb["vectorised"].message
    assert fb.reason("dphi") == "needs 'vectorised', which failed"


def test_the_module_default_time_limit_applies(monkeypatch):
    monkeypatch.setattr(checks, "DEFAULT_TIME_LIMIT", 0.3)
    start = time.monotonic()
    fb = check_phase_transition(N, WON, 20, 17.8, trial=lambda n, rng: time.sleep(30) or True)
    assert time.monotonic() - start < 5.0
    assert fb.failed == ("rerun",)
    assert "time limit of 0.3 s at value 17" in fb["rerun"].message


def test_a_submission_that_swallows_the_timeout_is_interrupted_again():
    def stubborn(z):
        for _ in range(3):
            try:
                time.sleep(60)
            except BaseException:          # catches the first timeouts, and is stopped anyway
                pass
        return dswish(z)

    start = time.monotonic()
    fb = check_activation((swish, stubborn, ddswish), time_limit=0.3)
    assert time.monotonic() - start < 8.0
    assert "did not finish within the time limit of 0.3 s" in fb["vectorised"].message


def test_time_limit_in_a_worker_thread():
    # off the main thread there is no SIGALRM: the call runs in a thread that is abandoned
    def slow(z):
        time.sleep(2.0)
        return dswish(z)

    box = {}

    def grade():
        start = time.monotonic()
        box["fb"] = check_activation((swish, slow, ddswish), time_limit=0.3)
        box["elapsed"] = time.monotonic() - start

    worker = threading.Thread(target=grade)
    worker.start()
    worker.join(30)
    assert not worker.is_alive() and box["elapsed"] < 1.9
    assert "did not finish within the time limit of 0.3 s" in box["fb"]["vectorised"].message


def test_an_outer_alarm_is_restored():
    fired = []

    def outer(*args):
        fired.append(True)

    previous = signal.signal(signal.SIGALRM, outer)
    try:
        signal.setitimer(signal.ITIMER_REAL, 30.0)
        check_activation((swish, dswish, ddswish), time_limit=5.0)
        left, _ = signal.getitimer(signal.ITIMER_REAL)
        assert 0 < left < 30.0 and not fired       # the outer timer runs on, not fired early
        assert signal.getsignal(signal.SIGALRM) is outer
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def test_crashing_and_exiting_submissions_fail_a_check():
    def exits(z):
        sys.exit(3)

    fb = check_activation((swish, exits, ddswish))
    assert fb.failed == ("vectorised",)
    assert "dphi called sys.exit(3)" in fb["vectorised"].message

    def crashes(n, rng):
        raise RuntimeError("solver blew up")

    fb = check_phase_transition(N, WON, 20, 17.8, trial=crashes)
    assert fb.failed == ("rerun",)
    assert fb["rerun"].message == ("your trial function raised RuntimeError: solver blew up at "
                                   "value 17")

    def interrupts(n, rng):
        raise KeyboardInterrupt

    fb = check_phase_transition(N, WON, 20, 17.8, trial=interrupts)
    assert "interrupted (KeyboardInterrupt)" in fb["rerun"].message

    class Abort(BaseException):            # not an Exception: except Exception misses it
        pass

    def aborts(z):
        raise Abort("stop")

    fb = check_activation((aborts, dswish, ddswish))
    assert fb.failed == ("vectorised",) and "phi raised Abort: stop" in fb["vectorised"].message


@pytest.mark.parametrize("result", [float("nan"), 1, None, "yes", np.float64(1.0)])
def test_a_trial_that_does_not_return_a_bool_is_not_a_success(result):
    fb = check_phase_transition(N, WON, 20, 17.8, trial=lambda n, rng: result)
    assert fb.failed == ("rerun",)
    assert "a trial must return True or False" in fb["rerun"].message
    assert f"returned {result!r} ({type(result).__name__})" in fb["rerun"].message


def test_numpy_bools_are_accepted_as_trial_results():
    fb = check_phase_transition(N, WON, 20, 17.8,
                                trial=lambda n, rng: np.bool_(logistic_trial(n, rng)))
    assert fb.passed, str(fb)


def test_a_derivative_that_fails_only_far_from_zero():
    # the grid checks stay inside abs(z) <= 6; the Gaussian moments evaluate φ′ much further out
    def dphi_near(z):
        if np.any(np.abs(z) > 20):
            raise ValueError("z out of range")
        return dswish(z)

    fb = check_activation((swish, dphi_near, ddswish))
    assert fb.failed == ("assumption 2.3",)
    message = fb["assumption 2.3"].message
    assert "raised ValueError: z out of range" in message and "abs(z) up to 140" in message
    fb = check_activation((swish, lambda z: np.where(np.abs(z) > 20, np.nan, dswish(z)), ddswish))
    assert fb.failed == ("assumption 2.3",) and "not finite" in fb["assumption 2.3"].message


def test_huge_theta_fails_as_input(landscape):
    obj, _ = landscape
    fb = check_spurious_minimum(obj, np.full(obj.p, 1e200))      # the loss overflows
    assert fb.failed == ("input",)
    assert "overflows" in fb["input"].message and "1e+200" in fb["input"].message
    fb = check_spurious_minimum(obj, np.full(obj.p, 1e100))      # finite, far from critical
    assert "gradient" in fb.failed and fb.not_run == ("curvature", "higher order")


def test_an_internal_error_is_a_failed_check(landscape, monkeypatch):
    obj, ends = landscape

    def broken(*args, **kwargs):
        raise np.linalg.LinAlgError("Eigenvalues did not converge")

    monkeypatch.setattr(sl, "classify_point", broken)
    fb = check_spurious_minimum(obj, ends[-1])
    assert "gradient" in fb.failed
    assert "LinAlgError: Eigenvalues did not converge" in fb["gradient"].message
    assert fb.not_run == ("curvature", "higher order") and "above global" in fb


def test_bad_time_limit_raises():
    for bad in (0, -1.0, float("inf"), "2", True):
        with pytest.raises(ValueError, match="time_limit must be a positive finite number"):
            check_activation((swish, dswish, ddswish), time_limit=bad)
