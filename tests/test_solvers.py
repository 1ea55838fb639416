"""Tests of shallowlearn.solvers: every solver on the same problems, plus the shared loop.

Two shared problems, each in both parameterisations (W only, and v with W):

- a *strict saddle*: quadratic activation, v = (+1 ×4, −1 ×4), random labels, n = 6 below
  d(d+1)/2 = 10, started at W = 0. The gradient vanishes there and the Hessian has the negative
  eigenvalues 2v_ℓλ_j(G), G = −(1/n)Σ yᵢxᵢxᵢᵀ. By Theorem 2.1 (W only) every local minimum has
  zero loss; the joint problem behaves the same way here.
- a *smooth local problem*: a planted tanh teacher, started near it (the setting of Theorem 2.5).
"""

import dataclasses
import inspect
import warnings

import numpy as np
import pytest

from shallowlearn import (
    SOLVERS,
    Objective,
    SolverResult,
    gradient_descent,
    perturbed_gradient_descent,
    pgd_theory_parameters,
    planted,
    random_labels,
    sgd,
    trust_region,
)
from shallowlearn import costs as C
from shallowlearn import solvers as S
from shallowlearn.subproblems import lanczos_step, shifted_newton_step, steihaug_cg

MODES = ["W", "vW"]
ESCAPERS = [
    "perturbed_gradient_descent",
    "negative_curvature_descent",
    "trust_region",
    "cubic_regularization",
]
FIRST_ORDER = ["gradient_descent", "sgd"]
GRAD_TOL = 1e-6
CURVATURE_TOL = 1e-3  # = √GRAD_TOL, the solvers' default

SADDLE_OPTIONS = {
    "gradient_descent": dict(step=0.05),
    "perturbed_gradient_descent": dict(step=0.05, r=1e-2, t_thres=50),
    "negative_curvature_descent": dict(step=0.05, hessian_lipschitz=10.0),
    "trust_region": {},
    "cubic_regularization": {},
    "sgd": dict(step=0.05, batch_size=3),
}
SMOOTH_OPTIONS = {
    "gradient_descent": dict(step=1.0),
    "perturbed_gradient_descent": dict(step=1.0, r=1e-3, t_thres=20),
    "negative_curvature_descent": dict(step=1.0),
    "trust_region": {},
    "cubic_regularization": {},
    "sgd": dict(step=0.3, batch_size=10),
}


def saddle_problem(mode):
    d, k = 4, 8
    data = random_labels(n=6, d=d, rng=4)
    v = np.r_[np.ones(d), -np.ones(d)]
    W0 = np.zeros((k, d))
    if mode == "W":
        obj = Objective(data.X, data.y, "quadratic", v=v)
        return obj, obj.pack(W0)
    obj = Objective(data.X, data.y, "quadratic", k=k)
    return obj, obj.pack(W0, v=v)


def smooth_problem(mode):
    d, k = 3, 2
    W_star = np.random.default_rng(3).normal(size=(k, d))
    data = planted(n=40, d=d, k=k, activation="tanh", W=W_star, v=[1.0, -1.0], rng=0)
    noise = np.random.default_rng(5)
    W0 = W_star + 0.2 * noise.normal(size=(k, d))
    v0 = data.teacher.v + 0.2 * noise.normal(size=k)
    if mode == "W":
        obj = Objective(data.X, data.y, "tanh", v=data.teacher.v)
        return obj, obj.pack(W0)
    obj = Objective(data.X, data.y, "tanh", k=k)
    return obj, obj.pack(W0, v=v0)


def random_start(obj, scale=0.3, seed=0):
    return scale * np.random.default_rng(seed).normal(size=obj.p)


def check_consistent(obj, result):
    """The result describes its own θ, and the history ends where the run ended."""
    assert isinstance(result, SolverResult)
    assert result.theta.shape == (obj.p,)
    assert np.all(np.isfinite(result.theta))
    value, g = obj.value_and_grad(result.theta)
    assert result.loss == pytest.approx(value, rel=1e-12, abs=1e-300)
    assert result.grad_norm == pytest.approx(np.linalg.norm(g), rel=1e-9, abs=1e-300)
    lambda_min = np.linalg.eigvalsh(obj.hessian(result.theta))[0]
    assert result.lambda_min == pytest.approx(lambda_min, abs=1e-9)
    hist = result.history
    assert hist.iteration[0] == 0 and hist.iteration[-1] == result.iterations
    assert np.all(np.diff(hist.iteration) > 0)
    assert hist.loss[-1] == result.loss and hist.grad_norm[-1] == result.grad_norm
    assert result.n_grad >= result.iterations
    assert result.time >= 0


# --- the shared problems -------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_saddle_problem_is_a_strict_saddle(mode):
    obj, theta0 = saddle_problem(mode)
    assert np.linalg.norm(obj.grad(theta0)) == 0
    assert np.linalg.eigvalsh(obj.hessian(theta0))[0] < -1.0


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", FIRST_ORDER)
def test_first_order_solvers_stay_at_the_saddle(name, mode):
    obj, theta0 = saddle_problem(mode)
    result = SOLVERS[name](obj, theta0, grad_tol=GRAD_TOL, rng=0, **SADDLE_OPTIONS[name])
    check_consistent(obj, result)
    assert result.status == "converged" and result.iterations == 0
    assert "curvature not checked" in result.reason
    np.testing.assert_array_equal(result.theta, theta0)
    assert result.lambda_min < -1.0  # the end point is a saddle, and the result says so


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", ESCAPERS)
def test_escapers_leave_the_saddle_for_a_global_minimum(name, mode):
    obj, theta0 = saddle_problem(mode)
    result = SOLVERS[name](
        obj, theta0, max_iter=20000, grad_tol=GRAD_TOL, rng=0, **SADDLE_OPTIONS[name]
    )
    check_consistent(obj, result)
    assert result.status == "converged", result.reason
    assert result.grad_norm <= GRAD_TOL
    assert result.lambda_min >= -CURVATURE_TOL  # second-order stationary
    assert result.loss < 1e-8  # and, as Theorem 2.1 predicts, a global minimum
    assert result.history.loss[0] > 0.1


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", list(SOLVERS))
def test_every_solver_converges_near_a_planted_teacher(name, mode):
    obj, theta0 = smooth_problem(mode)
    result = SOLVERS[name](
        obj, theta0, max_iter=10000, grad_tol=GRAD_TOL, loss_tol=1e-8, rng=0,
        **SMOOTH_OPTIONS[name],
    )
    check_consistent(obj, result)
    assert result.status == "converged", result.reason
    assert result.loss <= 1e-8 or result.grad_norm <= GRAD_TOL
    assert result.loss < 1e-6 * obj.value(theta0)
    assert result.lambda_min > 0


@pytest.mark.parametrize("name", list(SOLVERS))
def test_same_seed_same_result(name):
    obj, _ = saddle_problem("vW")
    start = np.zeros(obj.p) if name == "perturbed_gradient_descent" else random_start(obj)
    start[: obj.k] = np.r_[np.ones(4), -np.ones(4)]
    runs = [
        SOLVERS[name](obj, start, max_iter=200, rng=seed, **SADDLE_OPTIONS[name])
        for seed in (7, 7, 8)
    ]
    first, again, other = runs
    np.testing.assert_array_equal(first.theta, again.theta)
    np.testing.assert_array_equal(first.history.loss, again.history.loss)
    assert (first.status, first.iterations, first.n_grad, first.n_hvp) == (
        again.status, again.iterations, again.n_grad, again.n_hvp,
    )
    randomised = name in ("perturbed_gradient_descent", "sgd")
    assert np.array_equal(first.theta, other.theta) != randomised


def test_solvers_share_one_call_shape():
    common = ["max_iter", "grad_tol", "loss_tol", "history_stride", "callback", "progress", "rng"]
    defaults = None
    for name, solver in SOLVERS.items():
        assert solver.__name__ == name
        params = inspect.signature(solver).parameters
        assert list(params)[:2] == ["objective", "theta0"]
        assert list(params)[-len(common):] == common
        assert all(params[p].kind is inspect.Parameter.KEYWORD_ONLY for p in list(params)[2:])
        mine = {p: params[p].default for p in common}
        defaults = defaults or mine
        assert mine == defaults
        assert "Examples" in solver.__doc__ and "{common}" not in solver.__doc__


# --- the shared loop: divergence, stopping, history, callback, progress --------------------


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    "name", ["gradient_descent", "perturbed_gradient_descent", "negative_curvature_descent", "sgd"]
)
def test_divergence_is_a_status_with_the_last_finite_iterate(name, mode):
    obj, _ = saddle_problem(mode)
    theta0 = random_start(obj, scale=1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow warnings leak out either
        result = SOLVERS[name](obj, theta0, step=5.0, max_iter=1000, rng=0)
    assert result.status == "diverged"
    assert "theta is the last iterate" in result.reason
    check_consistent(obj, result)
    assert np.all(np.isfinite(result.history.loss))


def test_divergence_on_the_first_step_returns_the_start():
    obj, _ = saddle_problem("W")
    theta0 = random_start(obj, scale=1.0)
    result = gradient_descent(obj, theta0, step=1e6)
    assert (result.status, result.iterations) == ("diverged", 0)
    np.testing.assert_array_equal(result.theta, theta0)


@pytest.mark.parametrize("subproblem", ["exact", "cg"])
def test_trust_region_rejects_overflowing_trial_steps(subproblem):
    obj, _ = saddle_problem("W")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = trust_region(
            obj, random_start(obj), radius=1e100, max_radius=1e100, subproblem=subproblem
        )
    assert result.status == "converged" and result.loss < 1e-8


def test_max_iter_and_loss_tol():
    obj, _ = smooth_problem("W")
    theta0 = random_start(obj)
    capped = gradient_descent(obj, theta0, max_iter=5)
    assert (capped.status, capped.iterations, capped.n_grad, capped.n_hvp) == ("max_iter", 5, 6, 0)
    early = gradient_descent(obj, theta0, loss_tol=1e3)
    assert (early.status, early.iterations) == ("converged", 0)
    assert "loss_tol" in early.reason


def test_history_stride_keeps_start_and_end():
    obj, theta0 = smooth_problem("W")
    result = gradient_descent(obj, theta0, max_iter=10, history_stride=4)
    np.testing.assert_array_equal(result.history.iteration, [0, 4, 8, 10])
    assert len(result.history) == 4
    assert result.history.loss[0] == pytest.approx(obj.value(theta0))
    assert np.all(np.diff(result.history.loss) < 0)


def test_callback_sees_each_iterate_and_can_stop():
    obj, theta0 = smooth_problem("vW")
    seen = []

    def callback(iteration, theta, loss, grad_norm):
        assert not theta.flags.writeable
        assert loss == pytest.approx(obj.value(theta))
        seen.append(iteration)
        return iteration == 3

    result = trust_region(obj, theta0, callback=callback)
    assert seen == [1, 2, 3]
    assert (result.status, result.iterations) == ("stopped", 3)


def test_progress_bar_off_in_tests_unless_asked(capsys):
    obj, theta0 = smooth_problem("W")
    assert not S._in_notebook()
    gradient_descent(obj, theta0, max_iter=5)
    assert capsys.readouterr().err == ""
    gradient_descent(obj, theta0, max_iter=5, progress=True)
    assert "gradient_descent" in capsys.readouterr().err


@pytest.mark.parametrize("name", list(SOLVERS))
def test_result_is_frozen_and_start_untouched(name):
    obj, _ = saddle_problem("W")
    theta0 = random_start(obj)
    before = theta0.copy()
    result = SOLVERS[name](obj, theta0, max_iter=5, rng=0, **SADDLE_OPTIONS[name])
    np.testing.assert_array_equal(theta0, before)
    assert not result.theta.flags.writeable and not result.history.loss.flags.writeable
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.status = "converged"
    text = repr(result)
    assert f"solver={name!r}" in text and "reason:" in text and "lambda_min=" in text


def test_armijo_line_search_makes_a_large_step_safe():
    obj, theta0 = smooth_problem("W")
    bouncing = gradient_descent(obj, theta0, step=10.0, max_iter=200)
    assert not np.all(np.diff(bouncing.history.loss) < 0)
    small = gradient_descent(obj, theta0, step=0.05, max_iter=200)
    armijo = gradient_descent(obj, theta0, step=10.0, line_search=True, max_iter=200)
    assert np.all(np.diff(armijo.history.loss) < 0)
    assert armijo.loss < 1e-2 * small.loss
    assert armijo.n_grad > armijo.iterations + 1  # backtracking costs evaluations


def test_sgd_momentum_speeds_up_a_small_step():
    obj, theta0 = smooth_problem("W")
    runs = [
        sgd(obj, theta0, step=0.1, batch_size=10, momentum=m, max_iter=10000, loss_tol=1e-8, rng=0)
        for m in (0.0, 0.9)
    ]
    assert [r.status for r in runs] == ["converged", "converged"]
    assert runs[1].iterations < runs[0].iterations / 2
    assert runs[0].n_grad == runs[0].iterations * (4 + 1) + 1  # 4 batches and 1 full evaluation


@pytest.mark.parametrize("iterative", [False, True])
@pytest.mark.parametrize("subproblem", ["cg", "krylov"])
def test_matrix_free_trust_region_escapes_by_an_eigenvector_step(subproblem, iterative, monkeypatch):
    """CG and Lanczos alone cannot leave W = 0 (g = 0); the eigen-step at near-critical points
    does.

    With ``iterative`` the dense threshold is lowered so that curvature comes from the
    iterative spectrum route on Hessian-vector products, as it would for p > 2000; the
    certificate then comes from that route too, and agrees with the dense λ_min.
    """
    if iterative:
        monkeypatch.setattr("shallowlearn.spectrum.DENSE_LIMIT", 0)
    obj, theta0 = saddle_problem("W")
    result = trust_region(obj, theta0, subproblem=subproblem, max_iter=500, rng=0)
    assert result.status == "converged" and "second-order stationary" in result.reason
    assert result.loss < 1e-8 and result.grad_norm <= GRAD_TOL
    assert result.lambda_min_route == ("iterative" if iterative else "dense")
    dense = np.linalg.eigvalsh(obj.hessian(result.theta))[0]
    assert abs(result.lambda_min - dense) <= max(result.lambda_min_residual, 1e-12)


def test_counts_of_hessian_vector_products():
    obj, theta0 = saddle_problem("W")
    exact = trust_region(obj, theta0, subproblem="exact", max_iter=3, grad_tol=0.0)
    assert exact.n_hvp % obj.p == 0 and obj.p <= exact.n_hvp <= 3 * obj.p  # p per new point
    cg = trust_region(obj, random_start(obj), subproblem="cg", max_iter=3)
    assert 0 < cg.n_hvp <= 3 * obj.p
    assert gradient_descent(obj, theta0).n_hvp == 0


def test_smallest_eigenpair_dense_and_iterative_agree(monkeypatch):
    obj, _ = saddle_problem("vW")
    theta = random_start(obj)
    dense = S.Run(obj, theta, np.random.default_rng(0), GRAD_TOL)
    lam, u = dense.smallest_eigenpair()
    assert dense.n_hvp == obj.p
    assert lam == pytest.approx(np.linalg.eigvalsh(obj.hessian(theta))[0], abs=1e-10)
    monkeypatch.setattr("shallowlearn.spectrum.DENSE_LIMIT", 0)
    iterative = S.Run(obj, theta, np.random.default_rng(0), GRAD_TOL)
    lam2, u2 = iterative.smallest_eigenpair()
    assert lam2 == pytest.approx(lam, abs=1e-8)
    # hessian_spectrum's default residual tolerance is 1e-6 relative to ‖H‖
    scale = np.abs(np.linalg.eigvalsh(obj.hessian(theta))).max()
    assert np.linalg.norm(obj.hvp(theta, u2) - lam2 * u2) < 1e-5 * scale
    assert iterative.n_hvp > 0


@pytest.mark.parametrize("mode", MODES)
def test_minibatch_gradient_is_the_gradient_of_the_batch_loss(mode):
    obj, _ = saddle_problem(mode)
    theta = random_start(obj)
    rows = np.array([4, 0, 2])
    run = S.Run(obj, theta, np.random.default_rng(0), GRAD_TOL)
    fixed = {"v": obj.v} if mode == "W" else {"k": obj.k}
    batch = Objective(obj.X[rows], obj.y[rows], obj.activation, **fixed)
    np.testing.assert_allclose(run.minibatch_grad(theta, rows), batch.grad(theta), rtol=1e-12)


# --- subproblem solvers --------------------------------------------------------------------


def random_symmetric(p, seed, shift=0.0):
    A = np.random.default_rng(seed).normal(size=(p, p))
    return 0.5 * (A + A.T) + shift * np.eye(p)


def multiplier(H, g, s):
    """The λ with (H + λI)s = −g, checked to exist."""
    lam = -(g + H @ s) @ s / (s @ s)
    np.testing.assert_allclose(H @ s + lam * s, -g, atol=1e-8)
    return lam


@pytest.mark.parametrize("case", ["easy", "hard", "critical", "interior"])
def test_exact_trust_region_step_meets_the_optimality_conditions(case):
    H = random_symmetric(6, 0, shift=4.0 if case == "interior" else 0.0)
    w, V = np.linalg.eigh(H)
    g = np.random.default_rng(1).normal(size=6)
    if case == "hard":
        g -= (V[:, 0] @ g) * V[:, 0]  # no component on the bottom eigenvector
    if case == "critical":
        g[:] = 0.0
    radius = 50.0 if case in ("hard", "interior") else 0.7
    a = V.T @ g
    s = V @ shifted_newton_step(w, a, radius=radius)
    if case == "interior":  # H ≻ 0 and the Newton step fits: it is the answer
        np.testing.assert_allclose(s, -np.linalg.solve(H, g), rtol=1e-10)
        return
    assert np.linalg.norm(s) == pytest.approx(radius, rel=1e-9)
    lam = multiplier(H, g, s)
    assert lam >= -w[0] - 1e-9 and lam >= 0


@pytest.mark.parametrize("case", ["easy", "hard", "critical", "convex"])
def test_exact_cubic_step_meets_the_optimality_conditions(case):
    H = random_symmetric(6, 2, shift=5.0 if case == "convex" else 0.0)
    w, V = np.linalg.eigh(H)
    g = np.random.default_rng(3).normal(size=6)
    if case == "hard":
        g = 0.01 * (g - (V[:, 0] @ g) * V[:, 0])
    if case == "critical":
        g[:] = 0.0
    sigma = 0.5
    a = V.T @ g
    s = V @ shifted_newton_step(w, a, sigma=sigma)
    # global minimiser of gᵀs + ½sᵀHs + (σ/3)‖s‖³: (H + σ‖s‖I)s = −g, H + σ‖s‖I ⪰ 0
    np.testing.assert_allclose(H @ s + sigma * np.linalg.norm(s) * s, -g, atol=1e-8)
    assert sigma * np.linalg.norm(s) >= -w[0] - 1e-9
    if case == "critical":
        assert np.linalg.norm(s) == pytest.approx(-w[0] / sigma)


def test_steihaug_cg():
    g = np.random.default_rng(4).normal(size=8)
    H = random_symmetric(8, 5, shift=6.0)  # positive definite
    s, decrease = steihaug_cg(lambda u: H @ u, g, radius=1e3)
    gnorm = np.linalg.norm(g)
    assert np.linalg.norm(H @ s + g) <= gnorm * min(0.5, np.sqrt(gnorm))
    assert decrease == pytest.approx(-(g @ s + 0.5 * s @ H @ s))
    indefinite = random_symmetric(8, 6)
    s, decrease = steihaug_cg(lambda u: indefinite @ u, g, radius=0.3)
    assert np.linalg.norm(s) == pytest.approx(0.3)
    # at least the decrease of the Cauchy point, the model's minimiser along −g in the ball
    curvature = g @ indefinite @ g
    tau = 1.0 if curvature <= 0 else min(1.0, gnorm**3 / (0.3 * curvature))
    cauchy = -tau * 0.3 * g / gnorm
    assert decrease >= -(g @ cauchy + 0.5 * cauchy @ indefinite @ cauchy) - 1e-12


# --- perturbed gradient descent's theory parameters ---------------------------------------


def test_pgd_theory_parameters_follow_the_formulas():
    ell, rho, eps, delta_f, dim, c, delta = 2.0, 3.0, 0.1, 5.0, 7, 0.5, 0.2
    chi = 3 * max(np.log(dim * ell * delta_f / (c * eps**2 * delta)), 4)
    params = pgd_theory_parameters(
        ell=ell, rho=rho, epsilon=eps, delta_f=delta_f, dim=dim, c=c, delta=delta
    )
    assert params["step"] == pytest.approx(c / ell)
    assert params["grad_tol"] == pytest.approx(np.sqrt(c) / chi**2 * eps)
    assert params["r"] == pytest.approx(params["grad_tol"] / ell)
    assert params["f_thres"] == pytest.approx(c / chi**3 * np.sqrt(eps**3 / rho))
    assert params["t_thres"] == int(np.ceil(chi / c**2 * ell / np.sqrt(rho * eps)))
    small = pgd_theory_parameters(ell=1, rho=1, epsilon=1, delta_f=1e-9, dim=1, c=1)
    assert small["grad_tol"] == pytest.approx(1 / 12**2)  # χ = 3·4 when the log is small
    obj, theta0 = smooth_problem("W")
    result = perturbed_gradient_descent(obj, theta0, max_iter=3, **params)  # keys fit
    assert result.iterations == 3


# --- bad arguments -------------------------------------------------------------------------

BAD_ARGUMENTS = [
    ("gradient_descent", dict(step=-0.1), ValueError, "step must be > 0"),
    ("gradient_descent", dict(step=0), ValueError, "step"),
    ("gradient_descent", dict(line_search="yes"), TypeError, "line_search"),
    ("gradient_descent", dict(max_iter=0), ValueError, "max_iter"),
    ("gradient_descent", dict(max_iter=2.5), TypeError, "max_iter"),
    ("gradient_descent", dict(grad_tol=-1.0), ValueError, "grad_tol"),
    ("gradient_descent", dict(loss_tol=float("nan")), ValueError, "loss_tol"),
    ("gradient_descent", dict(history_stride=0), ValueError, "history_stride"),
    ("gradient_descent", dict(callback=3), TypeError, "callback"),
    ("gradient_descent", dict(progress="yes"), TypeError, "progress"),
    ("gradient_descent", dict(rng="seed"), TypeError, "rng"),
    ("perturbed_gradient_descent", dict(r=0.0), ValueError, "r must be > 0"),
    ("perturbed_gradient_descent", dict(t_thres=0), ValueError, "t_thres"),
    ("perturbed_gradient_descent", dict(f_thres=-1.0), ValueError, "f_thres"),
    ("negative_curvature_descent", dict(hessian_lipschitz=0.0), ValueError, "hessian_lipschitz"),
    ("negative_curvature_descent", dict(curvature_tol=-1.0), ValueError, "curvature_tol"),
    ("trust_region", dict(radius=-1.0), ValueError, "radius"),
    ("trust_region", dict(radius=2.0, max_radius=1.0), ValueError, "max_radius"),
    ("trust_region", dict(eta=0.5), ValueError, "eta"),
    ("trust_region", dict(subproblem="newton"), ValueError, "subproblem"),
    ("cubic_regularization", dict(sigma=0.0), ValueError, "sigma"),
    ("sgd", dict(batch_size=0), ValueError, "batch_size"),
    ("sgd", dict(batch_size=7), ValueError, "batch_size must be at most n = 6"),
    ("sgd", dict(momentum=1.0), ValueError, "momentum"),
]


@pytest.mark.parametrize("name, kwargs, error, match", BAD_ARGUMENTS)
def test_bad_arguments_raise_clear_errors(name, kwargs, error, match):
    obj, theta0 = saddle_problem("W")
    with pytest.raises(error, match=match):
        SOLVERS[name](obj, theta0, **kwargs)


@pytest.mark.parametrize("name", list(SOLVERS))
def test_bad_objective_or_start(name):
    obj, theta0 = saddle_problem("W")
    with pytest.raises(TypeError, match="objective must be a shallowlearn objective"):
        SOLVERS[name](lambda t: 0.0, theta0)
    with pytest.raises(ValueError, match=f"theta0 must have shape \\({obj.p},\\)"):
        SOLVERS[name](obj, np.zeros(obj.p + 1))
    with pytest.raises(ValueError, match="theta0 must be a flat parameter vector"):
        SOLVERS[name](obj, np.zeros((obj.k, obj.d)))
    with pytest.raises(ValueError, match="theta0 must be finite"):
        SOLVERS[name](obj, np.full(obj.p, np.nan))


def test_non_finite_loss_at_the_start_is_refused():
    obj, _ = saddle_problem("W")
    with pytest.raises(ValueError, match="not finite at theta0"):
        gradient_descent(obj, random_start(obj, scale=1e100))


@pytest.mark.parametrize(
    "kwargs, match",
    [(dict(c=0.0), "c must be > 0"), (dict(delta=1.5), "delta"), (dict(dim=0), "dim")],
)
def test_pgd_theory_parameters_bad_arguments(kwargs, match):
    args = dict(ell=1.0, rho=1.0, epsilon=0.1, delta_f=1.0, dim=10, c=1.0) | kwargs
    with pytest.raises(ValueError, match=match):
        pgd_theory_parameters(**args)


def test_every_solver_documents_each_of_its_parameters_once():
    for name, solver in SOLVERS.items():
        doc = solver.__doc__
        for parameter in inspect.signature(solver).parameters:
            assert doc.count(f"\n{parameter} :") == 1, (name, parameter)
        assert doc.index("objective :") < doc.index("max_iter :") < doc.index("Returns")
        assert doc.index("Returns") < doc.index("Examples")


@pytest.mark.parametrize("subproblem", ["exact", "krylov", "auto"])
def test_trust_region_converges_at_a_degenerate_global_optimum(subproblem):
    """Theorem 2.1 with n = 50 > d(d+1)/2 = 36: the global minima (L* > 0) form a manifold with
    curvature of both signs of the size of the gradient nearby. The issue's reproducer, and
    the other starts on the same data, must end converged, not stalled or at the cap, on
    every subproblem route."""
    rng = np.random.default_rng(21050)
    X, y = rng.normal(size=(50, 8)), rng.normal(size=50)
    v = np.r_[np.ones(8), -np.ones(8)]
    obj = Objective(X, y, "quadratic", v=v)
    from shallowlearn.quadratic import lifted_optimum

    optimum = lifted_optimum(X, y).loss
    for W0 in [rng.normal(size=(16, 8)) / np.sqrt(8) for _ in range(4)]:
        result = trust_region(obj, obj.pack(W0), grad_tol=1e-8, subproblem=subproblem)
        assert result.status == "converged", result.reason
        assert result.grad_norm <= 1e-8
        assert abs(result.loss - optimum) <= 1e-12 * optimum


def test_a_run_that_ends_above_its_start_says_so():
    data = planted(40, 3, 2, "tanh", rng=0)
    obj = Objective(data.X, data.y, "tanh", k=2)
    theta0 = 0.3 * np.random.default_rng(1).normal(size=obj.p)
    result = gradient_descent(obj, theta0, step=200.0, max_iter=50)
    assert result.loss > obj.value(theta0)
    assert "above the starting loss" in result.reason
    assert "above the starting loss" not in gradient_descent(obj, theta0, max_iter=50).reason


# --- Krylov subproblems, routes chosen by cost, certificates --------------------------------


def hard_case_matrix(p, seed):
    """H = P blockdiag(A, B) Pᵀ (P a permutation) with λ_min(H) in B, and g supported on A's
    coordinates: the Krylov space of g is exactly invariant and misses the bottom eigenvector."""
    rng = np.random.default_rng(seed)
    m = p // 2
    A = random_symmetric(m, seed) + 4.0 * np.eye(m)
    B = random_symmetric(p - m, seed + 1) - 8.0 * np.eye(p - m)
    H = np.zeros((p, p))
    H[:m, :m], H[m:, m:] = A, B
    order = rng.permutation(p)
    H = H[np.ix_(order, order)]
    g = np.zeros(p)
    g[np.argsort(order)[:m]] = rng.normal(size=m)
    return H, g


def krylov_case(case, p):
    if case == "hard":
        return hard_case_matrix(p, 7)
    H = random_symmetric(p, 10 + p, shift=2.5 * np.sqrt(p) if case == "convex" else 0.0)
    return H, np.random.default_rng(11).normal(size=p)


def model_value(H, g, s, sigma=0.0):
    return g @ s + 0.5 * s @ H @ s + sigma / 3 * np.linalg.norm(s) ** 3


@pytest.mark.parametrize("p", [6, 40])
@pytest.mark.parametrize("case, radius", [("easy", 0.7), ("convex", 50.0), ("hard", 50.0)])
def test_lanczos_trust_region_step_meets_the_optimality_conditions(case, radius, p):
    H, g = krylov_case(case, p)
    w, V = np.linalg.eigh(H)
    if case == "hard":
        assert abs(V[:, 0] @ g) < 1e-12  # the bottom eigenvector is invisible from g
    found = lanczos_step(lambda u: H @ u, g, radius=radius, rtol=1e-11)
    s = found.step
    assert found.converged and found.products <= p
    assert found.decrease == pytest.approx(-model_value(H, g, s), rel=1e-9)
    lam = multiplier(H, g, s)  # (H + λI)s = −g ...
    assert lam >= -w[0] - 1e-8 and lam >= -1e-10  # ... with H + λI ⪰ 0 and λ ≥ 0
    assert np.linalg.norm(s) <= radius * (1 + 1e-9)
    if lam > 1e-8:
        assert np.linalg.norm(s) == pytest.approx(radius, rel=1e-9)
    exact = V @ shifted_newton_step(w, V.T @ g, radius=radius)
    assert model_value(H, g, s) == pytest.approx(model_value(H, g, exact), rel=1e-9, abs=1e-12)
    assert found.ritz_min >= w[0] - 1e-9


@pytest.mark.parametrize("p", [6, 40])
@pytest.mark.parametrize("case", ["easy", "convex", "hard"])
def test_lanczos_cubic_step_meets_the_optimality_conditions(case, p):
    H, g = krylov_case(case, p)
    w, V = np.linalg.eigh(H)
    sigma = 0.5
    found = lanczos_step(lambda u: H @ u, g, sigma=sigma, rtol=1e-11)
    s = found.step
    assert found.converged
    # the global minimiser of gᵀs + ½sᵀHs + (σ/3)‖s‖³: (H + σ‖s‖I)s = −g, H + σ‖s‖I ⪰ 0
    np.testing.assert_allclose(H @ s + sigma * np.linalg.norm(s) * s, -g, atol=1e-8)
    assert sigma * np.linalg.norm(s) >= -w[0] - 1e-8
    exact = V @ shifted_newton_step(w, V.T @ g, sigma=sigma)
    assert model_value(H, g, s, sigma) == pytest.approx(model_value(H, g, exact, sigma), rel=1e-9)
    assert found.decrease == pytest.approx(-model_value(H, g, s, sigma), rel=1e-9)


def test_lanczos_step_counts_curvature_above_minus_flat_as_zero_and_respects_its_budget():
    """As in the exact trust-region solve, eigenvalues in [−flat, 0) count as zero."""
    rng = np.random.default_rng(12)
    V = np.linalg.qr(rng.normal(size=(8, 8)))[0]
    w = np.array([-1e-4, -5e-5, 0.5, 1.0, 2.0, 3.0, 4.0, 5.0])
    H = (V * w) @ V.T
    g = V @ np.r_[0.0, 0.0, rng.normal(size=6)]  # no gradient along the slightly negative pair
    flat = lanczos_step(lambda u: H @ u, g, radius=100.0, flat=1e-3, rtol=1e-12)
    modelled = np.where((w < 0) & (w >= -1e-3), 0.0, w)
    exact = V @ shifted_newton_step(modelled, V.T @ g, radius=100.0)
    np.testing.assert_allclose(flat.step, exact, atol=1e-8)
    np.testing.assert_allclose(flat.step, -np.linalg.pinv(H) @ g, atol=1e-6)  # the interior step
    capped = lanczos_step(lambda u: H @ u, g, radius=100.0, max_products=2, rtol=1e-12)
    assert capped.products == 2 and not capped.converged
    with pytest.raises(ValueError, match="exactly one of radius"):
        lanczos_step(lambda u: H @ u, g)


def fixed_costs(obj, monkeypatch, **costs):
    """Make the measured costs of ``obj`` these (seconds), as if measured on this machine."""
    monkeypatch.setitem(C._CACHE, obj, C.CurvatureCosts(p=obj.p, **costs))


@pytest.mark.parametrize("name", ["trust_region", "cubic_regularization"])
def test_the_route_chosen_by_cost_goes_both_ways(name, monkeypatch):
    obj, _ = saddle_problem("vW")
    theta0 = random_start(obj)
    runs = {}
    for cheap in ("dense", "products"):
        fresh = Objective(obj.X, obj.y, "quadratic", k=obj.k)
        if cheap == "dense":
            fixed_costs(fresh, monkeypatch, product=1.0, dense=1e-3, spectrum=10.0)
        else:
            fixed_costs(fresh, monkeypatch, product=1e-6, dense=1.0, spectrum=1e-3)
        runs[cheap] = SOLVERS[name](fresh, theta0, grad_tol=GRAD_TOL, rng=0)
    dense, free = runs["dense"], runs["products"]
    assert dense.status == free.status == "converged"
    assert dense.n_hvp % obj.p == 0 and dense.lambda_min_route == "dense"  # p per new point
    assert free.n_hvp % obj.p != 0 and free.lambda_min_route == "iterative"
    assert free.n_hvp < dense.n_hvp
    for result in (dense, free):
        assert result.lambda_min == pytest.approx(
            np.linalg.eigvalsh(obj.hessian(result.theta))[0], abs=max(1e-9, result.lambda_min_residual))


def test_a_krylov_solve_past_its_budget_hands_the_run_to_the_exact_route(monkeypatch):
    obj, _ = saddle_problem("W")
    monkeypatch.setattr(C, "TYPICAL_KRYLOV_PRODUCTS", 1)
    fixed_costs(obj, monkeypatch, product=1.0, dense=3.0, spectrum=10.0)  # a budget of 3
    assert obj.p > 3
    result = trust_region(obj, random_start(obj), grad_tol=GRAD_TOL)
    assert result.status == "converged" and result.loss < 1e-8
    # a few Krylov products (at most 3 per solve until one ran out), then p per new point
    krylov, dense = result.n_hvp % obj.p, result.n_hvp // obj.p
    assert 0 < krylov and dense >= result.iterations // 2


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", list(SOLVERS))
def test_certificates_above_the_dense_limit_agree_with_the_dense_lambda_min(name, mode, monkeypatch):
    obj, _ = saddle_problem(mode)
    monkeypatch.setattr("shallowlearn.spectrum.DENSE_LIMIT", 10)
    result = SOLVERS[name](obj, random_start(obj), max_iter=50, rng=0, **SADDLE_OPTIONS[name])
    assert result.lambda_min_route == "iterative"
    dense = np.linalg.eigvalsh(obj.hessian(result.theta))[0]
    assert 0 < result.lambda_min_residual <= 1e-5 * np.abs(np.linalg.eigvalsh(obj.hessian(result.theta))).max()
    assert abs(result.lambda_min - dense) <= result.lambda_min_residual + 1e-12
    assert f"({result.lambda_min_route}, residual" in repr(result)


ROUTES = {
    "negative_curvature_descent": {"dense": "exact", "matrix-free": "iterative"},
    "trust_region": {"dense": "exact", "matrix-free": "krylov"},
    "cubic_regularization": {"dense": "exact", "matrix-free": "krylov"},
}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("route", ["dense", "matrix-free"])
@pytest.mark.parametrize("name", list(ROUTES))
def test_second_order_solvers_escape_a_strict_saddle_on_both_routes(name, route, mode, monkeypatch):
    """W = 0 is a critical point (g = 0) with λ_min < −1; on the matrix-free route all
    curvature comes from products (the dense limit lowered to 0)."""
    if route == "matrix-free":
        monkeypatch.setattr("shallowlearn.spectrum.DENSE_LIMIT", 0)
    obj, theta0 = saddle_problem(mode)
    options = dict(SADDLE_OPTIONS[name], subproblem=ROUTES[name][route])
    result = SOLVERS[name](obj, theta0, max_iter=20000, grad_tol=GRAD_TOL, rng=0, **options)
    assert result.status == "converged", result.reason
    assert result.loss < 1e-8 and result.grad_norm <= GRAD_TOL
    assert result.lambda_min >= -CURVATURE_TOL
    assert result.lambda_min_route == ("dense" if route == "dense" else "iterative")
    if route == "dense":
        assert result.n_hvp % obj.p == 0  # only dense Hessians


def test_curvature_costs_are_measured_once_per_objective():
    obj, theta0 = saddle_problem("W")
    fresh = Objective(obj.X, obj.y, "quadratic", v=obj.v)
    costs = C.curvature_costs(fresh, fresh.at(theta0))
    assert costs.p == obj.p and 0 < costs.product < costs.dense < np.inf
    assert C.curvature_costs(fresh, fresh.at(random_start(obj))) is costs
    slow_dense = C.CurvatureCosts(p=obj.p, product=1.0, dense=100.0, spectrum=50.0)
    assert slow_dense.prefers_krylov() and slow_dense.krylov_budget() == 100
    assert not slow_dense.prefers_dense_spectrum()
    cheap_dense = C.CurvatureCosts(p=obj.p, product=1.0, dense=5.0, spectrum=50.0)
    assert not cheap_dense.prefers_krylov() and cheap_dense.prefers_dense_spectrum()
