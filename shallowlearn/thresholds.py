"""Sample counts at which a planted quadratic network's training data pin down its teacher.

A quadratic network with output weights v = 1 computes x ↦ xᵀMx with M = WᵀW, so a student
of width k ≥ d can reach every positive semidefinite (PSD) d×d matrix, and the data of a
teacher M* (rank r) fit exactly by every PSD M with xᵢᵀMxᵢ = xᵢᵀM*xᵢ for all i: a convex
set, which holds M* and every zero-training-loss student. The student generalizes for sure
only when that set is the single point M*. Two counts of dimensions bracket the number of
samples n at which it is:

* :func:`rank_manifold_dimension`, dr − r(r − 1)/2, the dimension of the set of PSD matrices
  of rank r (an r-dimensional column space, dr − r², and an r×r PD matrix on it, r(r + 1)/2):
  with fewer samples, even the students of the teacher's own rank are not determined;
* :func:`descent_cone_dimension`, that count plus (d − r)(d − r + 1)/4, the statistical
  dimension of the PSD cone's tangent cone at M*, the block that lives on M*'s column space
  and its coupling to the complement (a subspace of dimension dr − r(r − 1)/2) plus the PSD
  cone of the (d − r)-dimensional complement, whose statistical dimension is half its
  dimension because the cone is self-dual. For Gaussian measurements ⟨Aᵢ, M⟩ the convex
  feasibility problem recovers M* with high probability once n exceeds this, and fails
  below it (Amelunxen, Lotz, McCoy & Tropp 2014); the measurements xᵢxᵢᵀ here are not
  Gaussian, so for them it is a comparison, not a theorem.

For a full-rank teacher (r ≥ d: a teacher at least as wide as d has a full-rank M* almost
surely) both counts equal d(d + 1)/2, the dimension of all symmetric matrices, which is the
sample complexity of Gamarnik, Kızıldağ & Zadik (2019). In the scaling n = αd², r = κd of Sarao
Mannelli, Vanden-Eijnden & Zdeborová (2020), :func:`alpha_thresholds` gives them over d²,
at a given d or in the limit d → ∞: α = κ − κ²/2 and α = 1/4 + κ/2 − κ²/4 for κ < 1, both
1/2 for κ ≥ 1.

For one data set, :func:`psd_uniqueness` decides the question itself, with a certificate.
Write M* = U Λ Uᵀ (U: d×r, orthonormal) and V for an orthonormal basis of the complement.
Every PSD M that fits the data differs from M* by a Δ with xᵢᵀΔxᵢ = 0 for all i and
VᵀΔV = VᵀMV ⪰ 0. Suppose some λ ∈ ℝⁿ makes Y = Σᵢ λᵢ xᵢxᵢᵀ vanish on U (YU = 0) and
VᵀYV positive definite. Then 0 = Σᵢ λᵢ xᵢᵀΔxᵢ = ⟨Y, Δ⟩ = ⟨VᵀYV, VᵀΔV⟩ forces VᵀΔV = 0, so
Δ lies in the subspace L = {Δ : VᵀΔV = 0}, of dimension dr − r(r − 1)/2; if the data's
measurements are injective on L, Δ = 0 and M* is the only PSD fit. The condition YU = 0 is
linear in λ (λ orthogonal to the measurements of L), so the search is for the largest
smallest eigenvalue of VᵀY(λ)V over a unit ball of such λ, a concave maximization.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.linalg import null_space

from .validation import check_array, check_positive_int, read_only

__all__ = ["PsdUniqueness", "alpha_thresholds", "descent_cone_dimension", "psd_uniqueness",
           "rank_manifold_dimension"]


def rank_manifold_dimension(d: int, r: int) -> int:
    """dr − r(r − 1)/2 with r capped at d: the dimension of the d×d PSD matrices of rank r.

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
    """dr − r(r − 1)/2 + (d − r)(d − r + 1)/4 with r capped at d: the statistical dimension of
    the tangent cone of the PSD cone at a rank-r matrix.

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
    """The two counts over d² at r = κd: as d → ∞, (κ − κ²/2, 1/4 + κ/2 − κ²/4), both 1/2 from
    κ = 1 on; at a finite d, the counts of :func:`rank_manifold_dimension` and
    :func:`descent_cone_dimension` over d², with r = min(κ, 1) d taken as a real number.

    Parameters
    ----------
    kappa : float or array_like
        Teacher widths over d, non-negative.
    d : int, optional
        The input dimension; by default the limit d → ∞.

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
    """Whether a PSD teacher is the only PSD matrix that fits a data set (:func:`psd_uniqueness`).

    Attributes
    ----------
    certified : bool
        A certificate was found: M* is the only PSD M with xᵢᵀMxᵢ = xᵢᵀM*xᵢ for all i.
    injective : bool
        The measurements are injective on L = {Δ : VᵀΔV = 0} (needs n ≥ dr − r(r − 1)/2).
    margin : float
        The largest smallest eigenvalue of VᵀY(λ)V found, relative to the mean of
        ‖Vᵀxᵢ‖²: positive for a certificate; inf for a full-rank teacher (nothing to
        certify beyond injectivity), −inf when no λ is left once YU = 0 is imposed.
    rank : int
        The rank r of M*.
    dual : numpy.ndarray or None
        The λ (shape (n,)) of the best Y = Σᵢ λᵢ xᵢxᵢᵀ found (None when there is none to
        search): with a certificate, YU = 0 and VᵀYV is positive definite.
    """

    certified: bool
    injective: bool
    margin: float
    rank: int
    dual: np.ndarray | None = field(default=None, repr=False)


def psd_uniqueness(X, target, *, iterations: int = 400) -> PsdUniqueness:
    """Certify that the PSD ``target`` is the only PSD matrix fitting xᵢᵀMxᵢ = xᵢᵀ target xᵢ.

    The certificate of the module docstring is searched for by projected ascent of a smoothed
    smallest eigenvalue from λ = the projection of (1, ..., 1) (which, the xᵢxᵢᵀ being
    PSD, is often a certificate already), stopping at the first λ that certifies. Not finding
    one within ``iterations`` steps does not prove that other PSD fits exist, but a margin
    that stays negative while the ascent converges points that way.

    Parameters
    ----------
    X : array_like, shape (n, d)
    target : array_like, shape (d, d)
        Symmetric positive semidefinite (its eigenvalues below 10⁻⁹ of the largest count as
        zero).
    iterations : int

    Returns
    -------
    PsdUniqueness

    Examples
    --------
    A rank-one teacher in d = 6 (its rank-one manifold has dimension 6) with 12 samples:

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
