r"""Hessian spectra of the training loss: dense for small problems, matrix-free for large ones.

Two routes compute eigenpairs of :math:`H = \nabla^2 \mathcal L(\theta)`:

* ``"dense"`` forms :math:`H` with :meth:`~shallowlearn.objective.BaseObjective.hessian` and
  diagonalizes it (:func:`numpy.linalg.eigh`): every eigenpair, exact to rounding, in
  :math:`O(p^3)` time and :math:`O(p^2)` memory. The default up to :math:`p` = ``DENSE_LIMIT``
  parameters.
* ``"iterative"`` never forms :math:`H`. It multiplies by it through :class:`HessianOperator` and
  returns only the extreme eigenpairs: the largest by Lanczos (:func:`scipy.sparse.linalg.eigsh`,
  which converges fast because the top of the spectrum is well separated), the most negative by
  a preconditioned block solver (:func:`scipy.sparse.linalg.lobpcg`).

Why not plain Lanczos for the bottom? The Hessian splits as :math:`H = J^\top J / n + B`, with
:math:`J` the Jacobian of the predictions and :math:`B = \sum_i r_i \nabla^2 f(x_i) / n` the
curvature weighted by the residuals. The Gauss–Newton part :math:`J^\top J / n` puts a few large
eigenvalues at the top (all units moving together); the bottom of the spectrum comes from
:math:`B` and is tightly clustered (for the quadratic activation, :math:`B` has every eigenvalue
of :math:`G` repeated once per hidden unit, and the model's symmetries keep the cluster
together). Lanczos needs about
:math:`(\lambda_{\max} - \lambda_{\min})^{1/2} / \mathrm{gap}^{1/2}` products to resolve such a
cluster; at :math:`(n, d, k) = (2000, 100, 200)` that is thousands of products. The iterative
route uses the model's structure instead:

* :math:`B` is block-diagonal over hidden units (one :math:`d \times d` block per unit,
  :math:`(d+1) \times (d+1)` when :math:`v` is trained), so its blocks are formed and
  diagonalized exactly, in about the cost of :math:`d/2` products. Since
  :math:`J^\top J / n \succeq 0`, :math:`\lambda_{\min}(B) \le \lambda_{\min}(H)`: a lower bound,
  which fixes the shift of the preconditioner.
* The start vector is the best combination of each unit's lowest curvature direction: the
  Rayleigh–Ritz problem of :math:`H` on these :math:`k` orthonormal vectors is a
  :math:`k \times k` matrix computed exactly from one pass over the data.
* The preconditioner inverts :math:`B - \sigma I` plus the Gauss–Newton matrix of the "mean"
  network (each unit's :math:`\phi'` replaced by its average over the samples), which is
  block-diagonal plus a rank-:math:`d` coupling between units: it is applied exactly with the
  Woodbury identity.

The structured route needs the data (an :class:`~shallowlearn.objective.Objective`); for other objectives,
such as the population objectives, the iterative route is plain Lanczos on the Hessian-vector
products at both ends of the spectrum. ``python -m shallowlearn bench`` compares the structured
route with plain ``eigsh(which='SA')``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
from scipy.sparse.linalg import ArpackNoConvergence, LinearOperator, eigsh, lobpcg

from .objective import BaseObjective, Objective
from .validation import as_rng, check_array, check_choice, check_objective, check_positive_int, check_real

__all__ = [
    "DENSE_LIMIT",
    "HessianOperator",
    "Spectrum",
    "eigenvalue_density",
    "hessian_spectrum",
]

#: The largest number of parameters for which the package forms dense Hessians (``method="auto"``
#: here, the solvers' curvature and subproblems, and their final :math:`\lambda_{\min}`
#: diagnostic).
DENSE_LIMIT = 2000

_METHODS = ("auto", "dense", "iterative")


class HessianOperator(LinearOperator):
    r"""The Hessian :math:`\nabla^2 \mathcal L(\theta)` at one point, as a
    :class:`scipy.sparse.linalg.LinearOperator`.

    It wraps the evaluation point ``objective.at(theta)``: the forward pass is computed once, and
    each product is :meth:`~shallowlearn.objective.Point.hvp` (for the data objective, two
    products with :math:`X` and a few elementwise passes per block of vectors). A block of
    :math:`b` vectors (shape (p, b)) is multiplied in one pass. ``n_products`` counts the
    vectors multiplied so far.

    Parameters
    ----------
    objective : Objective or another objective of the package
    theta : array_like, shape (p,)

    Attributes
    ----------
    objective
    point
        The evaluation point at :math:`\theta`.
    n_products : int

    Examples
    --------
    >>> import numpy as np
    >>> from shallowlearn import Objective, planted
    >>> from shallowlearn.spectrum import HessianOperator
    >>> data = planted(n=40, d=3, k=2, activation="tanh", rng=0)
    >>> obj = Objective(data.X, data.y, "tanh", k=2)
    >>> theta = np.random.default_rng(1).normal(size=obj.p)
    >>> H = HessianOperator(obj, theta)
    >>> U = np.eye(obj.p)[:, :3]
    >>> bool(np.allclose(H @ U, obj.hessian(theta)[:, :3])), H.n_products
    (True, 3)
    """

    def __init__(self, objective, theta):
        obj = check_objective(objective)
        super().__init__(dtype=np.float64, shape=(obj.p, obj.p))
        self.objective = obj
        self.point = obj.at(theta)
        self.n_products = 0

    def _matvec(self, u):
        return self._matmat(np.reshape(u, (-1, 1)))[:, 0]

    def _matmat(self, U):
        self.n_products += np.shape(U)[1]
        return self.point.hvp(U)

    def _adjoint(self):
        return self


@dataclass(frozen=True, eq=False)
class Spectrum:
    r"""Eigenpairs of a Hessian, with their residuals.

    Attributes
    ----------
    eigenvalues : numpy.ndarray, shape (m,)
        Ascending. All :math:`p` eigenvalues for the dense route; the ``n_bottom`` most negative and
        the ``n_top`` largest for the iterative route.
    eigenvectors : numpy.ndarray, shape (p, m)
        Unit eigenvectors, column :math:`j` for ``eigenvalues[j]``.
    residuals : numpy.ndarray, shape (m,)
        :math:`\lVert H u - \lambda u \rVert` for each pair. Some eigenvalue of :math:`H` lies
        within this distance of :math:`\lambda`.
    method : str
        ``"dense"`` or ``"iterative"``.
    n_products : int
        Hessian-vector products used (0 for the dense route).
    converged : bool
        Whether every residual met the requested tolerance (always True for the dense route).
    lower_bound : float or None
        For the iterative route, :math:`\lambda_{\min}(B) \le \lambda_{\min}(H)`, where
        :math:`B` is the residual curvature (module docstring); None for the dense route.

    Examples
    --------
    >>> import numpy as np
    >>> from shallowlearn import Objective, random_labels
    >>> from shallowlearn.spectrum import hessian_spectrum
    >>> data = random_labels(n=20, d=3, rng=0)
    >>> obj = Objective(data.X, data.y, "quadratic", v=[1.0, -1.0])
    >>> spec = hessian_spectrum(obj, np.zeros(obj.p))
    >>> spec.eigenvalues.shape, spec.method
    ((6,), 'dense')
    >>> bool(spec.lambda_min < 0 < spec.lambda_max)
    True
    """

    eigenvalues: np.ndarray = field(repr=False)
    eigenvectors: np.ndarray = field(repr=False)
    residuals: np.ndarray = field(repr=False)
    method: str
    n_products: int
    converged: bool
    lower_bound: float | None = None

    @property
    def p(self) -> int:
        """Number of parameters."""
        return self.eigenvectors.shape[0]

    @property
    def lambda_min(self) -> float:
        """The most negative eigenvalue found."""
        return float(self.eigenvalues[0])

    @property
    def lambda_max(self) -> float:
        """The largest eigenvalue found."""
        return float(self.eigenvalues[-1])

    @property
    def norm(self) -> float:
        r"""The spectral norm :math:`\lVert H \rVert_2 = \max(-\lambda_{\min}, \lambda_{\max})` of a
        complete spectrum."""
        return max(abs(self.lambda_min), abs(self.lambda_max))

    @property
    def complete(self) -> bool:
        """Whether every eigenvalue of :math:`H` is present."""
        return self.eigenvalues.size == self.p

    def __repr__(self) -> str:
        return (
            f"Spectrum(method={self.method!r}, p={self.p}, found={self.eigenvalues.size}, "
            f"lambda_min={self.lambda_min:.6g}, lambda_max={self.lambda_max:.6g}, "
            f"max_residual={float(np.max(self.residuals)):.2g}, "
            f"n_products={self.n_products}, converged={self.converged})"
        )


def hessian_spectrum(
    objective: Objective,
    theta,
    *,
    method: str = "auto",
    n_bottom: int = 1,
    n_top: int = 1,
    rtol: float = 1e-6,
    maxiter: int = 500,
    rng=None,
) -> Spectrum:
    r"""Eigenvalues and eigenvectors of the Hessian :math:`\nabla^2 \mathcal L(\theta)`.

    Parameters
    ----------
    objective : Objective or another objective of the package
    theta : array_like, shape (p,), or an evaluation point ``objective.at(theta)``
        Where; passing the point reuses its forward pass.
    method : {"auto", "dense", "iterative"}
        ``"auto"`` is dense for :math:`p \le` :data:`DENSE_LIMIT` and iterative above (module
        docstring).
    n_bottom, n_top : int
        Iterative route: how many of the most negative and of the largest eigenpairs to
        compute. The dense route always returns all of them.
    rtol : float
        Iterative route: each returned pair has
        :math:`\lVert H u - \lambda u \rVert \le \mathtt{rtol} \cdot \lVert H \rVert_2` when
        ``converged`` (:math:`\lVert H \rVert_2` estimated by the largest magnitude of
        :math:`\lambda_{\max}` and :math:`\lambda_{\min}`). The error of each eigenvalue is at
        most its residual.
    maxiter : int
        Iterative route: cap on the iterations of LOBPCG and on the restarts of Lanczos.
    rng : None, int or numpy.random.Generator
        Start vector of the Lanczos run for the top of the spectrum.

    Returns
    -------
    Spectrum

    Examples
    --------
    The two routes agree:

    >>> import numpy as np
    >>> from shallowlearn import Objective, planted
    >>> from shallowlearn.spectrum import hessian_spectrum
    >>> data = planted(n=60, d=4, k=6, activation="softplus", rng=0)
    >>> obj = Objective(data.X, data.y, "softplus", v=np.ones(6))
    >>> theta = np.random.default_rng(1).normal(size=obj.p) / 2
    >>> dense = hessian_spectrum(obj, theta, method="dense")
    >>> fast = hessian_spectrum(obj, theta, method="iterative", rng=0)
    >>> bool(abs(dense.lambda_min - fast.lambda_min) <= 1e-6 * dense.norm)
    True
    """
    obj = check_objective(objective)
    point = _point(obj, theta)
    check_choice(method, "method", _METHODS)
    n_bottom = check_positive_int(n_bottom, "n_bottom")
    n_top = check_positive_int(n_top, "n_top")
    rtol = check_real(rtol, "rtol", low=0.0, strict=True)
    maxiter = check_positive_int(maxiter, "maxiter")
    if method == "dense" or (method == "auto" and obj.p <= DENSE_LIMIT):
        return _dense_spectrum(point)
    if 5 * (n_bottom + n_top) >= obj.p:
        raise ValueError(
            f"the iterative route needs 5 * (n_bottom + n_top) < p = {obj.p}; got "
            f"n_bottom={n_bottom}, n_top={n_top} (use method='dense' for so small a problem)"
        )
    op = HessianOperator(obj, point.theta)
    return _iterative_spectrum(op, n_bottom, n_top, rtol, maxiter, as_rng(rng))


def _point(obj: BaseObjective, theta):
    """The evaluation point at θ; θ may already be one (of this objective)."""
    if hasattr(theta, "hvp") and hasattr(theta, "theta"):
        if theta.objective is not obj:
            raise ValueError("theta is an evaluation point of another objective")
        return theta
    return obj.at(theta)


def _dense_spectrum(point) -> Spectrum:
    H = point.hessian()
    w, V = np.linalg.eigh(H)
    residuals = np.linalg.norm(H @ V - V * w, axis=0)
    return Spectrum(w, V, residuals, "dense", 0, True)


def _lanczos(op: HessianOperator, count: int, which: str, rtol, maxiter, rng):
    """The ``count`` largest (``which="LA"``) or smallest (``"SA"``) eigenpairs by Lanczos.

    Lanczos can fail to converge where eigenvalues cluster, as at a degenerate minimum whose
    Hessian has many eigenvalues at zero. Then, if p is at most :data:`DENSE_LIMIT`, the pairs
    come from the dense Hessian (the products Lanczos spent still count); above it, a
    ``LinAlgError`` says so.
    """
    try:
        return eigsh(op, k=count, which=which, tol=rtol, maxiter=maxiter,
                     v0=rng.standard_normal(op.shape[0]))
    except ArpackNoConvergence as err:
        if op.shape[0] > DENSE_LIMIT:
            raise np.linalg.LinAlgError(
                f"Lanczos did not converge to the {count} {'largest' if which == 'LA' else 'smallest'}"
                f" Hessian eigenvalue(s) in maxiter={maxiter} iterations at p = {op.shape[0]} "
                f"(above DENSE_LIMIT = {DENSE_LIMIT}, so no dense fallback); raise maxiter or rtol"
            ) from err
        w, V = np.linalg.eigh(op.point.hessian())
        chosen = slice(-count, None) if which == "LA" else slice(0, count)
        return w[chosen], V[:, chosen]


def _iterative_spectrum(op: HessianOperator, n_bottom, n_top, rtol, maxiter, rng) -> Spectrum:
    p = op.shape[0]
    top_w, top_V = _lanczos(op, n_top, "LA", rtol, maxiter, rng)
    lower = None
    if isinstance(op.objective, Objective):
        blocks = _UnitBlocks(op.point)
        lower = float(blocks.mu[:, 0].min())
        scale = max(abs(float(top_w[-1])), abs(lower))
        # shift just below λ_min(B) ≤ λ_min(H), so that B − σI is positive definite
        sigma = lower - 1e-4 * max(float(top_w[-1]) - lower, np.finfo(float).tiny)
        start = blocks.ritz_start(n_bottom, rng)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # non-convergence is reported via `converged`
            bottom_w, bottom_V = lobpcg(
                op, start, M=blocks.preconditioner(sigma), largest=False, tol=rtol * scale,
                maxiter=maxiter,
            )
    else:  # no data to build the structured route on: plain Lanczos at the bottom too
        bottom_w, bottom_V = _lanczos(op, n_bottom, "SA", rtol, maxiter, rng)
        scale = max(abs(float(top_w[-1])), abs(float(bottom_w.min())))
    order = np.argsort(bottom_w)
    w = np.concatenate([bottom_w[order], top_w])
    V = np.concatenate([bottom_V[:, order], top_V], axis=1)
    V /= np.linalg.norm(V, axis=0)
    residuals = np.linalg.norm(op @ V - V * w, axis=0)
    scale = max(scale, float(np.max(np.abs(w))))
    converged = bool(np.all(residuals <= rtol * scale * (1 + 1e-8)))
    return Spectrum(w, V, residuals, "iterative", op.n_products, converged, lower)


class _UnitBlocks:
    """The per-unit structure of the Hessian used by the iterative route.

    Parameters are grouped by hidden unit: w_ℓ (m = d coordinates), or (v_ℓ, w_ℓ) (m = d + 1)
    when v is trained. The residual curvature B is block-diagonal in this grouping; ``mu`` and
    ``Q`` hold the eigenvalues (ascending) and eigenvectors of each unit's block.
    """

    def __init__(self, point):
        obj = point.objective
        n, d, k, X = point.n, obj.d, obj.k, point.X
        self.point = point
        m = d + 1 if obj.trains_v else d
        B = np.zeros((k, m, m))
        for unit in range(k):
            B[unit, -d:, -d:] = (X.T * point.curvature[:, unit]) @ X / n
        if obj.trains_v:
            border = point.cross.T @ X / n  # ∂²L/∂v_ℓ∂w_ℓ from the residuals
            B[:, 0, 1:] = border
            B[:, 1:, 0] = border
        self.mu, self.Q = np.linalg.eigh(B)
        # the mean network: unit ℓ's Jacobian entries replaced by their averages over samples,
        # J̄ᵢ = (D_ℓ x̃ᵢ)_ℓ with x̃ᵢ = xᵢ (or (1, xᵢ) when v is trained)
        mean_slope = point.slope.mean(axis=0)
        if obj.trains_v:
            self.D = np.concatenate([point.A.mean(axis=0)[:, None], np.repeat(mean_slope[:, None], d, 1)], 1)
            Xt = np.concatenate([np.ones((n, 1)), X], axis=1)
        else:
            self.D = np.repeat(mean_slope[:, None], d, axis=1)
            Xt = X
        self.S = Xt.T @ Xt / n
        self.m = m

    def to_units(self, U):
        """(p, b) parameters → (k, m, b) per-unit coordinates."""
        obj = self.point.objective
        k, d, b = obj.k, obj.d, U.shape[1]
        if not obj.trains_v:
            return U.reshape(k, d, b)
        return np.concatenate([U[:k, None, :], U[k:].reshape(k, d, b)], axis=1)

    def from_units(self, Y):
        """(k, m, b) per-unit coordinates → (p, b) parameters."""
        obj = self.point.objective
        k, d, b = obj.k, obj.d, Y.shape[2]
        if not obj.trains_v:
            return Y.reshape(k * d, b)
        return np.concatenate([Y[:, 0, :], Y[:, 1:, :].reshape(k * d, b)])

    def ritz_start(self, b: int, rng) -> np.ndarray:
        """Start block: Rayleigh–Ritz of H on each unit's lowest curvature direction.

        On the k orthonormal vectors qℓ (unit ℓ's bottom eigenvector of B, zero elsewhere),
        H restricted is PᵀP/n + diag(μℓ) with Pᵢℓ = Jᵢ·qℓ. Its b lowest eigenvectors give the
        start; columns beyond k are Gaussian.
        """
        point, obj = self.point, self.point.objective
        q = self.Q[:, :, 0]  # (k, m)
        P = point.slope * (point.X @ q[:, -obj.d:].T)
        if obj.trains_v:
            P += point.A * q[:, 0]
        ritz = P.T @ P / point.n + np.diag(self.mu[:, 0])
        _, a = np.linalg.eigh(ritz)
        take = min(b, obj.k)
        start = self.from_units(q[:, :, None] * a[:, None, :take])
        if b > take:
            start = np.concatenate([start, rng.standard_normal((obj.p, b - take))], axis=1)
        return start

    def preconditioner(self, sigma: float) -> LinearOperator:
        """(K + D S Dᵀ)⁻¹ with K = B − σI (block-diagonal) and D S Dᵀ the mean network's JᵀJ/n."""
        Kinv = (self.Q / (self.mu - sigma)[:, None, :]) @ self.Q.transpose(0, 2, 1)
        F = np.einsum("li,lij,lj->ij", self.D, Kinv, self.D, optimize=True)  # Dᵀ K⁻¹ D
        small = np.linalg.solve(np.eye(self.m) + self.S @ F, self.S)  # (S⁻¹ + DᵀK⁻¹D)⁻¹
        p = self.point.objective.p

        def apply(R):
            R2 = np.reshape(R, (p, -1))
            Y = np.matmul(Kinv, self.to_units(R2))
            z = small @ np.einsum("li,lib->ib", self.D, Y)
            Y -= np.matmul(Kinv, self.D[:, :, None] * z[None])
            return self.from_units(Y).reshape(np.shape(R))

        return LinearOperator((p, p), matvec=apply, matmat=apply, dtype=np.float64)


def eigenvalue_density(eigenvalues, *, width: float | None = None, grid=None) -> tuple[np.ndarray, np.ndarray]:
    r"""A smooth density of eigenvalues, for plots: each eigenvalue broadened into a Gaussian.

    :math:`\rho(t) = \frac1m \sum_j \mathcal N(t; \lambda_j, \mathtt{width}^2)` integrates to one;
    a cluster of :math:`c` equal eigenvalues shows as a peak :math:`c` times higher than a single
    one, so a logarithmic axis shows both the bulk and the spike of near-zero eigenvalues.

    Parameters
    ----------
    eigenvalues : array_like or Spectrum
    width : float, optional
        Standard deviation of each Gaussian; default 1% of the spectral range (or 1 when all
        eigenvalues are equal).
    grid : array_like, optional
        Where to evaluate :math:`\rho`; default 512 points over the range widened by 3 widths.

    Returns
    -------
    grid, density : numpy.ndarray

    Examples
    --------
    >>> import numpy as np
    >>> from shallowlearn.spectrum import eigenvalue_density
    >>> t, rho = eigenvalue_density([-1.0, 0.0, 0.0, 2.0])
    >>> bool(abs(np.trapezoid(rho, t) - 1.0) < 1e-3)
    True
    """
    if isinstance(eigenvalues, Spectrum):
        eigenvalues = eigenvalues.eigenvalues
    lam = check_array(eigenvalues, "eigenvalues", ndim=1)
    spread = float(lam.max() - lam.min())
    width = (0.01 * spread if spread > 0 else 1.0) if width is None else check_real(width, "width", low=0.0, strict=True)
    if grid is None:
        grid = np.linspace(lam.min() - 3 * width, lam.max() + 3 * width, 512)
    else:
        grid = check_array(grid, "grid", ndim=1)
    z = (grid[:, None] - lam[None, :]) / width
    density = np.exp(-0.5 * z * z).sum(axis=1) / (lam.size * width * np.sqrt(2 * np.pi))
    return grid, density
