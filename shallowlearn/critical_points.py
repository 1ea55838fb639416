"""Classify a point of the loss landscape: not critical, second-order stationary, strict saddle
or degenerate, with tolerances relative to the problem's own scale.

The tolerances
--------------
Both tests compare a quantity with the size it would have at a generic point of the same
problem, so that the verdict does not change when the data or the weights are rescaled.

* **Gradient.** ∇L = Jᵀr/n, with J the Jacobian of the predictions and r the residuals, so
  ‖∇L‖ ≤ ‖J/√n‖ ‖r/√n‖ ≈ √(‖H‖₂ · 2L). At the loss of the zero network,
  L₀ = mean(y²)/2, that is √(2 L₀ ‖H‖₂): the size of the gradient of a point that has fitted
  nothing. A point is critical when ‖∇L‖ ≤ ε_g = ``grad_rtol`` · √(2 max(L₀, L) ‖H‖₂).
* **Curvature.** Eigenvalues are compared with the spectral norm:
  ε_H = ``eig_rtol`` · ‖H‖₂ + ε_round. An eigenvalue λ is *near zero* when −ε_H ≤ λ ≤ ε_H and
  *negative* when λ < −ε_H. The dense eigenvalues are exact to about p · 10⁻¹⁶ · ‖H‖₂, far
  below the default 10⁻⁶, and the symmetry directions of a point whose gradient is ε_g away
  from zero pick up curvature of order ε_g ‖θ‖, which the default also absorbs. The floor
  ε_round = p · n · eps · h is the rounding level of the computed Hessian, with h the largest
  per-unit size of the terms it sums, maxℓ (1/n) Σᵢ ‖xᵢ‖² ((∂predᵢ/∂zᵢℓ)² + abs(rᵢ v_ℓ φ″(zᵢℓ)))
  (plus the v-terms when v is trained). It matters only when those terms cancel, so that H is
  itself rounding noise; then a relative test alone would read that noise as curvature.

The verdicts
------------
* ``"not critical"``: ‖∇L‖ > ε_g.
* ``"strict saddle"``: critical and λ_min < −ε_H. The unit eigenvector u of λ_min, signed so
  that ∇Lᵀu ≤ 0, is a descent direction of second order.
* ``"second-order stationary"``: critical, λ_min ≥ −ε_H, and every near-zero eigenvalue is
  accounted for: either by the model's continuous symmetries (:func:`symmetry_directions`,
  along which the loss is exactly constant), or because the point interpolates the data
  (L ≤ ``grad_rtol`` squared times L₀; then L is at its global minimum 0 and the flat directions are those
  of the manifold of interpolating weights). This is the paper's (ε_g, ε_H)-approximate
  second-order point (2.1).
* ``"degenerate"``: critical, λ_min ≥ −ε_H, but the Hessian has more near-zero eigenvalues
  than symmetries, at a point that does not interpolate: the second-order test cannot decide,
  and higher derivatives do (W = 0 of a cubic activation is a monkey saddle of this kind).

Counting near-zero eigenvalues needs the whole spectrum: with the iterative route (p above
:data:`~shallowlearn.spectrum.DENSE_LIMIT`), ``n_zero`` and ``n_symmetry`` are None and the
verdict is one of the first three.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .objective import Objective
from .spectrum import Spectrum, hessian_spectrum
from .validation import check_objective, check_real

__all__ = ["VERDICTS", "CriticalPoint", "classify_point", "symmetry_directions"]

#: The possible verdicts of :func:`classify_point`.
VERDICTS = ("not critical", "second-order stationary", "strict saddle", "degenerate")

# activations that are positively homogeneous, with their degree: φ(cz) = c^m φ(z) for c > 0
_HOMOGENEOUS = {"quadratic": 2, "relu": 1}


@dataclass(frozen=True, eq=False)
class CriticalPoint:
    """The classification of one point (see the module docstring for the rules).

    Attributes
    ----------
    verdict : str
        One of :data:`VERDICTS`.
    loss, grad_norm : float
        L(θ) and ‖∇L(θ)‖.
    lambda_min, lambda_max : float
        Extreme eigenvalues of the Hessian.
    n_zero : int or None
        Eigenvalues λ with −``eig_tol`` ≤ λ ≤ ``eig_tol`` (dense route only).
    n_symmetry : int or None
        Dimension of the symmetry orbit through θ: the near-zero eigenvalues the model's
        symmetries force at a critical point (dense route only).
    grad_tol, eig_tol : float
        ε_g and ε_H.
    escape_direction : numpy.ndarray or None
        At a strict saddle, the unit eigenvector u of λ_min with ∇Lᵀu ≤ 0.
    escape_step : float or None
        A step t along u where the quadratic model is trustworthy: the largest of
        t₀, t₀/2, t₀/4, … with actual decrease L(θ) − L(θ + tu) at least half the predicted one;
        t₀ = √(−2L/λ_min) is the step whose predicted decrease equals L, which no step can beat.
    predicted_decrease : float or None
        The decrease the second-order model predicts for that step, −t∇Lᵀu − t²λ_min/2.
    spectrum : Spectrum
        The spectrum the verdict used.

    Examples
    --------
    >>> import numpy as np
    >>> from shallowlearn import Objective, random_labels
    >>> from shallowlearn.critical_points import classify_point
    >>> data = random_labels(n=20, d=2, rng=0)
    >>> obj = Objective(data.X, data.y, "quadratic", v=[1.0, -1.0])
    >>> cp = classify_point(obj, np.zeros(obj.p))      # W = 0: gradient 0, curvature 2v_ℓλⱼ(G)
    >>> cp.verdict, bool(cp.predicted_decrease > 0)
    ('strict saddle', True)
    """

    verdict: str
    loss: float
    grad_norm: float
    lambda_min: float
    lambda_max: float
    n_zero: int | None
    n_symmetry: int | None
    grad_tol: float
    eig_tol: float
    escape_direction: np.ndarray | None = field(repr=False)
    escape_step: float | None
    predicted_decrease: float | None
    spectrum: Spectrum = field(repr=False)


def classify_point(
    objective: Objective,
    theta,
    *,
    grad_rtol: float = 1e-6,
    eig_rtol: float = 1e-6,
    method: str = "auto",
    rng=None,
) -> CriticalPoint:
    """Classify θ as not critical, second-order stationary, a strict saddle or degenerate.

    Parameters
    ----------
    objective : Objective
    theta : array_like, shape (p,)
    grad_rtol, eig_rtol : float
        Relative tolerances of the gradient and curvature tests (module docstring).
    method : {"auto", "dense", "iterative"}
        How the spectrum is computed (:func:`shallowlearn.spectrum.hessian_spectrum`); the
        iterative route is run with residuals below ``eig_rtol`` / 10 · ‖H‖₂.
    rng : None, int or numpy.random.Generator
        Start vector of the iterative route.

    Returns
    -------
    CriticalPoint

    Examples
    --------
    A planted teacher fits the data exactly, a global minimum:

    >>> import numpy as np
    >>> from shallowlearn import Objective, planted
    >>> from shallowlearn.critical_points import classify_point
    >>> data = planted(n=30, d=3, k=4, activation="tanh", rng=0)
    >>> obj = Objective(data.X, data.y, "tanh", v=data.teacher.v)
    >>> classify_point(obj, obj.pack(data.teacher.W)).verdict
    'second-order stationary'
    """
    obj = check_objective(objective)
    point = obj.at(theta)
    grad_rtol = check_real(grad_rtol, "grad_rtol", low=0.0, strict=True)
    eig_rtol = check_real(eig_rtol, "eig_rtol", low=0.0, strict=True)
    spectrum = hessian_spectrum(obj, point, method=method, rtol=eig_rtol / 10, rng=rng)
    theta, loss, g = point.theta, point.value, point.grad
    grad_norm = float(np.linalg.norm(g))
    base_loss = obj.null_loss
    grad_tol = grad_rtol * np.sqrt(2.0 * max(base_loss, loss) * spectrum.norm)
    eig_tol = eig_rtol * spectrum.norm + _rounding_floor(point, spectrum)
    lam_min, lam_max = spectrum.lambda_min, spectrum.lambda_max

    n_zero = n_symmetry = None
    if spectrum.complete:
        n_zero = int(np.sum(np.abs(spectrum.eigenvalues) <= eig_tol))
        n_symmetry = symmetry_directions(obj, theta).shape[1]

    escape = step = decrease = None
    if grad_norm > grad_tol:
        verdict = "not critical"
    elif lam_min < -eig_tol:
        verdict = "strict saddle"
        escape, step, decrease = _escape(obj, theta, loss, g, spectrum)
    elif n_zero is not None and n_zero > n_symmetry and loss > grad_rtol**2 * base_loss:
        verdict = "degenerate"
    else:
        verdict = "second-order stationary"
    return CriticalPoint(
        verdict=verdict, loss=loss, grad_norm=grad_norm, lambda_min=lam_min, lambda_max=lam_max,
        n_zero=n_zero, n_symmetry=n_symmetry, grad_tol=float(grad_tol), eig_tol=float(eig_tol),
        escape_direction=escape, escape_step=step, predicted_decrease=decrease, spectrum=spectrum,
    )


def _rounding_floor(point, spectrum: Spectrum) -> float:
    """p · n · eps times the largest per-unit size of the terms summed into the Hessian; for an
    objective without data (a population objective), p · eps · ‖H‖₂."""
    obj = point.objective
    if not isinstance(obj, Objective):
        return obj.p * np.finfo(float).eps * spectrum.norm
    sq_norms = np.sum(point.X**2, axis=1)  # ‖xᵢ‖²
    size = (point.slope**2 + np.abs(point.curvature)) * sq_norms[:, None]
    if obj.trains_v:
        size += point.A**2 + np.abs(point.cross) * np.sqrt(sq_norms)[:, None]
    return obj.p * point.n * np.finfo(float).eps * float(size.mean(axis=0).max())


def _escape(obj: Objective, theta, loss, g, spectrum: Spectrum):
    """The signed bottom eigenvector, a trustworthy step along it and its predicted decrease."""
    u = spectrum.eigenvectors[:, 0].copy()
    if g @ u > 0:
        u = -u
    curvature = -spectrum.lambda_min

    def predicted(t):
        return -t * float(g @ u) + 0.5 * t * t * curvature

    t = np.sqrt(2.0 * loss / curvature)
    for _ in range(60):
        if loss - obj.value(theta + t * u) >= 0.5 * predicted(t):
            break
        t /= 2.0
    return u, float(t), float(predicted(t))


def symmetry_directions(objective: Objective, theta) -> np.ndarray:
    """An orthonormal basis of the tangent space of the symmetry orbit through θ.

    The continuous symmetries are linear maps of the parameters that leave the loss unchanged,
    so at a critical point each tangent direction of the orbit is a zero eigenvector of the
    Hessian. The ones known here:

    * v fixed, a unit with v_ℓ = 0: its weights w_ℓ never reach the output (d directions each).
    * v fixed, quadratic φ: W ↦ QW with QᵀD_vQ = D_v (an indefinite orthogonal group) keeps
      M = WᵀD_vW. On the live units, with r = rank(W), the tangents D_v⁻¹TW (T skew) span
      k r − r(r+1)/2 dimensions.
    * v trained, φ homogeneous of degree m (quadratic m = 2, ReLU m = 1): rescaling a unit,
      (v_ℓ, w_ℓ) ↦ (c^{−m} v_ℓ, c w_ℓ), one direction per unit that is not all zero.

    Other smooth activations have no continuous symmetries at generic points.

    Returns
    -------
    numpy.ndarray, shape (p, m)

    Examples
    --------
    >>> import numpy as np
    >>> from shallowlearn import Objective, random_labels
    >>> from shallowlearn.critical_points import symmetry_directions
    >>> data = random_labels(n=30, d=2, rng=0)
    >>> obj = Objective(data.X, data.y, "quadratic", v=[1.0, 1.0, -1.0])
    >>> W = np.random.default_rng(0).normal(size=(3, 2))        # rank r = 2, k = 3
    >>> symmetry_directions(obj, obj.pack(W)).shape            # 3·2 − 2·3/2 = 3
    (6, 3)
    """
    obj = check_objective(objective)
    v, W = obj.unpack(theta)
    k, d = W.shape
    degree = _HOMOGENEOUS.get(obj.activation.name)
    tangents = []  # each an array (count, k, d) of W-parts, with v-parts in `v_parts`
    v_parts = []
    if not obj.trains_v:
        for unit in np.flatnonzero(v == 0):
            T = np.zeros((d, k, d))
            T[:, unit, :] = np.eye(d)
            tangents.append(T)
        live = np.flatnonzero(v != 0)
        if degree == 2 and live.size > 1:
            tangents.append(_indefinite_rotations(W, v, live))
        v_parts = [np.zeros((t.shape[0], 0)) for t in tangents]
    elif degree is not None:
        units = np.flatnonzero(np.any(W != 0, axis=1) | (v != 0))
        T = np.zeros((units.size, k, d))
        V = np.zeros((units.size, k))
        T[np.arange(units.size), units] = W[units]
        V[np.arange(units.size), units] = -degree * v[units]
        tangents, v_parts = [T], [V]
    if not tangents:
        return np.zeros((obj.p, 0))
    vectors = np.concatenate(
        [np.concatenate([vp, t.reshape(t.shape[0], k * d)], axis=1) for vp, t in zip(v_parts, tangents)]
    ).T
    U, s, _ = np.linalg.svd(vectors, full_matrices=False)
    if s.size == 0:
        return np.zeros((obj.p, 0))
    rank = int(np.sum(s > max(vectors.shape) * np.finfo(float).eps * s[0]))
    return U[:, :rank]


def _indefinite_rotations(W, v, live):
    """Tangents D_v⁻¹TW (T skew on the live units) of W ↦ QW, QᵀD_vQ = D_v, as (count, k, d)."""
    k, d = W.shape
    WL = W[live]
    Q, s, _ = np.linalg.svd(WL, full_matrices=True)
    r = int(np.sum(s > max(WL.shape) * np.finfo(float).eps * (s[0] if s.size else 0.0)))
    inside, outside = Q[:, :r], Q[:, r:]
    P = inside.T @ WL  # (r, d): the rows of W in the basis of its column space
    # T = q_a q_bᵀ − q_b q_aᵀ inside col(W), and T = q⊥ q_aᵀ − q_a q⊥ᵀ across (its second
    # term vanishes on W): T W = q_a P_b − q_b P_a, or q⊥ P_a
    a, b = np.triu_indices(r, 1)
    within = inside.T[a][:, :, None] * P[b][:, None, :] - inside.T[b][:, :, None] * P[a][:, None, :]
    across = (outside.T[:, None, :, None] * P[None, :, None, :]).reshape(-1, live.size, d)
    TW = np.concatenate([within, across]) / v[live][None, :, None]
    out = np.zeros((TW.shape[0], k, d))
    out[:, live] = TW
    return out
