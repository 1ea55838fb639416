r"""Starting points for gradient descent: random, near the planted weights, spectral, tensor.

* :func:`random_init` is the start of the paper's experiments: :math:`W` with i.i.d.
  :math:`\mathcal N(0, 1/d)` entries, :math:`v` with i.i.d. Rademacher (:math:`\pm 1`) entries.
* :func:`near_planted` puts :math:`W` (and optionally :math:`v`) at a given distance from a
  teacher's weights, the setting of the paper's local-convergence result (Theorem 2.5).
* :func:`spectral_init` (quadratic activation) reads
  :math:`A = W^{\star\top} \operatorname{diag}(v^\star) W^\star` off the data: for
  :math:`x \sim \mathcal N(0, I)` and :math:`y = x^\top A x`,
  :math:`\mathbb E[y(xx^\top - I)] = 2A`, so
  :math:`\hat A = \frac{1}{2n} \sum_i y_i (x_i x_i^\top - I)` estimates :math:`A`.
* :func:`tensor_init` (other activations) estimates the directions of the teacher's units from
  Hermite moments, following Zhong, Song, Jain, Bartlett & Dhillon (ICML 2017).

Hermite moments
---------------
For :math:`x \sim \mathcal N(0, I_d)` and
:math:`y = \sum_i v^\star_i \phi(\langle w^\star_i, x\rangle)`, the :math:`j`-th Hermite moment
is

.. math::

    M_j = \mathbb E[y \mathrm{He}_j(x)]
        = \sum_i v^\star_i m_j(\lVert w^\star_i \rVert) \bar w_i^{\otimes j},
    \qquad m_j(\sigma) = \mathbb E[\phi(\sigma g) \mathrm{He}_j(g)],

with :math:`\bar w_i = w^\star_i / \lVert w^\star_i \rVert`, :math:`g \sim \mathcal N(0, 1)` and
:math:`\mathrm{He}_j` the probabilists' Hermite polynomials (tensors):

.. math::

    \mathrm{He}_2(x) = xx^\top - I, \qquad
    \mathrm{He}_3(x) = x^{\otimes 3} - (\text{three copies of } x \otimes I),

    \mathrm{He}_4(x) = x^{\otimes 4} - (\text{six copies of } x \otimes x \otimes I)
    + (\text{three copies of } I \otimes I).

Each :math:`M_j` is a symmetric tensor whose components are the teacher's directions, but only
when its coefficient :math:`m_j` is non-zero, and parity makes many vanish:

==========  =============  =============  =============  =========================================
activation  :math:`m_2`    :math:`m_3`    :math:`m_4`    what :func:`tensor_init` uses
==========  =============  =============  =============  =========================================
quadratic   :math:`\ne 0`  0              0              nothing beyond :math:`M_2`: use
                                                         :func:`spectral_init`
tanh, erf   0              :math:`\ne 0`  0              odd :math:`\phi`: subspace from
                                                         :math:`M_3(\cdot, \cdot, \alpha)`,
                                                         components from :math:`M_3`
sigmoid     0              :math:`\ne 0`  0              :math:`\phi - 1/2` is odd: as tanh
softplus    :math:`\ne 0`  0              :math:`\ne 0`  :math:`\phi(z) - z/2` is even: subspace
                                                         from :math:`M_2`, components from
                                                         :math:`M_4`
ReLU        :math:`\ne 0`  0              :math:`\ne 0`  as softplus
                                                         (:math:`\mathrm{ReLU}(z) - z/2 = |z|/2`)
==========  =============  =============  =============  =========================================

The method computes :math:`m_2, m_3, m_4` for the given activation by quadrature, so it handles
any activation by the first rule that applies: components from :math:`M_3` when
:math:`m_3 \ne 0`, else from :math:`M_4` when :math:`m_2 \ne 0` and :math:`m_4 \ne 0`; the
subspace from :math:`M_2` when :math:`m_2 \ne 0`, else from :math:`M_3(\cdot, \cdot, \alpha)`
for a random :math:`\alpha`. An activation with none of these (:math:`\phi` quadratic, or
linear) is refused.

Steps: (1) the top-:math:`k` eigenvectors :math:`V` (:math:`d \times k`) of the estimated
second-order matrix span the teacher's directions; (2) the third- or fourth-order moment is
estimated in the :math:`k` coordinates :math:`V^\top x` (still :math:`\mathcal N(0, I_k)`), which
keeps it small; (3) Jennrich's simultaneous diagonalisation of two random contractions of it
gives the components :math:`u_i`, and :math:`\bar w_i = V u_i`, each only up to sign; (4) unless
:math:`\phi` is odd, each direction is oriented by which sign fits the data better, and with the
directions fixed the norms and output weights are fitted by least squares on (at most 20,000
of) the samples. Zhong et al. instead recover them from lower moments using homogeneity
(:math:`\phi(az) = a^p \phi(z)`), which softplus, tanh and sigmoid lack; they also split the
sample between the steps, which their proof needs and this estimate does not.
"""

from __future__ import annotations

import numpy as np
from scipy import optimize

from .activations import Activation, gaussian_expectation, get_activation
from .validation import as_rng, check_array, check_positive_int, check_real

__all__ = ["hermite_coefficients", "near_planted", "random_init", "spectral_init", "tensor_init"]

# A Hermite coefficient smaller than this (relative to the largest of m₁..m₄) counts as zero.
_VANISHES = 1e-8


def random_init(k, d, *, size=None, rng=None) -> tuple[np.ndarray, np.ndarray]:
    r"""The paper's random start: :math:`W` with :math:`\mathcal N(0, 1/d)` entries, :math:`v` with
    Rademacher (:math:`\pm 1`) entries.

    Parameters
    ----------
    k, d : int
        Hidden units and input dimension.
    size : int, optional
        Number of independent starts; they are stacked along a new first axis.
    rng : None, int or numpy.random.Generator

    Returns
    -------
    W : numpy.ndarray, shape (k, d), or (size, k, d)
    v : numpy.ndarray, shape (k,), or (size, k)

    Examples
    --------
    >>> from shallowlearn.initializations import random_init
    >>> W, v = random_init(3, 5, rng=0)
    >>> W.shape, sorted(set(v.tolist())) <= [-1.0, 1.0]
    ((3, 5), True)
    >>> random_init(3, 5, size=10, rng=0)[0].shape
    (10, 3, 5)
    """
    k = check_positive_int(k, "k")
    d = check_positive_int(d, "d")
    lead = () if size is None else (check_positive_int(size, "size"),)
    gen = as_rng(rng)
    W = gen.normal(0.0, 1.0 / np.sqrt(d), size=lead + (k, d))
    v = gen.choice([-1.0, 1.0], size=lead + (k,))
    return W, v


def near_planted(W, v, radius, *, v_radius=0.0, rng=None) -> tuple[np.ndarray, np.ndarray]:
    r"""A start at a given distance from planted weights, in a uniformly random direction.

    :math:`W_0 = W^\star + \mathtt{radius} \cdot U / \lVert U \rVert_F` and
    :math:`v_0 = v^\star + \mathtt{v\_radius} \cdot u / \lVert u \rVert` with :math:`U, u`
    standard Gaussian, so :math:`\lVert W_0 - W^\star \rVert_F` = ``radius`` and
    :math:`\lVert v_0 - v^\star \rVert` = ``v_radius`` exactly.

    Parameters
    ----------
    W : array_like, shape (k, d)
        Planted hidden weights :math:`W^\star`.
    v : array_like, shape (k,)
        Planted output weights :math:`v^\star`.
    radius : float
        Frobenius distance of :math:`W_0` from :math:`W^\star` (:math:`\ge 0`).
    v_radius : float
        Euclidean distance of :math:`v_0` from :math:`v^\star` (:math:`\ge 0`; default 0 keeps
        :math:`v_0 = v^\star`).
    rng : None, int or numpy.random.Generator

    Returns
    -------
    W0 : numpy.ndarray, shape (k, d)
    v0 : numpy.ndarray, shape (k,)

    Examples
    --------
    >>> import numpy as np
    >>> from shallowlearn.initializations import near_planted
    >>> W0, v0 = near_planted(np.eye(2), np.ones(2), 0.1, rng=0)
    >>> round(float(np.linalg.norm(W0 - np.eye(2))), 12), v0.tolist()
    (0.1, [1.0, 1.0])
    """
    W = check_array(W, "W", ndim=2)
    v = check_array(v, "v", ndim=1, shape=(W.shape[0],))
    radius = check_real(radius, "radius", low=0.0)
    v_radius = check_real(v_radius, "v_radius", low=0.0)
    gen = as_rng(rng)
    U = gen.normal(size=W.shape)
    u = gen.normal(size=v.shape)
    return W + radius * U / np.linalg.norm(U), v + v_radius * u / np.linalg.norm(u)


def _check_data(X, y):
    X = check_array(X, "X", ndim=2)
    y = check_array(y, "y", ndim=1, shape=(X.shape[0],))
    return X, y


def spectral_init(X, y, v, *, fill=1e-3, rng=None) -> np.ndarray:
    r"""Hidden weights whose quadratic form matches the data's second moment (:math:`\phi(z)=z^2`).

    With :math:`\hat A = \frac{1}{2n} \sum_i y_i(x_i x_i^\top - I) = \sum_j \lambda_j u_j u_j^\top`,
    the positive eigenpairs (largest first) go to the units with :math:`v_\ell > 0` and the
    negative ones (most negative first) to the units with :math:`v_\ell < 0`, as
    :math:`w_\ell = \sqrt{\lambda_j / v_\ell}\, u_j`, so that
    :math:`W^\top \operatorname{diag}(v) W` is the best approximation of :math:`\hat A` that
    these signs allow. Units left over get small random rows of norm about ``fill``: an exactly
    zero row is a critical point that gradient descent never leaves.

    The network is identified only up to :math:`W \mapsto QW` with
    :math:`Q^\top \operatorname{diag}(v) Q = \operatorname{diag}(v)`, so compare
    :math:`W^\top \operatorname{diag}(v) W`, not :math:`W`, with the teacher's
    :math:`W^{\star\top} \operatorname{diag}(v^\star) W^\star`.

    Parameters
    ----------
    X : array_like, shape (n, d)
        Inputs, assumed i.i.d. :math:`\mathcal N(0, I_d)` (the estimate relies on Gaussian
        moments).
    y : array_like, shape (n,)
        Labels of a quadratic network, :math:`y \approx x^\top A x`.
    v : array_like, shape (k,)
        The student's output weights (not changed); units with :math:`v_\ell = 0` get filler
        rows.
    fill : float
        Norm of the filler rows (:math:`> 0`).
    rng : None, int or numpy.random.Generator
        For the filler rows.

    Returns
    -------
    W : numpy.ndarray, shape (k, d)

    Examples
    --------
    >>> import numpy as np
    >>> from shallowlearn import planted
    >>> from shallowlearn.initializations import spectral_init
    >>> data = planted(n=20000, d=4, k=2, rng=0)
    >>> W = spectral_init(data.X, data.y, v=np.ones(4), rng=0)
    >>> A, A_hat = data.teacher.W.T @ data.teacher.W, W.T @ W
    >>> bool(np.linalg.norm(A_hat - A) < 0.1 * np.linalg.norm(A))
    True
    """
    X, y = _check_data(X, y)
    v = check_array(v, "v", ndim=1)
    fill = check_real(fill, "fill", low=0.0, strict=True)
    gen = as_rng(rng)
    n, d = X.shape
    A_hat = (X.T * y) @ X / (2 * n) - np.mean(y) / 2 * np.eye(d)
    lam, U = np.linalg.eigh(A_hat)
    W = gen.normal(size=(v.size, d)) * (fill / np.sqrt(d))
    for sign in (1.0, -1.0):
        units = np.flatnonzero(np.sign(v) == sign)
        order = np.argsort(-sign * lam)  # eigenvalues of this sign, largest magnitude first
        order = order[sign * lam[order] > 0][: units.size]
        used = units[: order.size]
        W[used] = np.sqrt(np.abs(lam[order]) / np.abs(v[used]))[:, None] * U[:, order].T
    return W


def hermite_coefficients(activation, sigma: float = 1.0) -> np.ndarray:
    r"""The Hermite coefficients :math:`m_j(\sigma) = \mathbb E[\phi(\sigma g) \mathrm{He}_j(g)]`,
    :math:`j = 0, \dots, 4`, :math:`g \sim \mathcal N(0, 1)`.

    By Gaussian integration by parts,
    :math:`m_j(\sigma) = \sigma^j \mathbb E[\phi^{(j)}(\sigma g)]`; here they are integrated
    directly against
    :math:`\mathrm{He}_0, \dots, \mathrm{He}_4 = 1, g, g^2 - 1, g^3 - 3g, g^4 - 6g^2 + 3`.

    Examples
    --------
    >>> from shallowlearn.initializations import hermite_coefficients
    >>> (hermite_coefficients("quadratic").round(6) + 0.0).tolist()   # z² = He₂ + He₀
    [1.0, 0.0, 2.0, 0.0, 0.0]
    >>> bool(abs(hermite_coefficients("tanh")[2]) < 1e-12)     # odd φ: m₂ = 0
    True
    """
    act = get_activation(activation)
    sigma = check_real(sigma, "sigma", low=0.0, strict=True)
    hermite = (
        lambda g: np.ones_like(g),
        lambda g: g,
        lambda g: g**2 - 1,
        lambda g: g**3 - 3 * g,
        lambda g: g**4 - 6 * g**2 + 3,
    )
    return np.array(
        [gaussian_expectation(lambda g, h=h: act.phi(g) * h(g / sigma), sigma) for h in hermite]
    )


def _moment_plan(act: Activation) -> tuple[int, int]:
    """Which moments to use: (order giving the subspace, order giving the components)."""
    m = np.abs(hermite_coefficients(act))
    zero = m <= _VANISHES * m[1:].max()
    if zero[3] and (zero[2] or zero[4]):
        raise NotImplementedError(
            f"tensor_init needs a non-zero third Hermite coefficient, or non-zero second and "
            f"fourth ones; {act!r} has m₂, m₃, m₄ = {m[2]:.3g}, {m[3]:.3g}, {m[4]:.3g}"
            + (" (for φ(z) = z² use spectral_init)" if act.name == "quadratic" else "")
        )
    return (2 if not zero[2] else 3), (3 if not zero[3] else 4)


def _hermite_tensor_moment(Z: np.ndarray, y: np.ndarray, order: int) -> np.ndarray:
    """(1/n) Σᵢ yᵢ He_order(zᵢ) as a dense tensor (order 3 or 4), for the rows zᵢ of Z (n, k)."""
    n, k = Z.shape
    eye = np.eye(k)
    if order == 3:
        m1 = y @ Z / n
        cubic = np.einsum("i,ia,ib,ic->abc", y, Z, Z, Z) / n
        return cubic - sum(np.einsum(f"{s},{t}->abc", m1, eye) for s, t in _SINGLES)
    m2 = np.einsum("i,ia,ib->ab", y, Z, Z) / n
    quartic = np.einsum("i,ia,ib,ic,ie->abce", y, Z, Z, Z, Z) / n
    pairs = sum(np.einsum(f"{s},{t}->abce", m2, eye) for s, t in _PAIRS)
    deltas = sum(np.einsum(f"{s},{t}->abce", eye, eye) for s, t in _PAIRS[:3])
    return quartic - pairs + np.mean(y) * deltas


# He₃ = x⊗x⊗x − Σ x ⊗ I over the 3 places of x; He₄ subtracts x ⊗ x ⊗ I over the 6 places of
# the pair of x's, and adds I ⊗ I over the 3 pairings of the four indices.
_SINGLES = [("a", "bc"), ("b", "ac"), ("c", "ab")]
_PAIRS = [("ab", "ce"), ("ac", "be"), ("ae", "bc"), ("bc", "ae"), ("be", "ac"), ("ce", "ab")]


def _jennrich(T: np.ndarray, gen: np.random.Generator) -> np.ndarray:
    """Components of T = Σᵢ cᵢ uᵢ^{⊗p} (p = 3 or 4, independent uᵢ), as unit columns of U.

    Contracting all but two modes with a random a gives Mₐ = U Dₐ Uᵀ, and with b gives
    M_b = U D_b Uᵀ; the eigenvectors of Mₐ M_b⁻¹ = U (Dₐ D_b⁻¹) U⁻¹ are the uᵢ.
    """
    a, b = gen.normal(size=(2, T.shape[0]))
    Ma, Mb = T, T
    for _ in range(T.ndim - 2):
        Ma, Mb = Ma @ a, Mb @ b
    _, vectors = np.linalg.eig(np.linalg.solve(Mb.T, Ma.T).T)
    U = np.real(vectors)
    return U / np.linalg.norm(U, axis=0)


def tensor_init(X, y, k, activation, *, rng=None) -> tuple[np.ndarray, np.ndarray]:
    r"""Hidden and output weights from the Hermite moments of planted data (Zhong et al. 2017).

    The directions of the teacher's units come from its second and third or fourth Hermite
    moments (see the module notes for which, by activation); the norms and output weights are
    then fitted by least squares on the data with the directions fixed. Requires
    :math:`k \le d` and a teacher with linearly independent rows; the estimate improves with
    :math:`n`.

    Parameters
    ----------
    X : array_like, shape (n, d)
        Inputs, assumed i.i.d. :math:`\mathcal N(0, I_d)`.
    y : array_like, shape (n,)
        Labels of a planted network with :math:`k` units.
    k : int
        Number of units to recover (:math:`k \le d`).
    activation : str, Activation or callable
        The teacher's activation.
    rng : None, int or numpy.random.Generator
        For the random contractions.

    Returns
    -------
    W : numpy.ndarray, shape (k, d)
    v : numpy.ndarray, shape (k,)

    Raises
    ------
    NotImplementedError
        For activations whose informative Hermite moments vanish (quadratic: use
        :func:`spectral_init`; linear).

    Examples
    --------
    >>> import numpy as np
    >>> from shallowlearn import planted
    >>> from shallowlearn.initializations import tensor_init
    >>> data = planted(n=20000, d=4, k=2, activation="tanh", W=np.eye(2, 4), v=[1.0, 1.0], rng=0)
    >>> W, v = tensor_init(data.X, data.y, 2, "tanh", rng=0)
    >>> cosines = np.abs(W / np.linalg.norm(W, axis=1, keepdims=True) @ np.eye(2, 4).T)
    >>> bool(np.all(cosines.max(axis=1) > 0.95))
    True
    """
    X, labels = _check_data(X, y)
    n, d = X.shape
    y = labels
    k = check_positive_int(k, "k")
    if k > d:
        raise ValueError(f"tensor_init recovers at most d={d} units; got k={k}")
    act = get_activation(activation)
    gen = as_rng(rng)
    sub_order, comp_order = _moment_plan(act)
    # Remove the labels' projections on He₀ and He₁ (a constant and a linear function of x):
    # by orthogonality of Hermite polynomials this leaves M₂, M₃, M₄ unchanged in expectation
    # and takes much of the sampling noise out of their estimates.
    y = y - np.mean(y)
    y = y - X @ (y @ X / n)
    if not np.any(np.abs(y) > 1e-12 * max(1.0, float(np.abs(labels).max()))):
        raise ValueError(
            "y must vary beyond a constant and a linear function of x: its higher Hermite "
            "moments, which carry the teacher's directions, are all zero")
    if sub_order == 2:
        P2 = (X.T * y) @ X / n - np.mean(y) * np.eye(d)
    else:  # M₃(·, ·, α) for a random unit α
        alpha = gen.normal(size=d)
        alpha /= np.linalg.norm(alpha)
        xa = X @ alpha
        m1 = y @ X / n
        P2 = (X.T * (y * xa)) @ X / n - np.mean(y * xa) * np.eye(d)
        P2 -= np.outer(m1, alpha) + np.outer(alpha, m1)
    lam, vectors = np.linalg.eigh(P2)
    V = vectors[:, np.argsort(-np.abs(lam))[:k]]
    R = _hermite_tensor_moment(X @ V, y, comp_order)
    directions = (V @ _jennrich(R, gen)).T
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    return _fit_scales(X, labels, directions, act)


# Unit norms are fitted in this range. The inputs are N(0, I), so a unit of norm s sees
# pre-activations of standard deviation s. At the ends of the range the fit is degenerate: a
# unit of tiny norm is nearly linear (φ(sz) ≈ φ(0) + sφ′(0)z, so (s, v) and (s/c, cv) fit
# alike), and a steep softplus unit of large norm is nearly homogeneous ((s, v) and (cs, v/c));
# unbounded, the fit drifts along these directions to absurd norms and output weights.
_NORM_BOUNDS = (1e-3, 10.0)
# The norms and output weights are fitted on at most this many samples (see _fit_scales).
_FIT_ROWS = 20_000


def _orient(X, y, directions, act: Activation):
    """Flip the directions so that each unit points the way the data favour.

    Jennrich's method returns each component only up to sign, and an even-order moment
    (M₄ for softplus) cannot tell w̄ from −w̄ at all. For odd φ that is harmless, since
    (w, v) and (−w, −v) are the same unit; otherwise φ(⟨w̄, x⟩) and φ(−⟨w̄, x⟩) are different
    functions (they differ by a linear term for softplus, a constant for sigmoid), and a unit
    of the wrong orientation cannot be repaired by the positive norms the scale fit allows.
    Greedy sign flips, keeping a flip when it lowers the residual of the best linear fit of
    y by the k features φ(±⟨w̄ᵢ, x⟩).
    """
    if act.odd:
        return directions
    G = X @ directions.T
    signs = np.ones(directions.shape[0])

    def misfit(signs):
        features = act.phi(G * signs)
        coef = np.linalg.lstsq(features, y, rcond=None)[0]
        return np.linalg.norm(features @ coef - y)

    best = misfit(signs)
    improved = True
    while improved:
        improved = False
        for i in range(signs.size):
            signs[i] = -signs[i]
            trial = misfit(signs)
            if trial < best:
                best, improved = trial, True
            else:
                signs[i] = -signs[i]
    return directions * signs[:, None]


def _fit_scales(X, y, directions, act: Activation):
    """Least-squares norms s (within _NORM_BOUNDS) and output weights v for
    W = diag(s) · directions, after orienting the directions (see :func:`_orient`).

    Only the first _FIT_ROWS samples are used: the fit has just 2k unknowns, which that many
    samples determine far more precisely than the moments determine the directions, and with
    n = 10⁵ samples the fit (an SVD of the n × 2k Jacobian per iteration) would otherwise cost
    several times more than the whole moment computation."""
    X, y = X[:_FIT_ROWS], y[:_FIT_ROWS]
    directions = _orient(X, y, directions, act)
    G = X @ directions.T  # (n, k)
    k = directions.shape[0]

    def residuals(p):
        s, v = p[:k], p[k:]
        return act.phi(G * s) @ v - y

    def jacobian(p):
        s, v = p[:k], p[k:]
        return np.hstack([act.dphi(G * s) * G * v, act.phi(G * s)])

    start = np.concatenate([np.ones(k), np.ones(k)])
    low, high = _NORM_BOUNDS
    bounds = (np.r_[np.full(k, low), np.full(k, -np.inf)], np.r_[np.full(k, high), np.full(k, np.inf)])
    fit = optimize.least_squares(residuals, start, jac=jacobian, method="trf", bounds=bounds)
    s, v = fit.x[:k], fit.x[k:]
    return directions * s[:, None], v
