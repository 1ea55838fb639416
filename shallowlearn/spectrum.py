"""Hessian spectra of the training loss: dense for small problems, matrix-free for large ones.

Two routes compute eigenpairs of H = ∇²L(θ):

* ``"dense"`` forms H with :meth:`Objective.hessian` and diagonalizes it
  (:func:`numpy.linalg.eigh`): every eigenpair, exact to rounding, in O(p³) time and O(p²)
  memory. The default up to p = ``DENSE_LIMIT`` parameters.
* ``"iterative"`` never forms H. It multiplies by it through :class:`HessianOperator` and
  returns only the extreme eigenpairs: the largest by Lanczos (:func:`scipy.sparse.linalg.eigsh`,
  which converges fast because the top of the spectrum is well separated), the most negative by
  a preconditioned block solver (:func:`scipy.sparse.linalg.lobpcg`).

Why not plain Lanczos for the bottom? The Hessian splits as H = JᵀJ/n + B, with J the Jacobian
of the predictions and B = Σᵢ rᵢ ∇²predᵢ / n the curvature weighted by the residuals. The
Gauss–Newton part JᵀJ/n puts a few large eigenvalues at the top (all units moving together);
the bottom of the spectrum comes from B and is tightly clustered (for the quadratic activation,
B has every eigenvalue of G repeated once per hidden unit, and the model's symmetries keep the
cluster together). Lanczos needs about (λ_max − λ_min)^½ / gap^½ products to resolve such a
cluster; at (n, d, k) = (2000, 100, 200) that is thousands of products. The iterative route uses
the model's structure instead:

* B is block-diagonal over hidden units (one d×d block per unit, (d+1)×(d+1) when v is trained),
  so its blocks are formed and diagonalized exactly, in about the cost of d/2 products. Since
  JᵀJ/n ⪰ 0, λ_min(B) ≤ λ_min(H): a lower bound, which fixes the shift of the preconditioner.
* The start vector is the best combination of each unit's lowest curvature direction: the
  Rayleigh–Ritz problem of H on these k orthonormal vectors is a k×k matrix computed exactly
  from one pass over the data.
* The preconditioner inverts B − σI plus the Gauss–Newton matrix of the "mean" network (each
  unit's φ′ replaced by its average over the samples), which is block-diagonal plus a rank-d
  coupling between units: it is applied exactly with the Woodbury identity.

The benchmark (``python -m shallowlearn bench-spectrum``, see :func:`run_benchmark`) compares
these routes with plain ``eigsh(which='SA')``.
"""

from __future__ import annotations

import argparse
import time
import tracemalloc
import warnings
from dataclasses import dataclass, field

import numpy as np
from scipy.sparse.linalg import LinearOperator, eigsh, lobpcg

from .objective import Objective
from .validation import as_rng, check_array, check_positive_int, check_real

__all__ = [
    "DENSE_LIMIT",
    "HessianOperator",
    "Spectrum",
    "add_command",
    "eigenvalue_density",
    "hessian_spectrum",
    "run_benchmark",
]

#: Largest number of parameters for which ``method="auto"`` forms the dense Hessian.
DENSE_LIMIT = 2000

_METHODS = ("auto", "dense", "iterative")
_CHUNK_ELEMENTS = 1 << 22  # bound on the (n × columns × k) temporaries of one product


def _check_objective(objective) -> Objective:
    """Return ``objective`` after checking that it is an :class:`Objective`."""
    if not isinstance(objective, Objective):
        raise TypeError(f"objective must be a shallowlearn.Objective; got {type(objective).__name__}")
    return objective


def _check_theta(objective: Objective, theta, name: str = "theta") -> np.ndarray:
    """A validated float copy of the flat parameter vector θ of ``objective``."""
    return check_array(theta, name, ndim=1, shape=(objective.p,))


class HessianOperator(LinearOperator):
    """The Hessian ∇²L(θ) at one point, as a :class:`scipy.sparse.linalg.LinearOperator`.

    The forward pass at θ (pre-activations, φ′, φ″, residuals) is computed once, so each
    product costs two matrix products with X and a few elementwise passes. A block of b vectors
    (shape (p, b)) is multiplied in one pass over X. ``n_products`` counts the vectors
    multiplied so far.

    Parameters
    ----------
    objective : Objective
    theta : array_like, shape (p,)

    Attributes
    ----------
    objective : Objective
    A : numpy.ndarray, shape (n, k)
        Activations φ(zᵢℓ), zᵢℓ = w_ℓᵀxᵢ.
    slope : numpy.ndarray, shape (n, k)
        v_ℓ φ′(zᵢℓ) = ∂predᵢ/∂zᵢℓ.
    curvature : numpy.ndarray, shape (n, k)
        rᵢ v_ℓ φ″(zᵢℓ): the residual curvature of unit ℓ is Xᵀ diag(curvature[:, ℓ]) X / n.
    cross : numpy.ndarray, shape (n, k), or None
        rᵢ φ′(zᵢℓ), behind ∂²L/∂v_ℓ∂w_ℓ (None when v is fixed).
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

    def __init__(self, objective: Objective, theta):
        obj = _check_objective(objective)
        theta = _check_theta(obj, theta)
        super().__init__(dtype=np.float64, shape=(obj.p, obj.p))
        self.objective = obj
        v, W = obj.unpack(theta)
        act = obj.activation
        Z = obj.X @ W.T
        self.A = act.phi(Z)
        r = self.A @ v - obj.y
        dphi = act.dphi(Z)
        self.slope = dphi * v
        self.curvature = act.ddphi(Z) * r[:, None] * v
        self.cross = dphi * r[:, None] if obj.trains_v else None
        self.n_products = 0

    def _matvec(self, u):
        return self._matmat(np.reshape(u, (-1, 1)))[:, 0]

    def _matmat(self, U):
        U = np.asarray(U, dtype=np.float64)
        obj = self.objective
        n, k = obj.n, obj.k
        out = np.empty_like(U)
        step = max(1, _CHUNK_ELEMENTS // (n * k))
        for start in range(0, U.shape[1], step):
            cols = slice(start, start + step)
            out[:, cols] = self._product(U[:, cols])
        self.n_products += U.shape[1]
        return out

    def _adjoint(self):
        return self

    def _product(self, U):
        obj = self.objective
        n, d, k, b = obj.n, obj.d, obj.k, U.shape[1]
        X = obj.X
        off = k if obj.trains_v else 0
        dW = U[off:].T.reshape(b * k, d)
        dZ = (X @ dW.T).reshape(n, b, k)  # change of the pre-activations, per column
        dpred = np.matmul(dZ, self.slope[:, :, None])[:, :, 0]  # (n, b): J u
        if obj.trains_v:
            du = U[:k]  # (k, b)
            dpred += self.A @ du
        dD = self.slope[:, None, :] * dpred[:, :, None] + self.curvature[:, None, :] * dZ
        if obj.trains_v:
            dD += self.cross[:, None, :] * du.T[None, :, :]
        hW = (dD.reshape(n, b * k).T @ X).reshape(b, k * d).T / n
        if not obj.trains_v:
            return hW
        hv = (self.A.T @ dpred + np.einsum("nbk,nk->kb", dZ, self.cross)) / n
        return np.concatenate([hv, hW])


@dataclass(frozen=True, eq=False)
class Spectrum:
    """Eigenpairs of a Hessian, with their residuals.

    Attributes
    ----------
    eigenvalues : numpy.ndarray, shape (m,)
        Ascending. All p eigenvalues for the dense route; the ``n_bottom`` most negative and
        the ``n_top`` largest for the iterative route.
    eigenvectors : numpy.ndarray, shape (p, m)
        Unit eigenvectors, column j for ``eigenvalues[j]``.
    residuals : numpy.ndarray, shape (m,)
        ‖H u − λ u‖ for each pair. Some eigenvalue of H lies within this distance of λ.
    method : str
        ``"dense"`` or ``"iterative"``.
    n_products : int
        Hessian-vector products used (0 for the dense route).
    converged : bool
        Whether every residual met the requested tolerance (always True for the dense route).
    lower_bound : float or None
        For the iterative route, λ_min(B) ≤ λ_min(H), where B is the residual curvature
        (module docstring); None for the dense route.

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
        """The spectral norm ‖H‖₂ = max(|λ_min|, |λ_max|)."""
        return max(abs(self.lambda_min), abs(self.lambda_max))

    @property
    def complete(self) -> bool:
        """Whether every eigenvalue of H is present."""
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
    """Eigenvalues and eigenvectors of the Hessian ∇²L(θ).

    Parameters
    ----------
    objective : Objective
    theta : array_like, shape (p,)
    method : {"auto", "dense", "iterative"}
        ``"auto"`` is dense for p ≤ :data:`DENSE_LIMIT` and iterative above (module docstring).
    n_bottom, n_top : int
        Iterative route: how many of the most negative and of the largest eigenpairs to
        compute. The dense route always returns all of them.
    rtol : float
        Iterative route: each returned pair has ‖H u − λ u‖ ≤ ``rtol`` · ‖H‖₂ when ``converged``
        (‖H‖₂ estimated by max(|λ_max|, |λ_min|)). The error of each eigenvalue is at most its
        residual.
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
    obj = _check_objective(objective)
    theta = _check_theta(obj, theta)
    if method not in _METHODS:
        raise ValueError(f"method must be one of {_METHODS}; got {method!r}")
    n_bottom = check_positive_int(n_bottom, "n_bottom")
    n_top = check_positive_int(n_top, "n_top")
    rtol = check_real(rtol, "rtol", low=0.0, strict=True)
    maxiter = check_positive_int(maxiter, "maxiter")
    if method == "dense" or (method == "auto" and obj.p <= DENSE_LIMIT):
        return _dense_spectrum(obj, theta)
    if 5 * (n_bottom + n_top) >= obj.p:
        raise ValueError(
            f"the iterative route needs 5 * (n_bottom + n_top) < p = {obj.p}; got "
            f"n_bottom={n_bottom}, n_top={n_top} (use method='dense' for so small a problem)"
        )
    return _iterative_spectrum(HessianOperator(obj, theta), n_bottom, n_top, rtol, maxiter, as_rng(rng))


def _dense_spectrum(obj: Objective, theta: np.ndarray) -> Spectrum:
    H = obj.hessian(theta)
    w, V = np.linalg.eigh(H)
    residuals = np.linalg.norm(H @ V - V * w, axis=0)
    return Spectrum(w, V, residuals, "dense", 0, True)


def _iterative_spectrum(op: HessianOperator, n_bottom, n_top, rtol, maxiter, rng) -> Spectrum:
    p = op.shape[0]
    top_w, top_V = eigsh(op, k=n_top, which="LA", tol=rtol, maxiter=maxiter, v0=rng.standard_normal(p))
    blocks = _UnitBlocks(op)
    lower = float(blocks.mu[:, 0].min())
    scale = max(abs(float(top_w[-1])), abs(lower))
    # shift just below λ_min(B) ≤ λ_min(H), so that B − σI is positive definite
    sigma = lower - 1e-4 * max(float(top_w[-1]) - lower, np.finfo(float).tiny)
    start = blocks.ritz_start(n_bottom, rng)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # non-convergence is reported via `converged`
        bottom_w, bottom_V = lobpcg(
            op, start, M=blocks.preconditioner(sigma), largest=False, tol=rtol * scale, maxiter=maxiter
        )
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

    def __init__(self, op: HessianOperator):
        obj = op.objective
        n, d, k, X = obj.n, obj.d, obj.k, obj.X
        self.op = op
        m = d + 1 if obj.trains_v else d
        B = np.zeros((k, m, m))
        for unit in range(k):
            B[unit, -d:, -d:] = (X.T * op.curvature[:, unit]) @ X / n
        if obj.trains_v:
            border = op.cross.T @ X / n  # ∂²L/∂v_ℓ∂w_ℓ from the residuals
            B[:, 0, 1:] = border
            B[:, 1:, 0] = border
        self.mu, self.Q = np.linalg.eigh(B)
        # the mean network: unit ℓ's Jacobian entries replaced by their averages over samples,
        # J̄ᵢ = (D_ℓ x̃ᵢ)_ℓ with x̃ᵢ = xᵢ (or (1, xᵢ) when v is trained)
        mean_slope = op.slope.mean(axis=0)
        if obj.trains_v:
            self.D = np.concatenate([op.A.mean(axis=0)[:, None], np.repeat(mean_slope[:, None], d, 1)], 1)
            Xt = np.concatenate([np.ones((n, 1)), X], axis=1)
        else:
            self.D = np.repeat(mean_slope[:, None], d, axis=1)
            Xt = X
        self.S = Xt.T @ Xt / n
        self.m = m

    def to_units(self, U):
        """(p, b) parameters → (k, m, b) per-unit coordinates."""
        obj = self.op.objective
        k, d, b = obj.k, obj.d, U.shape[1]
        if not obj.trains_v:
            return U.reshape(k, d, b)
        return np.concatenate([U[:k, None, :], U[k:].reshape(k, d, b)], axis=1)

    def from_units(self, Y):
        """(k, m, b) per-unit coordinates → (p, b) parameters."""
        obj = self.op.objective
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
        op, obj = self.op, self.op.objective
        q = self.Q[:, :, 0]  # (k, m)
        P = op.slope * (obj.X @ q[:, -obj.d:].T)
        if obj.trains_v:
            P += op.A * q[:, 0]
        ritz = P.T @ P / obj.n + np.diag(self.mu[:, 0])
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

        def apply(R):
            R2 = np.reshape(R, (self.op.shape[0], -1))
            Y = np.matmul(Kinv, self.to_units(R2))
            z = small @ np.einsum("li,lib->ib", self.D, Y)
            Y -= np.matmul(Kinv, self.D[:, :, None] * z[None])
            return self.from_units(Y).reshape(np.shape(R))

        return LinearOperator(self.op.shape, matvec=apply, matmat=apply, dtype=np.float64)


def eigenvalue_density(eigenvalues, *, width: float | None = None, grid=None) -> tuple[np.ndarray, np.ndarray]:
    """A smooth density of eigenvalues, for plots: each eigenvalue broadened into a Gaussian.

    ρ(t) = (1/m) Σⱼ N(t; λⱼ, width²) integrates to one; a cluster of c equal eigenvalues shows
    as a peak c times higher than a single one, so a logarithmic axis shows both the bulk and
    the spike of near-zero eigenvalues.

    Parameters
    ----------
    eigenvalues : array_like or Spectrum
    width : float, optional
        Standard deviation of each Gaussian; default 1% of the spectral range (or 1 when all
        eigenvalues are equal).
    grid : array_like, optional
        Where to evaluate ρ; default 512 points over the range widened by 3 widths.

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


# --- the benchmark: python -m shallowlearn bench-spectrum ------------------------------------

_BENCH_SIZES = {"full": (2000, 100, 200), "quick": (400, 20, 40)}
_BENCH_DENSE_MAX = 5000  # the benchmark runs the dense route up to this many parameters


def _bench_problem(quick: bool, activation: str, seed: int):
    """Planted data, v fixed to the teacher's (all ones), W at the paper's random start."""
    from .data import planted

    n, d, k = _BENCH_SIZES["quick" if quick else "full"]
    gen = as_rng(seed)
    data = planted(n, d, k, activation, rng=gen)
    obj = Objective(data.X, data.y, activation, v=np.ones(k))
    return obj, gen.normal(0.0, 1.0 / np.sqrt(d), size=obj.p)


class _CountedProducts(LinearOperator):
    """``Objective.hvp``'s fused path, one vector at a time, as the baseline operator."""

    def __init__(self, obj: Objective, theta: np.ndarray):
        super().__init__(dtype=np.float64, shape=(obj.p, obj.p))
        self.obj, self.theta, self.n_products = obj, theta, 0

    def _matvec(self, u):
        self.n_products += 1
        return self.obj._hvp(self.theta, np.ravel(u))


def _measure(route, fn):
    """Run ``fn`` (returning (λ, u, products)) with wall and CPU clocks and tracemalloc."""
    tracemalloc.start()
    wall, cpu = time.perf_counter(), time.process_time()
    lam, u, products = fn()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {"route": route, "wall": wall, "cpu": cpu, "products": products, "lambda_min": lam,
            "vector": u, "peak_mb": peak / 2**20}


def run_benchmark(quick: bool = False, activation: str = "softplus", seed: int = 0) -> list[dict]:
    """Time the routes to λ_min of the Hessian on one planted problem; return the table's rows.

    The problem: (n, d, k) = (2000, 100, 200), p = kd = 20,000 (``quick``: (400, 20, 40),
    p = 800); planted Gaussian data, v fixed to all ones, W with N(0, 1/d) entries (the paper's
    random start). The routes, each measured for wall time, CPU time, Hessian-vector products,
    residual ‖Hu − λu‖ / λ_max and peak traced memory (:mod:`tracemalloc`):

    1. ``eigsh SA, Objective.hvp`` — the baseline: :func:`scipy.sparse.linalg.eigsh` with
       ``which='SA'`` and default settings, on the core's fused product (a forward pass per
       product).
    2. ``eigsh SA, HessianOperator`` — the same solver on :class:`HessianOperator`.
    3. ``hessian_spectrum, iterative`` — the package's route (module docstring): both λ_max and
       λ_min, with ``rtol=1e-6``, including the set-up of the unit blocks.
    4. ``hessian_spectrum, dense`` — when p ≤ 5000.

    λ_max, for the residual column, is computed beforehand and not timed.

    Run it with one BLAS thread, ``OPENBLAS_NUM_THREADS=1 python -m shallowlearn bench-spectrum``:
    on the shared 2-core development machine, the default threading made every small BLAS and
    LAPACK call 10-50 times slower (idle-spinning worker threads), the per-unit set-up of the
    iterative route included. A run there (load average about 2)::

        lambda_min of the Hessian: planted softplus, n=2000, d=100, k=200, p=20000, v = 1 fixed, W ~ N(0, 1/d); ratios against the first row
        (dense route skipped: H alone would take 3.0 GiB and eigh O(p^3) = 8e+12 operations)
        route                            wall s    CPU s   HVPs   lambda_min res/l_max  peak MB  wall x  HVPs x
        -------------------------------------------------------------------------------------------------------
        eigsh SA, Objective.hvp          121.87   120.96   3101    -0.987782   2.8e-16     28.1    1.0x    1.0x
        eigsh SA, HessianOperator         32.74    32.43   3101    -0.987782   3.0e-16     13.0    3.7x    1.0x
        hessian_spectrum, iterative        1.32     1.30     77    -0.987782   8.8e-07     55.9   92.1x   40.3x

    and with ``--quick``::

        lambda_min of the Hessian: planted softplus, n=400, d=20, k=40, p=800, v = 1 fixed, W ~ N(0, 1/d); ratios against the first row
        route                            wall s    CPU s   HVPs   lambda_min res/l_max  peak MB  wall x  HVPs x
        -------------------------------------------------------------------------------------------------------
        eigsh SA, Objective.hvp            0.49     0.49    611    -0.609410   4.0e-16      1.3    1.0x    1.0x
        eigsh SA, HessianOperator          0.12     0.12    611    -0.609410   4.2e-16      0.7    4.2x    1.0x
        hessian_spectrum, iterative        0.06     0.06     58    -0.609410   9.2e-07      1.6    7.6x   10.5x
        hessian_spectrum, dense            0.14     0.14      0    -0.609410   3.3e-16     19.6    3.4x       -

    Where the time goes at full size: the core product costs 37 ms (a forward pass with the
    softplus transcendentals each time), :class:`HessianOperator` 5 ms (two products with X, at
    the machine's matrix-multiply rate; about 9 ms inside ARPACK, whose vectors crowd the
    cache). The iterative route spends about 0.4 s forming and diagonalizing the 200 unit
    blocks, 51 products on λ_max, 24 on 23 preconditioned LOBPCG iterations for λ_min and 2 on
    the final residuals. Plain Lanczos stops at machine precision (residual 3e-16) where the
    iterative route stops at ``rtol=1e-6``, but a looser Lanczos is no cure: on this problem,
    eigsh needs 861 products on the shifted operator λ_max·I − H with ``tol=1e-6`` and 1,241 with
    ``which='SA', tol=1e-6``, and with ``tol=1e-4`` the shifted run stopped at a wrong
    eigenvalue (−0.98311).

    The quadratic activation, whose bottom cluster is tighter still (every eigenvalue of G once
    per unit), with ``--activation quadratic``::

        lambda_min of the Hessian: planted quadratic, n=2000, d=100, k=200, p=20000, v = 1 fixed, W ~ N(0, 1/d); ratios against the first row
        (dense route skipped: H alone would take 3.0 GiB and eigh O(p^3) = 8e+12 operations)
        route                            wall s    CPU s   HVPs   lambda_min res/l_max  peak MB  wall x  HVPs x
        -------------------------------------------------------------------------------------------------------
        eigsh SA, Objective.hvp           44.58    33.99   1711   -29.003106   3.1e-16     25.1    1.0x    1.0x
        eigsh SA, HessianOperator         33.96    32.14   3129   -29.003106   2.4e-16     13.0    1.3x    0.5x
        hessian_spectrum, iterative        0.73     0.73     25   -29.003106   7.6e-17     55.9   60.7x   68.4x

    The two eigsh rows differ only by rounding in the products, yet ARPACK needs 1,711 products
    on one and 3,129 on the other. With v of alternating signs (Theorem 2.1's setting; not a
    benchmark option), shifted Lanczos with ``tol=1e-6, ncv=80`` needed about 9,500 products at
    such a point, the iterative route 27.

    Examples
    --------
    >>> from shallowlearn.spectrum import run_benchmark
    >>> rows = run_benchmark(quick=True)                      # doctest: +SKIP
    >>> [row["route"] for row in rows][-1]                    # doctest: +SKIP
    'hessian_spectrum, dense'
    """
    obj, theta = _bench_problem(quick, activation, seed)
    probe = HessianOperator(obj, theta)
    lam_max = float(eigsh(probe, k=1, which="LA", tol=1e-10, return_eigenvectors=False)[0])
    v0 = as_rng(seed).standard_normal(obj.p)

    def plain(op):
        def solve():
            w, V = eigsh(op, k=1, which="SA", v0=v0)
            return float(w[0]), V[:, 0], op.n_products
        return solve

    def package(method):
        def solve():
            spec = hessian_spectrum(obj, theta, method=method, rng=seed)
            return spec.lambda_min, spec.eigenvectors[:, 0], spec.n_products
        return solve

    rows = [
        _measure("eigsh SA, Objective.hvp", plain(_CountedProducts(obj, theta))),
        _measure("eigsh SA, HessianOperator", plain(HessianOperator(obj, theta))),
        _measure("hessian_spectrum, iterative", package("iterative")),
    ]
    if obj.p <= _BENCH_DENSE_MAX:
        rows.append(_measure("hessian_spectrum, dense", package("dense")))
    for row in rows:
        u = row.pop("vector")
        row["residual"] = float(np.linalg.norm(probe @ u - row["lambda_min"] * u) / lam_max)
    return rows


def _format_table(rows: list[dict], header: str) -> str:
    base = rows[0]
    lines = [
        header,
        f"{'route':30s} {'wall s':>8s} {'CPU s':>8s} {'HVPs':>6s} {'lambda_min':>12s} "
        f"{'res/l_max':>9s} {'peak MB':>8s} {'wall x':>7s} {'HVPs x':>7s}",
    ]
    lines.append("-" * len(lines[1]))
    for row in rows:
        ratio = f"{base['products'] / row['products']:6.1f}x" if row["products"] else f"{'-':>7s}"
        lines.append(
            f"{row['route']:30s} {row['wall']:8.2f} {row['cpu']:8.2f} {row['products']:6d} "
            f"{row['lambda_min']:12.6f} {row['residual']:9.1e} {row['peak_mb']:8.1f} "
            f"{base['wall'] / row['wall']:6.1f}x {ratio}"
        )
    return "\n".join(lines)


def _bench_command(args: argparse.Namespace) -> int:
    n, d, k = _BENCH_SIZES["quick" if args.quick else "full"]
    header = (
        f"lambda_min of the Hessian: planted {args.activation}, n={n}, d={d}, k={k}, p={k * d}, "
        f"v = 1 fixed, W ~ N(0, 1/d); ratios against the first row"
    )
    rows = run_benchmark(quick=args.quick, activation=args.activation, seed=args.seed)
    if k * d > _BENCH_DENSE_MAX:
        header += (
            f"\n(dense route skipped: H alone would take {8 * (k * d) ** 2 / 2**30:.1f} GiB and "
            f"eigh O(p^3) = {(k * d) ** 3:.0e} operations)"
        )
    print(_format_table(rows, header))
    return 0


def add_command(commands) -> None:
    """Register ``bench-spectrum`` with the command line (see :mod:`shallowlearn.cli`).

    Examples
    --------
    >>> import argparse
    >>> from shallowlearn.spectrum import add_command
    >>> parser = argparse.ArgumentParser()
    >>> add_command(parser.add_subparsers())
    >>> parser.parse_args(["bench-spectrum", "--quick"]).quick
    True
    """
    parser = commands.add_parser(
        "bench-spectrum",
        help="time the routes to the most negative Hessian eigenvalue",
        description=(
            "Time the routes to the most negative Hessian eigenvalue on a planted problem "
            "(p = 20,000; --quick: 800): plain eigsh(which='SA') against the package's "
            "iterative route, and the dense route where feasible. Run it with "
            "OPENBLAS_NUM_THREADS=1."
        ),
    )
    parser.add_argument("--quick", action="store_true", help="p = 800 instead of 20,000, with the dense route")
    parser.add_argument("--activation", default="softplus", help="activation name (default: softplus)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the data and the point (default: 0)")
    parser.set_defaults(handler=_bench_command)
