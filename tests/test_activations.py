import autograd.numpy as anp
import numpy as np
import pytest
from autograd import elementwise_grad
from scipy import integrate

from shallowlearn import ACTIVATIONS, Activation, get_activation

BUILT_IN = [
    ("quadratic", {}),
    ("softplus", {"b": 1.0}),
    ("softplus", {"b": 10.0}),
    ("sigmoid", {"b": 4.0}),
    ("tanh", {}),
    ("erf", {}),
    ("relu", {}),
]


@pytest.fixture(params=BUILT_IN, ids=lambda p: p[0] + "".join(f"-{k}{v}" for k, v in p[1].items()))
def act(request):
    name, params = request.param
    return get_activation(name, **params)


def test_every_registered_activation_is_covered():
    assert set(ACTIVATIONS) == {name for name, _ in BUILT_IN}


@pytest.mark.filterwarnings("ignore:Output seems independent of input")  # ReLU's φ″ is constant
def test_derivatives_match_autograd(act):
    # Away from ReLU's kink at 0, the hand-written φ′ and φ″ equal autograd's.
    z = np.linspace(-3.0, 3.0, 61) + 0.013
    np.testing.assert_allclose(act.dphi(z), elementwise_grad(act.phi)(z), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(
        act.ddphi(z), elementwise_grad(elementwise_grad(act.phi))(z), rtol=1e-10, atol=1e-10
    )


def test_derivatives_match_finite_differences(act):
    z = np.linspace(-2.5, 2.5, 41) + 0.013
    h = 1e-6
    np.testing.assert_allclose(act.dphi(z), (act.phi(z + h) - act.phi(z - h)) / (2 * h), atol=1e-7)
    np.testing.assert_allclose(act.ddphi(z), (act.dphi(z + h) - act.dphi(z - h)) / (2 * h), atol=1e-6)


def test_relu_derivative_is_zero_at_the_kink():
    relu = get_activation("relu")
    assert relu.dphi(np.array([0.0]))[0] == 0.0
    assert elementwise_grad(relu.phi)(np.array([0.0]))[0] == 0.0
    assert not relu.smooth


def test_softplus_is_stable_for_large_arguments():
    sp = get_activation("softplus", b=10.0)
    z = np.array([-500.0, 500.0])
    np.testing.assert_allclose(sp.phi(z), [0.0, 500.0])
    assert np.all(np.isfinite(sp.ddphi(z)))


def test_erf_follows_the_paper_definition():
    # Example 2.4: erf(z) = (2/√π) ∫_0^z exp(−t²/2) dt.
    erf = get_activation("erf")
    for z in (-1.3, 0.4, 2.0):
        direct = 2 / np.sqrt(np.pi) * integrate.quad(lambda t: np.exp(-t * t / 2), 0.0, z)[0]
        assert erf.phi(np.array([z]))[0] == pytest.approx(direct, rel=1e-12)


def test_moments_match_direct_integration(act):
    sigmas = np.array([0.1, 0.7, 1.0, 3.0])

    def direct(fn, s):
        f = lambda g: fn(np.array([s * g]))[0] * np.exp(-g * g / 2) / np.sqrt(2 * np.pi)
        return sum(integrate.quad(f, lo, hi, limit=400)[0] for lo, hi in [(-40, 0), (0, 40)])

    mu, gamma = act.mu(sigmas), act.gamma(sigmas)
    assert mu.shape == gamma.shape == sigmas.shape
    for s, m, g in zip(sigmas, mu, gamma):
        assert m == pytest.approx(direct(act.dphi, s), abs=1e-9)
        assert g == pytest.approx(direct(act.ddphi, s), abs=1e-9)


def test_known_moments():
    quad, relu, sp, tanh = (get_activation(n) for n in ("quadratic", "relu", "softplus", "tanh"))
    assert quad.mu(1.3) == pytest.approx(0.0, abs=1e-12)
    assert quad.gamma(1.3) == pytest.approx(2.0)
    assert relu.mu(2.0) == pytest.approx(0.5)
    # φ′ = expit(bz) and expit(t) + expit(−t) = 1, so μ = 1/2 for every σ and b
    assert sp.mu(np.array([0.2, 5.0])) == pytest.approx([0.5, 0.5])
    # tanh″ is odd: γ ≡ 0 (case (b) of Assumption 2.3)
    assert tanh.gamma(np.array([0.5, 2.0])) == pytest.approx([0.0, 0.0], abs=1e-12)
    # softplus is strictly convex: γ > 0 (case (a))
    assert np.all(sp.gamma(np.array([0.1, 1.0, 10.0])) > 0)
    # σ = 0 gives φ′(0)
    assert sp.mu(0.0) == pytest.approx(0.5)


def test_moment_argument_checks():
    tanh = get_activation("tanh")
    with pytest.raises(ValueError, match="sigma must be >= 0"):
        tanh.mu(-1.0)
    with pytest.raises(ValueError, match="sigma must be non-negative"):
        tanh.gamma([1.0, -0.5])
    with pytest.raises(ValueError, match="sigma must be finite"):
        tanh.mu(np.nan)


def test_callable_activation_gets_derivatives_from_autograd():
    cubic = get_activation(lambda z: z**3 / 3 + anp.sin(z), name="cubic")
    z = np.linspace(-2, 2, 9)
    np.testing.assert_allclose(cubic.dphi(z), z**2 + np.cos(z))
    np.testing.assert_allclose(cubic.ddphi(z), 2 * z - np.sin(z))
    assert cubic.name == "cubic" and cubic.smooth
    assert cubic.mu(1.0) == pytest.approx(1.0 + np.exp(-0.5))  # E g² + E cos g


@pytest.mark.filterwarnings("ignore:Output seems independent of input")
def test_callable_that_autograd_cannot_differentiate_is_refused():
    # np.tanh instead of anp.tanh: autograd cannot trace it and would return zero derivatives
    with pytest.raises(TypeError, match="autograd.numpy"):
        get_activation(lambda z: np.tanh(np.asarray(z, dtype=float)))
    with pytest.raises(TypeError, match="same shape"):
        get_activation(lambda z: anp.sum(z))


def test_lookup_errors_name_the_choices():
    with pytest.raises(ValueError, match="unknown activation 'swish'.*quadratic, softplus"):
        get_activation("swish")
    with pytest.raises(TypeError, match="takes the parameters"):
        get_activation("tanh", b=2.0)
    with pytest.raises(ValueError, match="b must be > 0"):
        get_activation("softplus", b=-1.0)
    with pytest.raises(TypeError, match="b must be a real number"):
        get_activation("sigmoid", b="steep")
    with pytest.raises(TypeError, match="name, an Activation or a callable"):
        get_activation(3)
    act = get_activation("tanh")
    assert get_activation(act) is act
    with pytest.raises(TypeError, match="cannot be applied"):
        get_activation(act, b=1.0)


def test_lookup_is_case_insensitive_and_repr_is_readable():
    act = get_activation("SoftPlus", b=4)
    assert isinstance(act, Activation)
    assert repr(act) == "Activation('softplus', b=4.0)"


def test_moments_of_a_fast_growing_callable_stay_finite():
    # log cosh overflows for |z| > 710; the moments only need |σg| up to a modest size.
    act = get_activation(lambda z: anp.log(anp.cosh(z)) - 0.1 * z**2, name="logcosh-quad")
    sigmas = np.array([0.1, 1.0, 8.0])
    gamma = act.gamma(sigmas)
    assert np.all(np.isfinite(gamma))
    # φ″ = sech² − 0.2: γ starts near 0.8 and ends near −0.2, so it changes sign
    assert gamma[0] > 0.75 and gamma[-1] < -0.1
    assert act.mu(sigmas) == pytest.approx([0.0, 0.0, 0.0], abs=1e-12)  # φ′ is odd
