import autograd.numpy as anp
import numpy as np
import pytest

from shallowlearn import Objective, check_derivatives, get_activation, planted, random_labels

ACTIVATIONS = [
    "quadratic",
    get_activation("softplus", b=4.0),
    get_activation("sigmoid", b=2.0),
    "tanh",
    "erf",
    "relu",
    get_activation(lambda z: anp.sin(z) + 0.1 * z**3, name="custom"),
]
SHAPES = [(1, 1, 1), (1, 3, 2), (5, 1, 1), (7, 2, 3), (30, 4, 5), (12, 6, 2)]  # (n, d, k)


def make_objective(activation, n, d, k, trains_v, seed):
    rng = np.random.default_rng(seed)
    X, y = rng.normal(size=(n, d)), rng.normal(size=n)
    if trains_v:
        obj = Objective(X, y, activation, k=k)
    else:
        obj = Objective(X, y, activation, v=rng.choice([-1.0, 1.0], size=k) * rng.uniform(0.5, 2, size=k))
    return obj, rng.normal(size=obj.p)


@pytest.mark.parametrize("activation", ACTIVATIONS, ids=lambda a: a if isinstance(a, str) else a.name)
@pytest.mark.parametrize("n,d,k", SHAPES)
@pytest.mark.parametrize("trains_v", [False, True], ids=["W", "vW"])
def test_fused_derivatives_agree_with_autograd_and_finite_differences(activation, n, d, k, trains_v):
    obj, theta = make_objective(activation, n, d, k, trains_v, seed=n * 100 + d * 10 + k)
    report = check_derivatives(obj, theta, rng=1)
    assert report.passed(), report
    # the dense Hessian, entry by entry, against autograd's
    np.testing.assert_allclose(
        obj.hessian(theta), obj.hessian(theta, method="autograd"), rtol=1e-9, atol=1e-11
    )
    assert obj.value(theta) == pytest.approx(obj.value(theta, method="autograd"), rel=1e-13)


def test_value_is_the_mean_squared_residual_over_two():
    obj, theta = make_objective("tanh", 9, 3, 4, True, seed=3)
    v, W = obj.unpack(theta)
    residual = np.tanh(obj.X @ W.T) @ v - obj.y
    assert obj.value(theta) == pytest.approx(0.5 * np.mean(residual**2))
    np.testing.assert_allclose(obj.residuals(theta), residual)
    np.testing.assert_allclose(obj.predict(theta), residual + obj.y)


def test_quadratic_gradient_closed_form():
    # For φ(z) = z²: ∇L(W) = 2 D_v W G with G = (1/n) Σ rᵢ xᵢxᵢᵀ (paper-notes §1).
    obj, theta = make_objective("quadratic", 15, 4, 6, False, seed=5)
    W = theta.reshape(obj.k, obj.d)
    r = obj.residuals(theta)
    G = (obj.X.T * r) @ obj.X / obj.n
    np.testing.assert_allclose(obj.grad(theta), (2 * np.diag(obj.v) @ W @ G).ravel(), atol=1e-12)


def test_hessian_is_symmetric_and_hvp_is_linear():
    obj, theta = make_objective("softplus", 20, 3, 4, True, seed=8)
    H = obj.hessian(theta)
    np.testing.assert_array_equal(H, H.T)
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(2, obj.p))
    np.testing.assert_allclose(obj.hvp(theta, 2 * a - b), 2 * obj.hvp(theta, a) - obj.hvp(theta, b), atol=1e-11)


def test_planted_weights_are_a_global_minimum():
    data = planted(n=40, d=3, k=2, activation="tanh", v=[1.0, -2.0], rng=2)
    obj = Objective(data.X, data.y, "tanh", k=2)
    theta = obj.pack(data.teacher.W, data.teacher.v)
    assert obj.value(theta) == pytest.approx(0.0, abs=1e-28)
    assert np.linalg.norm(obj.grad(theta)) < 1e-14
    assert np.linalg.eigvalsh(obj.hessian(theta)).min() > -1e-12  # Gauss–Newton only: PSD


def test_pack_unpack_round_trip():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(5, 3)), rng.normal(size=5)
    joint = Objective(X, y, "tanh", k=2)
    W, v = rng.normal(size=(2, 3)), rng.normal(size=2)
    v2, W2 = joint.unpack(joint.pack(W, v))
    np.testing.assert_array_equal(W2, W)
    np.testing.assert_array_equal(v2, v)
    fixed = Objective(X, y, "tanh", v=v)
    v3, W3 = fixed.unpack(fixed.pack(W))
    np.testing.assert_array_equal(W3, W)
    np.testing.assert_array_equal(v3, v)
    v3[0] = 99.0  # the returned v is a copy
    assert fixed.v[0] == v[0]


def test_caller_arrays_are_never_modified():
    rng = np.random.default_rng(1)
    X, y, v = rng.normal(size=(6, 2)), rng.normal(size=6), rng.normal(size=3)
    copies = [a.copy() for a in (X, y, v)]
    obj = Objective(X, y, "softplus", v=v)
    theta, u = rng.normal(size=obj.p), rng.normal(size=obj.p)
    theta_copy, u_copy = theta.copy(), u.copy()
    obj.value(theta), obj.grad(theta), obj.hvp(theta, u), obj.hessian(theta), obj.predict(theta, X)
    check_derivatives(obj, theta, rng=0)
    for original, copy in zip((X, y, v, theta, u), copies + [theta_copy, u_copy]):
        np.testing.assert_array_equal(original, copy)
    X[0, 0] = 1e6  # and later changes of the caller's arrays do not reach the objective
    assert obj.X[0, 0] == copies[0][0, 0]
    with pytest.raises(ValueError, match="read-only"):
        obj.X[0, 0] = 0.0


def test_same_data_same_numbers():
    a, b = random_labels(20, 3, rng=4), random_labels(20, 3, rng=4)
    oa, ob = Objective(a.X, a.y, k=2), Objective(b.X, b.y, k=2)
    theta = np.linspace(-1, 1, oa.p)
    assert oa.value(theta) == ob.value(theta)


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (dict(X=np.ones(3), y=np.ones(3), k=1), ValueError, "X must be a 2-D matrix; got an array of shape"),
        (dict(X=np.ones((3, 2)), y=np.ones(4), k=1), ValueError, r"y must have shape \(3,\); got \(4,\)"),
        (dict(X=np.ones((3, 2)), y=np.ones((3, 1)), k=1), ValueError, "y must be a 1-D vector"),
        (dict(X=[[1.0, np.nan]], y=[1.0], k=1), ValueError, "X must be finite; it has 1 NaN"),
        (dict(X=[[1.0, np.inf]], y=[1.0], k=1), ValueError, "X must be finite"),
        (dict(X=np.ones((3, 2)), y=np.ones(3) * 1j, k=1), TypeError, "y must contain real numbers.*complex"),
        (dict(X=np.array([["a", "b"]]), y=[1.0], k=1), TypeError, "X must contain real numbers"),
        (dict(X=np.array([[object(), 1]], dtype=object), y=[1.0], k=1), TypeError, "X must contain real numbers"),
        (dict(X=np.ones((0, 2)), y=np.ones(0), k=1), ValueError, "X must not be empty"),
        (dict(X=np.ones((3, 2)), y=np.ones(3), k=0), ValueError, "k must be a positive integer; got 0"),
        (dict(X=np.ones((3, 2)), y=np.ones(3), k=2.5), TypeError, "k must be a positive integer"),
        (dict(X=np.ones((3, 2)), y=np.ones(3)), TypeError, "exactly one of v"),
        (dict(X=np.ones((3, 2)), y=np.ones(3), k=2, v=[1.0, 1.0]), TypeError, "exactly one of v"),
        (dict(X=np.ones((3, 2)), y=np.ones(3), v=[[1.0]]), ValueError, "v must be a 1-D vector"),
        (dict(X=np.ones((3, 2)), y=np.ones(3), v=[1.0], activation="cubic"), ValueError, "unknown activation"),
    ],
)
def test_bad_construction_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        Objective(**kwargs)


def test_bad_parameter_vectors():
    obj = Objective(np.ones((3, 2)), np.ones(3), v=[1.0, -1.0])
    with pytest.raises(ValueError, match=r"flat parameter vector of length p=4; got shape \(2, 2\)"):
        obj.value(np.ones((2, 2)))
    with pytest.raises(ValueError, match=r"theta must have shape \(4,\); got \(5,\)"):
        obj.grad(np.ones(5))
    with pytest.raises(ValueError, match=r"u must have shape \(4,\)"):
        obj.hvp(np.ones(4), np.ones(3))
    with pytest.raises(ValueError, match="theta must be finite"):
        obj.hessian(np.array([1.0, np.nan, 0.0, 0.0]))
    with pytest.raises(ValueError, match="method must be one of"):
        obj.grad(np.ones(4), method="numeric")
    with pytest.raises(TypeError, match="takes no v"):
        obj.pack(np.ones((2, 2)), v=[1.0, 1.0])
    with pytest.raises(ValueError, match=r"W must have shape \(2, 2\); got \(2, 3\)"):
        obj.pack(np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"X must have shape \(any, 2\)"):
        obj.predict(np.ones(4), X=np.ones((3, 3)))
    joint = Objective(np.ones((3, 2)), np.ones(3), k=2)
    with pytest.raises(TypeError, match=r"call pack\(W, v\)"):
        joint.pack(np.ones((2, 2)))


def test_repr_names_the_parameterization():
    obj = Objective(np.ones((3, 2)), np.ones(3), "tanh", k=4)
    assert repr(obj) == "Objective(n=3, d=2, k=4, activation=Activation('tanh'), trains v and W, p=12)"


@pytest.mark.parametrize("trains_v", [False, True], ids=["W", "vW"])
def test_jacobian_of_the_predictions(trains_v):
    obj, theta = make_objective("softplus", 11, 3, 4, trains_v, seed=12)
    J = obj.jacobian(theta)
    assert J.shape == (obj.n, obj.p)
    # gradient = Jᵀ r / n, and J u is the directional derivative of the predictions
    np.testing.assert_allclose(J.T @ obj.residuals(theta) / obj.n, obj.grad(theta), atol=1e-12)
    u = np.random.default_rng(0).normal(size=obj.p)
    eps = 1e-6
    fd = (obj.predict(theta + eps * u) - obj.predict(theta - eps * u)) / (2 * eps)
    np.testing.assert_allclose(J @ u, fd, rtol=1e-6, atol=1e-8)
