"""Starting points: random, near the planted weights, spectral (quadratic), tensor (Zhong et al.)."""

import numpy as np
import pytest
from scipy.stats import ortho_group

from shallowlearn import get_activation, planted
from shallowlearn.initializations import (
    hermite_coefficients,
    near_planted,
    random_init,
    spectral_init,
    tensor_init,
)


def test_random_init_shapes_and_distribution():
    W, v = random_init(4, 25, rng=0)
    assert W.shape == (4, 25) and v.shape == (4,)
    Ws, vs = random_init(50, 25, size=40, rng=1)
    assert Ws.shape == (40, 50, 25) and vs.shape == (40, 50)
    assert set(np.unique(vs)) == {-1.0, 1.0}
    assert abs(Ws.var() - 1 / 25) < 0.002  # 50,000 entries of variance 1/d
    assert abs(vs.mean()) < 0.05


def test_random_init_seeds():
    a, b = random_init(3, 5, rng=7), random_init(3, 5, rng=7)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[0], random_init(3, 5, rng=8)[0])


@pytest.mark.parametrize("args, match", [((0, 3), "k"), ((3, -1), "d"), ((2.5, 3), "k")])
def test_random_init_bad_arguments(args, match):
    with pytest.raises((ValueError, TypeError), match=match):
        random_init(*args)


def test_near_planted_distance():
    W, v = np.arange(12.0).reshape(3, 4), np.array([1.0, -1.0, 2.0])
    W_before, v_before = W.copy(), v.copy()
    for radius in (0.0, 0.01, 2.5):
        W0, v0 = near_planted(W, v, radius, v_radius=0.3, rng=1)
        assert np.linalg.norm(W0 - W) == pytest.approx(radius, abs=1e-12)
        assert np.linalg.norm(v0 - v) == pytest.approx(0.3, abs=1e-12)
    W0, v0 = near_planted(W, v, 1.0, rng=2)
    np.testing.assert_array_equal(v0, v)
    np.testing.assert_array_equal(W, W_before)
    np.testing.assert_array_equal(v, v_before)
    np.testing.assert_array_equal(near_planted(W, v, 1.0, rng=3)[0], near_planted(W, v, 1.0, rng=3)[0])
    with pytest.raises(ValueError, match="radius"):
        near_planted(W, v, -1.0)
    with pytest.raises(ValueError, match="v"):
        near_planted(W, np.ones(2), 1.0)


def _relative_error(W, v, teacher):
    A = teacher.W.T @ np.diag(teacher.v) @ teacher.W
    return np.linalg.norm(W.T @ np.diag(v) @ W - A) / np.linalg.norm(A)


def test_spectral_init_recovers_the_quadratic_form():
    data = planted(n=40000, d=5, k=3, rng=0)
    v = np.ones(6)
    W = spectral_init(data.X, data.y, v, rng=0)
    assert W.shape == (6, 5)
    large_error = _relative_error(W, v, data.teacher)
    assert large_error < 0.1
    # the error shrinks with n like 1/√n: the estimate is consistent
    small = planted(n=2500, d=5, k=3, W=data.teacher.W, rng=1)
    small_error = _relative_error(spectral_init(small.X, small.y, v, rng=0), v, data.teacher)
    assert small_error > 2 * large_error


def test_spectral_init_mixed_signs_and_filler_rows():
    teacher_v = np.array([1.0, 1.0, -1.0])
    data = planted(n=40000, d=4, k=3, v=teacher_v, rng=2)
    v = np.array([2.0, 1.0, -1.0, -0.5, 1.0, 1.0, 0.0])
    W = spectral_init(data.X, data.y, v, fill=1e-3, rng=3)
    assert _relative_error(W, v, data.teacher) < 0.05
    norms = np.linalg.norm(W, axis=1)
    # the unit with v = 0 gets a small non-zero filler row, never an exact zero
    assert 0 < norms[6] < 1e-2
    assert np.all(norms > 0)


def test_spectral_init_bad_arguments():
    with pytest.raises(ValueError, match="y"):
        spectral_init(np.ones((5, 2)), np.ones(4), np.ones(2))
    with pytest.raises(ValueError, match="fill"):
        spectral_init(np.ones((5, 2)), np.ones(5), np.ones(2), fill=0.0)


def test_hermite_coefficients_match_closed_forms():
    c = 1 / np.sqrt(2 * np.pi)
    np.testing.assert_allclose(hermite_coefficients("relu"), [c, 0.5, c, 0.0, -c], atol=1e-8)
    np.testing.assert_allclose(hermite_coefficients("quadratic", sigma=2.0), [4, 0, 8, 0, 0],
                               atol=1e-8)
    tanh = hermite_coefficients("tanh")
    assert abs(tanh[2]) < 1e-10 and abs(tanh[4]) < 1e-10 and abs(tanh[3]) > 0.1
    softplus = hermite_coefficients(get_activation("softplus", b=10.0))
    assert abs(softplus[3]) < 1e-10 and abs(softplus[2]) > 0.1 and abs(softplus[4]) > 0.1


def _best_cosines(W, teacher_W):
    U = W / np.linalg.norm(W, axis=1, keepdims=True)
    T = teacher_W / np.linalg.norm(teacher_W, axis=1, keepdims=True)
    return np.abs(U @ T.T).max(axis=0)  # for each teacher unit, its best match


@pytest.mark.parametrize(
    "activation", ["tanh", get_activation("softplus", b=10.0), get_activation("sigmoid", b=1.0)]
)
def test_tensor_init_recovers_directions(activation):
    # tanh and sigmoid use M₃ (m₂ = 0), softplus M₂ and M₄ (m₃ = 0)
    teacher_W = ortho_group.rvs(6, random_state=0)[:3]
    data = planted(n=30000, d=6, k=3, activation=activation, W=teacher_W, rng=1)
    W, v = tensor_init(data.X, data.y, 3, activation, rng=2)
    assert W.shape == (3, 6) and v.shape == (3,)
    assert np.all(_best_cosines(W, teacher_W) > 0.95)


@pytest.mark.filterwarnings("ignore:Output seems independent of input")
def test_tensor_init_refuses_what_it_cannot_do():
    data = planted(n=500, d=4, k=2, rng=0)
    with pytest.raises(NotImplementedError, match="spectral_init"):
        tensor_init(data.X, data.y, 2, "quadratic")
    with pytest.raises(NotImplementedError):
        tensor_init(data.X, data.y, 2, lambda z: 2.0 * z)
    with pytest.raises(ValueError, match="k"):
        tensor_init(data.X, data.y, 5, "tanh")


def test_tensor_init_norms_stay_bounded_when_the_fit_is_degenerate():
    # A unit of tiny norm s is nearly linear, φ(sz) ≈ φ(0) + sφ′(0)z, so (s, v) and
    # (s/c, cv) fit the data alike; an unbounded least-squares fit drifted to norms of 1e-7
    # with huge output weights here.
    from shallowlearn.initializations import tensor_init

    act = get_activation("softplus", b=4.0)
    data = planted(n=10000, d=10, k=5, activation=act, v=np.ones(5), rng=2)
    W, v = tensor_init(data.X, data.y, 5, act, rng=2)
    norms = np.linalg.norm(W, axis=1)
    assert np.all(norms <= 10.0 + 1e-9) and np.all(norms >= 1e-3 - 1e-12)
    assert np.all(np.isfinite(v))


@pytest.mark.parametrize(
    "activation", [get_activation("softplus", b=10.0), get_activation("sigmoid", b=1.0)]
)
def test_tensor_init_orients_units_of_non_odd_activations(activation):
    # Jennrich's method returns components only up to sign, and for a non-odd φ the unit
    # φ(⟨−w, x⟩) is a different function. Without orienting them, two of these three units
    # came out reversed, and the least-squares fit gave output weights like −37 and 49.
    teacher_W = ortho_group.rvs(6, random_state=0)[:3]
    data = planted(n=30000, d=6, k=3, activation=activation, W=teacher_W, rng=1)
    W, v = tensor_init(data.X, data.y, 3, activation, rng=2)
    cosines = (W / np.linalg.norm(W, axis=1, keepdims=True)) @ teacher_W.T
    signed_best = cosines[np.abs(cosines).argmax(axis=0), np.arange(3)]
    assert np.all(signed_best > 0.95)
    assert np.all(v > 0) and np.all(v < 2.0)  # the teacher's v* = 1, up to the norm trade-off
