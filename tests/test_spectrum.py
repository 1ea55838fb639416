"""Tests of shallowlearn.spectrum: the batched Hessian operator, dense vs iterative spectra and
the eigenvalue density."""

import numpy as np
import pytest
from scipy.sparse.linalg import eigsh

from shallowlearn import Objective, planted, random_labels
from shallowlearn.spectrum import (
    DENSE_LIMIT,
    HessianOperator,
    Spectrum,
    eigenvalue_density,
    hessian_spectrum,
)

ACTIVATIONS = ["quadratic", "softplus", "tanh", "sigmoid", "erf"]


def make_problem(activation, trains_v, *, n=80, d=5, k=8, seed=0):
    data = planted(n, d, k, activation, rng=seed)
    rng = np.random.default_rng(seed + 1)
    if trains_v:
        obj = Objective(data.X, data.y, activation, k=k)
    else:
        obj = Objective(data.X, data.y, activation, v=np.where(np.arange(k) % 2, 1.0, -1.0))
    return obj, rng.normal(size=obj.p) / 2


@pytest.mark.parametrize("trains_v", [False, True])
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_operator_matches_dense_hessian(activation, trains_v):
    obj, theta = make_problem(activation, trains_v)
    H = obj.hessian(theta)
    op = HessianOperator(obj, theta)
    U = np.random.default_rng(3).normal(size=(obj.p, 5))
    scale = np.abs(H).max()
    assert np.abs(op @ U - H @ U).max() <= 1e-12 * scale * obj.p
    assert np.abs(op @ U[:, 0] - H @ U[:, 0]).max() <= 1e-12 * scale * obj.p
    assert op.n_products == 6


def test_operator_chunks_large_blocks(monkeypatch):
    obj, theta = make_problem("softplus", True)
    U = np.random.default_rng(0).normal(size=(obj.p, 7))
    whole = HessianOperator(obj, theta) @ U
    monkeypatch.setattr("shallowlearn.objective._CHUNK_ELEMENTS", obj.n * obj.k * 2)  # 2 columns per pass
    np.testing.assert_allclose(HessianOperator(obj, theta) @ U, whole, rtol=1e-13, atol=1e-13)


def test_operator_leaves_theta_untouched():
    obj, theta = make_problem("tanh", False)
    keep = theta.copy()
    theta.setflags(write=False)
    op = HessianOperator(obj, theta)
    op @ np.ones(obj.p)
    np.testing.assert_array_equal(theta, keep)


@pytest.mark.parametrize("trains_v", [False, True])
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_dense_and_iterative_agree(activation, trains_v):
    obj, theta = make_problem(activation, trains_v, n=60, d=4, k=10)
    dense = hessian_spectrum(obj, theta, method="dense")
    fast = hessian_spectrum(obj, theta, method="iterative", n_bottom=2, n_top=2, rtol=1e-8, rng=0)
    assert fast.converged and fast.method == "iterative" and fast.n_products > 0
    # each eigenvalue is within its residual of the true one
    np.testing.assert_allclose(fast.eigenvalues[:2], dense.eigenvalues[:2], atol=2e-8 * dense.norm)
    np.testing.assert_allclose(fast.eigenvalues[2:], dense.eigenvalues[-2:], atol=2e-8 * dense.norm)
    assert np.all(fast.residuals <= 1e-8 * dense.norm * (1 + 1e-6))
    # the lower bound λ_min(B) ≤ λ_min(H) holds
    assert fast.lower_bound <= dense.lambda_min + 1e-12 * dense.norm


def test_iterative_resolves_a_degenerate_cluster():
    # at W = 0 with v = 1 every eigenvalue of G repeats once per unit: a k-fold bottom cluster
    data = random_labels(n=40, d=4, rng=2)
    obj = Objective(data.X, data.y, "quadratic", v=np.ones(12))
    theta = np.zeros(obj.p)
    dense = hessian_spectrum(obj, theta, method="dense")
    fast = hessian_spectrum(obj, theta, method="iterative", n_bottom=3, rng=1)
    np.testing.assert_allclose(fast.eigenvalues[:3], dense.eigenvalues[:3], atol=1e-6 * dense.norm)
    assert np.sum(np.isclose(dense.eigenvalues, dense.lambda_min, atol=1e-10 * dense.norm)) == 12


def test_residuals_and_vectors_are_what_they_claim():
    obj, theta = make_problem("softplus", False)
    H = obj.hessian(theta)
    for method in ("dense", "iterative"):
        spec = hessian_spectrum(obj, theta, method=method, rng=0)
        V, w = spec.eigenvectors, spec.eigenvalues
        np.testing.assert_allclose(np.linalg.norm(V, axis=0), 1.0, atol=1e-12)
        np.testing.assert_allclose(np.linalg.norm(H @ V - V * w, axis=0), spec.residuals, atol=1e-10 * spec.norm)


def test_dense_spectrum_is_complete_and_sorted():
    obj, theta = make_problem("erf", True, n=30, d=3, k=4)
    spec = hessian_spectrum(obj, theta)
    assert spec.method == "dense" and spec.complete and spec.n_products == 0 and spec.lower_bound is None
    assert np.all(np.diff(spec.eigenvalues) >= 0)
    np.testing.assert_allclose(spec.eigenvalues, np.linalg.eigvalsh(obj.hessian(theta, method="autograd")), atol=1e-10)


def test_auto_switches_to_iterative_above_the_limit(monkeypatch):
    obj, theta = make_problem("tanh", False)
    monkeypatch.setattr("shallowlearn.spectrum.DENSE_LIMIT", obj.p - 1)
    assert hessian_spectrum(obj, theta, rng=0).method == "iterative"
    assert DENSE_LIMIT >= 1000  # the real default keeps book-sized problems dense


def test_iterative_is_reproducible():
    obj, theta = make_problem("sigmoid", True)
    a = hessian_spectrum(obj, theta, method="iterative", rng=5)
    b = hessian_spectrum(obj, theta, method="iterative", rng=5)
    np.testing.assert_array_equal(a.eigenvalues, b.eigenvalues)


def test_spectrum_repr_is_readable():
    obj, theta = make_problem("tanh", False, n=20, d=2, k=2)
    text = repr(hessian_spectrum(obj, theta))
    assert text.startswith("Spectrum(method='dense', p=4") and "lambda_min=" in text and "array" not in text


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"method": "lanczos"}, ValueError, "method must be one of"),
        ({"n_bottom": 0}, ValueError, "n_bottom must be a positive integer"),
        ({"n_top": 1.5}, TypeError, "n_top must be a positive integer"),
        ({"rtol": 0.0}, ValueError, "rtol must be > 0"),
        ({"method": "iterative", "n_bottom": 4, "n_top": 4}, ValueError, "5 \\* \\(n_bottom \\+ n_top\\) < p"),
    ],
)
def test_bad_arguments(kwargs, error, match):
    obj, theta = make_problem("tanh", False)
    with pytest.raises(error, match=match):
        hessian_spectrum(obj, theta, **kwargs)


def test_bad_objective_and_theta():
    obj, theta = make_problem("tanh", False)
    with pytest.raises(TypeError, match="objective must be a shallowlearn objective"):
        hessian_spectrum("not an objective", theta)
    with pytest.raises(ValueError, match=r"theta must have shape \(40,\)"):
        hessian_spectrum(obj, theta[:-1])
    with pytest.raises(ValueError, match="theta must be finite"):
        HessianOperator(obj, np.full(obj.p, np.nan))


def test_density_integrates_to_one_and_weighs_multiplicity():
    lam = np.array([-2.0, 0.0, 0.0, 0.0, 5.0])
    t, rho = eigenvalue_density(lam, width=0.1, grid=np.linspace(-3, 6, 4001))
    assert abs(np.trapezoid(rho, t) - 1.0) < 1e-6
    t_default, rho_default = eigenvalue_density(lam, width=0.1)  # ±3 widths: 99.9% of the mass
    assert abs(np.trapezoid(rho_default, t_default) - 1.0) < 1e-3
    peak = lambda x: rho[np.argmin(np.abs(t - x))]  # noqa: E731
    assert peak(0.0) == pytest.approx(3 * peak(-2.0), rel=1e-3)


def test_density_accepts_a_spectrum_and_a_grid():
    obj, theta = make_problem("quadratic", False, n=30, d=3, k=4)
    spec = hessian_spectrum(obj, theta)
    grid = np.linspace(spec.lambda_min, spec.lambda_max, 50)
    t, rho = eigenvalue_density(spec, grid=grid)
    np.testing.assert_array_equal(t, grid)
    assert rho.shape == (50,) and np.all(rho > 0)
    with pytest.raises(ValueError, match="width must be > 0"):
        eigenvalue_density(spec, width=-1.0)


def test_eigsh_baseline_agrees_with_operator():
    # the operator is a drop-in for scipy: plain eigsh on it finds the dense λ_min
    obj, theta = make_problem("softplus", True)
    w = eigsh(HessianOperator(obj, theta), k=1, which="SA", return_eigenvectors=False)
    assert w[0] == pytest.approx(hessian_spectrum(obj, theta).lambda_min, rel=1e-9)


def test_spectrum_is_frozen():
    obj, theta = make_problem("tanh", False, n=20, d=2, k=2)
    spec = hessian_spectrum(obj, theta)
    assert isinstance(spec, Spectrum)
    with pytest.raises(AttributeError):
        spec.method = "other"


def _degenerate_population_point(d=12):
    """The quadratic population loss at a rotated copy of its teacher: a global minimum whose
    Hessian has d(d − 1)/2 zero eigenvalues (the rotations), where Lanczos struggles."""
    import shallowlearn as sl

    teacher = sl.Teacher(W=np.eye(d), v=np.ones(d), activation=sl.get_activation("quadratic"))
    pop = sl.population_objective(teacher, v=np.ones(d))
    Q, _ = np.linalg.qr(np.random.default_rng(0).normal(size=(d, d)))
    return pop, pop.pack(Q)


def test_iterative_falls_back_to_dense_when_lanczos_fails():
    pop, theta = _degenerate_population_point()
    exact = np.linalg.eigvalsh(pop.hessian(theta))
    # one Lanczos restart cannot converge here; below DENSE_LIMIT the dense pairs stand in
    with pytest.raises(Exception, match="No convergence"):
        eigsh(HessianOperator(pop, theta), k=1, which="SA", maxiter=1, tol=1e-12,
              v0=np.random.default_rng(0).standard_normal(pop.p))
    found = hessian_spectrum(pop, theta, method="iterative", maxiter=1, rng=0)
    assert found.converged
    np.testing.assert_allclose([found.lambda_min, found.lambda_max], [exact[0], exact[-1]],
                               atol=1e-10 * exact[-1])


def test_iterative_failure_above_the_dense_limit_is_a_clear_error(monkeypatch):
    pop, theta = _degenerate_population_point()
    monkeypatch.setattr("shallowlearn.spectrum.DENSE_LIMIT", 10)
    with pytest.raises(np.linalg.LinAlgError, match=r"maxiter=1 .*\(above DENSE_LIMIT = 10"):
        hessian_spectrum(pop, theta, method="iterative", maxiter=1, rng=0)
