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
_TINY = float(np.finfo(float).tiny)
_BREAKDOWN = 1e-10  # a Lanczos coefficient below this fraction of ‖T‖: an invariant subspace
_MAX_BASIS = 500  # Lanczos vectors kept at most (memory: 500 p floats)
_FORECAST_STEPS = 5  # the model is solved at least every this many Lanczos steps


def _check_model(radius, sigma):
    if (radius is None) == (sigma is None):
        raise ValueError("give exactly one of radius (trust region) and sigma (cubic model); "
                         f"got radius={radius!r}, sigma={sigma!r}")


def shifted_newton_step(w, a, *, radius=None, sigma=None):
    r"""The step :math:`c = -(\operatorname{diag}(w) + \lambda I)^+ a` of the trust-region or cubic
    model, in the eigenbasis.

    The model is :math:`a^\top c + \frac12 c^\top \operatorname{diag}(w) c` on
    :math:`\lVert c\rVert \le` ``radius``, or
    :math:`a^\top c + \frac12 c^\top \operatorname{diag}(w) c + (\sigma/3)\lVert c\rVert^3`.

    Parameters
    ----------
    w : numpy.ndarray
        The Hessian's eigenvalues, ascending.
    a : numpy.ndarray
        The gradient in the eigenbasis, :math:`V^\top g`.
    radius : float, optional
        The trust radius :math:`\Delta`.
    sigma : float, optional
        The cubic weight :math:`\sigma`. Exactly one of ``radius`` and ``sigma`` is given.

    Returns
    -------
    numpy.ndarray
        The step in the eigenbasis. The shift
        :math:`\lambda \ge \lambda_{\mathrm{lo}} = \max(0, -w_0)` is the smallest with
        :math:`\lVert c(\lambda)\rVert \le \Delta` (trust region) or the one with
        :math:`\lVert c(\lambda)\rVert = \lambda/\sigma` (cubic), found by safeguarded Newton
        steps on both :math:`\lVert c(\lambda)\rVert - \operatorname{target}(\lambda)`, convex,
        and :math:`1/\lVert c(\lambda)\rVert - 1/\operatorname{target}(\lambda)`, concave
        (Moré & Sorensen 1983; Cartis, Gould & Toint 2011, §6.1), keeping the larger: both
        stay below the root. In the hard case (:math:`a` has no component, to
        :math:`\sqrt{\mathrm{eps}}` relative, on the bottom eigenspace, and
        :math:`\lVert c(\lambda_{\mathrm{lo}})\rVert` is below the target) with negative
        curvature, the step is filled up to the target length along a bottom eigenvector: this
        is how the step leaves a critical point (:math:`a = 0`) with negative curvature.
        Eigenvalues within :math:`10^{-12}` of the spectral norm of zero count as zero; on them,
        without negative curvature, the step has no component (the smallest minimiser of a
        model that is flat there), so that near a degenerate minimum, where the minimisers form
        a manifold, the step does not wander along it.

    Examples
    --------
    At a critical point (:math:`a = 0`) with negative curvature, the step runs along the bottom
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
    flat = 1e-12 * max(abs(w[0]), abs(w[-1]), _TINY)
    lam_lo = -w[0] if w[0] < -flat else 0.0
    slope = 0.0 if sigma is None else 1.0 / sigma  # the target length is radius + slope·λ

    def target(lam):
        return radius if sigma is None else lam / sigma

    edge = int(np.searchsorted(w, flat - lam_lo, side="right"))  # w ascending: a prefix
    c = np.zeros_like(a)
    c[edge:] = -a[edge:] / (w[edge:] + lam_lo)
    anorm = math.sqrt(a @ a)
    hard = math.sqrt(a[:edge] @ a[:edge]) <= _HARD * anorm
    if hard and math.sqrt(c @ c) <= target(lam_lo):
        # with negative curvature, fill the step up to the target along the bottom eigenvector;
        # without, the model is flat there and c is its smallest minimiser
        if edge and lam_lo > 0:
            c[0] = -math.copysign(math.sqrt(max(target(lam_lo) ** 2 - c @ c, 0.0)), a[0])
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
            if sigma is not None:  # ‖c‖ decreases in λ, so the root is below σ‖c(λ)‖
                hi = min(hi, sigma * norm)
        else:
            hi = lam
            if sigma is not None:
                lo = max(lo, sigma * norm)
        if abs(norm - goal) <= 1e-11 * goal or not math.isfinite(norm):
            break
        # Newton steps on ψ(λ) = ‖c‖ − target(λ), convex and decreasing, and on
        # φ(λ) = 1/‖c‖ − 1/target(λ), concave and increasing: each tangent stays on one side of
        # its function, so both steps land at or below the root, and the larger is kept
        dnorm = -(c @ (c / shifted)) / norm
        new = max(lam - (norm - goal) / (dnorm - slope),
                  lam - (1.0 / norm - 1.0 / goal) / (-dnorm / norm**2 + slope / goal**2))
        if not lo < new < hi:
            new = 0.5 * (lo + hi)
            if not lo < new < hi:
                break
        lam = new
    if not math.isfinite(norm) or norm > target(lam) * (1 + 1e-10):
        lam, c = hi, -a / (w + hi)  # the bracket's safe side
    return c, lam


@dataclass(frozen=True, eq=False)
class KrylovStep:
    r"""A step from :func:`lanczos_step`.

    Attributes
    ----------
    step : numpy.ndarray
        The step :math:`s` in parameter space.
    decrease : float
        The model decrease :math:`m(0) - m(s)` (with the curvature that ``flat`` zeroes counted
        as zero).
    products : int
        Hessian-vector products used.
    converged : bool
        Whether the residual test passed (else the product budget ran out).
    residual : float
        The norm of the model gradient left outside the Krylov space, :math:`\beta_j |h_j|`.
    ritz_min : float
        The smallest Ritz value: an upper bound on :math:`\lambda_{\min}` of the Hessian.
    """

    step: np.ndarray
    decrease: float
    products: int
    converged: bool
    residual: float
    ritz_min: float


def lanczos_step(hvp, g, *, radius=None, sigma=None, flat=0.0, rtol=None, max_products=None,
                 rng=None) -> KrylovStep:
    r"""Minimise the trust-region or cubic model on the Krylov space of :math:`g`, by Lanczos.

    Lanczos on the Hessian from :math:`q_1 = g/\lVert g\rVert`, with full reorthogonalization,
    gives an orthonormal basis :math:`Q_j` and a tridiagonal :math:`T_j = Q_j^\top H Q_j`; the
    model restricted to the span, :math:`\lVert g\rVert e_1^\top h + \frac12 h^\top T_j h` on
    :math:`\lVert h\rVert \le \Delta` (or :math:`+ (\sigma/3)\lVert h\rVert^3`), is solved
    exactly: by the :math:`LDL^\top` factorization of :math:`T_j` (the one behind conjugate
    gradients) while :math:`T_j` is positive definite and its Newton step fits in the ball,
    otherwise in the eigenbasis of :math:`T_j` by :func:`shifted_newton_step` (the GLTR method
    for the trust region; the Lanczos subproblem of ARC for the cubic model). The step
    :math:`s = Q_j h` leaves the model gradient :math:`\beta_j |h_j|\, q_{j+1}` outside the
    space; the iteration stops when that is at most
    :math:`\lVert g\rVert \min(\frac12, \sqrt{\lVert g\rVert})`, the forcing term of
    :func:`steihaug_cg` (superlinear convergence of the outer iteration), or ``rtol`` times
    :math:`\lVert g\rVert` if given. The model is not solved at every step: the
    :math:`LDL^\top` factorization of :math:`T_j + \lambda I`, with :math:`\lambda` the last
    shift found (0 at first), is extended by one row per step and forecasts the residual; the
    model is solved when the forecast passes the test, when the factorization fails (curvature
    below :math:`-\lambda`), and at least every 5 steps. Negative Ritz values at or above
    ``-flat`` count as zero in the model, as in the exact trust-region solve.

    When the Krylov space becomes invariant before the test passes
    (:math:`\beta_j \le 10^{-10}\lVert T\rVert`), the part of H that g does not see can still
    hold the negative curvature of the hard case: Lanczos restarts once from a random vector
    orthogonal to the basis, T gets a second, uncoupled block, and the iteration goes on until
    that block's smallest Ritz pair has converged too. The solve in the eigenbasis of T then
    fills the step along it if the hard case holds. This is the hard case as it arises here, g
    living on a part of H decoupled from the rest (hidden units with zero weights, whose
    products vanish exactly). A hard case that only rounding hides (g orthogonal to the bottom
    eigenvector of a dense H) leaves no trace in the Krylov space, as for any Krylov method; it
    is not stable under perturbation, and the case that matters to the solvers, a critical point
    with negative curvature, they handle with an eigenvector step.

    Parameters
    ----------
    hvp : callable
        :math:`u \mapsto Hu`.
    g : numpy.ndarray
        The gradient, :math:`g \ne 0`.
    radius, sigma : float, optional
        The trust radius :math:`\Delta`, or the cubic weight :math:`\sigma`; exactly one is given.
    flat : float
        Negative Ritz values at or above ``-flat`` count as zero in the model.
    rtol : float, optional
        Stop when the residual is at most ``rtol`` times :math:`\lVert g\rVert` (default: the
        forcing term above).
    max_products : int, optional
        Product budget; default p (at most 500 Lanczos vectors are kept in any case).
    rng : numpy.random.Generator, optional
        Source of the restart vector (default: a generator seeded with 0).

    Returns
    -------
    KrylovStep

    Examples
    --------
    On a positive definite quadratic with a large radius, solved to a tight tolerance, the step
    is Newton's; with the default forcing term two products are enough here:

    >>> import numpy as np
    >>> from shallowlearn.subproblems import lanczos_step
    >>> H = np.diag([1.0, 2.0, 4.0])
    >>> g = np.array([1.0, 1.0, 1.0])
    >>> found = lanczos_step(lambda u: H @ u, g, radius=10.0, rtol=1e-12)
    >>> np.round(found.step, 12).tolist(), found.products, found.converged
    ([-1.0, -0.5, -0.25], 3, True)
    >>> lanczos_step(lambda u: H @ u, g, radius=10.0).products
    2
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
    T = np.zeros((Q.shape[0], Q.shape[0]))  # the tridiagonal Lanczos matrix, grown with Q
    shift, factor = 0.0, ([], [])  # LDLᵀ of T + shift·I (None once it fails)
    restart, lam, scale, unsolved = None, None, 0.0, 0
    h = np.zeros(1)
    residual, curvature, converged = np.inf, 0.0, False
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
        T[j, j] = a_j
        scale = max(scale, abs(a_j) + b_j + (beta[-1] if beta else 0.0))
        invariant = b_j <= _BREAKDOWN * scale
        # the residual of (T + shift·I)h = −‖g‖e₁, from one more step of the factorization: a
        # cheap forecast of the model's residual that says when solving the model is worth it
        forecast = np.inf
        if factor is not None:
            factor = _extend_ldl(factor, a_j + shift, beta, gnorm)
            if factor is not None:
                pivots, forward = factor
                forecast = b_j * abs(forward[-1] / pivots[-1])
        done = False
        if (factor is None or forecast <= tol or invariant or j + 1 == limit
                or unsolved >= _FORECAST_STEPS):
            unsolved = 0
            interior = False
            if radius is not None and shift == 0.0 and factor is not None:
                # T ≻ 0: the Newton step of the span, if it fits in the ball, is the answer
                h = _back_substitute(*factor, beta)
                interior = h @ h <= radius**2
                if interior:
                    residual, curvature = forecast, -gnorm * h[0]  # hᵀTh, as Th = −‖g‖e₁
                    converged = done = forecast <= tol or invariant
            if not interior:
                theta, Y = np.linalg.eigh(T[: j + 1, : j + 1])
                model = np.where((theta < 0) & (theta >= -flat), 0.0, theta)
                c, lam = _shifted(model, gnorm * Y[0], radius, sigma, lam)
                h = Y @ c
                residual, curvature = b_j * abs(h[-1]), float(model @ (c * c))
                settled = restart is None or _restart_settled(theta, Y, restart, b_j, scale)
                converged = done = residual <= tol and settled
                shift = lam
                factor = _extend_ldl(([], []), None, beta, gnorm, alpha=[a + shift for a in alpha])
        else:
            unsolved += 1
        if invariant and restart is None and j + 1 < limit:
            # an invariant subspace: restart from a random vector orthogonal to the basis
            gen = np.random.default_rng(0) if rng is None else rng
            w = gen.standard_normal(p)
            for _ in range(2):
                w -= basis.T @ (basis @ w)
            restart, b_j, w = j + 1, 0.0, w / math.sqrt(w @ w)
        elif done or invariant or j + 1 == limit:
            converged = converged or invariant  # the solve on invariant subspaces is exact
            break
        else:
            w = w / b_j
        if j + 1 == Q.shape[0]:
            Q = np.concatenate([Q, np.empty((min(Q.shape[0], limit + 1 - Q.shape[0]), p))])
            grown = np.zeros((Q.shape[0], Q.shape[0]))
            grown[: j + 1, : j + 1] = T[: j + 1, : j + 1]
            T = grown
        Q[j + 1] = w
        beta.append(b_j)
        T[j, j + 1] = T[j + 1, j] = b_j
    s = Q[: h.size].T @ h
    ritz_min = float(np.linalg.eigvalsh(T[: h.size, : h.size])[0])
    decrease = -(gnorm * h[0] + 0.5 * curvature + (0.0 if sigma is None else sigma / 3 * (h @ h) ** 1.5))
    return KrylovStep(step=s, decrease=float(decrease), products=len(alpha),
                      converged=bool(converged), residual=float(residual), ritz_min=ritz_min)


def _extend_ldl(factor, diagonal, beta, gnorm, alpha=None):
    """The LDLᵀ factorization of a tridiagonal matrix extended by one row (``diagonal``, with
    the last of ``beta`` beside it), or rebuilt from a whole diagonal ``alpha``: the pivots d
    and z = L⁻¹(−‖g‖e₁); None if a pivot is not positive."""
    pivots, forward = factor
    for a in ([diagonal] if alpha is None else alpha):
        i = len(pivots)
        d = a - (beta[i - 1] ** 2 / pivots[-1] if i else 0.0)
        if not d > 0:
            return None
        forward.append(-gnorm if not i else -(beta[i - 1] / pivots[-1]) * forward[-1])
        pivots.append(d)
    return pivots, forward


def _back_substitute(pivots, forward, beta):
    """h with LDLᵀh = −‖g‖e₁, from the pivots d and z = L⁻¹(−‖g‖e₁)."""
    m = len(pivots)
    h = [0.0] * m
    h[-1] = forward[-1] / pivots[-1]
    for i in range(m - 2, -1, -1):
        h[i] = forward[i] / pivots[i] - beta[i] / pivots[i] * h[i + 1]
    return np.array(h)


def _restart_settled(theta, Y, restart, b_j, scale) -> bool:
    """Whether the smallest Ritz pair of the block after the restart has converged."""
    block = np.flatnonzero(np.sum(Y[restart:] ** 2, axis=0) > 0.5)
    if block.size == 0:
        return False
    i = block[np.argmin(theta[block])]
    return b_j * abs(Y[-1, i]) <= 1e-6 * scale


def steihaug_cg(hvp, g, radius):
    r"""Steihaug–Toint truncated CG for the trust-region model, on Hessian-vector products.

    It minimises :math:`g^\top s + \frac12 s^\top H s` on :math:`\lVert s\rVert \le` ``radius``
    (:math:`g \ne 0`): Nocedal & Wright, Algorithm 7.2, with the forcing tolerance
    :math:`\lVert r\rVert \le \lVert g\rVert \min(\frac12, \sqrt{\lVert g\rVert})`.

    Returns
    -------
    s : numpy.ndarray
        The step.
    decrease : float
        The model decrease :math:`-(g^\top s + \frac12 s^\top H s)`.

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
