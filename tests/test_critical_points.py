"""Tests of shallowlearn.critical_points on constructed minima, strict saddles and degenerate
points, and of the symmetry directions that explain the Hessian's zero eigenvalues."""

import autograd.numpy as anp
import numpy as np
import pytest

from shallowlearn import Objective, planted, random_labels
from shallowlearn.critical_points import VERDICTS, CriticalPoint, classify_point, symmetry_directions
from shallowlearn.quadratic import factorize, khatri_rao, lifted_optimum, saddle_at_zero

MIXED = np.array([1.0, 1.0, 1.0, -1.0, -1.0, -1.0])  # three of each sign: k = 2d for d = 3


def saddle_problem(seed=0, n=20, d=3):
    data = random_labels(n=n, d=d, rng=seed)
    return Objective(data.X, data.y, "quadratic", v=MIXED[: 2 * d] if d == 3 else np.tile([1.0, -1.0], d))


def lifted_minimum(n=15, d=3, seed=0):
    """An exact global minimum with L* > 0: n > d(d+1)/2, M* factored onto mixed-sign v."""
    data = random_labels(n=n, d=d, rng=seed)
    obj = Objective(data.X, data.y, "quadratic", v=MIXED)
    M = lifted_optimum(data.X, data.y).M
    return obj, obj.pack(factorize(M, MIXED))


def test_zero_is_a_strict_saddle_with_the_closed_form_curvature():
    obj = saddle_problem()
    cp = classify_point(obj, np.zeros(obj.p))
    assert cp.verdict == "strict saddle" and cp.grad_norm == 0.0
    assert cp.lambda_min == pytest.approx(saddle_at_zero(obj).lambda_min, rel=1e-12)
    u = cp.escape_direction
    assert np.linalg.norm(u) == pytest.approx(1.0)
    np.testing.assert_allclose(obj.hessian(np.zeros(obj.p)) @ u, cp.lambda_min * u, atol=1e-10)


def test_escape_step_delivers_the_predicted_decrease():
    obj = saddle_problem(seed=1)
    theta = 1e-4 * np.random.default_rng(0).normal(size=obj.p)  # near W = 0: small gradient
    cp = classify_point(obj, theta, grad_rtol=1e-2)
    assert cp.verdict == "strict saddle"
    g = obj.grad(theta)
    u, t = cp.escape_direction, cp.escape_step
    assert g @ u <= 0 < t
    assert cp.predicted_decrease == pytest.approx(-t * (g @ u) + 0.5 * t * t * abs(cp.lambda_min))
    actual = cp.loss - obj.value(theta + t * u)
    assert actual >= 0.5 * cp.predicted_decrease > 0
    # t is the largest trusted step of the halving sequence from √(2L/|λ|)
    t0 = np.sqrt(2 * cp.loss / abs(cp.lambda_min))
    assert np.log2(t0 / t) == pytest.approx(round(np.log2(t0 / t)))


def test_random_point_is_not_critical():
    obj = saddle_problem()
    cp = classify_point(obj, np.random.default_rng(0).normal(size=obj.p))
    assert cp.verdict == "not critical" and cp.grad_norm > cp.grad_tol
    assert cp.escape_direction is None and cp.escape_step is None and cp.predicted_decrease is None


@pytest.mark.parametrize("activation", ["softplus", "tanh", "sigmoid", "erf"])
def test_planted_teacher_is_second_order_stationary(activation):
    data = planted(n=40, d=3, k=4, activation=activation, rng=0)
    obj = Objective(data.X, data.y, activation, v=data.teacher.v)
    cp = classify_point(obj, obj.pack(data.teacher.W))
    assert cp.verdict == "second-order stationary"
    assert cp.loss < 1e-25 and cp.lambda_min >= -cp.eig_tol
    assert cp.n_symmetry == 0 and cp.n_zero == 0  # p = 12 < n: the minimum is isolated


def test_overparameterized_interpolating_minimum_is_second_order_stationary():
    # kd = 24 > n = 8: the interpolating weights form a manifold, zero modes beyond symmetries
    data = planted(n=8, d=4, k=6, activation="quadratic", rng=1)
    obj = Objective(data.X, data.y, "quadratic", v=data.teacher.v)
    cp = classify_point(obj, obj.pack(data.teacher.W))
    assert cp.verdict == "second-order stationary"
    assert cp.n_zero > cp.n_symmetry


def test_lifted_minimum_zero_modes_are_exactly_the_symmetries():
    obj, theta = lifted_minimum()
    cp = classify_point(obj, theta)
    assert cp.verdict == "second-order stationary" and cp.loss > 0.01
    k, d = obj.k, obj.d
    assert cp.n_zero == cp.n_symmetry == k * d - d * (d + 1) // 2


def test_moving_along_a_symmetry_keeps_the_verdict():
    obj, theta = lifted_minimum(seed=2)
    W = obj.unpack(theta)[1]
    # Q with QᵀD_vQ = D_v: a hyperbolic rotation mixing a positive and a negative unit
    Q = np.eye(obj.k)
    Q[np.ix_([0, 3], [0, 3])] = [[np.cosh(0.4), np.sinh(0.4)], [np.sinh(0.4), np.cosh(0.4)]]
    np.testing.assert_allclose(Q.T @ np.diag(MIXED) @ Q, np.diag(MIXED), atol=1e-12)
    moved = obj.pack(Q @ W)
    assert obj.value(moved) == pytest.approx(obj.value(theta), rel=1e-12)
    assert classify_point(obj, moved).verdict == "second-order stationary"


def test_cubic_activation_at_zero_is_degenerate():
    # φ(z) = z³: gradient and Hessian vanish at W = 0, but the loss has a cubic term (monkey saddle)
    data = random_labels(n=15, d=2, rng=0)
    obj = Objective(data.X, data.y, lambda z: z**3, v=[1.0, -1.0, 1.0])
    cp = classify_point(obj, np.zeros(obj.p))
    assert cp.verdict == "degenerate"
    assert cp.n_zero == obj.p and cp.n_symmetry == 0 and cp.loss > 0
    u = np.random.default_rng(0).normal(size=obj.p)
    values = [obj.value(s * 0.1 * u) for s in (-1, 1)]
    assert min(values) < cp.loss  # the loss does go down: not a minimum


def test_quadratic_zero_with_labels_invisible_to_the_data_is_degenerate():
    # y ⊥ range of the Khatri–Rao features makes G = −(1/n) Σ yᵢxᵢxᵢᵀ = 0, so H(0) = 0 with L > 0
    d, n = 2, 8
    X = np.random.default_rng(0).normal(size=(n, d))
    basis = np.linalg.svd(khatri_rao(X))[0][:, d * (d + 1) // 2 :]  # left null space
    y = basis @ np.ones(basis.shape[1])
    obj = Objective(X, y, "quadratic", v=[1.0, 1.0, -1.0, -1.0])
    cp = classify_point(obj, np.zeros(obj.p))
    assert cp.verdict == "degenerate" and cp.lambda_max <= 1e-12


def test_verdicts_do_not_depend_on_the_scale_of_the_problem():
    # quadratic: labels ×c and weights ×√c scale predictions and residuals by c
    obj, theta = lifted_minimum(seed=1)
    c = 1e3
    scaled = Objective(obj.X, c * obj.y, "quadratic", v=obj.v)
    points = [theta, np.zeros(obj.p), np.random.default_rng(0).normal(size=obj.p)]
    for point in points:
        a = classify_point(obj, point)
        b = classify_point(scaled, np.sqrt(c) * point)
        assert a.verdict == b.verdict
        assert b.eig_tol == pytest.approx(c * a.eig_tol, rel=1e-9)
    assert {classify_point(obj, p).verdict for p in points} == {"second-order stationary", "strict saddle", "not critical"}


def test_iterative_route_gives_the_same_verdict_without_counting_zeros():
    obj = saddle_problem(n=30)
    dense = classify_point(obj, np.zeros(obj.p))
    fast = classify_point(obj, np.zeros(obj.p), method="iterative", rng=0)
    assert fast.verdict == dense.verdict == "strict saddle"
    assert fast.n_zero is None and fast.n_symmetry is None
    assert fast.lambda_min == pytest.approx(dense.lambda_min, abs=1e-6 * dense.spectrum.norm)


def test_critical_point_repr_and_verdicts():
    cp = classify_point(saddle_problem(), np.zeros(18))
    assert isinstance(cp, CriticalPoint) and cp.verdict in VERDICTS
    text = repr(cp)
    assert "verdict='strict saddle'" in text and "array" not in text


def test_classify_leaves_theta_untouched():
    obj = saddle_problem()
    theta = 1e-3 * np.ones(obj.p)
    keep = theta.copy()
    classify_point(obj, theta)
    np.testing.assert_array_equal(theta, keep)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"grad_rtol": 0.0}, ValueError, "grad_rtol must be > 0"),
        ({"eig_rtol": "small"}, TypeError, "eig_rtol must be a real number"),
        ({"method": "power"}, ValueError, "method must be one of"),
    ],
)
def test_bad_arguments(kwargs, error, match):
    obj = saddle_problem()
    with pytest.raises(error, match=match):
        classify_point(obj, np.zeros(obj.p), **kwargs)
    with pytest.raises(ValueError, match="theta must have shape"):
        classify_point(obj, np.zeros(obj.p + 1))


# --- symmetry directions -------------------------------------------------------------------


def test_quadratic_orbit_dimension_and_dead_units():
    data = random_labels(n=20, d=3, rng=0)
    v = np.array([1.0, 2.0, -1.0, 0.0, -0.5])
    obj = Objective(data.X, data.y, "quadratic", v=v)
    W = np.random.default_rng(1).normal(size=(5, 3))
    W[1] = W[0] + W[2]  # the live rows span r = 2 dimensions
    W[3] = 0.0
    W[4] = W[0] - W[2]
    basis = symmetry_directions(obj, obj.pack(W))
    live, r, d = 4, 2, 3
    assert basis.shape == (obj.p, live * r - r * (r + 1) // 2 + d)  # orbit + the dead unit
    np.testing.assert_allclose(basis.T @ basis, np.eye(basis.shape[1]), atol=1e-12)


@pytest.mark.parametrize("trains_v", [False, True])
def test_symmetry_directions_are_orthogonal_to_the_gradient(trains_v):
    # the loss is constant along every orbit, so the gradient has no component along it
    data = random_labels(n=20, d=3, rng=0)
    obj = Objective(data.X, data.y, "quadratic", **({"k": 5} if trains_v else {"v": [1.0, 1.0, -1.0, -1.0, 1.0]}))
    theta = np.random.default_rng(2).normal(size=obj.p)
    basis = symmetry_directions(obj, theta)
    assert basis.shape[1] == (5 if trains_v else 5 * 3 - 6)
    g = obj.grad(theta)
    assert np.abs(basis.T @ g).max() <= 1e-10 * np.linalg.norm(g)


def test_symmetry_directions_are_hessian_zero_modes_at_a_minimum():
    obj, theta = lifted_minimum(seed=3)
    basis = symmetry_directions(obj, theta)
    H = obj.hessian(theta)
    assert np.abs(H @ basis).max() <= 1e-9 * np.abs(H).max()


def test_trained_v_rescaling_is_a_zero_mode_at_a_planted_minimum():
    data = planted(n=10, d=2, k=3, activation="quadratic", rng=0)
    obj = Objective(data.X, data.y, "quadratic", k=3)
    theta = obj.pack(data.teacher.W, data.teacher.v)
    basis = symmetry_directions(obj, theta)
    assert basis.shape == (obj.p, 3)
    H = obj.hessian(theta)
    assert np.abs(H @ basis).max() <= 1e-10 * np.abs(H).max()


def test_generic_activation_has_no_continuous_symmetries():
    data = random_labels(n=10, d=2, rng=0)
    obj = Objective(data.X, data.y, lambda z: anp.tanh(z) + 0.1 * z, v=[1.0, -1.0])
    assert symmetry_directions(obj, np.ones(obj.p)).shape == (obj.p, 0)
    trained = Objective(data.X, data.y, "softplus", k=2)
    assert symmetry_directions(trained, np.ones(trained.p)).shape == (trained.p, 0)
