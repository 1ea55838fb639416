import numpy as np
import pytest

from shallowlearn import Dataset, Teacher, planted, random_labels


def test_planted_labels_come_from_the_teacher():
    data = planted(n=200, d=5, k=3, activation="softplus", rng=0)
    W, v = data.teacher.W, data.teacher.v
    np.testing.assert_allclose(data.y, np.logaddexp(0, data.X @ W.T) @ v, rtol=1e-12)
    np.testing.assert_array_equal(v, np.ones(3))  # the paper's default v* = 1
    assert data.noise == 0.0


def test_planted_defaults_follow_the_paper():
    # W* entries N(0, 1/d): the mean square entry is 1/d; inputs N(0, I)
    data = planted(n=4000, d=50, k=40, rng=1)
    assert np.mean(data.teacher.W**2) == pytest.approx(1 / 50, rel=0.05)
    assert np.mean(data.X**2) == pytest.approx(1.0, rel=0.02)
    assert abs(np.mean(data.X)) < 0.01


def test_given_teacher_weights_and_noise():
    W, v = np.eye(2), np.array([1.0, -1.0])
    clean = planted(n=500, d=2, k=2, W=W, v=v, rng=3)
    noisy = planted(n=500, d=2, k=2, W=W, v=v, noise=0.5, rng=3)
    np.testing.assert_array_equal(clean.X, noisy.X)  # noise is drawn after the inputs
    assert np.std(noisy.y - clean.y) == pytest.approx(0.5, rel=0.1)
    np.testing.assert_array_equal(clean.teacher.W, W)
    W[0, 0] = 5.0  # the caller's arrays are copied
    assert clean.teacher.W[0, 0] == 1.0


def test_same_seed_same_data_and_generators_are_accepted():
    a, b = planted(30, 3, 2, "tanh", rng=7), planted(30, 3, 2, "tanh", rng=7)
    np.testing.assert_array_equal(a.X, b.X)
    np.testing.assert_array_equal(a.y, b.y)
    c = planted(30, 3, 2, "tanh", rng=np.random.default_rng(7))
    np.testing.assert_array_equal(a.y, c.y)
    assert not np.array_equal(a.y, planted(30, 3, 2, "tanh", rng=8).y)


def test_random_labels():
    data = random_labels(n=5000, d=2, rng=0)
    assert data.teacher is None
    assert np.std(data.y) == pytest.approx(1.0, rel=0.05)
    assert abs(np.corrcoef(data.X[:, 0], data.y)[0, 1]) < 0.05


def test_datasets_are_read_only():
    data = planted(10, 2, 1, rng=0)
    for arr in (data.X, data.y, data.teacher.W, data.teacher.v):
        with pytest.raises(ValueError, match="read-only"):
            arr[0] = 0.0


def test_user_arrays():
    X, y = np.arange(6.0).reshape(3, 2), np.array([1, 2, 3])
    data = Dataset(X=X, y=y)
    assert data.y.dtype == np.float64 and (data.n, data.d) == (3, 2)
    X[0, 0] = 100.0
    assert data.X[0, 0] == 0.0


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: planted(0, 3, 2), ValueError, "n must be a positive integer; got 0"),
        (lambda: planted(10, -1, 2), ValueError, "d must be a positive integer; got -1"),
        (lambda: planted(10, 3, 2.0), TypeError, "k must be a positive integer"),
        (lambda: planted(10, 3, 2, W=np.ones((3, 3))), ValueError, r"W must have shape \(2, 3\)"),
        (lambda: planted(10, 3, 2, v=np.ones(3)), ValueError, r"v must have shape \(2,\)"),
        (lambda: planted(10, 3, 2, noise=-0.1), ValueError, "noise must be >= 0"),
        (lambda: planted(10, 3, 2, activation="gelu"), ValueError, "unknown activation 'gelu'"),
        (lambda: planted(10, 3, 2, rng="seed"), TypeError, "rng must be None, an int seed"),
        (lambda: planted(10, 3, 2, rng=-4), ValueError, "rng must be a non-negative seed"),
        (lambda: random_labels(10, True), TypeError, "d must be a positive integer"),
        (lambda: Dataset(X=np.ones((3, 2)), y=np.ones(2)), ValueError, r"y must have shape \(3,\)"),
        (lambda: Dataset(X=np.ones((3, 2)), y=np.ones(3), noise=np.nan), ValueError, "noise must be finite"),
        (
            lambda: Dataset(X=np.ones((3, 2)), y=np.ones(3), teacher=planted(3, 4, 1).teacher),
            ValueError,
            "inputs of dimension 4; X has d=2",
        ),
        (lambda: Teacher(W=np.ones((2, 2)), v=np.ones(3), activation="tanh"), ValueError, "v must have shape"),
    ],
)
def test_bad_arguments(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_teacher_repr_and_activation_lookup():
    t = Teacher(W=np.ones((2, 3)), v=np.ones(2), activation="tanh")
    assert t.activation is not None and t.activation.name == "tanh"
    assert repr(t) == "Teacher(k=2, d=3, activation=Activation('tanh'))"


def test_recovery_error_ignores_the_networks_symmetries():
    rng = np.random.default_rng(0)
    # quadratic: any W' = QW with QᵀQ = I computes the same function (v = 1)
    quad = planted(50, 4, 6, "quadratic", rng=1).teacher
    Q, _ = np.linalg.qr(rng.normal(size=(6, 6)))
    assert not np.allclose(Q @ quad.W, quad.W)
    assert quad.recovery_error(Q @ quad.W, quad.v) < 1e-12
    # odd φ: permutations and joint sign flips are free; a sigmoid cannot flip signs
    tanh = planted(50, 4, 3, "tanh", v=[1.0, -2.0, 0.5], rng=2).teacher
    flips = np.array([1.0, -1.0, -1.0])[:, None]
    assert tanh.recovery_error((flips * tanh.W)[[2, 0, 1]], (flips[:, 0] * tanh.v)[[2, 0, 1]]) < 1e-12
    sig = planted(50, 4, 3, "sigmoid", v=[1.0, -2.0, 0.5], rng=2).teacher
    assert sig.recovery_error(sig.W[[1, 2, 0]], sig.v[[1, 2, 0]]) < 1e-12
    assert sig.recovery_error(-sig.W, -sig.v) > 0.5
    # a real perturbation is measured: relative size of the change
    delta = 0.01 * rng.normal(size=tanh.W.shape)
    expected = np.linalg.norm(delta) / np.linalg.norm(np.column_stack([tanh.W, tanh.v]))
    assert tanh.recovery_error(tanh.W + delta, tanh.v) == pytest.approx(expected, rel=1e-9)
    with pytest.raises(ValueError, match=r"W must have shape \(3, 4\)"):
        tanh.recovery_error(np.ones((2, 4)), np.ones(2))
