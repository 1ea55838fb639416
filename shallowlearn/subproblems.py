"""The model subproblems of the second-order solvers.

- :func:`shifted_newton_step`: the exact minimiser of the trust-region or cubic model in the
  Hessian's eigenbasis, hard case included (Moré & Sorensen 1983; Nesterov & Polyak 2006).
- :func:`steihaug_cg`: Steihaug–Toint truncated conjugate gradients on Hessian-vector products
  (Nocedal & Wright, *Numerical Optimization*, Algorithm 7.2).
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["shifted_newton_step", "steihaug_cg"]

# The gradient has "no component" on the bottom eigenspace (the hard case) when that component
# is below this fraction of it: √eps, the accuracy of eigenvectors of a nearly repeated
# eigenvalue times the gradient.
_HARD = float(np.sqrt(np.finfo(float).eps))


def shifted_newton_step(w, a, target, span):
    """The step c = −(diag(w) + λI)⁺a of the trust-region and cubic models, in the eigenbasis.

    Parameters
    ----------
    w : numpy.ndarray
        The Hessian's eigenvalues, ascending.
    a : numpy.ndarray
        The gradient in the eigenbasis, Vᵀg.
    target : callable
        A non-decreasing function of the shift: the radius Δ (constant) for the trust region,
        λ/σ for the cubic model.
    span : float
        The shift lies in [λ_lo, λ_lo + span], λ_lo = max(0, −w₀).

    Returns
    -------
    numpy.ndarray
        The step in the eigenbasis. The shift λ is the smallest λ ≥ λ_lo with
        ‖c(λ)‖ ≤ target(λ), found by bisection keeping ‖c‖ ≤ target. In the hard case (a has
        no component, to √eps relative, on the bottom eigenspace, and ‖c(λ_lo)‖ < target(λ_lo))
        with negative curvature, the step is filled up to length target(λ_lo) along a bottom
        eigenvector: this is how the step leaves a critical point (a = 0) with negative
        curvature. Eigenvalues within 10⁻¹² of the spectral norm of zero count as zero; on
        them, without negative curvature, the step has no component (the smallest
        minimiser of a model that is flat there), so that near a degenerate minimum, where
        the minimisers form a manifold, the step does not wander along it.

    Examples
    --------
    At a critical point (a = 0) with negative curvature, the step runs along the bottom
    eigenvector, to the radius:

    >>> import numpy as np
    >>> from shallowlearn.subproblems import shifted_newton_step
    >>> step = shifted_newton_step(np.array([-1.0, 2.0]), np.zeros(2), lambda lam: 0.5, 1.0)
    >>> np.abs(step).tolist()
    [0.5, 0.0]
    """
    # eigenvalues within this of zero are zero: the rounding level of a computed Hessian
    flat = 1e-12 * max(abs(w[0]), abs(w[-1]), np.finfo(float).tiny)
    lam_lo = -w[0] if w[0] < -flat else 0.0
    edge = w + lam_lo <= flat
    c = np.zeros_like(a)
    c[~edge] = -a[~edge] / (w[~edge] + lam_lo)
    hard = np.linalg.norm(a[edge]) <= _HARD * np.linalg.norm(a)
    if hard and np.linalg.norm(c) <= target(lam_lo):
        # with negative curvature, fill the step up to the target along the bottom eigenvector;
        # without, the model is flat there and c is its smallest minimiser
        if edge.any() and lam_lo > 0:
            j = np.flatnonzero(edge)[0]
            c[j] = -math.copysign(math.sqrt(max(target(lam_lo) ** 2 - c @ c, 0.0)), a[j])
        return c
    lo, hi = lam_lo, lam_lo + span
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if not lo < mid < hi:
            break
        if np.linalg.norm(a / (w + mid)) > target(mid):
            lo = mid
        else:
            hi = mid
    return -a / (w + hi)


def steihaug_cg(hvp, g, radius):
    """Steihaug–Toint truncated CG for min gᵀs + ½sᵀHs on ‖s‖ ≤ radius (g ≠ 0).

    Nocedal & Wright, Algorithm 7.2, with the forcing tolerance ‖r‖ ≤ ‖g‖·min(½, √‖g‖).

    Returns
    -------
    s : numpy.ndarray
        The step.
    decrease : float
        The model decrease −(gᵀs + ½sᵀHs).

    Examples
    --------
    >>> import numpy as np
    >>> from shallowlearn.subproblems import steihaug_cg
    >>> s, decrease = steihaug_cg(lambda u: 2.0 * u, np.array([1.0, 0.0]), radius=10.0)
    >>> s.tolist(), float(decrease)
    ([-0.5, 0.0], 0.25)
    """
    gnorm = np.linalg.norm(g)
    tol = gnorm * min(0.5, math.sqrt(gnorm))
    s, Hs, r, d = np.zeros_like(g), np.zeros_like(g), g, -g
    for _ in range(g.size):
        Hd = hvp(d)
        dHd = d @ Hd
        if dHd <= 0 or np.linalg.norm(s + (r @ r) / dHd * d) >= radius:
            # negative curvature, or the CG step leaves the ball: go to the boundary along d
            sd, dd = s @ d, d @ d
            tau = (-sd + math.sqrt(sd**2 + dd * (radius**2 - s @ s))) / dd
            s, Hs = s + tau * d, Hs + tau * Hd
            break
        alpha = (r @ r) / dHd
        s, Hs = s + alpha * d, Hs + alpha * Hd
        r_new = r + alpha * Hd
        if np.linalg.norm(r_new) <= tol:
            break
        d = -r_new + (r_new @ r_new) / (r @ r) * d
        r = r_new
    return s, float(-(g @ s + 0.5 * (s @ Hs)))
