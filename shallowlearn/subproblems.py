"""The model subproblems of the second-order solvers.

- :func:`shifted_newton_step`: the exact minimiser of the trust-region or cubic model in the
  Hessian's eigenbasis, hard case included (Moré & Sorensen 1983; Nesterov & Polyak 2006).
- :func:`lanczos_step`: the same models solved on Hessian-vector products only, in the Krylov
  space of the gradient built by Lanczos: the trust-region subproblem after Gould, Lucidi,
  Roma & Toint, SIAM J. Optim. 9 (1999), "Solving the trust-region subproblem using the
  Lanczos method" (GLTR), and the cubic one after Cartis, Gould & Toint, Math. Program. 127
  (2011), §6.
- :func:`steihaug_cg`: Steihaug–Toint truncated conjugate gradients on Hessian-vector products
  (Nocedal & Wright, *Numerical Optimization*, Algorithm 7.2).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["KrylovStep", "lanczos_step", "shifted_newton_step", "steihaug_cg"]

# The gradient has "no component" on the bottom eigenspace (the hard case) when that component
# is below this fraction of it: √eps, the accuracy of eigenvectors of a nearly repeated
# eigenvalue times the gradient.
_HARD = float(np.sqrt(np.finfo(float).eps))
_BREAKDOWN = 1e-10  # a Lanczos coefficient below this fraction of ‖T‖: an invariant subspace
_MAX_BASIS = 500
_INTERIOR = lambda gnorm: gnorm * min(0.5, gnorm)
_BOUNDARY = lambda gnorm: gnorm * min(0.5, math.sqrt(gnorm))  # Lanczos vectors kept at most (memory: 500 p floats)


def _check_model(radius, sigma):
    if (radius is None) == (sigma is None):
        raise ValueError("give exactly one of radius (trust region) and sigma (cubic model); "
                         f"got radius={radius!r}, sigma={sigma!r}")


def shifted_newton_step(w, a, *, radius=None, sigma=None):
    """The step c = −(diag(w) + λI)⁺a of the trust-region or cubic model, in the eigenbasis.

    The model is aᵀc + ½cᵀdiag(w)c on ‖c‖ ≤ ``radius``, or aᵀc + ½cᵀdiag(w)c + (σ/3)‖c‖³.

    Parameters
    ----------
    w : numpy.ndarray
        The Hessian's eigenvalues, ascending.
    a : numpy.ndarray
        The gradient in the eigenbasis, Vᵀg.
    radius : float, optional
        The trust radius Δ.
    sigma : float, optional
        The cubic weight σ. Exactly one of ``radius`` and ``sigma`` is given.

    Returns
    -------
    numpy.ndarray
        The step in the eigenbasis. The shift λ ≥ λ_lo = max(0, −w₀) is the smallest with
        ‖c(λ)‖ ≤ Δ (trust region) or the one with ‖c(λ)‖ = λ/σ (cubic), found by safeguarded
        Newton steps on 1/‖c(λ)‖ − 1/Δ, or 1/‖c(λ)‖ − σ/λ (Moré & Sorensen 1983; Cartis, Gould
        & Toint 2011, §6.1). In the hard case (a has no component, to √eps relative, on the
        bottom eigenspace, and ‖c(λ_lo)‖ is below the target) with negative curvature, the
        step is filled up to the target length along a bottom eigenvector: this is how the
        step leaves a critical point (a = 0) with negative curvature. Eigenvalues within
        10⁻¹² of the spectral norm of zero count as zero; on them, without negative curvature,
        the step has no component (the smallest minimiser of a model that is flat there), so
        that near a degenerate minimum, where the minimisers form a manifold, the step does
        not wander along it.

    Examples
    --------
    At a critical point (a = 0) with negative curvature, the step runs along the bottom
    eigenvector, to the radius:

    >>> import numpy as np
    >>> from shallowlearn.subproblems import shifted_newton_step
    >>> step = shifted_newton_step(np.array([-1.0, 2.0]), np.zeros(2), radius=0.5)
    >>> np.abs(step).tolist()
    [0.5, 0.0]
    """
    _check_model(radius, sigma)
    return _shifted(np.asarray(w, float), np.asarray(a, float), radius, sigma)[0]


def _shifted(w, a, radius, sigma, guess=None):
    """:func:`shifted_newton_step`'s step and its shift λ; ``guess`` is a first shift to try."""
    flat = 1e-12 * max(abs(w[0]), abs(w[-1]), np.finfo(float).tiny)
    lam_lo = -w[0] if w[0] < -flat else 0.0
    slope = 0.0 if sigma is None else 1.0 / sigma  # the target length is radius + slope·λ

    def target(lam):
        return radius if sigma is None else lam / sigma

    edge = w + lam_lo <= flat
    c = np.zeros_like(a)
    c[~edge] = -a[~edge] / (w[~edge] + lam_lo)
    anorm = math.sqrt(a @ a)
    hard = math.sqrt(a[edge] @ a[edge]) <= _HARD * anorm
    if hard and math.sqrt(c @ c) <= target(lam_lo):
        # with negative curvature, fill the step up to the target along the bottom eigenvector;
        # without, the model is flat there and c is its smallest minimiser
        if edge.any() and lam_lo > 0:
            j = np.flatnonzero(edge)[0]
            c[j] = -math.copysign(math.sqrt(max(target(lam_lo) ** 2 - c @ c, 0.0)), a[j])
        return c, lam_lo
    # the root lies in (lo, hi]: at hi = lam_lo + span, ‖c‖ ≤ ‖a‖/span ≤ target
    lo = lam_lo
    hi = lam_lo + (anorm / radius if sigma is None else math.sqrt(sigma * anorm))
    lam = guess if guess is not None and lo < guess < hi else hi
    for _ in range(100):
        shifted = w + lam
        c = -a / shifted
        norm = math.sqrt(c @ c)
        goal = target(lam)
        if norm > goal:
            lo = lam
        else:
            hi = lam
        if abs(norm - goal) <= 1e-13 * goal or not np.isfinite(norm):
            break
        # Newton on φ(λ) = 1/‖c‖ − 1/target(λ), concave and increasing
        dnorm = -(c @ (c / shifted)) / norm
        dphi = -dnorm / norm**2 + slope / goal**2
        new = lam - (1.0 / norm - 1.0 / goal) / dphi
        if not lo < new < hi:
            new = 0.5 * (lo + hi)
            if not lo < new < hi:
                break
        lam = new
    if not np.isfinite(norm) or norm > target(lam) * (1 + 1e-12):
        lam, c = hi, -a / (w + hi)  # the bracket's safe side
    return c, lam


@dataclass(frozen=True, eq=False)
class KrylovStep:
    """A step from :func:`lanczos_step`.

    Attributes
    ----------
    step : numpy.ndarray
        The step s in parameter space.
    decrease : float
        The model decrease m(0) − m(s) (with the curvature that ``flat`` zeroes counted as
        zero).
    products : int
        Hessian-vector products used.
    converged : bool
        Whether the residual test passed (else the product budget ran out).
    residual : float
        The norm of the model gradient left outside the Krylov space, β·abs(hⱼ).
    ritz_min : float
        The smallest Ritz value: an upper bound on λ_min of the Hessian.
    """

    step: np.ndarray
    decrease: float
    products: int
    converged: bool
    residual: float
    ritz_min: float


def lanczos_step(hvp, g, *, radius=None, sigma=None, flat=0.0, rtol=None, max_products=None,
                 rng=None) -> KrylovStep:
    """Minimise the trust-region or cubic model on the Krylov space of g, by Lanczos.

    Lanczos on the Hessian from q₁ = g/‖g‖, with full reorthogonalization, gives an
    orthonormal basis Qⱼ and a tridiagonal Tⱼ = QⱼᵀHQⱼ; the model restricted to the span,
    ‖g‖e₁ᵀh + ½hᵀTⱼh on ‖h‖ ≤ Δ (or + (σ/3)‖h‖³), is solved exactly: while Tⱼ is positive
    definite and its Newton step fits in the ball, by the LDLᵀ factorization that also drives
    conjugate gradients; otherwise, once negative curvature or the boundary shows up, in the
    eigenbasis of Tⱼ by :func:`shifted_newton_step` (the GLTR method for the trust region; the
    Lanczos subproblem of ARC for the cubic model). The step s = Qⱼh leaves the model gradient
    βⱼ abs(hⱼ) qⱼ₊₁ outside the space; the iteration stops when that is at most
    ‖g‖·min(½, √‖g‖), the forcing term of :func:`steihaug_cg` (superlinear convergence of the
    outer iteration), or ``rtol``·‖g‖ if given. Ritz values in [−``flat``, 0) count as zero in
    the model, as in the exact trust-region solve.

    When the Krylov space becomes invariant before the test passes (βⱼ ≤ 10⁻¹⁰‖T‖), the part
    of H that g does not see can still hold the negative curvature of the hard case: Lanczos
    restarts once from a random vector orthogonal to the basis, T gets a second, uncoupled
    block, and the iteration goes on until that block's smallest Ritz pair has converged too.
    The solve in the eigenbasis of T then fills the step along it if the hard case holds.

    Parameters
    ----------
    hvp : callable
        u ↦ Hu.
    g : numpy.ndarray
        The gradient, g ≠ 0.
    radius, sigma : float, optional
        The trust radius Δ, or the cubic weight σ; exactly one is given.
    flat : float
        Ritz values in [−flat, 0) count as zero in the model.
    rtol : float, optional
        Stop when the residual is at most rtol·‖g‖ (default: the forcing term above).
    max_products : int, optional
        Product budget; default p (at most 500 Lanczos vectors are kept in any case).
    rng : numpy.random.Generator, optional
        Source of the restart vector (default: a generator seeded with 0).

    Returns
    -------
    KrylovStep

    Examples
    --------
    On a positive definite quadratic with a large radius the step is Newton's:

    >>> import numpy as np
    >>> from shallowlearn.subproblems import lanczos_step
    >>> H = np.diag([1.0, 2.0, 4.0])
    >>> g = np.array([1.0, 1.0, 1.0])
    >>> found = lanczos_step(lambda u: H @ u, g, radius=10.0)
    >>> np.round(found.step, 12).tolist(), found.products, found.converged
    ([-1.0, -0.5, -0.25], 3, True)
    """
    _check_model(radius, sigma)
    g = np.asarray(g, dtype=float)
    p = g.size
    gnorm = math.sqrt(g @ g)
    limit = min(p if max_products is None else max(1, int(max_products)), p, _MAX_BASIS)
    tol = gnorm * (min(0.5, math.sqrt(gnorm)) if rtol is None else rtol)
    Q = np.empty((min(limit, 32) + 1, p))
    Q[0] = g / gnorm
    alpha, beta = [], []
    pivots, forward = [], []  # LDLᵀ of T: the pivots d and L⁻¹(−‖g‖e₁)
    in_ball = radius is not None  # the interior (Newton) branch is still possible
    restart, lam, scale = None, None, 0.0
    h = np.zeros(1)
    residual, theta0, converged = np.inf, np.inf, False
    for j in range(limit):
        w = hvp(Q[j])
        # classical Gram–Schmidt against the whole basis, twice (full reorthogonalization)
        basis = Q[: j + 1]
        first = basis @ w
        w = w - basis.T @ first
        second = basis @ w
        w -= basis.T @ second
        a_j = float(first[j] + second[j])
        b_j = math.sqrt(w @ w)
        alpha.append(a_j)
        previous = beta[-1] if beta else 0.0
        scale = max(scale, abs(a_j) + b_j + previous)
        done = False
        if in_ball:
            d_j = a_j - (previous**2 / pivots[-1] if j else 0.0)
            z_j = -gnorm if not j else -(previous / pivots[-1]) * forward[-1]
            if d_j <= 0:
                in_ball = False
            else:
                pivots.append(d_j)
                forward.append(z_j)
                residual = b_j * abs(z_j / d_j)
                if residual <= tol or j + 1 == limit or b_j <= _BREAKDOWN * scale:
                    h = _back_substitute(pivots, forward, beta)
                    if h @ h <= radius**2:
                        theta0 = float(np.linalg.eigvalsh(_tridiagonal(alpha, beta))[0])
                        converged = residual <= tol or b_j <= _BREAKDOWN * scale
                        done = True
                    else:
                        in_ball = False
        if not in_ball and not done:
            theta, Y = np.linalg.eigh(_tridiagonal(alpha, beta))
            theta0 = float(theta[0])
            model = np.where((theta < 0) & (theta >= -flat), 0.0, theta)
            c, lam = _shifted(model, gnorm * Y[0], radius, sigma, lam)
            h = Y @ c
            residual = b_j * abs(h[-1])
            settled = restart is None or _restart_settled(theta, Y, restart, b_j, scale)
            converged = residual <= tol and settled
            done = converged
        invariant = b_j <= _BREAKDOWN * scale
        if invariant and restart is None and j + 1 < limit:
            # an invariant subspace: restart from a random vector orthogonal to the basis
            gen = np.random.default_rng(0) if rng is None else rng
            w = gen.standard_normal(p)
            for _ in range(2):
                w -= basis.T @ (basis @ w)
            restart, in_ball = j + 1, False
            b_j, w = 0.0, w / math.sqrt(w @ w)
        elif done or invariant or j + 1 == limit:
            converged = converged or invariant  # the solve on invariant subspaces is exact
            break
        else:
            w = w / b_j
        if j + 1 == Q.shape[0]:
            Q = np.concatenate([Q, np.empty((min(Q.shape[0], limit + 1 - Q.shape[0]), p))])
        Q[j + 1] = w
        beta.append(b_j)
    m = h.size
    s = Q[:m].T @ h
    curvature = _model_curvature(_tridiagonal(alpha[:m], beta), h, flat)
    decrease = -(gnorm * h[0] + 0.5 * curvature + (0.0 if sigma is None else sigma / 3 * (h @ h) ** 1.5))
    return KrylovStep(step=s, decrease=float(decrease), products=len(alpha),
                      converged=bool(converged), residual=float(residual), ritz_min=float(theta0))


def _back_substitute(pivots, forward, beta):
    """h with LDLᵀh = −‖g‖e₁, from the pivots d and z = L⁻¹(−‖g‖e₁)."""
    m = len(pivots)
    h = [0.0] * m
    h[-1] = forward[-1] / pivots[-1]
    for i in range(m - 2, -1, -1):
        h[i] = forward[i] / pivots[i] - beta[i] / pivots[i] * h[i + 1]
    return np.array(h)


def _tridiagonal(alpha, beta):
    """The symmetric tridiagonal matrix with diagonal alpha and the first len(alpha) − 1 of
    beta beside it."""
    off = beta[: len(alpha) - 1]
    return np.diag(alpha) + np.diag(off, 1) + np.diag(off, -1)


def _restart_settled(theta, Y, restart, b_j, scale) -> bool:
    """Whether the smallest Ritz pair of the block after the restart has converged."""
    block = np.flatnonzero(np.sum(Y[restart:] ** 2, axis=0) > 0.5)
    if block.size == 0:
        return False
    i = block[np.argmin(theta[block])]
    return b_j * abs(Y[-1, i]) <= 1e-6 * scale


def _model_curvature(T, h, flat):
    """hᵀTh with the Ritz values in [−flat, 0) counted as zero."""
    theta, Y = np.linalg.eigh(T)
    model = np.where((theta < 0) & (theta >= -flat), 0.0, theta)
    y = Y.T @ h
    return float(model @ (y * y))


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
