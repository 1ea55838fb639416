"""Activation functions φ with their first two derivatives and Gaussian moments.

Each :class:`Activation` carries three elementwise functions: ``phi`` written with
``autograd.numpy`` (so autograd can differentiate it: it is the definition), and ``dphi`` and
``ddphi`` written in plain numpy (the fast path, checked against autograd in the tests).

The Gaussian moments μ(σ) = E φ′(σg) and γ(σ) = E φ″(σg), g ~ N(0, 1), are the quantities of
Assumption 2.3 in Soltanolkotabi, Javanmard & Lee (2019). They are computed by adaptive
quadrature (:func:`scipy.integrate.quad_vec`) rather than a fixed Gauss–Hermite rule: a steep
activation such as softplus with b = 10 has a second derivative narrower than the spacing of
Gauss–Hermite nodes, and a 200-node rule misses γ(3) by more than half.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Callable

import autograd.numpy as anp
import autograd.scipy.special as aspecial
import numpy as np
from autograd import elementwise_grad
from scipy import integrate, special

from .validation import check_array, check_real

__all__ = ["Activation", "ACTIVATIONS", "get_activation"]


@dataclass(frozen=True, eq=False)
class Activation:
    """An elementwise activation φ with φ′, φ″ and its Gaussian moments.

    Build one with :func:`get_activation` (by name, or from any autograd-differentiable
    callable) rather than directly.

    Attributes
    ----------
    name : str
        Name, as accepted by :func:`get_activation` for the built-in activations.
    phi, dphi, ddphi : callable
        φ, φ′ and φ″, applied elementwise to an array. ``phi`` accepts autograd's traced
        arrays, so autograd can differentiate any function built on it.
    smooth : bool
        Whether φ is twice continuously differentiable. ReLU is not: its φ″ is 0 away from the
        kink and its curvature at 0 is invisible to derivatives.
    params : dict
        The activation's parameters (for example ``{"b": 4.0}`` for softplus).

    Examples
    --------
    >>> import numpy as np
    >>> from shallowlearn import get_activation
    >>> act = get_activation("softplus", b=4.0)
    >>> act
    Activation('softplus', b=4.0)
    >>> act.dphi(np.array([0.0]))
    array([0.5])
    """

    name: str
    phi: Callable = field(repr=False)
    dphi: Callable = field(repr=False)
    ddphi: Callable = field(repr=False)
    smooth: bool = True
    params: dict = field(default_factory=dict)

    def __repr__(self) -> str:
        args = "".join(f", {key}={value!r}" for key, value in self.params.items())
        return f"Activation({self.name!r}{args})"

    def __call__(self, z):
        """Apply φ elementwise."""
        return self.phi(z)

    @property
    def odd(self) -> bool:
        """Whether φ is odd, φ(−z) = −φ(z), checked on a grid; then the units (w, v) and
        (−w, −v) compute the same function.

        Examples
        --------
        >>> from shallowlearn import get_activation
        >>> get_activation("tanh").odd, get_activation("sigmoid").odd
        (True, False)
        """
        z = np.linspace(0.05, 5.0, 50)
        return bool(np.allclose(self.phi(-z), -self.phi(z), rtol=1e-12, atol=1e-12))

    def mu(self, sigma):
        """μ(σ) = E φ′(σg) for g ~ N(0, 1) (Assumption 2.3 of the paper).

        Parameters
        ----------
        sigma : float or array_like of non-negative floats

        Returns
        -------
        float or numpy.ndarray
            Same shape as ``sigma``.

        Examples
        --------
        >>> from shallowlearn import get_activation
        >>> round(get_activation("relu").mu(2.0), 6)
        0.5
        """
        return gaussian_expectation(self.dphi, sigma)

    def gamma(self, sigma):
        """γ(σ) = E φ″(σg) for g ~ N(0, 1) (Assumption 2.3 of the paper).

        For ReLU this is the expectation of the almost-everywhere second derivative, 0; the
        distributional value would be 1/(σ√(2π)).

        Examples
        --------
        >>> from shallowlearn import get_activation
        >>> round(get_activation("quadratic").gamma(0.3), 6)
        2.0
        """
        return gaussian_expectation(self.ddphi, sigma)


_G_MAX = 14.0


def gaussian_expectation(fn: Callable, sigma):
    """E fn(σg) for g ~ N(0, 1), for one σ or an array of them.

    Adaptive quadrature of fn(σg)·exp(−g²/2)/√(2π) over g, vectorized over σ.

    Examples
    --------
    >>> import numpy as np
    >>> from shallowlearn.activations import gaussian_expectation
    >>> round(float(gaussian_expectation(np.square, 3.0)), 8)
    9.0
    """
    if np.ndim(sigma) == 0:
        sig = np.array([check_real(sigma, "sigma", low=0.0)])
    else:
        sig = check_array(sigma, "sigma", ndim=np.ndim(sigma)).ravel()
        if np.any(sig < 0):
            raise ValueError("sigma must be non-negative; got a negative entry")
    norm = 1.0 / np.sqrt(2.0 * np.pi)

    def integrand(g):
        return fn(sig * g) * (norm * np.exp(-0.5 * g * g))

    # Beyond |g| = 14 the Gaussian weight is below 1e-42: cutting there loses nothing for any
    # activation of moderate growth, and keeps fn away from arguments where it may overflow.
    # The split at 0 is where ReLU-like activations have their kink.
    left, _ = integrate.quad_vec(integrand, -_G_MAX, 0.0, epsabs=1e-13, epsrel=1e-11)
    right, _ = integrate.quad_vec(integrand, 0.0, _G_MAX, epsabs=1e-13, epsrel=1e-11)
    values = left + right
    if np.ndim(sigma) == 0:
        return float(values[0])
    return values.reshape(np.shape(sigma))


# --- the built-in activations -------------------------------------------------------------


def _quadratic():
    return Activation(
        "quadratic",
        phi=lambda z: z * z,
        dphi=lambda z: 2.0 * z,
        ddphi=lambda z: np.full(np.shape(z), 2.0),
    )


def _softplus(b: float = 1.0):
    b = check_real(b, "b", low=0.0, strict=True)

    def ddphi(z):
        s = special.expit(b * z)
        return b * s * (1.0 - s)

    return Activation(
        "softplus",
        phi=lambda z: anp.logaddexp(0.0, b * z) / b,
        dphi=lambda z: special.expit(b * z),
        ddphi=ddphi,
        params={"b": b},
    )


def _sigmoid(b: float = 1.0):
    b = check_real(b, "b", low=0.0, strict=True)

    def dphi(z):
        s = special.expit(b * z)
        return b * s * (1.0 - s)

    def ddphi(z):
        s = special.expit(b * z)
        return b * b * s * (1.0 - s) * (1.0 - 2.0 * s)

    return Activation(
        "sigmoid",
        phi=lambda z: aspecial.expit(b * z),
        dphi=dphi,
        ddphi=ddphi,
        params={"b": b},
    )


def _tanh():
    def dphi(z):
        t = np.tanh(z)
        return 1.0 - t * t

    def ddphi(z):
        t = np.tanh(z)
        return -2.0 * t * (1.0 - t * t)

    return Activation("tanh", phi=anp.tanh, dphi=dphi, ddphi=ddphi)


_SQRT2 = np.sqrt(2.0)
_ERF_SLOPE = 2.0 / np.sqrt(np.pi)


def _erf():
    # The paper's Example 2.4 defines erf(z) = (2/√π) ∫_0^z exp(−t²/2) dt = √2·erf_std(z/√2),
    # so φ′(z) = (2/√π) exp(−z²/2), which differs from the textbook erf.
    def dphi(z):
        return _ERF_SLOPE * np.exp(-0.5 * z * z)

    return Activation(
        "erf",
        phi=lambda z: _SQRT2 * aspecial.erf(z / _SQRT2),
        dphi=dphi,
        ddphi=lambda z: -z * dphi(z),
    )


def _relu():
    return Activation(
        "relu",
        phi=lambda z: anp.where(z > 0, z, 0.0),
        dphi=lambda z: (np.asarray(z) > 0).astype(float),
        ddphi=lambda z: np.zeros(np.shape(z)),
        smooth=False,
    )


#: The built-in activations by name; the values are factories taking the parameters.
ACTIVATIONS: dict[str, Callable[..., Activation]] = {
    "quadratic": _quadratic,
    "softplus": _softplus,
    "sigmoid": _sigmoid,
    "tanh": _tanh,
    "erf": _erf,
    "relu": _relu,
}


def _from_callable(fn: Callable, name: str | None) -> Activation:
    probe = np.linspace(-2.0, 2.0, 7)
    try:
        out = np.asarray(fn(probe), dtype=float)
        second = elementwise_grad(elementwise_grad(fn))(probe)
    except Exception as err:  # the user's function failed: say which and why
        raise TypeError(
            "a callable activation must map a float array elementwise to a float array of the "
            f"same shape and be differentiable twice by autograd (use autograd.numpy); "
            f"calling it on a test array failed with {type(err).__name__}: {err}"
        ) from err
    if out.shape != probe.shape or not np.all(np.isfinite(out)) or not np.all(np.isfinite(second)):
        raise TypeError(
            "a callable activation must map a float array elementwise to finite values of the "
            f"same shape; on an array of shape {probe.shape} it returned shape {out.shape}"
        )
    dphi, ddphi = elementwise_grad(fn), elementwise_grad(elementwise_grad(fn))
    # A function written with plain numpy instead of autograd.numpy gets silently wrong
    # derivatives from autograd: compare with central differences before accepting it.
    h = 1e-5
    for order, derivative, lower in ((1, dphi, fn), (2, ddphi, dphi)):
        exact = derivative(probe)
        approx = (np.asarray(lower(probe + h)) - np.asarray(lower(probe - h))) / (2 * h)
        if not np.allclose(exact, approx, rtol=1e-4, atol=1e-4 * (1 + np.max(np.abs(approx)))):
            raise TypeError(
                f"autograd's derivative of order {order} of this activation disagrees with finite "
                "differences; write it with autograd.numpy (not numpy) so autograd can trace it"
            )
    return Activation(name or getattr(fn, "__name__", "custom"), phi=fn, dphi=dphi, ddphi=ddphi)


def get_activation(spec="quadratic", **params) -> Activation:
    """Look up an activation by name, or wrap a callable.

    Parameters
    ----------
    spec : str, Activation or callable
        A name from :data:`ACTIVATIONS` (``"quadratic"``, ``"softplus"``, ``"sigmoid"``,
        ``"tanh"``, ``"erf"``, ``"relu"``); an :class:`Activation` (returned unchanged); or
        an elementwise function written with ``autograd.numpy``, whose derivatives autograd
        then supplies.
    **params
        Parameters of a named activation: ``b`` (steepness, default 1) for softplus and
        sigmoid; ``name`` (a label) for a callable.

    Returns
    -------
    Activation

    Examples
    --------
    >>> import autograd.numpy as anp
    >>> from shallowlearn import get_activation
    >>> get_activation("sigmoid", b=4)
    Activation('sigmoid', b=4.0)
    >>> cubic = get_activation(lambda z: z ** 3 / 3, name="cubic")
    >>> float(cubic.ddphi(anp.array([2.0]))[0])
    4.0
    """
    if isinstance(spec, Activation):
        if params:
            raise TypeError(f"parameters {sorted(params)} cannot be applied to an existing {spec!r}")
        return spec
    if isinstance(spec, str):
        key = spec.lower()
        if key not in ACTIVATIONS:
            raise ValueError(
                f"unknown activation {spec!r}; expected one of {', '.join(ACTIVATIONS)} "
                "or a callable"
            )
        allowed = set(inspect.signature(ACTIVATIONS[key]).parameters)
        unknown = set(params) - allowed
        if unknown:
            raise TypeError(
                f"activation {key!r} takes the parameters {sorted(allowed)}; "
                f"got {sorted(unknown)}"
            )
        return ACTIVATIONS[key](**params)
    if callable(spec):
        unknown = set(params) - {"name"}
        if unknown:
            raise TypeError(f"a callable activation takes only name=...; got {sorted(unknown)}")
        return _from_callable(spec, params.get("name"))
    raise TypeError(
        f"activation must be a name, an Activation or a callable; got {type(spec).__name__}"
    )
