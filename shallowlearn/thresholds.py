r"""Sample counts at which a planted quadratic network's training data pin down its teacher.

A quadratic network with output weights :math:`v = \mathbf 1` computes :math:`x \mapsto x^\top Mx`
with :math:`M = W^\top W`, so a student of width :math:`k \ge d` can reach every positive
semidefinite (PSD) :math:`d\times d` matrix, and the data of a teacher :math:`M^\star` (rank
:math:`r`) fit exactly by every PSD :math:`M` with :math:`x_i^\top Mx_i = x_i^\top M^\star x_i` for
all :math:`i`: a convex set, which holds :math:`M^\star` and every zero-training-loss student. The
student generalizes for sure only when that set is the single point :math:`M^\star`. Two counts
of dimensions bracket the number of samples :math:`n` at which it is:

* :func:`rank_manifold_dimension`, :math:`dr - r(r - 1)/2`, the dimension of the set of PSD
  matrices of rank :math:`r` (an :math:`r`-dimensional column space, :math:`dr - r^2`, and an
  :math:`r\times r` PD matrix on it, :math:`r(r + 1)/2`): with fewer samples, even the students
  of the teacher's own rank are not determined;
* :func:`descent_cone_dimension`, that count plus :math:`(d - r)(d - r + 1)/4`, the statistical
  dimension of the PSD cone's tangent cone at :math:`M^\star`, the block that lives on
  :math:`M^\star`'s column space and its coupling to the complement (a subspace of dimension
  :math:`dr - r(r - 1)/2`) plus the PSD cone of the :math:`(d - r)`-dimensional complement, whose
  statistical dimension is half its dimension because the cone is self-dual. For Gaussian
  measurements :math:`\langle A_i, M\rangle` the convex feasibility problem recovers
  :math:`M^\star` with high probability once :math:`n` exceeds this, and fails below it
  (Amelunxen, Lotz, McCoy & Tropp 2014); the measurements :math:`x_i x_i^\top` here are not
  Gaussian, so for them it is a comparison, not a theorem.

For a full-rank teacher (:math:`r \ge d`: a teacher at least as wide as :math:`d` has a
full-rank :math:`M^\star` almost surely) both counts equal :math:`d(d + 1)/2`, the dimension of
all symmetric matrices, which is the sample complexity of Gamarnik, Kızıldağ & Zadik (2019). In
the scaling :math:`n = \alpha d^2`, :math:`r = \kappa d` of Sarao Mannelli, Vanden-Eijnden &
Zdeborová (2020), :func:`alpha_thresholds` gives them over :math:`d^2`, at a given :math:`d` or
in the limit :math:`d \to \infty`: :math:`\alpha = \kappa - \kappa^2/2` and
:math:`\alpha = 1/4 + \kappa/2 - \kappa^2/4` for :math:`\kappa < 1`, both :math:`1/2` for
:math:`\kappa \ge 1`.

For one data set, :func:`psd_uniqueness` decides the question itself, with a certificate.
Write :math:`M^\star = U\Lambda U^\top` (:math:`U`: :math:`d\times r`, orthonormal) and :math:`V`
for an orthonormal basis of the complement. Every PSD :math:`M` that fits the data differs from
:math:`M^\star` by a :math:`\Delta` with :math:`x_i^\top\Delta x_i = 0` for all :math:`i` and
:math:`V^\top\Delta V = V^\top MV \succeq 0`. Suppose some :math:`\lambda \in \mathbb R^n` makes
:math:`Y = \sum_i \lambda_i x_i x_i^\top` vanish on :math:`U` (:math:`YU = 0`) and
:math:`V^\top YV` positive definite. Then

.. math::

    0 = \sum_i \lambda_i x_i^\top\Delta x_i = \langle Y, \Delta\rangle
      = \langle V^\top YV, V^\top\Delta V\rangle

forces :math:`V^\top\Delta V = 0`, so :math:`\Delta` lies in the subspace
:math:`L = \{\Delta : V^\top\Delta V = 0\}`, of dimension :math:`dr - r(r - 1)/2`; if the data's
measurements are injective on :math:`L`, :math:`\Delta = 0` and :math:`M^\star` is the only PSD
fit. The condition :math:`YU = 0` is linear in :math:`\lambda` (:math:`\lambda` orthogonal to the
measurements of :math:`L`), so the search is for the largest smallest eigenvalue of
:math:`V^\top Y(\lambda)V` over a unit ball of such :math:`\lambda`, a concave maximization.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.linalg import null_space

from .validation import check_array, check_positive_int, read_only

__all__ = ["PsdUniqueness", "alpha_thresholds", "descent_cone_dimension", "psd_uniqueness",
           "rank_manifold_dimension"]


def rank_manifold_dimension(d: int, r: int) -> int:
    r""":math:`dr - r(r - 1)/2` with :math:`r` capped at :math:`d`: the dimension of the
    :math:`d\times d` PSD matrices of rank :math:`r`.

    Examples
    --------
    >>> from shallowlearn.thresholds import rank_manifold_dimension
    >>> rank_manifold_dimension(20, 5), rank_manifold_dimension(20, 30)
    (90, 210)
    """
    d = check_positive_int(d, "d")
    r = min(check_positive_int(r, "r"), d)
    return d * r - r * (r - 1) // 2


def descent_cone_dimension(d: int, r: int) -> float:
    """:math:`dr - r(r - 1)/2 + (d - r)(d - r + 1)/4` with :math:`r` capped at :math:`d`: the
    statistical dimension of the tangent cone of the PSD cone at a rank-:math:`r` matrix.

    Examples
    --------
    >>> from shallowlearn.thresholds import descent_cone_dimension
    >>> descent_cone_dimension(20, 5), descent_cone_dimension(20, 20)
    (150.0, 210.0)
    """
    d = check_positive_int(d, "d")
    r = min(check_positive_int(r, "r"), d)
    return rank_manifold_dimension(d, r) + (d - r) * (d - r + 1) / 4


def alpha_thresholds(kappa, d: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    r"""The two counts over :math:`d^2` at :math:`r = \kappa d`: as :math:`d \to \infty`,
    :math:`(\kappa - \kappa^2/2, 1/4 + \kappa/2 - \kappa^2/4)`, both :math:`1/2` from
    :math:`\kappa = 1` on; at a finite :math:`d`, the counts of :func:`rank_manifold_dimension`
    and :func:`descent_cone_dimension` over :math:`d^2`, with :math:`r = \min(\kappa, 1)\, d` taken
    as a real number.

    Parameters
    ----------
    kappa : float or array_like
        Teacher widths over :math:`d`, non-negative.
    d : int, optional
        The input dimension; by default the limit :math:`d \to \infty`.

    Returns
    -------
    manifold, descent_cone : numpy.ndarray
        Shaped like ``kappa``.

    Examples
    --------
    >>> from shallowlearn.thresholds import alpha_thresholds
    >>> [float(a) for a in alpha_thresholds(0.5)], [float(a) for a in alpha_thresholds(2.0)]
    ([0.375, 0.4375], [0.5, 0.5])
    >>> [float(a) for a in alpha_thresholds(2.0, d=20)]   # d(d+1)/2 over d²
    [0.525, 0.525]
    """
    kappa = np.asarray(kappa, dtype=float)
    if not np.all(np.isfinite(kappa)) or np.any(kappa < 0):
        raise ValueError(f"kappa must hold finite non-negative numbers (teacher widths over d); "
                         f"got {kappa!r}")
    k = np.minimum(kappa, 1.0)
    if d is None:
        return k - k**2 / 2, 0.25 + k / 2 - k**2 / 4
    d = check_positive_int(d, "d")
    r = k * d
    manifold = (d * r - r * (r - 1) / 2) / d**2
    return manifold, manifold + (d - r) * (d - r + 1) / (4 * d**2)


@dataclass(frozen=True, eq=False)
class PsdUniqueness:
    r"""Whether a PSD teacher is the only PSD matrix that fits a data set (:func:`psd_uniqueness`).

    Attributes
    ----------
    certified : bool
        A certificate was found: :math:`M^\star` is the only PSD :math:`M` with
        :math:`x_i^\top Mx_i = x_i^\top M^\star x_i` for all :math:`i`.
    injective : bool
        The measurements are injective on :math:`L = \{\Delta : V^\top\Delta V = 0\}` (needs
        :math:`n \ge dr - r(r - 1)/2`).
    margin : float
        The largest smallest eigenvalue of :math:`V^\top Y(\lambda)V` found, relative to the
        mean of :math:`\lVert V^\top x_i\rVert^2`: positive for a certificate; ``inf`` for a
        full-rank teacher (nothing to certify beyond injectivity), ``-inf`` when no
        :math:`\lambda` is left once :math:`YU = 0` is imposed.
    rank : int
        The rank :math:`r` of :math:`M^\star`.
    dual : numpy.ndarray or None
        The :math:`\lambda` (shape (n,)) of the best :math:`Y = \sum_i \lambda_i x_i x_i^\top`
        found (None when there is none to search): with a certificate, :math:`YU = 0` and
        :math:`V^\top YV` is positive definite.
    """

    certified: bool
    injective: bool
    margin: float
    rank: int
    dual: np.ndarray | None = field(default=None, repr=False)


def psd_uniqueness(X, target, *, iterations: int = 400) -> PsdUniqueness:
    r"""Certify that the PSD ``target`` :math:`M^\star` is the only PSD matrix fitting
    :math:`x_i^\top Mx_i = x_i^\top M^\star x_i`.

    The certificate of the module docstring is searched for by projected ascent of a smoothed
    smallest eigenvalue from :math:`\lambda` = the projection of :math:`(1, \dots, 1)` (which, the
    :math:`x_i x_i^\top` being PSD, is often a certificate already), stopping at the first
    :math:`\lambda` that certifies. Not finding one within ``iterations`` steps does not prove
    that other PSD fits exist, but a margin that stays negative while the ascent converges
    points that way.

    Parameters
    ----------
    X : array_like, shape (n, d)
    target : array_like, shape (d, d)
        Symmetric positive semidefinite (its eigenvalues below :math:`10^{-9}` of the largest
        count as zero).
    iterations : int

    Returns
    -------
    PsdUniqueness

    Examples
    --------
    A rank-one teacher in :math:`d = 6` (its rank-one manifold has dimension 6) with 12 samples:

    >>> import numpy as np
    >>> from shallowlearn.thresholds import psd_uniqueness
    >>> rng = np.random.default_rng(0)
    >>> w = rng.normal(size=6)
    >>> result = psd_uniqueness(rng.normal(size=(12, 6)), np.outer(w, w))
    >>> result.certified, result.rank
    (True, 1)
    >>> psd_uniqueness(rng.normal(size=(5, 6)), np.outer(w, w)).certified  # n < 6
    False
    """
    X = check_array(X, "X", ndim=2)
    n, d = X.shape
    target = check_array(target, "target", ndim=2, shape=(d, d))
    iterations = check_positive_int(iterations, "iterations")
    if not np.allclose(target, target.T, rtol=0, atol=1e-12 * max(1.0, np.abs(target).max())):
        raise ValueError("target must be a symmetric matrix (the teacher's M*)")
    w, E = np.linalg.eigh(target)
    if w[0] < -1e-9 * max(w[-1], 0.0) or w[-1] <= 0:
        raise ValueError(f"target must be positive semidefinite and non-zero; its eigenvalues "
                         f"run from {w[0]:.3g} to {w[-1]:.3g}")
    big = w > 1e-9 * w[-1]
    U, V = E[:, big], E[:, ~big]
    r = U.shape[1]
    a, b = X @ U, X @ V
    rows, cols = np.triu_indices(r)
    # the measurements of a basis of L: U A Uᵀ (A symmetric) and U B Vᵀ + V Bᵀ Uᵀ
    F = np.hstack([a[:, rows] * a[:, cols], (a[:, :, None] * b[:, None, :]).reshape(n, -1)])
    injective = bool(np.linalg.matrix_rank(F) == F.shape[1])
    if V.shape[1] == 0:
        return PsdUniqueness(injective, injective, np.inf, r)
    N = null_space(F.T)
    if N.shape[1] == 0:
        return PsdUniqueness(False, injective, -np.inf, r)
    b = b / np.sqrt(np.mean(np.sum(b**2, axis=1)))
    c = N.T @ np.ones(n)
    c = c / np.linalg.norm(c) if np.linalg.norm(c) > 0 else np.eye(N.shape[1])[0]
    best, best_c, step, tau = -np.inf, c, 1.0, 0.1
    for _ in range(iterations):
        mu, Q = np.linalg.eigh((b * (N @ c)[:, None]).T @ b)
        if mu[0] > best:
            best, best_c = mu[0], c
        if mu[0] > 1e-9 * np.abs(mu).max():
            return PsdUniqueness(injective, injective, float(mu[0]), r, read_only(N @ c))
        weights = np.exp(-(mu - mu[0]) / tau)
        ascent = N.T @ ((b @ Q) ** 2 @ (weights / weights.sum()))
        c = c + step * ascent / max(np.linalg.norm(ascent), np.finfo(float).tiny)
        c = c / max(1.0, np.linalg.norm(c))
        step, tau = 0.99 * step, max(0.99 * tau, 1e-3)
    return PsdUniqueness(False, injective, float(best), r, read_only(N @ best_c))
