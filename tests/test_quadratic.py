"""Tests of shallowlearn.quadratic: the lifted convex problem, its optimum against gradient
descent, the certificate, factorization, the Khatri–Rao matrix, and the closed forms at
W = 0 and along the Case-II direction, each checked against the Hessian and autograd."""

import numpy as np
import pytest

from shallowlearn import Objective, planted, random_labels
from shallowlearn.quadratic import (
    Certificate,
    case_two_direction,
    certificate_matrix,
    factorize,
    khatri_rao,
    khatri_rao_spectrum,
    lift,
    lifted_optimum,
    optimality_certificate,
    reachable_cone,
    saddle_at_zero,
)

MIXED = np.array([1.0, 1.0, 1.0, -1.0, -1.0, -1.0])
POSITIVE = np.array([1.0, 0.5, 2.0, 1.0])


def random_symmetric(d, rng):
    A = rng.normal(size=(d, d))
    return A + A.T


def armijo_gradient_descent(obj, theta, steps):
    """Plain gradient descent with a backtracking step: the local search of Theorem 2.1."""
    f, g = obj.value_and_grad(theta)
    step = 1.0
    for _ in range(steps):
        while True:
            new = theta - step * g
            f_new, g_new = obj.value_and_grad(new)
            if f_new <= f - 0.5 * step * (g @ g):
                break
            step /= 2
        theta, f, g, step = new, f_new, g_new, 2 * step
    return f


# --- Khatri–Rao ----------------------------------------------------------------------------


def test_khatri_rao_features_reproduce_the_quadratic_form():
    rng = np.random.default_rng(0)
    X, M = rng.normal(size=(7, 4)), random_symmetric(4, rng)
    Phi = khatri_rao(X)
    iu = np.triu_indices(4)
    svec = np.where(iu[0] == iu[1], 1.0, np.sqrt(2.0)) * M[iu]
    np.testing.assert_allclose(Phi @ svec, np.einsum("ij,jk,ik->i", X, M, X), rtol=1e-12)
    np.testing.assert_allclose(Phi @ Phi.T, (X @ X.T) ** 2, rtol=1e-12)


@pytest.mark.parametrize("n", [4, 10, 25])
def test_khatri_rao_rank_is_generic(n):
    d = 4  # d(d+1)/2 = 10
    kr = khatri_rao_spectrum(np.random.default_rng(n).normal(size=(n, d)))
    assert kr.rank == kr.generic_rank == min(n, 10)
    assert kr.sigma_min > 0 and kr.sigma_max >= kr.sigma_min
    assert (kr.n, kr.d) == (n, d)


def test_khatri_rao_rank_drops_for_special_inputs():
    X = np.random.default_rng(0).normal(size=(12, 3))
    X[:, 2] = X[:, 0]  # inputs in a plane: only 3 distinct quadratic monomials
    kr = khatri_rao_spectrum(X)
    assert kr.rank == 3 < kr.generic_rank == 6
    assert kr.sigma_min < 1e-10 * kr.sigma_max


def test_khatri_rao_singular_values_scale_as_corollary_7_5():
    # σ_min(X * X) of order d and σ_max of order √(nd), here along n = d²/4
    rng = np.random.default_rng(1)
    spectra = [khatri_rao_spectrum(rng.normal(size=(d * d // 4, d))) for d in (8, 16, 32)]
    low = [kr.sigma_min / kr.d for kr in spectra]
    high = [kr.sigma_max / np.sqrt(kr.n * kr.d) for kr in spectra]
    assert 0.1 < min(low) and max(low) < 1 and max(low) / min(low) < 2
    assert max(high) < 2


# --- the lift, the cones and the optimum ---------------------------------------------------


def test_lift_is_the_networks_quadratic_form():
    rng = np.random.default_rng(0)
    data = random_labels(n=6, d=3, rng=0)
    W = rng.normal(size=(6, 3))
    obj = Objective(data.X, data.y, "quadratic", v=MIXED)
    M = lift(W, MIXED)
    np.testing.assert_allclose(obj.predict(obj.pack(W)), np.einsum("ij,jk,ik->i", data.X, M, data.X), rtol=1e-12)
    np.testing.assert_allclose(M, M.T)


@pytest.mark.parametrize(
    "v, cone",
    [(MIXED, "symmetric"), (POSITIVE, "psd"), (-POSITIVE, "nsd"), (np.array([1.0, 2.0, 0.0, 3.0]), "psd")],
)
def test_reachable_cone(v, cone):
    assert reachable_cone(v, 3) == cone


@pytest.mark.parametrize("v", [[1.0, 1.0, -1.0, -1.0, -1.0], [1.0, 1.0], [1.0, -1.0, 0.0, 0.0]])
def test_reachable_cone_refuses_bounded_inertia(v):
    with pytest.raises(ValueError, match=r"v has \d+ positive and \d+ negative entries.*at least d=3"):
        reachable_cone(v, 3)


@pytest.mark.parametrize("v", [MIXED, POSITIVE, -POSITIVE], ids=["mixed", "positive", "negative"])
@pytest.mark.parametrize("n", [4, 12], ids=["n<d(d+1)/2", "n>d(d+1)/2"])
@pytest.mark.parametrize("seed", [0, 1])
def test_lifted_optimum_is_what_gradient_descent_reaches(v, n, seed):
    d = 3  # d(d+1)/2 = 6
    data = random_labels(n=n, d=d, rng=seed)
    obj = Objective(data.X, data.y, "quadratic", v=v)
    theta0 = np.random.default_rng(seed + 10).normal(size=obj.p) / np.sqrt(d)
    reached = armijo_gradient_descent(obj, theta0, 3000)
    optimum = lifted_optimum(data.X, data.y, reachable_cone(v, d))
    scale = 0.5 * np.mean(data.y**2)
    assert abs(reached - optimum.loss) <= 1e-5 * scale
    assert reached >= optimum.loss - 1e-12 * scale  # the lifted optimum is a lower bound
    if np.array_equal(v, MIXED):
        assert (optimum.loss < 1e-20 * scale) == (n < 6)  # interpolation below d(d+1)/2


def test_psd_optimum_satisfies_the_cone_optimality_conditions():
    data = random_labels(n=15, d=4, rng=3)
    opt = lifted_optimum(data.X, data.y, "psd")
    assert opt.iterations > 0 and opt.cone == "psd"
    eig_M = np.linalg.eigvalsh(opt.M)
    r = np.einsum("ij,jk,ik->i", data.X, opt.M, data.X) - data.y
    G = (data.X.T * r) @ data.X / 15
    scale = np.abs(G).max() + np.abs(data.X.T * data.y @ data.X).max() / 15
    assert eig_M.min() >= -1e-12 * eig_M.max()  # M ⪰ 0
    assert np.linalg.eigvalsh(G).min() >= -1e-6 * scale  # G ⪰ 0
    assert abs(np.sum(G * opt.M)) <= 1e-6 * scale * np.abs(opt.M).max()  # ⟨G, M⟩ = 0


def test_nsd_is_the_mirror_of_psd():
    data = random_labels(n=12, d=3, rng=0)
    psd = lifted_optimum(data.X, -data.y, "psd")
    nsd = lifted_optimum(data.X, data.y, "nsd")
    np.testing.assert_allclose(nsd.M, -psd.M, atol=1e-12)
    assert nsd.loss == pytest.approx(psd.loss)


def test_lifted_optimum_bad_input():
    X, y = np.ones((4, 2)), np.ones(4)
    with pytest.raises(ValueError, match="cone must be one of"):
        lifted_optimum(X, y, "diagonal")
    with pytest.raises(ValueError, match=r"y must have shape \(4,\)"):
        lifted_optimum(X, np.ones(5))
    with pytest.raises(ValueError, match="tol must be > 0"):
        lifted_optimum(X, y, "psd", tol=0.0)


# --- the certificate ------------------------------------------------------------------------


def test_certificate_at_zero_and_at_the_optimum():
    data = random_labels(n=12, d=3, rng=4)
    obj = Objective(data.X, data.y, "quadratic", v=MIXED)
    at_zero = optimality_certificate(obj, np.zeros(obj.p))
    np.testing.assert_allclose(at_zero.G, -(data.X.T * data.y) @ data.X / 12, rtol=1e-12)
    assert at_zero.loss == pytest.approx(0.5 * np.mean(data.y**2)) and at_zero.gap > 0
    optimum = lifted_optimum(data.X, data.y)
    best = obj.pack(factorize(optimum.M, MIXED))
    cert = optimality_certificate(obj, best, optimum)
    assert isinstance(cert, Certificate) and cert.cone == "symmetric"
    assert abs(cert.gap) <= 1e-12 * at_zero.loss
    assert np.abs(cert.G).max() <= 1e-10 * np.abs(at_zero.G).max()  # Lemma 6.1: G = 0


def test_certificate_matrix_is_the_gradient_of_the_lifted_loss():
    # ∇L(W) = 2 D_v W G: the certificate is the lifted gradient seen through the factorization
    data = random_labels(n=10, d=3, rng=0)
    obj = Objective(data.X, data.y, "quadratic", v=MIXED)
    W = np.random.default_rng(0).normal(size=(6, 3))
    G = certificate_matrix(obj, obj.pack(W))
    np.testing.assert_allclose(obj.grad(obj.pack(W)).reshape(6, 3), 2 * MIXED[:, None] * W @ G, rtol=1e-10)


def test_certificate_with_trained_v():
    data = random_labels(n=12, d=3, rng=0)
    obj = Objective(data.X, data.y, "quadratic", k=4)
    theta = obj.pack(np.ones((4, 3)), np.ones(4))
    assert optimality_certificate(obj, theta).cone == "symmetric"
    narrow = Objective(data.X, data.y, "quadratic", k=2)
    with pytest.raises(ValueError, match="k ≥ d; got k=2, d=3"):
        optimality_certificate(narrow, np.ones(narrow.p))


def test_certificate_bad_input():
    data = random_labels(n=12, d=3, rng=0)
    with pytest.raises(ValueError, match="needs the quadratic activation"):
        optimality_certificate(Objective(data.X, data.y, "tanh", v=MIXED), np.zeros(18))
    obj = Objective(data.X, data.y, "quadratic", v=MIXED)
    with pytest.raises(ValueError, match="over the 'symmetric' cone"):
        optimality_certificate(obj, np.zeros(18), lifted_optimum(data.X, data.y, "psd"))
    with pytest.raises(ValueError, match="v has 3 positive and 2 negative entries"):
        optimality_certificate(Objective(data.X, data.y, "quadratic", v=MIXED[:5]), np.zeros(15))


# --- factorization -------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(4))
def test_factorize_any_symmetric_matrix_exactly(seed):
    rng = np.random.default_rng(seed)
    d = 4
    M = random_symmetric(d, rng)
    v = rng.permutation(np.concatenate([rng.uniform(0.5, 2, d), -rng.uniform(0.5, 2, d), [0.0]]))
    W = factorize(M, v)
    assert W.shape == (2 * d + 1, d)
    assert np.abs(lift(W, v) - M).max() <= 50 * np.finfo(float).eps * np.abs(M).max()


def test_factorize_psd_and_low_rank():
    rng = np.random.default_rng(0)
    B = rng.normal(size=(2, 5))
    M = B.T @ B  # PSD of rank 2 in d = 5: two positive units suffice
    W = factorize(M, [3.0, 1.0])
    np.testing.assert_allclose(lift(W, [3.0, 1.0]), M, atol=1e-12 * np.abs(M).max())


def test_factorize_reports_missing_signs():
    M = np.diag([1.0, 2.0, -1.0])
    with pytest.raises(ValueError, match="2 positive and 1 negative eigenvalues.*v has 1 positive and 3 negative"):
        factorize(M, [1.0, -1.0, -1.0, -1.0])
    with pytest.raises(ValueError, match="v has 3 positive and 0 negative"):
        factorize(M, [1.0, 1.0, 1.0])


def test_factorize_refuses_non_symmetric_and_non_square():
    with pytest.raises(ValueError, match="M must be symmetric; max \\|M − Mᵀ\\| = 1"):
        factorize([[1.0, 1.0], [0.0, 1.0]], [1.0, 1.0])
    with pytest.raises(ValueError, match="M must be a square matrix; got shape \\(2, 3\\)"):
        factorize(np.ones((2, 3)), [1.0, 1.0])
    with pytest.raises(ValueError, match="v must be a 1-D vector"):
        factorize(np.eye(2), [[1.0]])


def test_inputs_are_never_modified():
    rng = np.random.default_rng(0)
    M, v, W, X = random_symmetric(3, rng), MIXED.copy(), rng.normal(size=(6, 3)), rng.normal(size=(8, 3))
    copies = [a.copy() for a in (M, v, W, X)]
    factorize(M, v), lift(W, v), khatri_rao(X), khatri_rao_spectrum(X), lifted_optimum(X, np.ones(8), "psd")
    for a, b in zip((M, v, W, X), copies):
        np.testing.assert_array_equal(a, b)


# --- W = 0 and the Case-II direction --------------------------------------------------------


@pytest.mark.parametrize("v", [MIXED, POSITIVE, np.array([2.0, -0.5, 0.0])])
def test_spectrum_at_zero_is_twice_v_times_eig_g(v):
    data = random_labels(n=20, d=3, rng=0)
    obj = Objective(data.X, data.y, "quadratic", v=v)
    zs = saddle_at_zero(obj)
    zero = np.zeros(obj.p)
    np.testing.assert_allclose(zs.eigenvalues, np.linalg.eigvalsh(obj.hessian(zero)), atol=1e-12)
    np.testing.assert_allclose(zs.eigenvalues, np.linalg.eigvalsh(obj.hessian(zero, method="autograd")), atol=1e-12)
    G = -(data.X.T * data.y) @ data.X / 20
    np.testing.assert_allclose(zs.G, G)
    expected = np.sort([2 * vl * g for vl in v for g in np.linalg.eigvalsh(G)])
    np.testing.assert_allclose(zs.eigenvalues, expected, atol=1e-12)
    assert obj.grad(zero).tolist() == [0.0] * obj.p


def test_case_two_curvature_matches_the_hessian_and_autograd():
    # k = 4 units in d = 3 with rank-2 D_vW: WᵀD_v has a 2-dimensional null space
    data = random_labels(n=15, d=3, rng=1)
    v = np.array([1.0, 2.0, -1.0, -0.5])
    obj = Objective(data.X, data.y, "quadratic", v=v)
    rng = np.random.default_rng(0)
    W = rng.normal(size=(4, 2)) @ rng.normal(size=(2, 3))
    theta = obj.pack(W)
    esc = case_two_direction(obj, theta)
    np.testing.assert_allclose(W.T @ (v * esc.a), 0.0, atol=1e-12)
    assert np.linalg.norm(esc.U) == pytest.approx(1.0)
    u = esc.U.ravel()
    for method in ("fused", "autograd"):
        assert u @ obj.hessian(theta, method=method) @ u == pytest.approx(esc.curvature, rel=1e-10)
    G = certificate_matrix(obj, theta)
    assert esc.curvature == pytest.approx(2 * (esc.a @ (v * esc.a)) * (esc.b @ G @ esc.b), rel=1e-12)
    assert esc.curvature < 0


def test_case_two_direction_at_zero_attains_lambda_min():
    data = random_labels(n=20, d=3, rng=2)
    obj = Objective(data.X, data.y, "quadratic", v=MIXED)
    esc = case_two_direction(obj, np.zeros(obj.p))
    assert esc.curvature == pytest.approx(saddle_at_zero(obj).lambda_min, rel=1e-12)


def test_case_two_direction_needs_a_null_space():
    data = random_labels(n=10, d=3, rng=0)
    obj = Objective(data.X, data.y, "quadratic", v=[1.0, -1.0, 1.0])
    with pytest.raises(ValueError, match="trivial null space"):
        case_two_direction(obj, obj.pack(np.eye(3)))


def test_zero_saddle_and_case_two_need_fixed_v_and_quadratic():
    data = planted(n=10, d=2, k=2, activation="quadratic", rng=0)
    trained = Objective(data.X, data.y, "quadratic", k=2)
    with pytest.raises(TypeError, match="v fixed"):
        saddle_at_zero(trained)
    with pytest.raises(TypeError, match="v fixed"):
        case_two_direction(trained, np.zeros(trained.p))
    with pytest.raises(ValueError, match="quadratic activation"):
        saddle_at_zero(Objective(data.X, data.y, "softplus", v=[1.0, 1.0]))
    with pytest.raises(TypeError, match="objective must be a shallowlearn objective"):
        saddle_at_zero(None)
