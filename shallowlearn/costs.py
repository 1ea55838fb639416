r"""What curvature costs: the measurements that choose between dense and matrix-free routes.

Curvature at a point can be had two ways. The dense way forms the Hessian (p Hessian-vector
products, or one block product of p columns) and diagonalizes it, :math:`O(p^3)`, up to
p = :data:`~shallowlearn.spectrum.DENSE_LIMIT`. The matrix-free way uses products only: a
Krylov solve of a second-order model (about twenty products on the problems of this package),
or the iterative spectrum of :func:`~shallowlearn.spectrum.hessian_spectrum` (a few dozen
products and some fixed overhead). Which is cheaper depends on p, on what one product costs
and on the machine, so the second-order solvers and the certificate of every solver's result
choose by :func:`curvature_costs`, which measures, once per objective:

- ``product``: the best of three timings of one Hessian-vector product at the first point;
- ``dense``: the time to form the dense Hessian (p columns at the per-column time of one timed
  block product of 16 columns, or p single products when the eigendecomposition alone already
  costs more than :data:`TYPICAL_KRYLOV_PRODUCTS` products) plus the time of
  :func:`numpy.linalg.eigh` of size p (timed once per process at size min(p, 160) and scaled
  as :math:`p^3`); infinite above ``DENSE_LIMIT``;
- ``spectrum``: :data:`SPECTRUM_PRODUCTS` products plus the fixed overhead of the iterative
  spectrum, timed once per process on a small problem (only when it can matter, that is when
  ``dense`` exceeds the products alone).

The measurement is kept for the objective, so that every run on the same objective in a
process chooses alike and repeated runs give identical results; its products are not counted
in a result's ``n_hvp``.
"""

from __future__ import annotations

import time
import weakref
from dataclasses import dataclass

import numpy as np

from . import spectrum

__all__ = ["SPECTRUM_PRODUCTS", "TYPICAL_KRYLOV_PRODUCTS", "CurvatureCosts", "curvature_costs"]

#: Products of a typical Krylov solve of a trust-region or cubic model on this package's
#: problems (scipy's trust-krylov uses 13 to 17 per step on the benchmark's problems).
TYPICAL_KRYLOV_PRODUCTS = 20

#: Products of a typical call of the iterative spectrum for the smallest and largest pair
#: (25 near a minimum, about 90 at a random point, on the benchmark's problems).
SPECTRUM_PRODUCTS = 60

_EIGH_SIZE = 160  # eigh is timed at most at this size and scaled as p³ above it
_BLOCK = 16  # columns of the timed block product
_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_EIGH_SECONDS: dict[int, float] = {}
_SPECTRUM_OVERHEAD: list[float] = []


@dataclass(frozen=True)
class CurvatureCosts:
    """Measured costs of curvature for one objective on this machine, in seconds.

    Attributes
    ----------
    p : int
        Number of parameters.
    product : float
        One Hessian-vector product at a point (the forward pass already done).
    dense : float
        Forming and diagonalizing the dense Hessian; ``inf`` when p exceeds
        :data:`~shallowlearn.spectrum.DENSE_LIMIT` at measurement time.
    spectrum : float
        The iterative spectrum's smallest and largest pair (a model; a lower bound when
        ``dense`` is below it anyway).

    Examples
    --------
    >>> import numpy as np
    >>> from shallowlearn import Objective, random_labels
    >>> from shallowlearn.costs import curvature_costs
    >>> data = random_labels(n=30, d=8, rng=0)
    >>> obj = Objective(data.X, data.y, "quadratic", v=np.r_[np.ones(8), -np.ones(8)])
    >>> costs = curvature_costs(obj, obj.at(np.zeros(obj.p)))
    >>> costs.p, costs.product > 0, costs.dense > costs.product
    (128, True, True)
    """

    p: int
    product: float
    dense: float
    spectrum: float

    def dense_affordable(self) -> bool:
        r"""Whether the dense route is allowed now: :math:`p \le` ``DENSE_LIMIT`` (read at each
        call)."""
        return self.p <= spectrum.DENSE_LIMIT and np.isfinite(self.dense)

    def krylov_budget(self) -> int | None:
        """Products that cost as much as one dense solve (None if the dense route is not
        allowed): a Krylov solve that needs more should have been dense."""
        if not self.dense_affordable():
            return None
        return max(1, int(self.dense / self.product))

    def prefers_krylov(self) -> bool:
        """Whether a typical Krylov solve (:data:`TYPICAL_KRYLOV_PRODUCTS` products) is
        cheaper than the dense solve, or the dense route is not allowed."""
        budget = self.krylov_budget()
        return budget is None or budget >= TYPICAL_KRYLOV_PRODUCTS

    def prefers_dense_spectrum(self) -> bool:
        r"""Whether the dense eigendecomposition is the cheaper route to :math:`\lambda_{\min}`."""
        return self.dense_affordable() and self.dense <= self.spectrum


def curvature_costs(objective, point) -> CurvatureCosts:
    """The costs of curvature for ``objective``, measured at ``point`` on first call.

    Parameters
    ----------
    objective : Objective or another objective of the package
    point
        An evaluation point of ``objective`` (``objective.at(theta)``), where the products
        are timed. Later calls for the same objective return the first measurement.

    Returns
    -------
    CurvatureCosts

    Examples
    --------
    >>> import numpy as np
    >>> from shallowlearn import Objective, random_labels
    >>> from shallowlearn.costs import curvature_costs
    >>> data = random_labels(n=20, d=4, rng=0)
    >>> obj = Objective(data.X, data.y, "quadratic", v=[1.0, -1.0])
    >>> first = curvature_costs(obj, obj.at(np.ones(obj.p)))
    >>> curvature_costs(obj, obj.at(np.zeros(obj.p))) is first   # kept for the objective
    True
    """
    try:
        return _CACHE[objective]
    except (KeyError, TypeError):
        pass
    p = objective.p
    u = np.full(p, 1.0 / np.sqrt(p))
    product = _best(lambda: point.hvp(u), 3)
    dense = spectrum_cost = np.inf
    if p <= spectrum.DENSE_LIMIT:
        eigh = _eigh_seconds(p)
        if eigh >= TYPICAL_KRYLOV_PRODUCTS * product:
            dense = p * product + eigh
        else:
            b = min(p, _BLOCK)
            block = np.eye(p)[:, :b]
            dense = p * _best(lambda: point.hvp(block), 2) / b + eigh
    products = SPECTRUM_PRODUCTS * product
    spectrum_cost = products + (_spectrum_overhead() if dense > products else 0.0)
    costs = CurvatureCosts(p=p, product=product, dense=dense, spectrum=spectrum_cost)
    try:
        _CACHE[objective] = costs
    except TypeError:  # an objective that cannot be weakly referenced is measured each time
        pass
    return costs


def _best(fn, repeat: int) -> float:
    best = np.inf
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return max(best, 1e-9)


def _eigh_seconds(p: int) -> float:
    """Seconds of numpy.linalg.eigh of size p: timed at min(p, 160), scaled as p³."""
    size = min(p, _EIGH_SIZE)
    if size not in _EIGH_SECONDS:
        A = np.random.default_rng(0).normal(size=(size, size))
        A = A + A.T
        _EIGH_SECONDS[size] = _best(lambda: np.linalg.eigh(A), 3)
    return _EIGH_SECONDS[size] * (p / size) ** 3


def _spectrum_overhead() -> float:
    """The fixed cost of the iterative spectrum: its time on a small problem (p = 40)."""
    if not _SPECTRUM_OVERHEAD:
        from .objective import Objective

        rng = np.random.default_rng(0)
        obj = Objective(rng.normal(size=(30, 5)), rng.normal(size=30), "quadratic",
                        v=np.r_[np.ones(4), -np.ones(4)])
        theta = rng.normal(size=obj.p) / np.sqrt(5)
        _SPECTRUM_OVERHEAD.append(_best(
            lambda: spectrum.hessian_spectrum(obj, theta, method="iterative", rng=0), 2))
    return _SPECTRUM_OVERHEAD[0]
