r"""Many independent gradient-descent runs advanced together as array computations.

A sweep such as the paper's Figure 3 trains hundreds of small networks (:math:`n = 100`,
:math:`d = 20`, :math:`k = 3, \dots, 9`) from different teachers and starts. One run at a time,
each step costs a few small matrix products and a dozen numpy calls, so call overhead
dominates. Here the :math:`T` runs advance together, and the layout is chosen so that the
arithmetic, not the bookkeeping, sets the pace:

* **Runs that share data share a matrix product.** Runs are grouped by data set (a teacher's
  :math:`X` and :math:`y`). Within a group the hidden units of all its runs are stacked into
  one matrix, so the pre-activations of every run come from one product ``W_group @ Xᵀ`` and
  the gradients from one product ``D @ X``. Groups have a common number of slots, the largest
  that leaves at most a quarter of them empty (a data set with more runs gets several groups).
* **Different widths batch together.** Runs are split into a few blocks by width; in a block
  every run is padded to the block's width :math:`K` (runs at least 3/4 as wide as :math:`K`
  join it) with units whose weights and output weight are exactly zero. Such a unit
  contributes nothing to the output and receives an exactly zero step (its :math:`v`-step is
  scaled by 0), so it stays zero.
* **Finished runs leave.** A run that stops is zeroed (it becomes inert, like padding); once
  the live runs of a block fill at most 3/4 of its arrays, they are repacked into smaller
  ones.
* **Passes are few, and allocate nothing.** The (units × samples) arrays are swept as few
  times as possible, into buffers each block keeps: :math:`\phi` and :math:`\phi'` come from
  one fused evaluation of the activation (:meth:`~shallowlearn.activations.Activation.evaluate`)
  that shares its transcendental work, and :math:`\phi' \circ r` is formed in place. For
  :math:`\phi(z) = z^2` the :math:`v`-gradient is read off the :math:`W`-gradient
  (:math:`\partial_{v_\ell} \mathcal L = \langle w_\ell, ((Z \circ r)^\top X)_\ell \rangle / n`)
  instead of taking another pass.
* **The stopping contract is cheap.** Every run's gradient norm, which the contract needs at
  every iteration, is one reduction over the step already computed (its square is compared
  with :math:`(\alpha \cdot \mathtt{grad\_tol})^2`, so no square root per iteration).
* **Each run is isolated.** Every product is computed per run (row by row), so a run whose
  loss overflows cannot contaminate the others.

Each run follows plain fixed-step gradient descent,
:math:`\theta_{t+1} = \theta_t - \alpha \nabla \mathcal L(\theta_t)`, on
:math:`\mathcal L = \frac{1}{2n} \sum_i (v^\top \phi(W x_i) - y_i)^2`, over :math:`W` (:math:`v`
fixed) or over :math:`(v, W)` jointly, and stops on its own under the stopping contract of
:mod:`shallowlearn.stopping`, the same as :func:`~shallowlearn.first_order.gradient_descent`: at
the first iteration :math:`t` where :math:`\mathcal L(\theta_t) \le` ``loss_tol`` or
:math:`\lVert \nabla \mathcal L(\theta_t) \rVert \le` ``grad_tol`` (status ``"converged"``),
where :math:`\mathcal L(\theta_t)` is not finite or exceeds
:func:`~shallowlearn.stopping.divergence_limit` (``"diverged"``; the run keeps
:math:`\theta_{t-1}` and reports :math:`t - 1` iterations), or at :math:`t` = ``max_iter``
(``"max_iter"``).

The results equal, to rounding, those of running the same runs one at a time through
:func:`~shallowlearn.first_order.gradient_descent` (the tests check it). A run that oscillates at the edge
of stability amplifies rounding differences, so there the two agree on the outcome rather
than to the last digits.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from tqdm.auto import tqdm

from . import kernels
from .activations import Activation, get_activation
from .objective import Objective
from .stopping import divergence_limit, diverged
from .validation import check_array, check_bool, check_positive_int, check_real, read_only

__all__ = ["BatchResult", "batched_gradient_descent"]

# Repack the batch once the slots still in use fill at most this fraction of it.
_REPACK_FILL = 0.75
# A run joins a block of wider runs when it is at least this fraction of their width.
_PAD_FILL = 0.75
_PROGRESS_EVERY = 200


@dataclass(frozen=True, eq=False)
class BatchResult:
    r"""The outcome of :math:`T` gradient-descent runs.

    Runs of different widths are padded to ``k_max`` units: rows of ``W`` and entries of ``v``
    past a run's width are zero.

    Attributes
    ----------
    W : numpy.ndarray, shape (T, k_max, d)
        Final hidden weights of each run.
    v : numpy.ndarray, shape (T, k_max)
        Final output weights (the fixed ones when :math:`v` is not trained).
    widths : numpy.ndarray of int, shape (T,)
        Number of hidden units of each run.
    loss : numpy.ndarray, shape (T,)
        Loss at the final iterate.
    grad_norm : numpy.ndarray, shape (T,)
        Euclidean norm of the gradient (over the trained parameters) at the final iterate.
    initial_loss : numpy.ndarray, shape (T,)
        Loss at the start.
    iterations : numpy.ndarray of int, shape (T,)
        Index :math:`t` of the final iterate :math:`\theta_t` (the number of steps taken to reach
        it).
    status : numpy.ndarray of str, shape (T,)
        Why each run stopped: ``"converged"``, ``"diverged"`` or ``"max_iter"`` (see
        :mod:`shallowlearn.stopping`).
    history : numpy.ndarray, shape (T, max_iter // record_every + 1), or None
        Loss at iterations 0, ``record_every``, 2·``record_every``, ...; NaN once a run has
        stopped. None when no history was requested.
    record_every : int or None
        Stride of ``history``.
    step : float
        The step size :math:`\alpha`.
    trains_v : bool
        Whether :math:`v` was trained.

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
    if isinstance(W0, (list, tuple)):
        W0 = [check_array(w, f"W0[{t}]", ndim=2, shape=(None, d)) for t, w in enumerate(W0)]
    else:
        W0 = list(check_array(W0, "W0", ndim=3, shape=(None, None, d)))
    if isinstance(v0, (list, tuple)):
        v0 = [check_array(v, f"v0[{t}]", ndim=1) for t, v in enumerate(v0)]
    else:
        v0 = list(check_array(v0, "v0", ndim=2))
    if not W0 or any(w.shape[0] == 0 for w in W0):
        raise ValueError("W0 must hold at least one run, each with at least one hidden unit; "
                         f"got {len(W0)} runs of widths {[w.shape[0] for w in W0][:5]}")
    if len(v0) != len(W0):
        raise ValueError(
            f"W0 and v0 must describe the same number of runs; got {len(W0)} and {len(v0)}"
        )
    for t, (w, v) in enumerate(zip(W0, v0)):
        if v.shape != (w.shape[0],):
            raise ValueError(
                f"run {t}: v0 must have one entry per hidden unit of W0 ({w.shape[0]}); "
                f"got shape {v.shape}"
            )
    return W0, v0


def _as_datasets(X, y):
    """The data sets as (m, n, d) and (m, n) arrays, from one data set or m of them."""
    try:
        ndim = np.ndim(X)
    except ValueError:  # a ragged nesting of sequences
        ndim = -1
    if ndim not in (2, 3):
        raise ValueError(
            "X must be one data set of shape (n, d) or m data sets of shape (m, n, d); got "
            f"{type(X).__name__} with {ndim if ndim >= 0 else 'ragged'} dimensions")
    X = check_array(X, "X", ndim=ndim)
    X = X[None] if ndim == 2 else X
    if np.ndim(y) != ndim - 1:
        raise ValueError(f"y must have shape {X.shape[1:2] if ndim == 2 else X.shape[:2]} to "
                         f"match X of shape {X.shape[1:] if ndim == 2 else X.shape}; got "
                         f"{np.shape(y)}")
    y = check_array(y, "y", ndim=ndim - 1, shape=X.shape[1:2] if ndim == 2 else X.shape[:2])
    return X, y.reshape(X.shape[:2])


def _data_of_runs(m: int, data_index, runs: int) -> np.ndarray:
    """The data set of each run."""
    if data_index is None:
        if m not in (1, runs):
            raise ValueError(
                f"X holds {m} data sets for {runs} runs: give data_index, the data set of each run"
            )
        return np.arange(runs) % m
    index = np.asarray(data_index)
    if index.shape != (runs,) or index.dtype.kind not in "iu":
        raise ValueError(
            f"data_index must be {runs} integers (one per run); got a {index.dtype} array of "
            f"shape {index.shape}"
        )
    if index.min() < 0 or index.max() >= m:
        raise ValueError(
            f"data_index entries must lie in [0, {m - 1}]; got {index.min()}..{index.max()}"
        )
    return index.astype(np.intp)


class _Block:
    """Runs advanced together in arrays of shape (groups, slots, units, ...).

    Group g holds up to S runs on one data set (a data set with more runs has several
    groups, which share nothing but their data); slot s of it holds run ``run[g, s]`` (-1 for
    an empty slot); every run is padded to K units. Empty slots and padded units have zero
    weights, zero output weights and a zero v-step scale, which makes them inert. The per-run
    state (:data:`_STATE`) is placed from, and gathered back to, arrays with one row per run.
    """

    def __init__(self, X, y, data_of_run, runs: np.ndarray, K: int, state: dict, S: int):
        data = data_of_run[runs]
        # rank of each run among the runs of its data set; its group is (data set, rank // S)
        order = np.argsort(data, kind="stable")
        rank = np.empty(runs.size, dtype=np.intp)
        rank[order] = np.arange(runs.size) - np.searchsorted(data[order], data[order])
        key = data * (runs.size // S + 1) + rank // S
        _, first_of_group, group_of = np.unique(key, return_index=True, return_inverse=True)
        groups = data[first_of_group]
        G, slot = groups.size, rank % S
        self.G, self.S, self.K = G, S, K
        self.n, self.d = X.shape[1:]
        self.run = np.full((G, S), -1)
        self.run[group_of, slot] = runs
        self.Xt = np.ascontiguousarray(X[groups].transpose(0, 2, 1))
        # with a copy of the data per run, the second product reads it through the transposed
        # view: half the memory, and no slower for these shapes (a shared copy is faster as is)
        self.X = X[groups] if S > 1 else self.Xt.transpose(0, 2, 1)
        self.y = y[groups][:, None, None, :]
        for name, values in state.items():
            values = values[:, :K] if values.ndim > 1 else values
            placed = np.full((G, S) + values.shape[1:], _EMPTY.get(name, 0.0))
            placed[group_of, slot] = values
            setattr(self, name, placed)
        # buffers of the step: pre-activations, φ (and φ′ and scratch for the fused
        # evaluation, made on first use), residuals, the steps α∇_W L and α∇_v L (0 while v is
        # fixed) and the per-unit scale of the W-step
        self.Z = np.empty((G, S * K, self.n))
        self.A = np.empty((G, S * K, self.n))
        self.dA = self.work = None
        self.r = np.empty((G, S, 1, self.n))
        self.dW = np.empty((G, S, K, self.d))
        self.dv = np.zeros((G, S, K))
        self.scale = np.empty((G, S, K))

    def live(self) -> np.ndarray:
        return self.run >= 0


# The per-run state: the iterate (W, v) and the previous one (kept for runs that diverge),
# the scale of the v-step (α/n on real units when v is trained, else 0),
# the stopping thresholds (a run stops once its loss is at most ``tol``, its squared step norm
# at most ``sq_tol`` or its loss not at most ``limit``) and the loss of the zero network on
# its data, which scales ``limit``. Empty slots never stop.
_STATE = ("W", "W_old", "v", "v_old", "v_scale", "tol", "sq_tol", "limit", "null")
_EMPTY = {"tol": -np.inf, "sq_tol": -np.inf, "limit": np.inf, "null": 1.0}


def _group_size(counts: np.ndarray) -> int:
    """The most runs per group (one product per group: the more the faster) that leaves at
    most 1 − _PAD_FILL of the slots empty, given the number of runs on each data set."""
    for S in range(int(counts.max()), 1, -1):
        if counts.sum() >= _PAD_FILL * S * np.sum(-(-counts // S)):
            return S
    return 1


def _make_blocks(X, y, data_of_run, widths, runs, state) -> list[_Block]:
    """Partition runs into blocks by width, the widest first; a block pads its runs to its
    widest one and takes every run at least _PAD_FILL as wide, and groups the runs of each
    data set by :func:`_group_size`."""
    blocks = []
    order = np.argsort(-widths[runs], kind="stable")
    runs = runs[order]
    state = {name: values[order] for name, values in state.items()}
    while runs.size:
        K = int(widths[runs[0]])
        take = widths[runs] >= _PAD_FILL * K
        counts = np.unique(data_of_run[runs[take]], return_counts=True)[1]
        blocks.append(_Block(X, y, data_of_run, runs[take], K, {
            name: values[take] for name, values in state.items()}, _group_size(counts)))
        runs = runs[~take]
        state = {name: values[~take] for name, values in state.items()}
    return blocks


def _repack(blocks: list[_Block], X, y, data_of_run, widths) -> list[_Block]:
    """The blocks, each one whose live runs fill at most _REPACK_FILL of its slots' units
    rebuilt from those runs alone (and dropped when none is left)."""
    packed = []
    for b in blocks:
        live = b.live()
        runs = b.run[live]
        if widths[runs].sum() > _REPACK_FILL * b.G * b.S * b.K:
            packed.append(b)
        elif runs.size:
            state = {name: getattr(b, name)[live] for name in _STATE}
            packed += _make_blocks(X, y, data_of_run, widths, runs, state)
    return packed


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
    record_every: int | None = None,
    progress: bool = False,
) -> BatchResult:
    r"""Run :math:`T` independent fixed-step gradient descents at once.

    Parameters
    ----------
    X : array_like, shape (n, d) or (m, n, d)
        One data set shared by all runs, or :math:`m` data sets (for example one per teacher).
    y : array_like, shape (n,) or (m, n)
        Labels, matching ``X``.
    activation : str, Activation or callable
        The activation :math:`\phi` (see :func:`~shallowlearn.activations.get_activation`).
    W0 : array_like, shape (T, k, d), or a sequence of T arrays of shapes (k_t, d)
        Starting hidden weights; a sequence lets the runs have different widths.
    v0 : array_like, shape (T, k), or a sequence of T arrays of shapes (k_t,)
        Starting output weights (the fixed output weights when ``train_v`` is False).
    step : float
        Step size :math:`\alpha > 0`, the same for every run.
    max_iter : int
        Largest number of steps of a run.
    train_v : bool
        Train :math:`v` and :math:`W` jointly (default) or :math:`W` only.
    data_index : array_like of int, shape (T,), optional
        The data set (index into the first axis of ``X``) of each run. May be omitted when
        there is one data set, or one per run.
    loss_tol, grad_tol : float
        A run stops as converged once its loss is at most ``loss_tol`` or its gradient norm
        at most ``grad_tol`` (both 0 by default: only an exact zero or the iteration cap stops
        it). A run whose loss is not finite or exceeds
        :func:`~shallowlearn.stopping.divergence_limit` stops as diverged.
    record_every : int, optional
        Record the loss of every run each ``record_every`` iterations (see
        :attr:`~shallowlearn.batched.BatchResult` ``history``).
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
    X, y = _as_datasets(X, y)
    W_runs, v_runs = _as_runs(W0, v0, X.shape[2])
    T = len(W_runs)
    data_of_run = _data_of_runs(X.shape[0], data_index, T)
    step = check_real(step, "step", low=0.0, strict=True)
    max_iter = check_positive_int(max_iter, "max_iter")
    loss_tol = check_real(loss_tol, "loss_tol", low=0.0)
    grad_tol = check_real(grad_tol, "grad_tol", low=0.0)
    if record_every is not None:
        record_every = check_positive_int(record_every, "record_every")
    train_v = check_bool(train_v, "train_v")
    settings = _Settings(act, act.kernel is kernels.quadratic, step, train_v, max_iter,
                         loss_tol, grad_tol, record_every)

    widths = np.array([w.shape[0] for w in W_runs])
    k_max, d = int(widths.max()), X.shape[2]
    W_start = np.zeros((T, k_max, d))
    v_start = np.zeros((T, k_max))
    for t, (w, v) in enumerate(zip(W_runs, v_runs)):
        W_start[t, : widths[t]] = w
        v_start[t, : widths[t]] = v
    out = {
        "W": W_start.copy(), "v": v_start.copy(), "loss": np.full(T, np.nan),
        "grad_norm": np.full(T, np.nan), "initial_loss": np.full(T, np.nan),
        "iterations": np.zeros(T, dtype=int), "status": np.full(T, "max_iter", dtype=object),
    }
    history = None if record_every is None else np.full((T, max_iter // record_every + 1), np.nan)
    real = np.arange(k_max) < widths[:, None]
    blocks = _make_blocks(X, y, data_of_run, widths, np.arange(T), {
        "W": W_start, "W_old": W_start, "v": v_start, "v_old": v_start,
        "v_scale": np.where(real, step / X.shape[1] if train_v else 0.0, 0.0),
        "tol": np.full(T, loss_tol), "sq_tol": np.full(T, (grad_tol * step) ** 2),
        "limit": np.full(T, np.inf), "null": 0.5 * np.mean(y**2, axis=1)[data_of_run],
    })
    bar = tqdm(total=max_iter, disable=not progress, desc="gradient descent", unit="step")
    for t in range(max_iter + 1):
        stopped = False
        for b in blocks:
            stopped |= _advance(b, t, settings, history, out)
        if t == max_iter:
            break
        if stopped:  # repacking drops the blocks left without runs
            blocks = _repack(blocks, X, y, data_of_run, widths)
            if not blocks:
                break
        if t % _PROGRESS_EVERY == 0 and t > 0:
            bar.update(_PROGRESS_EVERY)
            bar.set_postfix(active=sum(int(b.live().sum()) for b in blocks), refresh=False)
    bar.close()
    _evaluate_diverged(X, y, data_of_run, widths, act, train_v, out)

    out["status"] = out["status"].astype(str)
    for arr in out.values():
        read_only(arr)
    return BatchResult(
        widths=read_only(widths), history=None if history is None else read_only(history),
        record_every=record_every, step=step, trains_v=settings.train_v, **out,
    )


@dataclass(frozen=True)
class _Settings:
    """What every iteration of every block needs to know."""

    act: Activation
    quadratic: bool
    step: float
    train_v: bool
    max_iter: int
    loss_tol: float
    grad_tol: float
    record_every: int | None


def _advance(b: _Block, t: int, settings: _Settings, history, out) -> bool:
    """Iteration t of the runs of one block: evaluate, retire the runs that stop, step."""
    loss, sq_norm = (_quadratic_step if settings.quadratic else _fused_step)(b, settings)
    if t == 0:
        live = b.live()
        b.limit = np.where(live, divergence_limit(loss, b.null), np.inf)
        out["initial_loss"][b.run[live]] = loss[live]
    if history is not None and t % settings.record_every == 0:
        live = b.live()
        history[b.run[live], t // settings.record_every] = loss[live]
    if t == settings.max_iter:
        stop = b.live()
    else:
        stop = diverged(loss, b.limit)
        stop |= loss <= b.tol
        stop |= sq_norm <= b.sq_tol
    stopped = bool(stop.any())
    if stopped:
        at = np.nonzero(stop)
        runs, gone = b.run[at], diverged(loss[at], b.limit[at])
        grad = np.sqrt(sq_norm[at]) / settings.step
        converged = (loss[at] <= settings.loss_tol) | (grad <= settings.grad_tol)
        out["status"][runs] = np.where(gone, "diverged",
                                       np.where(converged, "converged", "max_iter"))
        # a diverged run keeps θ_{t−1} (its loss and gradient are evaluated at the end), the
        # others θ_t
        out["W"][runs, : b.K] = np.where(gone[:, None, None], b.W_old[at], b.W[at])
        out["v"][runs, : b.K] = np.where(gone[:, None], b.v_old[at], b.v[at])
        out["loss"][runs] = loss[at]
        out["grad_norm"][runs] = grad
        out["iterations"][runs] = np.where(gone, max(t - 1, 0), t)
        # the stopped slots become empty and inert: zero weights, zero step, never stop
        for arr in (b.W, b.v, b.v_scale, b.dW, b.dv):
            arr[at] = 0.0
        b.tol[at], b.sq_tol[at], b.limit[at], b.run[at] = -np.inf, -np.inf, np.inf, -1
    if t < settings.max_iter:
        # θ_{t+1} = θ_t − α∇L(θ_t), written over the buffer of θ_{t−1}
        np.subtract(b.W, b.dW, out=b.W_old)
        np.subtract(b.v, b.dv, out=b.v_old)
        b.W, b.W_old, b.v, b.v_old = b.W_old, b.W, b.v_old, b.v
    return stopped


def _evaluate_diverged(X, y, data_of_run, widths, act, train_v, out) -> None:
    """Loss and gradient norm of the diverged runs at the iterate they keep (rare: one by one)."""
    for t in np.flatnonzero(out["status"] == "diverged"):
        k = widths[t]
        W, v = out["W"][t, :k], out["v"][t, :k]
        data = (X[data_of_run[t]], y[data_of_run[t]], act)
        obj = Objective(*data, k=k) if train_v else Objective(*data, v=v)
        loss, grad = obj.value_and_grad(obj.pack(W, v) if train_v else obj.pack(W))
        out["loss"][t], out["grad_norm"][t] = loss, np.linalg.norm(grad)


def _forward(b: _Block):
    """Z = W Xᵀ of every slot (one product per group)."""
    return np.matmul(b.W.reshape(b.G, b.S * b.K, b.d), b.Xt, out=b.Z)


def _residuals(b: _Block, A):
    """r = vᵀφ(W xᵢ) − yᵢ of every slot (one product per run), shape (G, S, 1, n)."""
    r = np.matmul(b.v[:, :, None, :], A, out=b.r)
    return np.subtract(r, b.y, out=r)


def _finish(b: _Block, r, coefficient):
    """Complete the step: scale each unit's row of the W-step by ``coefficient``·v_l and the
    v-step by ``b.v_scale``. Return the loss and the squared norm of the step of every slot."""
    np.multiply(b.v, coefficient, out=b.scale)
    np.multiply(b.dW, b.scale[..., None], out=b.dW)
    np.multiply(b.dv, b.v_scale, out=b.dv)
    loss = np.vecdot(r[:, :, 0, :], r[:, :, 0, :])
    loss *= 0.5 / b.n
    flat = b.dW.reshape(b.G, b.S, -1)
    sq_norm = np.vecdot(flat, flat)
    sq_norm += np.vecdot(b.dv, b.dv)
    return loss, sq_norm


def _quadratic_step(b: _Block, settings: _Settings):
    """The steps α∇L into ``b.dW`` and ``b.dv`` for φ(z) = z², and the loss and squared step
    norm of every slot.

    With r = predictions − y, ∇_{w_l} L = (2v_l/n) ((Z ∘ r)ᵀ X)_l and
    ∇_{v_l} L = (1/n) Σᵢ z_il² rᵢ = (1/n) ⟨w_l, ((Z ∘ r)ᵀ X)_l⟩, which saves a pass over the
    (units × samples) arrays.
    """
    G, S, K, n, d = b.G, b.S, b.K, b.n, b.d
    Z = _forward(b)
    A = np.square(Z, out=b.A).reshape(G, S, K, n)
    r = _residuals(b, A)
    Z = Z.reshape(G, S, K, n)
    np.multiply(Z, r, out=Z)  # Z ∘ r: the W-gradient's rows before their factor 2v_l/n
    np.matmul(Z.reshape(G, S * K, n), b.X, out=b.dW.reshape(G, S * K, d))
    if settings.train_v:  # zero for padded units, whose w_l = 0
        np.vecdot(b.dW, b.W, out=b.dv)
    return _finish(b, r, 2.0 * settings.step / n)


def _fused_step(b: _Block, settings: _Settings):
    """The steps α∇L into ``b.dW`` and ``b.dv`` for any φ, and the loss and squared step norm
    of every slot.

    With D = φ′(Z) ∘ r, ∇_{w_l} L = (v_l/n) (Dᵀ X)_l and ∇_{v_l} L = (1/n) Σᵢ φ(z_il) rᵢ;
    φ and φ′ come from one fused evaluation into the block's buffers.
    """
    G, S, K, n, d = b.G, b.S, b.K, b.n, b.d
    if b.dA is None:
        b.dA, b.work = np.empty_like(b.Z), np.empty_like(b.Z)
    Z = _forward(b)
    A, dA = settings.act.evaluate(Z, order=1, out=(b.A, b.dA), work=b.work)
    A = A.reshape(G, S, K, n)
    r = _residuals(b, A)
    D = np.multiply(dA.reshape(G, S, K, n), r, out=dA.reshape(G, S, K, n))
    np.matmul(D.reshape(G, S * K, n), b.X, out=b.dW.reshape(G, S * K, d))
    if settings.train_v:
        np.matmul(A, r.swapaxes(-1, -2), out=b.dv[..., None])
    return _finish(b, r, settings.step / n)
