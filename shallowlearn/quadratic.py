r"""The quadratic activation :math:`\phi(z) = z^2`: the convex lifted problem behind Theorems 2.1
and 2.2.

With :math:`\phi(z) = z^2` the network computes a quadratic form,
:math:`v^\top\phi(Wx) = x^\top M x` with :math:`M = W^\top D_v W`
(:math:`D_v = \operatorname{diag}(v)`), so the loss factors as
:math:`\mathcal L(W) = f(W^\top D_v W)` through

.. math::

    f(M) = \frac{1}{2n} \sum_i (x_i^\top M x_i - y_i)^2,

a convex quadratic in the symmetric matrix :math:`M`. Which matrices
:math:`W \mapsto W^\top D_v W` reaches depends on the signs of :math:`v` (:func:`reachable_cone`):
every symmetric :math:`M` when :math:`v` has at least :math:`d` positive and :math:`d` negative
entries, the positive semidefinite cone when all its non-zero entries are positive and at least
:math:`d` of them are. Over that convex set, :math:`f` is minimized by least squares
(:func:`lifted_optimum`), and the gradient of :math:`f`,
:math:`G = \frac1n \sum_i r_i x_i x_i^\top`, certifies optimality (Lemma 6.1;
:func:`optimality_certificate`).

In vectorized form,
:math:`x_i^\top M x_i = \langle \operatorname{svec}(x_i x_i^\top), \operatorname{svec}(M) \rangle`
with :math:`\operatorname{svec}` the :math:`d(d+1)/2` upper-triangular entries, off-diagonal
ones times :math:`\sqrt 2` so that inner products are preserved. The :math:`n \times d(d+1)/2`
matrix of the :math:`\operatorname{svec}(x_i x_i^\top)` is the paper's Khatri–Rao product
:math:`X * X`, up to that isometry (:func:`khatri_rao`); its rank is :math:`\min(n, d(d+1)/2)`
for generic :math:`X` (Lemma 5.6), which is why the loss can be driven to zero for any labels
when :math:`n \le d(d+1)/2`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.linalg import null_space

from .objective import Objective
from .validation import check_array, check_positive_int, check_real

__all__ = [
    "Certificate",
    "EscapeDirection",
    "KhatriRaoSpectrum",
    "LiftedOptimum",
    "ZeroSaddle",
    "case_two_direction",
    "certificate_matrix",
    "factorize",
    "khatri_rao",
    "khatri_rao_spectrum",
    "lift",
    "lifted_optimum",
    "optimality_certificate",
    "reachable_cone",
    "saddle_at_zero",
]

_CONES = ("symmetric", "psd", "nsd")


# --- svec and the Khatri–Rao features --------------------------------------------------------


def _svec_weights(d: int):
    rows, cols = np.triu_indices(d)
    return rows, cols, np.where(rows == cols, 1.0, np.sqrt(2.0))


def _svec(M: np.ndarray) -> np.ndarray:
    rows, cols, weights = _svec_weights(M.shape[0])
    return M[rows, cols] * weights


def _smat(m: np.ndarray, d: int) -> np.ndarray:
    rows, cols, weights = _svec_weights(d)
    M = np.zeros((d, d))
    M[rows, cols] = m / weights
    return M + np.triu(M, 1).T


def khatri_rao(X) -> np.ndarray:
    r"""The features :math:`\operatorname{svec}(x_i x_i^\top)`, one row per sample:
    shape (n, d(d+1)/2).

    Row :math:`i` dotted with :math:`\operatorname{svec}(M)` is :math:`x_i^\top M x_i`, so
    :math:`f(M) = \lVert \Phi \operatorname{svec}(M) - y \rVert^2/(2n)` with :math:`\Phi` this
    matrix. Its Gram matrix is :math:`(XX^\top) \circ (XX^\top)`, that of the paper's Khatri–Rao
    product :math:`X * X` (Lemma 5.4).

    Examples
    --------
    >>> import numpy as np
    >>> from shallowlearn.quadratic import khatri_rao
    >>> X = np.random.default_rng(0).normal(size=(5, 3))
    >>> Phi = khatri_rao(X)
    >>> Phi.shape
    (5, 6)
    >>> bool(np.allclose(Phi @ Phi.T, (X @ X.T) ** 2))
    True
    """
    X = check_array(X, "X", ndim=2)
    rows, cols, weights = _svec_weights(X.shape[1])
    return X[:, rows] * X[:, cols] * weights


@dataclass(frozen=True)
class KhatriRaoSpectrum:
    r"""Rank and extreme singular values of the Khatri–Rao features (:func:`khatri_rao_spectrum`).

    Attributes
    ----------
    n, d : int
    rank : int
        Numerical rank (singular values above
        :math:`\max(n, d(d+1)/2) \cdot \mathrm{eps} \cdot \sigma_{\max}`).
    generic_rank : int
        :math:`\min(n, d(d+1)/2)`, the rank for almost every :math:`X` (Lemma 5.6).
    sigma_min : float
        The generic_rank-th singular value: positive exactly when rank = generic_rank.
        Corollary 7.5: of order :math:`d` for Gaussian :math:`X` and :math:`d \le n \le c\,d^2`.
    sigma_max : float
        Of order :math:`\sqrt{nd}` in the same regime (Corollary 7.5).
    """

    n: int
    d: int
    rank: int
    generic_rank: int
    sigma_min: float
    sigma_max: float


def khatri_rao_spectrum(X) -> KhatriRaoSpectrum:
    """Rank and extreme singular values of :math:`X * X` (Lemma 5.6, Corollary 7.5).

    Examples
    --------
    >>> import numpy as np
    >>> from shallowlearn.quadratic import khatri_rao_spectrum
    >>> X = np.random.default_rng(0).normal(size=(30, 5))    # n = 30 > d(d+1)/2 = 15
    >>> kr = khatri_rao_spectrum(X)
    >>> kr.rank, kr.generic_rank, kr.sigma_min > 0
    (15, 15, True)
    """
    X = check_array(X, "X", ndim=2)
    Phi = khatri_rao(X)
    s = np.linalg.svd(Phi, compute_uv=False)
    (n, d), D = X.shape, Phi.shape[1]
    tol = max(n, D) * np.finfo(float).eps * s[0]
    generic = min(n, D)
    return KhatriRaoSpectrum(
        n=n, d=d, rank=int(np.sum(s > tol)), generic_rank=generic,
        sigma_min=float(s[generic - 1]), sigma_max=float(s[0]),
    )


# --- the lift, the reachable set and its optimum --------------------------------------------


def lift(W, v) -> np.ndarray:
    r""":math:`M = W^\top D_v W`, the matrix of the quadratic form the network computes.

    Examples
    --------
    >>> import numpy as np
    >>> from shallowlearn.quadratic import lift
    >>> lift(np.eye(2), [1.0, -1.0])
    array([[ 1.,  0.],
           [ 0., -1.]])
    """
    W = check_array(W, "W", ndim=2)
    v = check_array(v, "v", ndim=1, shape=(W.shape[0],))
    return W.T @ (v[:, None] * W)


def _sign_counts(v: np.ndarray) -> tuple[int, int]:
    return int(np.sum(v > 0)), int(np.sum(v < 0))


def reachable_cone(v, d: int) -> str:
    r"""The convex set of matrices :math:`W^\top D_v W`, :math:`W \in \mathbb R^{k\times d}`, named
    by the signs of :math:`v`.

    Returns ``"symmetric"`` (all symmetric :math:`d\times d` matrices) when :math:`v` has at least
    :math:`d` positive and :math:`d` negative entries, ``"psd"`` (the positive semidefinite cone)
    when :math:`v` has no negative and at least :math:`d` positive entries, and ``"nsd"`` (its
    negative) symmetrically. With fewer entries of a sign, the reachable matrices have at most
    that many eigenvalues of that sign: a set that is not convex, so the lifted problem loses its
    meaning and a ValueError says so.

    Examples
    --------
    >>> from shallowlearn.quadratic import reachable_cone
    >>> reachable_cone([1, 1, -1, -1], d=2), reachable_cone([2, 1, 0], d=2)
    ('symmetric', 'psd')
    """
    v = check_array(v, "v", ndim=1)
    d = check_positive_int(d, "d")
    pos, neg = _sign_counts(v)
    if pos >= d and neg >= d:
        return "symmetric"
    if neg == 0 and pos >= d:
        return "psd"
    if pos == 0 and neg >= d:
        return "nsd"
    raise ValueError(
        f"v has {pos} positive and {neg} negative entries; a convex reachable set needs at least "
        f"d={d} of each sign (all symmetric M), or at least d={d} of one sign and none of the "
        "other (the semidefinite cone). Otherwise WᵀD_vW is limited to matrices with at most "
        f"{pos} positive and {neg} negative eigenvalues"
    )


@dataclass(frozen=True, eq=False)
class LiftedOptimum:
    r"""The minimizer of :math:`f(M) = \frac{1}{2n} \sum_i (x_i^\top M x_i - y_i)^2` over a
    reachable cone.

    Attributes
    ----------
    M : numpy.ndarray, shape (d, d)
        A minimizer (for the symmetric cone, the one of least Frobenius norm).
    loss : float
        :math:`f(M)`, the global optimum :math:`L^\star` of :math:`\mathcal L(W) = f(W^\top D_v W)`
        for every :math:`v` that reaches the cone.
    cone : str
        ``"symmetric"``, ``"psd"`` or ``"nsd"``.
    iterations : int
        Projected-gradient iterations (0 for the symmetric cone, solved directly).
    """

    M: np.ndarray = field(repr=False)
    loss: float
    cone: str
    iterations: int


def lifted_optimum(X, y, cone: str = "symmetric", *, tol: float = 1e-10, maxiter: int = 100_000) -> LiftedOptimum:
    r"""Minimize the convex :math:`f(M) = \frac{1}{2n} \sum_i (x_i^\top M x_i - y_i)^2` over a
    cone of symmetric matrices.

    Over all symmetric :math:`M` this is least squares on the Khatri–Rao features
    (:func:`numpy.linalg.lstsq`). Over the positive semidefinite cone it is solved by
    accelerated projected gradient (FISTA with step :math:`n/\sigma_{\max}(\Phi)^2` and adaptive
    restart; the projection clips negative eigenvalues), stopped when the projected-gradient
    step is below ``tol`` times the gradient of :math:`f` at :math:`M = 0`. The negative
    semidefinite cone is the PSD problem with :math:`-y`.

    Parameters
    ----------
    X : array_like, shape (n, d)
    y : array_like, shape (n,)
    cone : {"symmetric", "psd", "nsd"}
        Use :func:`reachable_cone` to get the cone of a given v.
    tol : float
    maxiter : int

    Returns
    -------
    LiftedOptimum

    Examples
    --------
    Below :math:`n = d(d+1)/2` any labels are fitted exactly:

    >>> import numpy as np
    >>> from shallowlearn.quadratic import lifted_optimum
    >>> rng = np.random.default_rng(0)
    >>> X, y = rng.normal(size=(8, 4)), rng.normal(size=8)   # 8 < 10
    >>> bool(lifted_optimum(X, y).loss < 1e-25)
    True
    >>> lifted_optimum(X, y, "psd").loss > 0                 # not with M ⪰ 0
    True
    """
    X = check_array(X, "X", ndim=2)
    y = check_array(y, "y", ndim=1, shape=(X.shape[0],))
    if cone not in _CONES:
        raise ValueError(f"cone must be one of {_CONES}; got {cone!r}")
    tol = check_real(tol, "tol", low=0.0, strict=True)
    maxiter = check_positive_int(maxiter, "maxiter")
    n, d = X.shape
    Phi = khatri_rao(X)
    if cone == "symmetric":
        m = np.linalg.lstsq(Phi, y, rcond=None)[0]
        M, iterations = _smat(m, d), 0
    else:
        sign = 1.0 if cone == "psd" else -1.0
        M, iterations = _psd_least_squares(Phi, sign * y, d, tol, maxiter)
        M = sign * M
    residual = Phi @ _svec(M) - y
    return LiftedOptimum(M=M, loss=0.5 * float(residual @ residual) / n, cone=cone, iterations=iterations)


def _project_psd(M: np.ndarray) -> np.ndarray:
    w, Q = np.linalg.eigh(M)
    return (Q * np.maximum(w, 0.0)) @ Q.T


def _psd_least_squares(Phi, y, d, tol, maxiter):
    n = Phi.shape[0]
    step = n / np.linalg.norm(Phi, 2) ** 2
    scale = max(np.linalg.norm(Phi.T @ y) / n, np.finfo(float).tiny)
    m = np.zeros(Phi.shape[1])
    z, t = m, 1.0
    for it in range(1, maxiter + 1):
        grad = Phi.T @ (Phi @ z - y) / n
        m_new = _svec(_project_psd(_smat(z - step * grad, d)))
        if np.linalg.norm(z - m_new) <= tol * step * scale:
            return _smat(m_new, d), it
        if (z - m_new) @ (m_new - m) > 0:  # momentum points uphill: restart it
            t = 1.0
        t_new = 0.5 * (1.0 + np.sqrt(1.0 + 4.0 * t * t))
        z = m_new + ((t - 1.0) / t_new) * (m_new - m)
        m, t = m_new, t_new
    return _smat(m, d), maxiter


# --- the certificate -------------------------------------------------------------------------


def _check_quadratic(objective) -> Objective:
    if not isinstance(objective, Objective):
        raise TypeError(
            "objective must be a shallowlearn objective with data (a shallowlearn.Objective); "
            f"got {type(objective).__name__}"
        )
    if objective.activation.name != "quadratic":
        raise ValueError(f"this needs the quadratic activation; the objective has {objective.activation!r}")
    return objective


@dataclass(frozen=True, eq=False)
class Certificate:
    r"""The optimality certificate of a point of a quadratic-activation network (Lemma 6.1).

    Attributes
    ----------
    G : numpy.ndarray, shape (d, d)
        :math:`\frac1n \sum_i r_i x_i x_i^\top = \nabla f(M)` at :math:`M = W^\top D_v W`. For
        the symmetric cone, :math:`W` is a global minimizer exactly when :math:`G = 0`; for the
        PSD cone, when :math:`G \succeq 0` and :math:`\langle G, M \rangle = 0`.
    loss : float
        :math:`\mathcal L(W)`.
    optimal_loss : float
        :math:`L^\star`, the lifted optimum over the cone :math:`v` reaches.
    gap : float
        :math:`\mathcal L(W) - L^\star \ge 0` (up to the accuracy of :math:`L^\star`).
    cone : str
    """

    G: np.ndarray = field(repr=False)
    loss: float
    optimal_loss: float
    gap: float
    cone: str


def optimality_certificate(objective: Objective, theta, optimum: LiftedOptimum | None = None) -> Certificate:
    r""":math:`G(W) = \frac1n \sum_i r_i x_i x_i^\top` and the optimality gap
    :math:`\mathcal L(W) - L^\star` for the quadratic activation.

    Parameters
    ----------
    objective : Objective
        With the quadratic activation. With :math:`v` fixed, the cone is :func:`reachable_cone`
        of :math:`v`; with :math:`v` trained (and :math:`k \ge d`), every symmetric :math:`M` is
        reachable.
    theta : array_like, shape (p,)
    optimum : LiftedOptimum, optional
        A precomputed :func:`lifted_optimum` for the objective's data, to reuse across points.

    Returns
    -------
    Certificate

    Examples
    --------
    >>> import numpy as np
    >>> from shallowlearn import Objective, random_labels
    >>> from shallowlearn.quadratic import optimality_certificate
    >>> data = random_labels(n=30, d=3, rng=0)
    >>> obj = Objective(data.X, data.y, "quadratic", v=[1.0, 1.0, 1.0, -1.0, -1.0, -1.0])
    >>> cert = optimality_certificate(obj, np.zeros(obj.p))
    >>> cert.cone, bool(cert.gap > 0), bool(np.allclose(cert.G, -(data.X.T * data.y) @ data.X / 30))
    ('symmetric', True, True)
    """
    obj = _check_quadratic(objective)
    v, W = obj.unpack(theta)
    if obj.trains_v:
        if obj.k < obj.d:
            raise ValueError(
                f"with v trained, WᵀD_vW reaches every symmetric matrix only when k ≥ d; got "
                f"k={obj.k}, d={obj.d}"
            )
        cone = "symmetric"
    else:
        cone = reachable_cone(v, obj.d)
    if optimum is None:
        optimum = lifted_optimum(obj.X, obj.y, cone)
    elif not isinstance(optimum, LiftedOptimum) or optimum.cone != cone:
        raise ValueError(f"optimum must be a LiftedOptimum over the {cone!r} cone that v reaches")
    loss = obj.value(theta)
    G = certificate_matrix(obj, theta)
    return Certificate(G=G, loss=loss, optimal_loss=optimum.loss, gap=loss - optimum.loss, cone=cone)


# --- factorization ------------------------------------------------------------------------


def factorize(M, v) -> np.ndarray:
    r"""A :math:`W` with :math:`W^\top D_v W = M`, for a symmetric :math:`M` whose inertia the
    signs of :math:`v` allow.

    Each positive eigenpair :math:`(\lambda, q)` of :math:`M` goes to its own unit with
    :math:`v_\ell > 0`, as the row :math:`\sqrt{\lambda/v_\ell}\, q^\top`, each negative one to a
    unit with :math:`v_\ell < 0`; the remaining rows are zero. This needs at least as many
    positive entries in :math:`v` as :math:`M` has positive eigenvalues, and likewise for
    negative ones (eigenvalues below :math:`d \cdot \mathrm{eps} \cdot \lVert M \rVert` in
    magnitude count as zero).

    Parameters
    ----------
    M : array_like, shape (d, d)
        Symmetric (asymmetry above :math:`10^{-12} \cdot \lVert M \rVert` is refused).
    v : array_like, shape (k,)

    Returns
    -------
    numpy.ndarray, shape (k, d)

    Examples
    --------
    >>> import numpy as np
    >>> from shallowlearn.quadratic import factorize, lift
    >>> M = np.array([[2.0, 1.0], [1.0, -1.0]])               # one eigenvalue of each sign
    >>> W = factorize(M, v=[1.0, -2.0, 1.0])
    >>> bool(np.allclose(lift(W, [1.0, -2.0, 1.0]), M))
    True
    """
    M = check_array(M, "M", ndim=2)
    d = M.shape[0]
    if M.shape != (d, d):
        raise ValueError(f"M must be a square matrix; got shape {M.shape}")
    norm = np.abs(M).max()
    asym = np.abs(M - M.T).max()
    if asym > 1e-12 * norm:
        raise ValueError(f"M must be symmetric; max |M − Mᵀ| = {asym:.3g} (max |M| = {norm:.3g})")
    v = check_array(v, "v", ndim=1)
    w, Q = np.linalg.eigh(0.5 * (M + M.T))
    zero = d * np.finfo(float).eps * max(np.abs(w).max(), np.finfo(float).tiny)
    need_pos, need_neg = int(np.sum(w > zero)), int(np.sum(w < -zero))
    have_pos, have_neg = _sign_counts(v)
    if need_pos > have_pos or need_neg > have_neg:
        raise ValueError(
            f"M has {need_pos} positive and {need_neg} negative eigenvalues, so v needs at least "
            f"{need_pos} positive and {need_neg} negative entries; v has {have_pos} positive and "
            f"{have_neg} negative"
        )
    W = np.zeros((v.size, d))
    for units, eig in ((np.flatnonzero(v > 0), np.flatnonzero(w > zero)), (np.flatnonzero(v < 0), np.flatnonzero(w < -zero))):
        chosen = units[: eig.size]
        W[chosen] = np.sqrt(w[eig] / v[chosen])[:, None] * Q[:, eig].T
    return W


# --- the saddle at W = 0 and the Case-II direction -------------------------------------------


@dataclass(frozen=True, eq=False)
class ZeroSaddle:
    r"""The critical point :math:`W = 0` of a quadratic network with fixed :math:`v`.

    Attributes
    ----------
    G : numpy.ndarray, shape (d, d)
        :math:`-\frac1n \sum_i y_i x_i x_i^\top`, the certificate at :math:`W = 0`.
    eigenvalues : numpy.ndarray, shape (kd,)
        The Hessian's spectrum, ascending: the Hessian is block-diagonal with block
        :math:`2 v_\ell G` for unit :math:`\ell`, so its eigenvalues are the products
        :math:`2 v_\ell \lambda_j(G)`.
    """

    G: np.ndarray = field(repr=False)
    eigenvalues: np.ndarray = field(repr=False)

    @property
    def lambda_min(self) -> float:
        """The most negative eigenvalue; :math:`W = 0` is a strict saddle when it is negative."""
        return float(self.eigenvalues[0])

    def __repr__(self) -> str:
        return f"ZeroSaddle(d={self.G.shape[0]}, lambda_min={self.lambda_min:.6g})"


def saddle_at_zero(objective: Objective) -> ZeroSaddle:
    r"""The Hessian spectrum at :math:`W = 0` in closed form, :math:`\{2 v_\ell \lambda_j(G)\}`
    with :math:`G = -\frac1n \sum_i y_i x_i x_i^\top`.

    At :math:`W = 0` every prediction is 0, so :math:`r = -y`, the Gauss–Newton term vanishes
    (:math:`\phi'(0) = 0`) and the Hessian is the residual curvature alone: block
    :math:`2 v_\ell G` for unit :math:`\ell`.

    Examples
    --------
    >>> import numpy as np
    >>> from shallowlearn import Objective, random_labels
    >>> from shallowlearn.quadratic import saddle_at_zero
    >>> data = random_labels(n=25, d=3, rng=1)
    >>> obj = Objective(data.X, data.y, "quadratic", v=[1.0, -2.0])
    >>> zs = saddle_at_zero(obj)
    >>> bool(np.allclose(zs.eigenvalues, np.linalg.eigvalsh(obj.hessian(np.zeros(obj.p)))))
    True
    """
    obj = _check_quadratic(objective)
    if obj.trains_v:
        raise TypeError("saddle_at_zero needs an objective with v fixed (Objective(..., v=...))")
    G = -(obj.X.T * obj.y) @ obj.X / obj.n
    eigenvalues = np.sort(np.outer(2.0 * obj.v, np.linalg.eigvalsh(G)).ravel())
    return ZeroSaddle(G=G, eigenvalues=eigenvalues)


@dataclass(frozen=True, eq=False)
class EscapeDirection:
    r"""A direction :math:`U = ab^\top` with :math:`W^\top D_v a = 0` and its curvature (the
    paper's Case II).

    Attributes
    ----------
    U : numpy.ndarray, shape (k, d)
        Unit Frobenius norm (:math:`\lVert a \rVert = \lVert b \rVert = 1`).
    a : numpy.ndarray, shape (k,)
    b : numpy.ndarray, shape (d,)
    curvature : float
        :math:`\operatorname{vec}(U)^\top \nabla^2\mathcal L \operatorname{vec}(U)
        = 2 (a^\top D_v a)(b^\top G b)`: negative means :math:`U` escapes.
    """

    U: np.ndarray = field(repr=False)
    a: np.ndarray = field(repr=False)
    b: np.ndarray = field(repr=False)
    curvature: float


def case_two_direction(objective: Objective, theta) -> EscapeDirection:
    r"""The most negative curvature among directions :math:`U = ab^\top` with
    :math:`W^\top D_v a = 0`.

    Along such a :math:`U` the lifted matrix does not move to first order
    (:math:`W^\top D_v U = 0`), so the Hessian sees only the residual curvature:
    :math:`\nabla^2\mathcal L[U, U] = 2 (a^\top D_v a)(b^\top G b)`,
    :math:`G = \frac1n \sum_i r_i x_i x_i^\top`. The best :math:`a` is an extreme eigenvector of
    :math:`D_v` restricted to the null space of :math:`W^\top D_v`, the best :math:`b` an extreme
    eigenvector of :math:`G`, with opposite signs of :math:`a^\top D_v a` and :math:`b^\top G b`.
    This is the escape direction of the paper's proof of Theorem 2.1 when both sign blocks of
    :math:`D_v W` are rank deficient ("Case II"); at :math:`W = 0` it attains the Hessian's
    :math:`\lambda_{\min}`.

    Raises ValueError when :math:`W^\top D_v` has no null space (then every critical point has
    :math:`G = 0`).

    Examples
    --------
    >>> import numpy as np
    >>> from shallowlearn import Objective, random_labels
    >>> from shallowlearn.quadratic import case_two_direction
    >>> data = random_labels(n=25, d=3, rng=1)
    >>> obj = Objective(data.X, data.y, "quadratic", v=[1.0, -1.0, 1.0, -1.0])
    >>> esc = case_two_direction(obj, np.zeros(obj.p))
    >>> u = esc.U.ravel()
    >>> bool(np.isclose(u @ obj.hessian(np.zeros(obj.p)) @ u, esc.curvature))
    True
    """
    obj = _check_quadratic(objective)
    if obj.trains_v:
        raise TypeError("case_two_direction needs an objective with v fixed (Objective(..., v=...))")
    v, W = obj.unpack(theta)
    N = null_space(W.T * v)  # (k, m): WᵀD_va = 0 for a in its span
    if N.shape[1] == 0:
        raise ValueError(
            "WᵀD_v has a trivial null space (D_vW has rank k), so no a ≠ 0 has WᵀD_va = 0: "
            "the paper's Case I, where stationarity alone forces G = 0"
        )
    mu, A = np.linalg.eigh(N.T @ (v[:, None] * N))  # aᵀD_va over unit a in the null space
    G = certificate_matrix(obj, theta)
    lam, B = np.linalg.eigh(G)
    options = [(2.0 * mu[-1] * lam[0], N @ A[:, -1], B[:, 0]), (2.0 * mu[0] * lam[-1], N @ A[:, 0], B[:, -1])]
    curvature, a, b = min(options, key=lambda option: option[0])
    return EscapeDirection(U=np.outer(a, b), a=a, b=b, curvature=float(curvature))


def certificate_matrix(objective: Objective, theta) -> np.ndarray:
    r""":math:`G(W) = \frac1n \sum_i r_i x_i x_i^\top` alone, without the lifted optimum (see
    :func:`optimality_certificate`).

    Examples
    --------
    >>> import numpy as np
    >>> from shallowlearn import Objective
    >>> from shallowlearn.quadratic import certificate_matrix
    >>> obj = Objective(np.eye(2), [1.0, 0.0], "quadratic", v=[1.0])
    >>> certificate_matrix(obj, np.zeros(2))
    array([[-0.5,  0. ],
           [ 0. ,  0. ]])
    """
    obj = _check_quadratic(objective)
    r = obj.residuals(theta)
    return (obj.X.T * r) @ obj.X / obj.n
