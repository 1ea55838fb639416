"""Run diagnosis: each category on a run built to be in it, and the tail slope."""

import numpy as np
import pytest

import shallowlearn as sl
from shallowlearn.diagnosis import CATEGORIES, diagnose_run, tail_slope

DATA = sl.random_labels(n=8, d=4, rng=0)
SADDLE = sl.Objective(DATA.X, DATA.y, "quadratic", v=np.r_[np.ones(4), -np.ones(4)])
FLAT = np.full(11, SADDLE.null_loss)  # a history that did not move


def _diagnose(objective, theta, history, **options):
    options = dict(record_every=10, status="max_iter", loss_tol=1e-8, max_iter=100) | options
    return diagnose_run(objective, theta, history, **options)


def test_tail_slope_and_rise():
    slope, rose = tail_slope(10.0 ** -np.arange(20.0), 5)
    assert slope == pytest.approx(-0.2) and not rose
    slope, rose = tail_slope(np.r_[1.0, 0.5, 0.6, 0.5, 0.6, 0.5, 0.6, 0.5], 1)
    assert rose
    assert np.isnan(tail_slope([1.0, np.nan, np.nan], 1)[0])


def test_succeeded_and_diverged():
    teacher = sl.planted(n=20, d=3, k=2, rng=1)
    obj = sl.Objective(teacher.X, teacher.y, "quadratic", k=2)
    theta = obj.pack(teacher.teacher.W, teacher.teacher.v)
    assert _diagnose(obj, theta, np.r_[1.0, 1e-12]).category == "succeeded"
    assert _diagnose(obj, theta + 1.0, FLAT, status="diverged").category == "diverged"


def test_saddle_and_second_order_point():
    assert _diagnose(SADDLE, np.zeros(SADDLE.p), FLAT).category == "stuck near a saddle"
    # too few units (k < d): gradient descent ends at spurious minima, second-order points
    narrow = sl.Objective(DATA.X, DATA.y, "quadratic", v=np.array([1.0, -1.0]))
    end = sl.trust_region(narrow, 0.5 * np.random.default_rng(2).normal(size=narrow.p),
                          grad_tol=1e-12, max_iter=500)
    assert end.loss > 1e-3 and end.status == "converged"
    diagnosis = _diagnose(narrow, end.theta, np.full(11, end.loss))
    assert diagnosis.category == "stuck at a second-order point"
    assert diagnosis.grad_norm <= diagnosis.grad_tol and diagnosis.lambda_min >= -diagnosis.eig_tol
    # a solver that stopped because the point is stationary is stuck there, however steeply
    # its loss fell on the way: only a run cut short by its budget is "slow"
    falling = end.loss * 10.0 ** (0.2 * np.arange(10, -1, -1))
    assert _diagnose(narrow, end.theta, falling, status="converged").category == diagnosis.category
    assert _diagnose(narrow, end.theta, falling).category == "slow"


def test_slow_crawling_and_oscillating_by_their_histories():
    theta = 0.5 * np.random.default_rng(3).normal(size=SADDLE.p)  # a point with a large gradient
    loss = SADDLE.value(theta)
    assert np.linalg.norm(SADDLE.grad(theta)) > 0.1
    fast = loss * 10.0 ** (2.0 - 0.2 * np.arange(11))  # ends at `loss`, 0.02 decades a step
    slow = _diagnose(SADDLE, theta, fast)
    assert slow.category == "slow" and slow.steps_needed <= 10 * 100
    creeping = loss * 10.0 ** (1e-6 * (100 - 10 * np.arange(11)))
    assert _diagnose(SADDLE, theta, creeping).category == "crawling"
    bouncing = loss * (1 + 0.1 * (np.arange(11) % 2))
    assert _diagnose(SADDLE, theta, bouncing).category == "oscillating"


def test_every_category_is_named_and_bad_input_fails():
    assert len(set(CATEGORIES)) == len(CATEGORIES) == 7
    with pytest.raises(ValueError, match="history"):
        _diagnose(SADDLE, np.zeros(SADDLE.p), np.ones((2, 2)))
    with pytest.raises(ValueError, match="horizon"):
        _diagnose(SADDLE, np.zeros(SADDLE.p), FLAT, horizon=0.5)
