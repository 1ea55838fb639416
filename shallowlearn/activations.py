r"""Activation functions :math:`\phi` with their first two derivatives and Gaussian moments.

Each :class:`Activation` carries ``phi`` written with ``autograd.numpy`` (so autograd can
differentiate it: it is the definition) and a fused evaluation, :meth:`Activation.evaluate`,
which computes :math:`\phi`, :math:`\phi'` and, when asked, :math:`\phi''` in one pass into
preallocated arrays. For the built-in activations that pass is a kernel of
:mod:`shallowlearn.kernels` (checked against autograd and high-precision arithmetic in the
tests), and ``dphi`` and ``ddphi`` are read off it, so each derivative has one formula. An
activation built from separate functions :math:`\phi, \phi', \phi''` (or from a callable, whose
derivatives autograd supplies) is evaluated by calling them in turn.

The Gaussian moments :math:`\mu(\sigma) = \mathbb E\,\phi'(\sigma g)` and
:math:`\gamma(\sigma) = \mathbb E\,\phi''(\sigma g)`, :math:`g \sim \mathcal N(0, 1)`, are the
quantities of Assumption 2.3 in Soltanolkotabi, Javanmard & Lee (2019). They are computed by
adaptive quadrature (:func:`scipy.integrate.quad_vec`) rather than a fixed Gauss–Hermite rule: a
steep activation such as softplus with :math:`b = 10` has a second derivative narrower than the
spacing of Gauss–Hermite nodes, and a 200-node rule misses :math:`\gamma(3)` by more than half.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Callable

import autograd.numpy as anp
import autograd.scipy.special as aspecial
import numpy as np
from autograd import elementwise_grad
from scipy import integrate

from . import kernels
from .validation import check_array, check_real

__all__ = ["Activation", "ACTIVATIONS", "get_activation"]


@dataclass(frozen=True, eq=False)
class Activation:
    r"""An elementwise activation :math:`\phi` with :math:`\phi'`, :math:`\phi''`, a fused
    evaluation and its Gaussian moments.

    Build one with :func:`get_activation` (by name, or from any autograd-differentiable
    callable), or directly from three functions :math:`\phi, \phi', \phi''`.

    Attributes
    ----------
    name : str
        Name, as accepted by :func:`get_activation` for the built-in activations.
    phi, dphi, ddphi : callable
        :math:`\phi`, :math:`\phi'` and :math:`\phi''`, applied elementwise to an array.
        ``phi`` accepts autograd's traced
        arrays, so autograd can differentiate any function built on it. Given a ``kernel``,
        ``dphi`` and ``ddphi`` may be omitted: they are then read off :meth:`evaluate`.
    smooth : bool
        Whether :math:`\phi` is twice continuously differentiable. ReLU is not: its
        :math:`\phi''` is 0 away from the kink and its curvature at 0 is invisible to
        derivatives.
    params : dict
        The activation's parameters (for example ``{"b": 4.0}`` for softplus).
    kernel : callable or None
        ``kernel(z, order, out, work)`` writes :math:`\phi(z), \phi'(z), \phi''(z)` (up to
        ``order``) into the arrays of ``out`` using ``work`` as scratch (see
        :mod:`shallowlearn.kernels`); None evaluates ``phi``, ``dphi`` and ``ddphi`` in turn.

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
    dphi: Callable | None = field(default=None, repr=False)
    ddphi: Callable | None = field(default=None, repr=False)
    smooth: bool = True
    params: dict = field(default_factory=dict)
    kernel: Callable | None = field(default=None, repr=False)

    def __post_init__(self):
        for label in ("phi", "dphi", "ddphi", "kernel"):
            value = getattr(self, label)
            if value is not None and not callable(value):
                raise TypeError(f"{label} must be callable; got {type(value).__name__}")
        if not callable(self.phi):
            raise TypeError("phi must be callable; got None")
        if self.kernel is None:
            missing = [label for label in ("dphi", "ddphi") if getattr(self, label) is None]
            if missing:
                raise TypeError(f"an Activation without a kernel needs dphi and ddphi; "
                                f"{' and '.join(missing)} missing")
            object.__setattr__(self, "kernel", _one_by_one(self.phi, self.dphi, self.ddphi))
        for order, label in ((1, "dphi"), (2, "ddphi")):
            if getattr(self, label) is None:
                object.__setattr__(self, label, _read_off(self, order))

    def __repr__(self) -> str:
        args = "".join(f", {key}={value!r}" for key, value in self.params.items())
        return f"Activation({self.name!r}{args})"

    def __call__(self, z):
        """Apply φ elementwise."""
        return self.phi(z)

    def evaluate(self, z, order: int = 1, out=None, work=None) -> tuple:
        r""":math:`\phi(z)`, :math:`\phi'(z)` and, for ``order=2``, :math:`\phi''(z)` in one
        pass, optionally into given arrays.

        Parameters
        ----------
        z : array_like
            Pre-activations; never modified.
        order : {0, 1, 2}
            The highest derivative wanted.
        out : sequence of order + 1 numpy.ndarray, optional
            Writeable float64 arrays of z's shape that receive :math:`\phi, \phi', \phi''`;
            new ones by default. They must not overlap z, ``work`` or each other.
        work : numpy.ndarray, optional
            A writeable float64 array of z's shape the evaluation may overwrite (scratch);
            a new one by default. Passing ``out`` and ``work`` makes the call allocate nothing.

        Returns
        -------
        tuple of numpy.ndarray
            :math:`(\phi, \phi')` for order 1, :math:`(\phi,)` for order 0,
            :math:`(\phi, \phi', \phi'')` for order 2: the arrays of ``out`` when given.

        Examples
        --------
        >>> import numpy as np
        >>> from shallowlearn import get_activation
        >>> z = np.array([-1000.0, 0.0, 1000.0])
        >>> phi, dphi, ddphi = get_activation("softplus", b=10).evaluate(z, order=2)
        >>> phi.tolist(), dphi.tolist(), ddphi.tolist()
        ([0.0, 0.06931471805599453, 1000.0], [0.0, 0.5, 1.0], [0.0, 2.5, 0.0])
        >>> buffers = (np.empty(3), np.empty(3))
        >>> get_activation("tanh").evaluate(z, out=buffers, work=np.empty(3))[0] is buffers[0]
        True
        """
        if isinstance(order, bool) or order not in (0, 1, 2):
            raise ValueError(f"order must be 0, 1 or 2; got {order!r}")
        z = np.asarray(z, dtype=np.float64)
        if out is None:
            out = tuple(np.empty_like(z) for _ in range(order + 1))
        else:
            out = _check_buffers(out, "out", z, order + 1)
        if work is None:
            work = np.empty_like(z)
        else:
            [work] = _check_buffers([work], "work", z, 1)
        for i, array in enumerate((*out, work)):
            others = (z, *out[i + 1:], work) if i < len(out) else (z,)
            if any(np.may_share_memory(array, other) for other in others):
                raise ValueError("the arrays of out and work must not overlap z or each other")
        self.kernel(z, order, out, work)
        return out

    @property
    def odd(self) -> bool:
        r"""Whether :math:`\phi` is odd, :math:`\phi(-z) = -\phi(z)`, checked on a grid; then
        the units :math:`(w, v)` and :math:`(-w, -v)` compute the same function.

        Examples
        --------
        >>> from shallowlearn import get_activation
        >>> get_activation("tanh").odd, get_activation("sigmoid").odd
        (True, False)
        """
        z = np.linspace(0.05, 5.0, 50)
        return bool(np.allclose(self.phi(-z), -self.phi(z), rtol=1e-12, atol=1e-12))

    def mu(self, sigma):
        r""":math:`\mu(\sigma) = \mathbb E\,\phi'(\sigma g)` for :math:`g \sim \mathcal N(0, 1)`
        (Assumption 2.3 of the paper).

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
        r""":math:`\gamma(\sigma) = \mathbb E\,\phi''(\sigma g)` for
        :math:`g \sim \mathcal N(0, 1)` (Assumption 2.3 of the paper).

        For ReLU this is the expectation of the almost-everywhere second derivative, 0; the
        distributional value would be :math:`1/(\sigma\sqrt{2\pi})`.

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


# --- evaluation helpers ----------------------------------------------------------------------


def _one_by_one(phi: Callable, dphi: Callable, ddphi: Callable) -> Callable:
    """A kernel that calls φ, φ′, φ″ in turn (for activations given as separate functions)."""

    def kernel(z, order, out, work):
        for array, fn in zip(out, (phi, dphi, ddphi)[: order + 1]):
            array[...] = fn(z)

    return kernel


def _read_off(act: Activation, order: int) -> Callable:
    """The derivative of the given order, read off the fused evaluation."""

    def derivative(z):
        return act.evaluate(z, order)[order]

    return derivative


def _check_buffers(arrays, name: str, z: np.ndarray, count: int) -> tuple:
    if not isinstance(arrays, (tuple, list)) or len(arrays) != count:
        raise ValueError(f"{name} must be a sequence of {count} arrays; got {arrays!r:.60}")
    for array in arrays:
        if (not isinstance(array, np.ndarray) or array.dtype != np.float64
                or array.shape != z.shape or not array.flags.writeable):
            raise ValueError(
                f"{name} must hold writeable float64 arrays of shape {z.shape}; got "
                f"{type(array).__name__} {getattr(array, 'dtype', '')} of shape "
                f"{getattr(array, 'shape', None)}")
    return tuple(arrays)


# --- the built-in activations -------------------------------------------------------------


def _quadratic():
    return Activation("quadratic", phi=lambda z: z * z, kernel=kernels.quadratic)


def _softplus(b: float = 1.0):
    b = check_real(b, "b", low=0.0, strict=True)
    return Activation("softplus", phi=lambda z: anp.logaddexp(0.0, b * z) / b,
                      kernel=kernels.softplus(b), params={"b": b})


def _sigmoid(b: float = 1.0):
    b = check_real(b, "b", low=0.0, strict=True)
    return Activation("sigmoid", phi=lambda z: aspecial.expit(b * z),
                      kernel=kernels.sigmoid(b), params={"b": b})


def _tanh():
    return Activation("tanh", phi=anp.tanh, kernel=kernels.tanh)


_SQRT2 = np.sqrt(2.0)


def _erf():
    # The paper's Example 2.4 defines erf(z) = (2/√π) ∫_0^z exp(−t²/2) dt = √2·erf_std(z/√2),
    # so φ′(z) = (2/√π) exp(−z²/2), which differs from the textbook erf.
    return Activation("erf", phi=lambda z: _SQRT2 * aspecial.erf(z / _SQRT2), kernel=kernels.erf)


def _relu():
    return Activation("relu", phi=lambda z: anp.where(z > 0, z, 0.0), kernel=kernels.relu,
                      smooth=False)


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
