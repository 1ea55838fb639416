import warnings
from decimal import Decimal, localcontext

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


# --- the fused evaluation ------------------------------------------------------------------


def _grid(act, size=1e3):
    """Pre-activations with abs(bz) from 1e-8 to ``size`` on a log scale, both signs and 0,
    plus the points where exp(bz) overflows and where exp(−bz) underflows."""
    b = act.params.get("b", 1.0)
    t = np.concatenate([np.logspace(-8, np.log10(size), 90), [18.0, 36.7, 709.8, 745.2]])
    t = np.concatenate([-t, [0.0], t])
    return t / b


def _derivatives(act):
    return (act.phi, elementwise_grad(act.phi), elementwise_grad(elementwise_grad(act.phi)))


@pytest.mark.filterwarnings("ignore:Output seems independent of input")  # ReLU's φ″
@pytest.mark.parametrize("order", [0, 1, 2])
def test_fused_evaluation_matches_the_autograd_definition(act, order):
    """Each output of evaluate equals autograd's derivative of φ to 1e-14 of its size, over
    abs(bz) ≤ 10³. (autograd's chain rule loses relative accuracy in the tails, expit′ =
    s(1 − s) for instance, so there the relative accuracy is checked against exact
    arithmetic below.)"""
    z = _grid(act)
    with np.errstate(all="ignore"):  # autograd's tanh′ and tanh″ overflow cosh in the tails
        want = _derivatives(act)[order](z)
    values = act.evaluate(z, order=order)
    assert len(values) == order + 1 and np.all(np.isfinite(values[order]))
    # past abs(z) ≈ 710 autograd's tanh″ is inf/inf: compare where the definition is finite
    known = np.isfinite(want)
    assert known.mean() > 0.95
    np.testing.assert_allclose(values[order][known], want[known], rtol=1e-14,
                               atol=1e-14 * np.max(np.abs(want[known])))
    for lower in range(order):  # the lower orders are the same whatever order is asked for
        np.testing.assert_array_equal(values[lower], act.evaluate(z, order=lower)[lower])


def _exact(act, z: float):
    """φ, φ′, φ″ at z in 40-digit decimal arithmetic (None where not available), at the
    rounded product t = bz that the definition evaluates."""
    name, b = act.name, act.params.get("b", 1.0)
    with localcontext() as ctx:
        ctx.prec = 40
        Z = Decimal(z)
        if name in ("softplus", "sigmoid"):
            t, B = Decimal(float(np.float64(b) * z)), Decimal(b)
            e = (-abs(t)).exp()
            log1p = e - e * e / 2 + e**3 / 3 if e < Decimal("1e-12") else (1 + e).ln()
            s = 1 / (1 + e) if t >= 0 else e / (1 + e)  # σ(t)
            s_s = e / (1 + e) ** 2  # σ(t)σ(−t)
            if name == "softplus":
                return (max(t, Decimal(0)) + log1p) / B, s, B * s_s
            return s, B * s_s, B * B * s_s * (1 - 2 * s)
        if name == "tanh":
            E = (-2 * abs(Z)).exp()
            th = (1 - E) / (1 + E) * (1 if Z >= 0 else -1)
            return th, 4 * E / (1 + E) ** 2, -8 * th * E / (1 + E) ** 2
        if name == "erf":
            slope = 2 / Decimal("3.14159265358979323846264338327950288419716939937511").sqrt()
            d1 = slope * (-Z * Z / 2).exp()
            return None, d1, -Z * d1
        if name == "quadratic":
            return Z * Z, 2 * Z, Decimal(2)
        return max(Z, Decimal(0)), Decimal(int(Z > 0)), Decimal(0)


def test_fused_evaluation_is_accurate_to_the_last_digits_without_warnings(act):
    """Relative error below 1e-14 against exact arithmetic for abs(bz) up to 10³, including
    the regions where log(1 + exp(bz)) overflows and where 1 − tanh² or s(1 − s) cancel, with
    no floating-point warning raised."""
    z = _grid(act)
    with warnings.catch_warnings(), np.errstate(over="raise", divide="raise", invalid="raise"):
        warnings.simplefilter("error")
        values = act.evaluate(z, order=2)
    exact = [_exact(act, float(x)) for x in z]
    tiny = np.finfo(float).tiny  # below it, subnormal numbers carry fewer digits
    for order in range(3):
        if exact[0][order] is None:
            continue
        want = np.array([float(e[order]) for e in exact])
        np.testing.assert_allclose(values[order], want, rtol=1e-14, atol=4 * tiny,
                                   err_msg=f"order {order}")


def test_evaluate_writes_into_the_given_arrays_and_leaves_z_alone(act):
    z = np.linspace(-4.0, 4.0, 12).reshape(3, 4)
    z_before = z.copy()
    fresh = act.evaluate(z, order=2)
    out = tuple(np.full_like(z, np.nan) for _ in range(3))
    work = np.full_like(z, np.nan)
    returned = act.evaluate(z, order=2, out=out, work=work)
    assert all(a is b for a, b in zip(returned, out))
    for got, want in zip(out, fresh):
        np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(z, z_before)
    # a view into a larger buffer is written in place too
    big = np.zeros((2, 3, 4))
    act.evaluate(z, order=0, out=(big[1],))
    np.testing.assert_array_equal(big[1], fresh[0])
    assert np.all(big[0] == 0.0)


def test_evaluate_refuses_bad_arguments():
    act = get_activation("softplus", b=2.0)
    z = np.zeros(4)
    with pytest.raises(ValueError, match="order must be 0, 1 or 2; got 3"):
        act.evaluate(z, order=3)
    with pytest.raises(ValueError, match="out must be a sequence of 2 arrays"):
        act.evaluate(z, order=1, out=(np.empty(4),))
    with pytest.raises(ValueError, match=r"out must hold writeable float64 arrays of shape \(4,\)"):
        act.evaluate(z, out=(np.empty(4), np.empty(5)))
    with pytest.raises(ValueError, match="float64"):
        act.evaluate(z, out=(np.empty(4), np.empty(4, dtype=np.float32)))
    with pytest.raises(ValueError, match="work must hold writeable float64"):
        act.evaluate(z, work=np.empty(3))
    buffer = np.empty(4)
    with pytest.raises(ValueError, match="must not overlap"):
        act.evaluate(z, out=(buffer, np.empty(4)), work=buffer)
    with pytest.raises(ValueError, match="must not overlap"):
        act.evaluate(z, out=(z, np.empty(4)))


def test_activations_given_as_functions_are_evaluated_one_by_one():
    # an Activation built from three functions (as the course assignment does) and one wrapped
    # from a callable (autograd's derivatives) both offer the fused evaluation
    swish = Activation("swish", phi=lambda z: z / (1 + anp.exp(-z)),
                       dphi=lambda z: elementwise_grad(lambda u: u / (1 + anp.exp(-u)))(z),
                       ddphi=lambda z: np.zeros(np.shape(z)))
    z = np.linspace(-3.0, 3.0, 7)
    out = (np.empty(7), np.empty(7), np.empty(7))
    phi, dphi, ddphi = swish.evaluate(z, order=2, out=out)
    assert phi is out[0]
    np.testing.assert_allclose(phi, z / (1 + np.exp(-z)))
    np.testing.assert_allclose(dphi, swish.dphi(z))
    assert np.all(ddphi == 0.0)
    cubic = get_activation(lambda z: z**3 / 3, name="cubic")
    np.testing.assert_allclose(cubic.evaluate(z, order=2)[2], 2 * z)


def test_an_activation_needs_derivatives_or_a_kernel():
    with pytest.raises(TypeError, match="needs dphi and ddphi; ddphi missing"):
        Activation("half", phi=lambda z: z, dphi=lambda z: np.ones_like(z))
    with pytest.raises(TypeError, match="kernel must be callable"):
        Activation("bad", phi=lambda z: z, kernel=3)
    # given a kernel, φ′ and φ″ are read off it
    act = Activation("square", phi=lambda z: z * z,
                     kernel=get_activation("quadratic").kernel)
    np.testing.assert_array_equal(act.dphi(np.array([1.5])), [3.0])
    np.testing.assert_array_equal(act.ddphi(np.array([1.5])), [2.0])
