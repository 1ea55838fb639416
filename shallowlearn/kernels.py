r"""Fused elementwise kernels: :math:`\phi`, :math:`\phi'` and :math:`\phi''` of the built-in
activations in one pass.

Each kernel ``kernel(z, order, out, work)`` reads the pre-activations ``z`` (never writing
them), writes :math:`\phi(z)` into ``out[0]``, :math:`\phi'(z)` into ``out[1]`` when
``order >= 1`` and :math:`\phi''(z)` into ``out[2]`` when ``order`` is 2, and may overwrite
``work``, an array of z's shape, as scratch. Every operation writes into one of those arrays,
so a caller that keeps them (the batched engine) allocates nothing per evaluation.
:meth:`~shallowlearn.activations.Activation.evaluate` is the checked entry point; these
functions trust their arguments.

The derivatives share their transcendental work: softplus and sigmoid with slope :math:`b`
both come from :math:`e = \exp(-b|z|)`, which is at most 1, so nothing overflows for any
:math:`z`, and every quantity is formed without subtracting nearly equal numbers:

* :math:`\sigma(bz) = N/(1 + e)` with :math:`N = 1` for :math:`z > 0` and :math:`N = e` for
  :math:`z < 0` (:math:`N = \max([z > 0], e)`);
* softplus: :math:`\phi = \max(z, 0) + \operatorname{log1p}(e)/b`, :math:`\phi' = \sigma(bz)`,
  :math:`\phi'' = b \cdot e/(1 + e)^2`;
* sigmoid: :math:`\phi = \sigma(bz)`, :math:`\phi' = b \cdot e/(1 + e)^2`,
  :math:`\phi'' = b \cdot \phi' \cdot (1 - 2\sigma(bz))`, where
  :math:`1 - 2\sigma(bz) = -\operatorname{sign}(z) \tanh(b|z|/2)` is taken from
  :math:`m = \operatorname{expm1}(-b|z|)` as :math:`\operatorname{sign}(z) \cdot m/(1 + e)`;
* tanh: with :math:`m = \operatorname{expm1}(-2|z|)` and :math:`E = \exp(-2|z|) = 1 + m`
  (:math:`E` computed by exp, so that it keeps its relative accuracy when it is tiny),
  :math:`\tanh(|z|) = -m/(1 + E)`, :math:`\phi' = 4E/(1 + E)^2` and :math:`\phi'' = -2\phi\phi'`;
* erf (the paper's, :math:`\sqrt 2 \operatorname{erf}(z/\sqrt 2)`):
  :math:`\phi' = (2/\sqrt\pi) \exp(-z^2/2)`, with :math:`z^2` taken exactly, and
  :math:`\phi'' = -z\phi'`.

Each value is accurate to a few units in the last place relative to itself, including the
tails where a naive formula (:math:`\log(1 + \exp(bz))`, :math:`1 - \tanh^2`, :math:`s(1 - s)`)
overflows or cancels.
"""

from __future__ import annotations

import numpy as np
from scipy import special

__all__ = ["erf", "quadratic", "relu", "sigmoid", "softplus", "tanh"]

_SQRT2 = np.sqrt(2.0)
_ERF_SLOPE = 2.0 / np.sqrt(np.pi)
_ERF_CLIP = 40.0  # exp(−40²/2) underflows to 0
_ERF_GRID = 1.5 * 2.0**32  # x + _ERF_GRID − _ERF_GRID rounds x (below 2⁶) to a multiple of 2⁻²⁰


def quadratic(z, order, out, work):
    r""":math:`\phi(z) = z^2`, :math:`\phi' = 2z`, :math:`\phi'' = 2`.

    Examples
    --------
    >>> import numpy as np
    >>> from shallowlearn import kernels
    >>> out = (np.empty(2), np.empty(2))
    >>> kernels.quadratic(np.array([1.0, -3.0]), 1, out, np.empty(2))
    >>> out
    (array([1., 9.]), array([ 2., -6.]))
    """
    np.multiply(z, z, out=out[0])
    if order >= 1:
        np.multiply(z, 2.0, out=out[1])
    if order >= 2:
        out[2].fill(2.0)


def _exp_neg_abs(z, b, dest, absolute=None):
    """dest = exp(−b·abs(z)), in (0, 1]; abs(z) is left in ``absolute`` if given."""
    absolute = dest if absolute is None else absolute
    np.abs(z, out=absolute)
    np.multiply(absolute, -b, out=dest)
    np.exp(dest, out=dest)


def _numerator(z, e, dest):
    """dest = N = max([z > 0], e): 1 for z > 0, e for z < 0 (and e = 1 at z = 0), given
    e = exp(−b·abs(z)). (The comparison and a maximum of two arrays cost half of sign and a
    maximum with a scalar.)"""
    np.greater(z, 0.0, out=dest, casting="unsafe")
    np.maximum(dest, e, out=dest)


def _logistic(e, dest):
    """dest = N/(1 + e) = σ(bz), given e = exp(−b·abs(z)) and N (:func:`_numerator`) in ``dest``
    on entry; ``e`` is left holding 1 + e."""
    np.add(e, 1.0, out=e)
    np.divide(dest, e, out=dest)


def softplus(b):
    r"""The kernel of :math:`\phi(z) = \log(1 + \exp(bz))/b`, :math:`\phi' = \sigma(bz)`,
    :math:`\phi'' = b\,\sigma(bz)\,\sigma(-bz)`.

    Examples
    --------
    >>> import numpy as np
    >>> from shallowlearn import kernels
    >>> out = (np.empty(2), np.empty(2), np.empty(2))
    >>> kernels.softplus(2.0)(np.array([0.0, -800.0]), 2, out, np.empty(2))
    >>> [float(out[0][0] * 2 / np.log(2)), out[1].tolist(), out[2].tolist()]
    [1.0, [0.5, 0.0], [0.5, 0.0]]
    """

    def kernel(z, order, out, work):
        phi, e = out[0], work
        # φ = (2 max(z, 0) + 2 log1p(e)/b)/2; without a φ′ buffer (order 0), 2 max(z, 0) is
        # formed in φ's and 2 log1p(e)/b in the scratch, the same operations either way
        twice_max, twice_log = (out[1], phi) if order >= 1 else (phi, e)
        _exp_neg_abs(z, b, e, absolute=twice_max)
        np.add(z, twice_max, out=twice_max)  # z + abs(z) = 2 max(z, 0), exactly
        np.log1p(e, out=twice_log)
        np.multiply(twice_log, 2.0 / b, out=twice_log)
        np.add(twice_log, twice_max, out=phi)
        np.multiply(phi, 0.5, out=phi)
        if order == 0:
            return
        if order == 2:
            np.multiply(e, b, out=out[2])
        _numerator(z, e, out[1])
        _logistic(e, out[1])
        if order == 2:
            np.divide(out[2], e, out=out[2])
            np.divide(out[2], e, out=out[2])

    return kernel


def sigmoid(b):
    r"""The kernel of :math:`\phi(z) = \sigma(bz) = 1/(1 + \exp(-bz))`,
    :math:`\phi' = b\,\sigma(1 - \sigma)`, :math:`\phi'' = b^2 \sigma(1 - \sigma)(1 - 2\sigma)`.

    Examples
    --------
    >>> import numpy as np
    >>> from shallowlearn import kernels
    >>> out = (np.empty(3), np.empty(3), np.empty(3))
    >>> kernels.sigmoid(1.0)(np.array([1.0, 800.0, -800.0]), 2, out, np.empty(3))
    >>> [values.round(4).tolist() for values in out]
    [[0.7311, 1.0, 0.0], [0.1966, 0.0, 0.0], [-0.0909, -0.0, 0.0]]
    """

    def kernel(z, order, out, work):
        phi, e = out[0], work
        _exp_neg_abs(z, b, e)
        if order >= 1:
            np.multiply(e, b, out=out[1])  # b·e, divided by (1 + e)² below
        _numerator(z, e, phi)
        _logistic(e, phi)
        if order == 0:
            return
        np.divide(out[1], e, out=out[1])
        np.divide(out[1], e, out=out[1])
        if order == 2:
            ddphi = out[2]
            np.abs(z, out=ddphi)
            np.multiply(ddphi, -b, out=ddphi)
            np.expm1(ddphi, out=ddphi)
            np.divide(ddphi, e, out=ddphi)  # m/(1 + e) = −tanh(b·abs(z)/2)
            np.copysign(ddphi, z, out=ddphi)  # abs(1 − 2σ) with the sign of z
            np.multiply(ddphi, out[1], out=ddphi)
            np.multiply(ddphi, -b, out=ddphi)

    return kernel


def tanh(z, order, out, work):
    r""":math:`\phi(z) = \tanh(z)`, :math:`\phi' = 1 - \tanh^2`,
    :math:`\phi'' = -2 \tanh \cdot (1 - \tanh^2)`.

    Examples
    --------
    >>> import numpy as np
    >>> from shallowlearn import kernels
    >>> out = (np.empty(2), np.empty(2))
    >>> kernels.tanh(np.array([0.0, -30.0]), 1, out, np.empty(2))
    >>> out[0].tolist(), bool(np.isclose(out[1][1], 4 * np.exp(-60.0), rtol=1e-15))
    ([0.0, -1.0], True)
    """
    phi, one_plus = out[0], work
    np.abs(z, out=phi)
    np.multiply(phi, -2.0, out=phi)
    if order >= 1:
        np.exp(phi, out=out[1])  # E = exp(−2·abs(z))
    np.expm1(phi, out=phi)  # m = E − 1
    np.add(phi, 2.0, out=one_plus)  # 1 + E, from m: accurate for every z
    np.divide(phi, one_plus, out=phi)  # −tanh(abs(z))
    np.copysign(phi, z, out=phi)
    if order == 0:
        return
    dphi = out[1]
    np.multiply(dphi, 4.0, out=dphi)
    np.divide(dphi, one_plus, out=dphi)
    np.divide(dphi, one_plus, out=dphi)
    if order == 2:
        np.multiply(phi, dphi, out=out[2])
        np.multiply(out[2], -2.0, out=out[2])


def erf(z, order, out, work):
    r"""The paper's erf (Example 2.4),
    :math:`\phi(z) = (2/\sqrt\pi)\int_0^z \exp(-t^2/2)\,dt = \sqrt 2 \operatorname{erf}(z/\sqrt 2)`.

    :math:`\phi' = (2/\sqrt\pi) \exp(-z^2/2)`. Rounding :math:`z^2` would cost a relative
    error of :math:`z^2/2` units in the last place, so :math:`z` (clipped to 40 in size, past
    which :math:`\phi'` underflows to 0) is split as :math:`w + u` with :math:`w` on a grid of
    :math:`2^{-20}`, whose square is exact, and :math:`u` below :math:`2^{-20}` in size:
    :math:`\exp(-z^2/2) = \exp(-w^2/2) \exp(-\delta)` with :math:`\delta = u(w + u/2)`, and
    :math:`\exp(-\delta)` is a short series.

    Examples
    --------
    >>> import numpy as np
    >>> from shallowlearn import kernels
    >>> out = (np.empty(1), np.empty(1), np.empty(1))
    >>> kernels.erf(np.array([0.0]), 2, out, np.empty(1))
    >>> round(float(out[1][0] ** 2 * np.pi), 12), float(out[2][0])
    (4.0, -0.0)
    """
    phi = out[0]
    if order >= 1:
        dphi, scratch = out[1], phi  # φ is written last, so its array serves as scratch
        np.clip(z, -_ERF_CLIP, _ERF_CLIP, out=work)
        np.add(work, _ERF_GRID, out=dphi)
        np.subtract(dphi, _ERF_GRID, out=dphi)  # w, exactly
        np.subtract(work, dphi, out=work)  # u = z − w, exactly
        np.multiply(work, 0.5, out=scratch)
        np.add(scratch, dphi, out=scratch)
        np.multiply(scratch, work, out=scratch)  # δ = u(w + u/2), below 2⁻¹⁵ in size
        np.multiply(dphi, dphi, out=work)  # w², exactly
        np.multiply(work, -0.5, out=work)
        np.exp(work, out=work)  # exp(−w²/2)
        # times exp(−δ) = 1 − δ(1 − δ(1/2 − δ/6)), to within δ⁴/24 < 10⁻¹⁹
        np.multiply(scratch, -1.0 / 6.0, out=dphi)
        np.add(dphi, 0.5, out=dphi)
        for _ in range(2):
            np.multiply(dphi, scratch, out=dphi)
            np.subtract(1.0, dphi, out=dphi)
        np.multiply(dphi, work, out=dphi)
        np.multiply(dphi, _ERF_SLOPE, out=dphi)
        if order == 2:
            np.multiply(z, dphi, out=out[2])
            np.negative(out[2], out=out[2])
    np.divide(z, _SQRT2, out=phi)
    special.erf(phi, out=phi)
    np.multiply(phi, _SQRT2, out=phi)


def relu(z, order, out, work):
    r""":math:`\phi(z) = \max(z, 0)`, :math:`\phi' = 1` for :math:`z > 0` and 0 otherwise,
    :math:`\phi'' = 0` (away from the kink).

    Examples
    --------
    >>> import numpy as np
    >>> from shallowlearn import kernels
    >>> out = (np.empty(3), np.empty(3))
    >>> kernels.relu(np.array([-1.0, 0.0, 2.0]), 1, out, np.empty(3))
    >>> out
    (array([0., 0., 2.]), array([0., 0., 1.]))
    """
    np.maximum(z, 0.0, out=out[0])
    if order >= 1:
        np.heaviside(z, 0.0, out=out[1])
    if order == 2:
        out[2].fill(0.0)
