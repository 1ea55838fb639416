import numpy as np
import pytest

from shallowlearn import (
    Objective,
    QuadraticPopulation,
    ReluPopulation,
    Teacher,
    check_derivatives,
    classify_point,
    get_activation,
    gradient_descent,
    hessian_spectrum,
    planted,
    population_objective,
    slice_1d,
    trust_region,
)

ACTIVATIONS = ["quadratic", "relu"]
SHAPES = [(1, 1, 1), (2, 3, 1), (3, 2, 4), (4, 5, 3), (6, 4, 6)]  # (d, k, teacher k)


def make_population(activation, d, k, k_teacher, trains_v, seed):
    rng = np.random.default_rng(seed)
    teacher = planted(n=1, d=d, k=k_teacher, activation=activation,
                      v=rng.choice([-1.0, 1.0], size=k_teacher) * rng.uniform(0.5, 2, size=k_teacher),
                      rng=rng).teacher
    if trains_v:
        pop = population_objective(teacher, k=k)
    else:
        pop = population_objective(teacher, v=rng.choice([-1.0, 1.0], size=k) * rng.uniform(0.5, 2, size=k))
    return pop, rng.normal(size=pop.p) / np.sqrt(d)


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("d,k,k_teacher", SHAPES)
@pytest.mark.parametrize("trains_v", [False, True], ids=["W", "vW"])
def test_derivatives_agree_with_autograd_and_finite_differences(activation, d, k, k_teacher, trains_v):
    pop, theta = make_population(activation, d, k, k_teacher, trains_v, seed=100 * d + 10 * k + k_teacher)
    if activation == "relu" and d == 1:
        # every two units are parallel or opposite: the oracle's arccos has an infinite
        # derivative there, so only finite differences can check
        eps = 1e-6
        fd = np.column_stack([(pop.grad(theta + eps * e) - pop.grad(theta - eps * e)) / (2 * eps)
                              for e in np.eye(pop.p)])
        np.testing.assert_allclose(pop.hessian(theta), fd, rtol=1e-6, atol=1e-8)
        slope = [(pop.value(theta + eps * e) - pop.value(theta - eps * e)) / (2 * eps) for e in np.eye(pop.p)]
        np.testing.assert_allclose(pop.grad(theta), slope, rtol=1e-6, atol=1e-8)
        return
    report = check_derivatives(pop, theta, rng=1)
    assert report.passed(), report
    np.testing.assert_allclose(pop.hessian(theta), pop.hessian(theta, method="autograd"),
                               rtol=1e-9, atol=1e-11)
    assert pop.value(theta) == pytest.approx(pop.value(theta, method="autograd"), rel=1e-12)
    # a block of directions at once, as the spectra and the solvers use it
    U = np.random.default_rng(2).normal(size=(pop.p, 3))
    np.testing.assert_allclose(pop.at(theta).hvp(U), pop.hessian(theta) @ U, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("trains_v", [False, True], ids=["W", "vW"])
def test_value_matches_a_monte_carlo_average_within_four_standard_errors(activation, trains_v):
    n = 1_000_000
    pop, theta = make_population(activation, d=4, k=3, k_teacher=2, trains_v=trains_v, seed=7)
    teacher = pop.teacher
    data = planted(n=n, d=4, k=2, activation=activation, W=teacher.W, v=teacher.v, rng=8)
    empirical = (Objective(data.X, data.y, activation, k=3) if trains_v
                 else Objective(data.X, data.y, activation, v=pop.v))
    half_squares = 0.5 * empirical.residuals(theta) ** 2
    standard_error = half_squares.std() / np.sqrt(n)
    assert abs(empirical.value(theta) - pop.value(theta)) <= 4 * standard_error
    assert standard_error < 0.01 * pop.value(theta)  # the test can tell a wrong constant apart
    null = 0.5 * data.y**2
    assert abs(null.mean() - pop.null_loss) <= 4 * null.std() / np.sqrt(n)


def test_quadratic_closed_form_in_terms_of_delta():
    pop, theta = make_population("quadratic", 4, 3, 2, False, seed=3)
    point = pop.at(theta)
    delta = point.W.T @ np.diag(pop.v) @ point.W - pop.target
    assert point.value == pytest.approx(np.sum(delta**2) + 0.5 * np.trace(delta) ** 2, rel=1e-13)
    G = 2 * delta + np.trace(delta) * np.eye(4)
    np.testing.assert_allclose(point.grad, (2 * np.diag(pop.v) @ point.W @ G).ravel(), atol=1e-13)


def test_relu_kernel_is_the_gaussian_average_of_two_relus():
    # κ(a, b) for a few angles, against a Monte Carlo average with its standard error
    rng = np.random.default_rng(4)
    X = rng.normal(size=(1_000_000, 2))
    relu = get_activation("relu")
    for angle in (0.3, 1.5, 2.8):
        a, b = np.array([1.5, 0.0]), 0.7 * np.array([np.cos(angle), np.sin(angle)])
        teacher = Teacher(W=b[None, :], v=np.ones(1), activation=relu)
        pop = ReluPopulation(teacher, v=np.ones(1))
        # L = ½‖a‖²/2 − κ(a, b) + ½‖b‖²/2, so κ(a, b) = (‖a‖² + ‖b‖²)/4 − L
        kappa = (a @ a + b @ b) / 4 - pop.value(a)
        samples = np.maximum(X @ a, 0) * np.maximum(X @ b, 0)
        assert abs(kappa - samples.mean()) <= 4 * samples.std() / np.sqrt(len(X))
        closed = 1.5 * 0.7 * (np.sin(angle) + (np.pi - angle) * np.cos(angle)) / (2 * np.pi)
        assert kappa == pytest.approx(closed, rel=1e-12)


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("trains_v", [False, True], ids=["W", "vW"])
def test_the_teacher_is_a_global_minimum(activation, trains_v):
    teacher = planted(n=1, d=4, k=3, activation=activation, v=[1.0, 2.0, 0.5], rng=5).teacher
    pop = population_objective(teacher, k=3) if trains_v else population_objective(teacher, v=teacher.v)
    theta = pop.pack(teacher.W, teacher.v) if trains_v else pop.pack(teacher.W)
    point = pop.at(theta)
    assert abs(point.value) <= 1e-14 * pop.null_loss
    assert np.linalg.norm(point.grad) <= 1e-13
    H = point.hessian()
    assert np.linalg.eigvalsh(H).min() >= -1e-12 * np.abs(H).max()
    # each student unit is parallel to a teacher unit here: the Hessian is the limit of the
    # formula, and it matches central differences of the gradient
    eps = 1e-6
    fd = np.column_stack([(pop.grad(theta + eps * e) - pop.grad(theta - eps * e)) / (2 * eps)
                          for e in np.eye(pop.p)])
    np.testing.assert_allclose(H, fd, atol=1e-6 * np.abs(H).max())
    assert classify_point(pop, theta).verdict == "second-order stationary"


def test_relu_hessian_is_continuous_across_parallel_units():
    teacher = planted(n=1, d=3, k=2, activation="relu", rng=6).teacher
    pop = ReluPopulation(teacher, v=teacher.v)
    at_teacher = pop.pack(teacher.W)
    H0 = pop.hessian(at_teacher)
    direction = np.random.default_rng(7).normal(size=pop.p)
    gaps = [np.abs(pop.hessian(at_teacher + t * direction) - H0).max() for t in (1e-2, 1e-4, 1e-6)]
    assert gaps[0] > gaps[1] > gaps[2]
    assert gaps[2] < 1e-5 * np.abs(H0).max()
    # and along a line through the parallel point the kernel is const + c·abs(t)³ to leading
    # order: the second difference scales like abs(t), the third derivative jumps
    a, b = np.array([1.0, 0.0]), np.array([2.0, 0.0])
    single = ReluPopulation(Teacher(W=b[None], v=np.ones(1), activation=get_activation("relu")),
                            v=np.ones(1))
    ts = np.array([1e-2, 2e-2])
    kappa = np.array([(a @ a + 4 + t * t) / 4 - single.value(a + t * np.array([0.0, 1.0])) for t in ts])
    kappa0 = (a @ a + 4) / 4 - single.value(a)
    np.testing.assert_allclose((kappa - kappa0) / ts**3, 2.0 / (6 * np.pi), rtol=1e-3)


def test_relu_training_hessian_misses_exactly_the_kink_curvature():
    # φ″ = 0 off the kink, so the training loss's Hessian converges to the population Hessian
    # minus its kink curvature, not to the population Hessian
    n, d, k = 200_000, 3, 2
    teacher = planted(n=1, d=d, k=k, activation="relu", rng=23).teacher
    pop = ReluPopulation(teacher, v=np.ones(k))
    theta = np.random.default_rng(24).normal(size=pop.p) / np.sqrt(d)
    data = planted(n=n, d=d, k=k, activation="relu", W=teacher.W, v=teacher.v, rng=25)
    H_train = Objective(data.X, data.y, "relu", v=np.ones(k)).hessian(theta)
    point = pop.at(theta)
    H = point.hessian()
    kink = np.zeros_like(H)
    for unit, block in enumerate(point.kink_curvature):
        kink[unit * d:(unit + 1) * d, unit * d:(unit + 1) * d] = block
    scale = np.linalg.norm(H, 2)
    assert np.linalg.norm(H - H_train, 2) > 0.2 * scale
    assert np.linalg.norm(H - kink - H_train, 2) < 0.03 * scale
    # at the teacher the residual vanishes and so does the kink curvature
    np.testing.assert_allclose(pop.at(pop.pack(teacher.W)).kink_curvature, 0.0, atol=1e-14)


def test_quadratic_zero_is_a_strict_saddle_with_the_predicted_curvature():
    teacher = planted(n=1, d=3, k=3, rng=9).teacher
    v = np.array([1.0, 2.0, 0.5, 1.0])
    pop = QuadraticPopulation(teacher, v=v)
    # at W = 0, each unit's block of the Hessian is 2 v_ℓ G with G = −2M* − tr(M*) I
    G = -2 * pop.target - np.trace(pop.target) * np.eye(3)
    expected = np.sort(np.concatenate([2 * vl * np.linalg.eigvalsh(G) for vl in v]))
    np.testing.assert_allclose(np.linalg.eigvalsh(pop.hessian(np.zeros(pop.p))), expected, atol=1e-12)
    cp = classify_point(pop, np.zeros(pop.p))
    assert cp.verdict == "strict saddle"
    assert cp.lambda_min == pytest.approx(expected[0], rel=1e-10)


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_iterative_spectrum_agrees_with_dense(activation):
    pop, theta = make_population(activation, 6, 5, 4, True, seed=11)
    dense = hessian_spectrum(pop, theta, method="dense")
    fast = hessian_spectrum(pop, theta, method="iterative", rng=0)
    assert fast.converged
    assert abs(fast.lambda_min - dense.lambda_min) <= 1e-6 * dense.norm
    assert abs(fast.lambda_max - dense.lambda_max) <= 1e-6 * dense.norm


def test_trust_region_reaches_the_quadratic_population_minimum():
    # k ≥ d, v = 1: every full-rank stationary point of the population loss is global
    # (Gamarnik, Kızıldağ & Zadik), and random starts are full rank
    teacher = planted(n=1, d=4, k=4, rng=12).teacher
    pop = QuadraticPopulation(teacher, v=np.ones(5))
    for seed in range(3):
        theta0 = np.random.default_rng(seed).normal(size=pop.p) / 2
        result = trust_region(pop, theta0, max_iter=300, progress=False)
        assert result.status == "converged", result
        assert pop.value(result.theta) <= 1e-12 * pop.null_loss
        W = pop.unpack(result.theta)[1]
        np.testing.assert_allclose(W.T @ W, pop.target, atol=1e-5)


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_gradient_descent_near_the_teacher_converges_to_it(activation):
    teacher = planted(n=1, d=4, k=3, activation=activation, rng=13).teacher
    pop = population_objective(teacher, k=3)
    at_teacher = pop.pack(teacher.W, teacher.v)
    start = at_teacher + 0.05 * np.random.default_rng(14).normal(size=pop.p)
    step = 0.5 / hessian_spectrum(pop, at_teacher).lambda_max
    result = gradient_descent(pop, start, step=step, max_iter=20_000, grad_tol=1e-9, progress=False)
    assert result.status == "converged", result
    assert pop.value(result.theta) < 1e-14
    v, W = pop.unpack(result.theta)
    if activation == "quadratic":
        assert teacher.recovery_error(W, v) < 1e-5
    else:  # (v_ℓ, w_ℓ) ↦ (v_ℓ/c, c w_ℓ) keeps the function: compare the products v_ℓ w_ℓ
        np.testing.assert_allclose(v[:, None] * W, teacher.v[:, None] * teacher.W, atol=1e-5)


def test_slices_run_on_population_objectives():
    pop, theta = make_population("relu", 3, 2, 2, False, seed=15)
    direction = np.random.default_rng(16).normal(size=pop.p)
    t = np.linspace(-0.5, 0.5, 5)
    np.testing.assert_allclose(slice_1d(pop, theta, direction, t),
                               [pop.value(theta + s * direction) for s in t], rtol=1e-12)


def test_relu_zero_weights_the_value_exists_the_derivatives_refuse():
    teacher = planted(n=1, d=3, k=2, activation="relu", rng=17).teacher
    pop = ReluPopulation(teacher, v=np.array([1.0, 1.0, 0.0]))
    W = np.random.default_rng(18).normal(size=(3, 3))
    W[1] = 0.0
    point = pop.at(pop.pack(W))
    # a zero unit computes 0: the value is that of the network without it
    smaller = ReluPopulation(teacher, v=np.array([1.0]))
    assert point.value == pytest.approx(smaller.value(W[0]), rel=1e-13)
    with pytest.raises(ValueError, match="w_1 = 0"):
        point.grad
    with pytest.raises(ValueError, match="not differentiable"):
        pop.hvp(pop.pack(W), np.ones(pop.p))
    # a zero unit whose output weight is fixed at 0 does not reach the output: no error
    W[1] = W[0]
    W[2] = 0.0
    assert np.all(np.isfinite(pop.hessian(pop.pack(W))))
    assert np.all(pop.grad(pop.pack(W))[6:] == 0)


def test_relu_teacher_units_that_contribute_nothing_are_dropped():
    relu = get_activation("relu")
    W = np.array([[1.0, 0.5], [0.0, 0.0], [0.3, -1.0]])
    full = ReluPopulation(Teacher(W=W, v=np.array([1.0, 3.0, 0.0]), activation=relu), k=2)
    kept = ReluPopulation(Teacher(W=W[:1], v=np.array([1.0]), activation=relu), k=2)
    theta = np.random.default_rng(19).normal(size=full.p)
    assert full.value(theta) == pytest.approx(kept.value(theta), rel=1e-13)
    np.testing.assert_allclose(full.hessian(theta), kept.hessian(theta), rtol=1e-12, atol=1e-14)


def test_bad_input():
    relu_teacher = planted(n=1, d=3, k=2, activation="relu", rng=20).teacher
    tanh_teacher = planted(n=1, d=3, k=2, activation="tanh", rng=20).teacher
    with pytest.raises(TypeError, match="teacher must be a shallowlearn.Teacher"):
        QuadraticPopulation(np.eye(3), v=np.ones(2))
    with pytest.raises(TypeError, match="teacher must be a shallowlearn.Teacher"):
        population_objective("relu", k=2)
    with pytest.raises(ValueError, match="needs a teacher with the 'quadratic' activation"):
        QuadraticPopulation(relu_teacher, k=2)
    with pytest.raises(ValueError, match="tanh"):
        population_objective(tanh_teacher, k=2)
    with pytest.raises(TypeError, match="exactly one of v"):
        ReluPopulation(relu_teacher, v=np.ones(2), k=2)
    with pytest.raises(TypeError, match="exactly one of v"):
        ReluPopulation(relu_teacher)
    pop = ReluPopulation(relu_teacher, k=2)
    with pytest.raises(ValueError, match="theta must have shape"):
        pop.value(np.ones(3))
    with pytest.raises(ValueError, match="method"):
        pop.grad(np.ones(pop.p), method="exact")


def test_caller_arrays_are_not_modified():
    pop, theta = make_population("relu", 3, 3, 2, True, seed=21)
    keep = theta.copy()
    U = np.random.default_rng(22).normal(size=(pop.p, 2))
    U_keep = U.copy()
    pop.at(theta).hvp(U)
    pop.hessian(theta)
    np.testing.assert_array_equal(theta, keep)
    np.testing.assert_array_equal(U, U_keep)
