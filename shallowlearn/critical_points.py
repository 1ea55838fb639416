r"""Classify a point of the loss landscape: not critical, second-order stationary, strict saddle
or degenerate, with tolerances relative to the problem's own scale.

The tolerances
--------------
Both tests compare a quantity with the size it would have at a generic point of the same
problem, so that the verdict does not change when the data or the weights are rescaled.

* **Gradient.** :math:`\nabla\mathcal L = J^\top r/n`, with :math:`J` the Jacobian of the
  predictions and :math:`r` the residuals, so
  :math:`\lVert\nabla\mathcal L\rVert \le \lVert J/\sqrt n\rVert\,\lVert r/\sqrt n\rVert
  \approx \sqrt{\lVert H\rVert_2 \cdot 2\mathcal L}`. At the loss of the zero network,
  :math:`\mathcal L_0 = \operatorname{mean}(y^2)/2`, that is
  :math:`\sqrt{2\mathcal L_0\lVert H\rVert_2}`: the size of the gradient of a point that has
  fitted nothing. A point is critical when :math:`\lVert\nabla\mathcal L\rVert \le \epsilon_g`,
  with :math:`\epsilon_g` the tolerance ``grad_rtol`` times
  :math:`\sqrt{2\max(\mathcal L_0, \mathcal L)\,\lVert H\rVert_2}`.
* **Curvature.** Eigenvalues are compared with the spectral norm: :math:`\epsilon_H` is
  ``eig_rtol`` times :math:`\lVert H\rVert_2`, plus :math:`\epsilon_{\mathrm{round}}`. An
  eigenvalue :math:`\lambda` is *near zero* when :math:`-\epsilon_H \le \lambda \le \epsilon_H`
  and *negative* when :math:`\lambda < -\epsilon_H`. The dense eigenvalues are exact to about
  :math:`p \cdot 10^{-16} \cdot \lVert H\rVert_2`, far below the default :math:`10^{-6}`, and the
  symmetry directions of a point whose gradient is :math:`\epsilon_g` away from zero pick up
  curvature of order :math:`\epsilon_g \lVert\theta\rVert`, which the default also absorbs. The
  floor :math:`\epsilon_{\mathrm{round}} = p \cdot n \cdot \mathrm{eps} \cdot h` is the rounding
  level of the computed Hessian, with :math:`h` the largest per-unit size of the terms it sums,

  .. math::

      h = \max_\ell \frac1n \sum_i \lVert x_i\rVert^2 \Bigl(\bigl(\partial\mathrm{pred}_i
          / \partial z_{i\ell}\bigr)^2 + \lvert r_i v_\ell \phi''(z_{i\ell})\rvert\Bigr)

  (plus the :math:`v`-terms when :math:`v` is trained). It matters only when those terms
  cancel, so that :math:`H` is itself rounding noise; then a relative test alone would read
  that noise as curvature.

The verdicts
------------
* ``"not critical"``: :math:`\lVert\nabla\mathcal L\rVert > \epsilon_g`.
* ``"strict saddle"``: critical and :math:`\lambda_{\min} < -\epsilon_H`. The unit eigenvector
  :math:`u` of :math:`\lambda_{\min}`, signed so that :math:`\nabla\mathcal L^\top u \le 0`, is a
  descent direction of second order.
* ``"second-order stationary"``: critical, :math:`\lambda_{\min} \ge -\epsilon_H`, and every
  near-zero eigenvalue is accounted for: either by the model's continuous symmetries
  (:func:`symmetry_directions`, along which the loss is exactly constant), or because the point
  interpolates the data (:math:`\mathcal L` at most ``grad_rtol`` squared times
  :math:`\mathcal L_0`; then :math:`\mathcal L` is at its global minimum 0 and the flat
  directions are those of the manifold of interpolating weights). This is the paper's
  :math:`(\epsilon_g, \epsilon_H)`-approximate second-order point (2.1).
* ``"degenerate"``: critical, :math:`\lambda_{\min} \ge -\epsilon_H`, but the Hessian has more
  near-zero eigenvalues than symmetries, at a point that does not interpolate: the second-order
  test cannot decide, and higher derivatives do (:math:`W = 0` of a cubic activation is a monkey
  saddle of this kind).

Counting near-zero eigenvalues needs the whole spectrum: with the iterative route (:math:`p`
above :data:`~shallowlearn.spectrum.DENSE_LIMIT`), ``n_zero`` and ``n_symmetry`` are None and
the verdict is one of the first three.
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
    r"""The classification of one point (see the module docstring for the rules).

    Attributes
    ----------
    verdict : str
        One of :data:`VERDICTS`.
    loss, grad_norm : float
        :math:`\mathcal L(\theta)` and :math:`\lVert\nabla\mathcal L(\theta)\rVert`.
    lambda_min, lambda_max : float
        Extreme eigenvalues of the Hessian.
    n_zero : int or None
        Eigenvalues :math:`\lambda` with :math:`-\epsilon_H \le \lambda \le \epsilon_H`
        (:math:`\epsilon_H` = ``eig_tol``; dense route only).
    n_symmetry : int or None
        Dimension of the symmetry orbit through :math:`\theta`: the near-zero eigenvalues the
        model's symmetries force at a critical point (dense route only).
    grad_tol, eig_tol : float
        :math:`\epsilon_g` and :math:`\epsilon_H`.
    escape_direction : numpy.ndarray or None
        At a strict saddle, the unit eigenvector :math:`u` of :math:`\lambda_{\min}` with
        :math:`\nabla\mathcal L^\top u \le 0`.
    escape_step : float or None
        A step :math:`t` along :math:`u` where the quadratic model is trustworthy: the largest
        of :math:`t_0, t_0/2, t_0/4, \dots` with actual decrease
        :math:`\mathcal L(\theta) - \mathcal L(\theta + tu)` at least half the predicted one;
        :math:`t_0 = \sqrt{-2\mathcal L/\lambda_{\min}}` is the step whose predicted decrease
        equals :math:`\mathcal L`, which no step can beat.
    predicted_decrease : float or None
        The decrease the second-order model predicts for that step,
        :math:`-t\,\nabla\mathcal L^\top u - t^2\lambda_{\min}/2`.
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
    r"""Classify :math:`\theta` as not critical, second-order stationary, a strict saddle or
    degenerate.

    Parameters
    ----------
    objective : Objective
    theta : array_like, shape (p,)
    grad_rtol, eig_rtol : float
        Relative tolerances of the gradient and curvature tests (module docstring).
    method : {"auto", "dense", "iterative"}
        How the spectrum is computed (:func:`shallowlearn.spectrum.hessian_spectrum`); the
        iterative route is run with residuals below ``eig_rtol``/10 times
        :math:`\lVert H\rVert_2`.
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
    r"""An orthonormal basis of the tangent space of the symmetry orbit through :math:`\theta`.

    The continuous symmetries are linear maps of the parameters that leave the loss unchanged,
    so at a critical point each tangent direction of the orbit is a zero eigenvector of the
    Hessian. The ones known here:

    * :math:`v` fixed, a unit with :math:`v_\ell = 0`: its weights :math:`w_\ell` never reach the
      output (:math:`d` directions each).
    * :math:`v` fixed, quadratic :math:`\phi`: :math:`W \mapsto QW` with
      :math:`Q^\top D_v Q = D_v` (an indefinite orthogonal group) keeps :math:`M = W^\top D_v W`.
      On the live units, with :math:`r = \operatorname{rank}(W)`, the tangents
      :math:`D_v^{-1} TW` (:math:`T` skew) span :math:`kr - r(r+1)/2` dimensions.
    * :math:`v` trained, :math:`\phi` homogeneous of degree :math:`m` (quadratic :math:`m = 2`,
      ReLU :math:`m = 1`): rescaling a unit,
      :math:`(v_\ell, w_\ell) \mapsto (c^{-m} v_\ell, c\, w_\ell)`, one direction per unit that is
      not all zero.

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
