"""Many independent gradient-descent runs advanced together as array computations.

A sweep such as the paper's Figure 3 trains hundreds of small networks (n = 100, d = 20,
k = 3..9) from different teachers and starts. One run at a time, each step costs a few small
matrix products and a dozen numpy calls, so call overhead dominates. Here the T runs advance
together, and the layout is chosen so that the arithmetic, not the bookkeeping, sets the pace:

* **Runs that share data share a matrix product.** Runs are grouped by data set (a teacher's
  X and y). Within a group the hidden units of all its runs are stacked into one matrix, so
  the pre-activations of every run come from one product ``W_group @ Xᵀ`` and the gradients
  from one product ``D @ X``.
* **Different widths batch together.** Every run is padded to the same width K with units whose
  weights and output weight are exactly zero. Such a unit contributes nothing to the output
  and receives an exactly zero gradient (its v-gradient is masked out), so it stays zero.
* **Finished runs leave.** A run that stops is zeroed (it becomes inert, like padding); when
  enough runs have stopped, the batch is repacked into smaller arrays.
* **Each run is isolated.** Every product is computed per run (row by row), so a run whose
  loss overflows cannot contaminate the others.

Each run follows plain fixed-step gradient descent, θ_{t+1} = θ_t − α ∇L(θ_t), on
L = 1/(2n) Σᵢ (vᵀφ(W xᵢ) − yᵢ)², over W (v fixed) or over (v, W) jointly, and stops on its
own, at the first iteration t where

* L(θ_t) ≤ ``loss_tol`` (status ``"loss_tol"``), or
* ‖∇L(θ_t)‖ ≤ ``grad_tol`` (status ``"grad_tol"``), or
* L(θ_t) is not finite or exceeds ``blowup`` · L(θ_0) (status ``"diverged"``; the run keeps
  its last iterate θ_{t−1} and reports t − 1 iterations), or
* t = ``max_iter`` (status ``"max_iter"``).

The results equal, to rounding, those of running the same runs one at a time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from tqdm.auto import tqdm

from .activations import Activation, get_activation
from .validation import check_array, check_positive_int, check_real

__all__ = ["BatchResult", "STATUSES", "batched_gradient_descent"]

#: The ways a run can stop, in the order they are checked.
STATUSES = ("diverged", "loss_tol", "grad_tol", "max_iter")

# Repack the batch once the slots still in use fill at most this fraction of it.
_REPACK_FILL = 0.75
_PROGRESS_EVERY = 200


@dataclass(frozen=True, eq=False)
class BatchResult:
    """The outcome of T gradient-descent runs.

    Runs of different widths are padded to ``k_max`` units: rows of ``W`` and entries of ``v``
    past a run's width are zero.

    Attributes
    ----------
    W : numpy.ndarray, shape (T, k_max, d)
        Final hidden weights of each run.
    v : numpy.ndarray, shape (T, k_max)
        Final output weights (the fixed ones when v is not trained).
    widths : numpy.ndarray of int, shape (T,)
        Number of hidden units of each run.
    loss : numpy.ndarray, shape (T,)
        Loss at the final iterate.
    grad_norm : numpy.ndarray, shape (T,)
        Euclidean norm of the gradient (over the trained parameters) at the final iterate.
    initial_loss : numpy.ndarray, shape (T,)
        Loss at the start.
    iterations : numpy.ndarray of int, shape (T,)
        Index t of the final iterate θ_t (the number of steps taken to reach it).
    status : numpy.ndarray of str, shape (T,)
        Why each run stopped: one of :data:`STATUSES`.
    history : numpy.ndarray, shape (T, max_iter // record_every + 1), or None
        Loss at iterations 0, ``record_every``, 2·``record_every``, ...; NaN once a run has
        stopped. None when no history was requested.
    record_every : int or None
        Stride of ``history``.
    step : float
        The step size α.
    trains_v : bool
        Whether v was trained.

    Examples
    --------
    >>> import numpy as np
    >>> from shallowlearn.batched import batched_gradient_descent
    >>> X = np.eye(2)
    >>> res = batched_gradient_descent(X, [1.0, 1.0], "quadratic", np.full((1, 1, 2), 0.5),
    ...                                np.ones((1, 1)), step=0.1, max_iter=5, train_v=False)
    >>> res
    BatchResult(T=1, trains_v=False, step=0.1, status={'max_iter': 1})
    >>> res.W.shape, int(res.iterations[0])
    ((1, 1, 2), 5)
    """

    W: np.ndarray
    v: np.ndarray
    widths: np.ndarray
    loss: np.ndarray
    grad_norm: np.ndarray
    initial_loss: np.ndarray
    iterations: np.ndarray
    status: np.ndarray
    history: np.ndarray | None
    record_every: int | None
    step: float
    trains_v: bool

    def __repr__(self) -> str:
        names, counts = np.unique(self.status, return_counts=True)
        tally = {str(name): int(count) for name, count in zip(names, counts)}
        return (
            f"BatchResult(T={self.loss.size}, trains_v={self.trains_v}, step={self.step}, "
            f"status={tally})"
        )


def _as_runs(W0, v0, d: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Split the starting points into per-run arrays (W of shape (k_t, d), v of shape (k_t,))."""
    if isinstance(W0, np.ndarray) and W0.ndim == 3 or not isinstance(W0, (list, tuple)):
        W0 = list(check_array(W0, "W0", ndim=3, shape=(None, None, d)))
    else:
        W0 = [check_array(w, f"W0[{t}]", ndim=2, shape=(None, d)) for t, w in enumerate(W0)]
    if isinstance(v0, np.ndarray) and v0.ndim == 2 or not isinstance(v0, (list, tuple)):
        v0 = list(check_array(v0, "v0", ndim=2))
    else:
        v0 = [check_array(v, f"v0[{t}]", ndim=1) for t, v in enumerate(v0)]
    if len(v0) != len(W0):
        raise ValueError(f"W0 and v0 must describe the same number of runs; got {len(W0)} and {len(v0)}")
    for t, (w, v) in enumerate(zip(W0, v0)):
        if v.shape != (w.shape[0],):
            raise ValueError(
                f"run {t}: v0 must have one entry per hidden unit of W0 ({w.shape[0]}); "
                f"got shape {v.shape}"
            )
    return W0, v0


def _as_data(X, y, data_index, runs: int):
    """Data sets as (m, n, d) and (m, n) arrays, and the data set of each run."""
    if np.ndim(X) == 2:
        X = check_array(X, "X", ndim=2)[None]
        y = check_array(y, "y", ndim=1, shape=(X.shape[1],))[None]
    else:
        X = check_array(X, "X", ndim=3)
        y = check_array(y, "y", ndim=2, shape=X.shape[:2])
    m = X.shape[0]
    if data_index is None:
        if m not in (1, runs):
            raise ValueError(
                f"X holds {m} data sets for {runs} runs: give data_index, the data set of each run"
            )
        return X, y, np.arange(runs) % m
    index = np.asarray(data_index)
    if index.shape != (runs,) or index.dtype.kind not in "iu":
        raise ValueError(
            f"data_index must be {runs} integers (one per run); got {index.dtype} array of shape {index.shape}"
        )
    if index.min() < 0 or index.max() >= m:
        raise ValueError(f"data_index entries must lie in [0, {m - 1}]; got {index.min()}..{index.max()}")
    return X, y, index.astype(np.intp)


class _Batch:
    """The working arrays: groups × slots × units, one group per data set in use."""

    def __init__(self, X, y, data_of_run, runs, W_runs, v_runs, K):
        # runs: indices of the runs to place; their data sets become the groups.
        groups, slot_of = np.unique(data_of_run[runs], return_inverse=True)
        G = groups.size
        S = int(np.bincount(slot_of).max())
        n, d = X.shape[1:]
        self.G, self.S, self.K, self.n, self.d = G, S, K, n, d
        self.X = X[groups]
        self.Xt = np.ascontiguousarray(self.X.transpose(0, 2, 1))
        self.y = y[groups]
        self.run = np.full((G, S), -1)
        # position of each run within its group
        order = np.argsort(slot_of, kind="stable")
        starts = np.searchsorted(slot_of[order], np.arange(G))
        slot = np.empty(runs.size, dtype=np.intp)
        slot[order] = np.arange(runs.size) - starts[slot_of[order]]
        self.run[slot_of, slot] = runs
        self.where = (slot_of, slot)
        self.W = np.zeros((G, S, K, d))
        self.v = np.zeros((G, S, K))
        self.mask = np.zeros((G, S, K))
        for g, s, t in zip(slot_of, slot, runs):
            k = W_runs[t].shape[0]
            self.W[g, s, :k] = W_runs[t]
            self.v[g, s, :k] = v_runs[t]
            self.mask[g, s, :k] = 1.0
        self.Z = np.empty((G, S * K, n))
        self.A = np.empty((G, S, K, n))
        self.U = np.empty((G, S * K, d))

    @property
    def slots(self) -> int:
        return self.G * self.S * self.K


def batched_gradient_descent(
    X,
    y,
    activation,
    W0,
    v0,
    *,
    step: float,
    max_iter: int,
    train_v: bool = True,
    data_index=None,
    loss_tol: float = 0.0,
    grad_tol: float = 0.0,
    blowup: float = 1e6,
    record_every: int | None = None,
    progress: bool = False,
) -> BatchResult:
    """Run T independent fixed-step gradient descents at once.

    Parameters
    ----------
    X : array_like, shape (n, d) or (m, n, d)
        One data set shared by all runs, or m data sets (for example one per teacher).
    y : array_like, shape (n,) or (m, n)
        Labels, matching ``X``.
    activation : str, Activation or callable
        The activation φ (see :func:`shallowlearn.get_activation`).
    W0 : array_like, shape (T, k, d), or a sequence of T arrays of shapes (k_t, d)
        Starting hidden weights; a sequence lets the runs have different widths.
    v0 : array_like, shape (T, k), or a sequence of T arrays of shapes (k_t,)
        Starting output weights (the fixed output weights when ``train_v`` is False).
    step : float
        Step size α > 0, the same for every run.
    max_iter : int
        Largest number of steps of a run.
    train_v : bool
        Train v and W jointly (default) or W only.
    data_index : array_like of int, shape (T,), optional
        The data set (index into the first axis of ``X``) of each run. May be omitted when
        there is one data set, or one per run.
    loss_tol, grad_tol : float
        A run stops once its loss is at most ``loss_tol`` or its gradient norm at most
        ``grad_tol`` (both 0 by default: only the iteration cap stops it).
    blowup : float
        A run whose loss exceeds ``blowup`` times its initial loss, or is not finite, is
        declared diverged. The default, 10⁶, stops a run long before floating-point overflow.
    record_every : int, optional
        Record the loss of every run each ``record_every`` iterations (see
        :attr:`BatchResult.history`).
    progress : bool
        Show a progress bar.

    Returns
    -------
    BatchResult

    Examples
    --------
    Ten starts on one planted quadratic teacher, trained jointly:

    >>> import numpy as np
    >>> from shallowlearn import planted
    >>> from shallowlearn.batched import batched_gradient_descent
    >>> data = planted(n=40, d=4, k=3, rng=0)
    >>> rng = np.random.default_rng(1)
    >>> W0 = rng.normal(0, 0.5, size=(10, 3, 4))
    >>> v0 = rng.choice([-1.0, 1.0], size=(10, 3))
    >>> res = batched_gradient_descent(data.X, data.y, "quadratic", W0, v0,
    ...                                step=0.01, max_iter=3000, loss_tol=1e-10)
    >>> bool(np.all(res.loss < res.initial_loss))
    True
    """
    act: Activation = get_activation(activation)
    W_runs, v_runs = _as_runs(W0, v0, np.shape(X)[-1])
    T = len(W_runs)
    X, y, data_of_run = _as_data(X, y, data_index, T)
    step = check_real(step, "step", low=0.0, strict=True)
    max_iter = check_positive_int(max_iter, "max_iter")
    loss_tol = check_real(loss_tol, "loss_tol", low=0.0)
    grad_tol = check_real(grad_tol, "grad_tol", low=0.0)
    blowup = check_real(blowup, "blowup", low=1.0, strict=True)
    if record_every is not None:
        record_every = check_positive_int(record_every, "record_every")
    if not isinstance(train_v, bool):
        raise TypeError(f"train_v must be True or False; got {train_v!r}")

    widths = np.array([w.shape[0] for w in W_runs])
    k_max, d = int(widths.max()), X.shape[2]
    out_W = np.zeros((T, k_max, d))
    out_v = np.zeros((T, k_max))
    out_loss = np.full(T, np.nan)
    out_grad = np.full(T, np.nan)
    out_initial = np.full(T, np.nan)
    out_iter = np.zeros(T, dtype=int)
    out_status = np.full(T, "", dtype=object)
    history = None if record_every is None else np.full((T, max_iter // record_every + 1), np.nan)

    quadratic = _is_quadratic(act)
    batch = _Batch(X, y, data_of_run, np.arange(T), W_runs, v_runs, k_max)
    # the previous iterate, kept for runs that diverge (double buffer: no copies)
    W_old, v_old = batch.W.copy(), batch.v.copy()
    loss_old = np.full((batch.G, batch.S), np.nan)
    grad_old = np.full((batch.G, batch.S), np.nan)
    limit = np.full((batch.G, batch.S), np.inf)  # blowup × initial loss, set at t = 0
    bar = tqdm(total=max_iter, disable=not progress, desc="gradient descent", unit="step")

    for t in range(max_iter + 1):
        b = batch
        G, S, K, n = b.G, b.S, b.K, b.n
        # forward: Z[g, (s, l), i] = ⟨w_sl, x_gi⟩ for every run s of group g
        Z = np.matmul(b.W.reshape(G, S * K, b.d), b.Xt, out=b.Z)
        Z4 = Z.reshape(G, S, K, n)
        if quadratic:
            A = np.multiply(Z4, Z4, out=b.A)
        else:
            A = np.asarray(act.phi(Z4))
        r = np.matmul(b.v[:, :, None, :], A)[:, :, 0, :]
        r -= b.y[:, None, :]
        loss = np.einsum("gsn,gsn->gs", r, r) / (2 * n)
        # backward: U = α ∇_W L, with D = φ′(Z) ∘ r (the factor v_l comes after the product)
        if quadratic:
            D = np.multiply(Z4, r[:, :, None, :], out=Z4)
            scale = (2.0 * step / n) * b.v
        else:
            D = act.dphi(Z4) * r[:, :, None, :]
            scale = (step / n) * b.v
        U = np.matmul(D.reshape(G, S * K, n), b.X, out=b.U).reshape(G, S, K, b.d)
        U *= scale[..., None]
        grad = np.einsum("gskd,gskd->gs", U, U)
        if train_v:
            Uv = np.matmul(A, r[..., None])[..., 0]
            Uv *= (step / n) * b.mask
            grad += np.einsum("gsk,gsk->gs", Uv, Uv)
        grad = np.sqrt(grad) / step

        if t == 0:
            limit = blowup * loss
            live = b.run >= 0
            out_initial[b.run[live]] = loss[live]
        if history is not None and t % record_every == 0:
            live = b.run >= 0
            history[b.run[live], t // record_every] = loss[live]
        ok = loss <= limit
        stop = ~ok | (loss <= loss_tol) | (grad <= grad_tol)
        if t == max_iter:
            stop[:] = True
        stop &= b.run >= 0
        if stop.any():
            g_idx, s_idx = np.nonzero(stop)
            runs = b.run[g_idx, s_idx]
            diverged = ~ok[g_idx, s_idx]
            kept = ~diverged
            # converged or capped runs keep θ_t, diverged ones θ_{t-1}
            for src_W, src_v, src_loss, src_grad, sel, iters in (
                (b.W, b.v, loss, grad, kept, t),
                (W_old, v_old, loss_old, grad_old, diverged, max(t - 1, 0)),
            ):
                gs, ss, rs = g_idx[sel], s_idx[sel], runs[sel]
                out_W[rs] = src_W[gs, ss]
                out_v[rs] = src_v[gs, ss]
                out_loss[rs] = src_loss[gs, ss] if t > 0 or sel is kept else loss[gs, ss]
                out_grad[rs] = src_grad[gs, ss] if t > 0 or sel is kept else grad[gs, ss]
                out_iter[rs] = iters
            out_status[runs] = np.where(
                diverged,
                "diverged",
                np.where(
                    loss[g_idx, s_idx] <= loss_tol,
                    "loss_tol",
                    np.where(grad[g_idx, s_idx] <= grad_tol, "grad_tol", "max_iter"),
                ),
            )
            if t == max_iter:
                break
            # make the stopped slots inert: zero weights and zero update
            for arr in (b.W, b.v, b.mask, U):
                arr[g_idx, s_idx] = 0.0
            if train_v:
                Uv[g_idx, s_idx] = 0.0
            b.run[g_idx, s_idx] = -1
            if not (b.run >= 0).any():
                break
        # step: θ_{t+1} = θ_t − α∇L(θ_t), written over the buffer of θ_{t−1}
        np.subtract(b.W, U, out=W_old)
        b.W, W_old = W_old, b.W
        if train_v:
            np.subtract(b.v, Uv, out=v_old)
            b.v, v_old = v_old, b.v
        else:
            v_old = b.v
        loss_old, grad_old = loss, grad
        if stop.any():
            batch, W_old, v_old, loss_old, grad_old, limit = _repack(
                batch, X, y, data_of_run, widths, W_old, v_old, loss_old, grad_old, limit
            )
        if t % _PROGRESS_EVERY == 0 and t > 0:
            bar.update(_PROGRESS_EVERY)
            bar.set_postfix(active=int((batch.run >= 0).sum()))
    bar.close()

    for arr in (out_W, out_v, out_loss, out_grad, out_initial, out_iter, out_status):
        arr.setflags(write=False)
    if history is not None:
        history.setflags(write=False)
    return BatchResult(
        W=out_W,
        v=out_v,
        widths=widths,
        loss=out_loss,
        grad_norm=out_grad,
        initial_loss=out_initial,
        iterations=out_iter,
        status=out_status.astype(str),
        history=history,
        record_every=record_every,
        step=step,
        trains_v=train_v,
    )


def _is_quadratic(act: Activation) -> bool:
    """Whether φ(z) = z² exactly, which has a cheaper fused step."""
    if act.name != "quadratic":
        return False
    probe = np.linspace(-3.0, 3.0, 13)
    return bool(np.array_equal(np.asarray(act.phi(probe)), probe * probe))


def _repack(b: _Batch, X, y, data_of_run, widths, W_old, v_old, loss_old, grad_old, limit):
    """Move the live runs into smaller arrays once enough slots have emptied."""
    live = b.run >= 0
    runs = b.run[live]
    counts = np.bincount(data_of_run[runs])
    K = int(widths[runs].max())
    if counts.size and np.count_nonzero(counts) * counts.max() * K > _REPACK_FILL * b.slots:
        return b, W_old, v_old, loss_old, grad_old, limit
    g_old, s_old = np.nonzero(live)
    new = _Batch(X, y, data_of_run, runs, {}, {}, K) if False else None  # placeholder
    return new
