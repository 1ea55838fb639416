"""Tests of shallowlearn.slices: slices equal point-by-point losses, never touch their inputs,
random directions are filter-normalized, and trajectories project onto their principal plane."""

import numpy as np
import pytest

from shallowlearn import Objective, planted
from shallowlearn.slices import (
    TrajectoryProjection,
    project_trajectory,
    random_direction,
    slice_1d,
    slice_2d,
    slice_between,
)


def problem(activation="softplus", trains_v=False, seed=0):
    data = planted(n=25, d=3, k=4, activation=activation, rng=seed)
    obj = Objective(data.X, data.y, activation, **({"k": 4} if trains_v else {"v": [1.0, -1.0, 1.0, 0.5]}))
    rng = np.random.default_rng(seed + 1)
    return obj, rng.normal(size=obj.p), rng.normal(size=obj.p), rng.normal(size=obj.p)


@pytest.mark.parametrize("trains_v", [False, True])
@pytest.mark.parametrize("activation", ["quadratic", "softplus", "tanh", "relu"])
def test_slices_equal_pointwise_losses(activation, trains_v):
    obj, theta, d1, d2 = problem(activation, trains_v)
    s, t = np.linspace(-1, 1, 4), np.linspace(-0.5, 2, 5)
    line = slice_1d(obj, theta, d1, t)
    np.testing.assert_allclose(line, [obj.value(theta + ti * d1) for ti in t], rtol=1e-12)
    plane = slice_2d(obj, theta, d1, d2, s, t)
    expected = [[obj.value(theta + si * d1 + tj * d2) for tj in t] for si in s]
    np.testing.assert_allclose(plane, expected, rtol=1e-12)


def test_slice_between_hits_both_ends():
    obj, a, b, _ = problem("tanh", True)
    values = slice_between(obj, a, b, [0.0, 1.0, 0.5])
    np.testing.assert_allclose(values, [obj.value(a), obj.value(b), obj.value((a + b) / 2)], rtol=1e-12)


def test_chunked_evaluation_matches(monkeypatch):
    obj, theta, d1, d2 = problem("softplus", True)
    s = t = np.linspace(-1, 1, 9)
    whole = slice_2d(obj, theta, d1, d2, s, t)
    monkeypatch.setattr("shallowlearn.objective._CHUNK_ELEMENTS", obj.n * obj.k * 5)  # 5 points per pass
    np.testing.assert_allclose(slice_2d(obj, theta, d1, d2, s, t), whole, rtol=1e-13)


def test_slices_leave_every_input_untouched():
    obj, theta, d1, d2 = problem("quadratic", True)
    s, t = np.linspace(-1, 1, 3), np.linspace(0, 1, 4)
    inputs = [theta, d1, d2, s, t]
    copies = [a.copy() for a in inputs]
    slice_1d(obj, theta, d1, t)
    slice_2d(obj, theta, d1, d2, s, t)
    slice_between(obj, theta, d1, t)
    random_direction(obj, theta, rng=0)
    project_trajectory(np.stack([theta, d1, d2]))
    for a, b in zip(inputs, copies):
        np.testing.assert_array_equal(a, b)
    for a in inputs:  # read-only arrays are accepted too
        a.setflags(write=False)
    slice_2d(obj, theta, d1, d2, s, t)


@pytest.mark.parametrize("trains_v", [False, True])
def test_random_direction_is_filter_normalized(trains_v):
    obj, theta, _, _ = problem("tanh", trains_v)
    direction = random_direction(obj, theta, rng=3)
    v, W = obj.unpack(theta)
    dv, dW = obj.unpack(direction)
    np.testing.assert_allclose(np.linalg.norm(dW, axis=1), np.linalg.norm(W, axis=1), rtol=1e-12)
    if trains_v:
        assert np.linalg.norm(dv) == pytest.approx(np.linalg.norm(v))
    np.testing.assert_array_equal(direction, random_direction(obj, theta, rng=3))
    assert not np.allclose(direction, random_direction(obj, theta, rng=4))


def test_random_direction_zero_rows_and_plain_option():
    obj, theta, _, _ = problem("tanh")
    W = obj.unpack(theta)[1]
    W[2] = 0.0
    direction = random_direction(obj, obj.pack(W), rng=0)
    assert np.all(direction.reshape(4, 3)[2] == 0)
    plain = random_direction(obj, np.zeros(obj.p), per_unit=False, rng=0)
    assert np.linalg.norm(plain) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="theta is all zeros.*per_unit=False"):
        random_direction(obj, np.zeros(obj.p))


def test_trajectory_in_a_plane_is_recovered():
    rng = np.random.default_rng(0)
    basis = np.linalg.qr(rng.normal(size=(10, 2)))[0]
    tau = np.linspace(0, 1, 30)[:, None]
    center = rng.normal(size=10)
    path = center + np.hstack([np.exp(-3 * tau) * np.cos(6 * tau), np.exp(-3 * tau) * np.sin(6 * tau)]) @ basis.T
    proj = project_trajectory(path, center=center)
    assert isinstance(proj, TrajectoryProjection)
    np.testing.assert_allclose(proj.directions.T @ proj.directions, np.eye(2), atol=1e-12)
    assert proj.explained.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(center + proj.coords @ proj.directions.T, path, atol=1e-12)
    # the plane is the one spanned by the basis
    np.testing.assert_allclose(np.abs(np.linalg.svd(basis.T @ proj.directions)[1]), 1.0, atol=1e-12)


def test_trajectory_default_center_is_the_last_point():
    path = np.random.default_rng(1).normal(size=(6, 5))
    proj = project_trajectory(path)
    np.testing.assert_array_equal(proj.center, path[-1])
    np.testing.assert_allclose(proj.coords[-1], 0.0)
    assert 0 < proj.explained.sum() < 1 and proj.explained[0] >= proj.explained[1]
    assert "explained=" in repr(proj) and "array" not in repr(proj)


def test_trajectory_projection_feeds_a_slice():
    obj, theta, d1, _ = problem("softplus")
    path = np.stack([theta + t * d1 + t**2 * np.roll(d1, 1) for t in np.linspace(1, 0, 8)])
    proj = project_trajectory(path)
    s, t = proj.coords[:, 0], proj.coords[:, 1]
    losses = slice_2d(obj, proj.center, proj.directions[:, 0], proj.directions[:, 1], s, t)
    # the path lies in the plane, so the diagonal of the grid is the loss along the path
    np.testing.assert_allclose(np.diag(losses), [obj.value(p) for p in path], rtol=1e-10)


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda o, th: slice_1d(o, th, th[:-1], [0.0]), ValueError, r"direction must have shape \(12,\)"),
        (lambda o, th: slice_1d(o, th, th, [[0.0]]), ValueError, "t must be a 1-D vector"),
        (lambda o, th: slice_2d(o, th, th, th, [0.0], []), ValueError, "t must not be empty"),
        (lambda o, th: slice_between(o, th, th[:3], [0.0]), ValueError, "theta_b must have shape"),
        (lambda o, th: slice_1d("obj", th, th, [0.0]), TypeError, "objective must be a shallowlearn objective"),
        (lambda o, th: project_trajectory(th[None, :]), ValueError, "at least 2 points"),
        (lambda o, th: project_trajectory(np.ones((3, 4)), center=np.ones(3)), ValueError, r"center must have shape \(4,\)"),
    ],
)
def test_bad_input(call, error, match):
    obj, theta, _, _ = problem("tanh")
    with pytest.raises(error, match=match):
        call(obj, theta)
