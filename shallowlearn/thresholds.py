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
Mannelli, Vanden-Eijnden & Zdeborová (2020), :func:`alpha_thresholds` gives the limits
d → ∞: α = κ − κ²/2 and α = 1/4 + κ/2 − κ²/4 for κ < 1, both 1/2 for κ ≥ 1.
"""

from __future__ import annotations

import numpy as np

from .validation import check_positive_int

__all__ = ["alpha_thresholds", "descent_cone_dimension", "rank_manifold_dimension"]


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


def alpha_thresholds(kappa) -> tuple[np.ndarray, np.ndarray]:
    """The two counts over d² as d → ∞ at r = κd: (κ − κ²/2, 1/4 + κ/2 − κ²/4), both 1/2 from
    κ = 1 on.

    Parameters
    ----------
    kappa : float or array_like
        Teacher widths over d, non-negative.

    Returns
    -------
    manifold, descent_cone : numpy.ndarray
        Shaped like ``kappa``.

    Examples
    --------
    >>> from shallowlearn.thresholds import alpha_thresholds
    >>> [float(a) for a in alpha_thresholds(0.5)], [float(a) for a in alpha_thresholds(2.0)]
    ([0.375, 0.4375], [0.5, 0.5])
    """
    kappa = np.asarray(kappa, dtype=float)
    if not np.all(np.isfinite(kappa)) or np.any(kappa < 0):
        raise ValueError(f"kappa must hold finite non-negative numbers (teacher widths over d); "
                         f"got {kappa!r}")
    k = np.minimum(kappa, 1.0)
    return k - k**2 / 2, 0.25 + k / 2 - k**2 / 4
