r"""Benchmarks, on the package's public API only: ``python -m shallowlearn bench``.

Everything is measured in one process and reported as ratios against a baseline measured in
the same run, so that the numbers compare like with like on whatever machine runs them. Run
them with one BLAS thread (``OPENBLAS_NUM_THREADS=1``): the batched engine's many small matrix
products otherwise compete with idle-spinning BLAS worker threads. Times are CPU times of this
process (less disturbed than wall time on a shared machine), each the best of ``--repeat``
alternating rounds unless said otherwise. The command prints a table and writes it, with the
machine's description, to ``bench.md`` and ``bench.json`` in the folder given by ``--out``
(``bench-solvers.md`` and ``.json`` with ``--solvers``); ``shallowlearn/results/`` holds the
measurements of record, ``bench.md`` of everything but the solvers and ``bench-solvers.md`` of
the solvers and the Dask workers (``--solvers --dask``).

1. **The batched engine on the paper's Figure 3a protocol** (quadratic, :math:`n = 100`,
   :math:`d = 20`, :math:`k = 3, \dots, 9`, 10 teachers × 10 starts, :math:`v` and :math:`W`
   trained, :math:`\alpha = 0.005`, at most 50,000 steps, stop at :math:`\mathcal L \le 10^{-8}`),
   against a loop over the single-run solver,
   :func:`~shallowlearn.first_order.gradient_descent`, one call per run, and against a bare
   loop of fixed steps on :meth:`~shallowlearn.objective.Objective.at`. A loop's cost per step
   does not depend on where a run is, so both loops are timed on two runs of each width, whose
   statuses and iterations must equal the engine's, and scaled to the protocol's run-steps of
   each width. The speed-up over the solver loop is reported for each of ``--repeat``
   consecutive rounds (each round times the engine and both loops), and must reach 10x in
   every one; the engine's time is also set against its floor (below) over the whole protocol.
2. **The engine at its floor**, for each activation on the shapes of its paper protocol
   (quadratic: Figure 3a; softplus with :math:`b = 10`: Figure 2b, :math:`n = 100`,
   :math:`d = 7, \dots, 14`, :math:`k = 10`; tanh and sigmoid with :math:`b = 10` on the Figure 2b
   setup), over the first steps of every run. The floor of a run-step of width :math:`k` is
   what cannot be avoided:

   * the two matrix products of the step, :math:`Z = W X^\top` and :math:`(\phi'(Z) \circ r) X`
     (:math:`4nkd` operations), timed at the engine's shapes (one product per data set over the
     units of its 10 starts) in the same round, plus the per-run products with :math:`v`
     (:math:`2nk` operations each) at the same rate;
   * the elementwise passes over the :math:`k \times n` pre-activations that the mathematics
     requires, each at the CPU time per element measured in the same round on one array holding
     all the pre-activations of the protocol's starts, the size of the engine's arrays (the cost
     of exp and log1p depends on their arguments): for :math:`z^2`, one product for
     :math:`\phi = z \cdot z` and one for :math:`z \circ r`; for softplus, exp (every value
     depends on :math:`\exp(-b \lvert z \rvert)`), log1p (:math:`\phi` is a logarithm of it), one
     division (:math:`\sigma` is a ratio) and the product :math:`\phi' \circ r`; for sigmoid,
     exp, one division and :math:`\phi' \circ r`; for tanh, expm1
     (:math:`\tanh \lvert z \rvert = -m/(2 + m)` with
     :math:`m = \operatorname{expm1}(-2 \lvert z \rvert)`), exp (:math:`\phi'` keeps its accuracy
     in the tails only from :math:`\exp(-2 \lvert z \rvert)`), one division and
     :math:`\phi' \circ r`.

   Everything else (scaling, signs, maxima, the loss and gradient-norm reductions, the
   bookkeeping of the stopping contract, the padding of narrow runs and Python's overhead) is
   the engine's excess over its floor. Targets: at most 2.5x the floor for :math:`z^2`, 2x for
   the other activations. The floor with the products at the rate of a :math:`1000 \times 1000`
   product is shown too, as the limit no small product reaches.
3. **The engine against a baseline** (``--baseline PATH``, a folder holding another version of
   the ``shallowlearn`` package, such as a ``git worktree`` or ``git archive`` of an earlier
   commit): the full Figure 2b protocol's first 2,000 steps, the two engines timed alternately
   in this process on the same inputs (the baseline imported under another name), with their
   statuses compared; the target is a 4x speed-up. The baseline's time over the floor of the
   same run-steps (item 2) bounds the speed-up that any engine could reach. The record in
   ``shallowlearn/results/bench.md`` takes as baseline commit 70d5f14, the package whose engine
   the sweeps issue (#14) measured, before the fused kernels and per-block buffers
   (``git worktree add --detach DIR 70d5f14``).
4. **The fused gradient** against a hand-written numpy gradient at
   :math:`(n, d, k) = (2000, 100, 200)`, and against autograd at :math:`(100, 20, 10)`.
5. **The most negative Hessian eigenvalue** (``bench-spectrum``): plain ``eigsh(which='SA')``
   against :func:`~shallowlearn.spectrum.hessian_spectrum`'s structured iterative route on a
   planted problem with :math:`p = kd = 20{,}000` (``--quick``: 800, with the dense route too).
6. **Second-order solvers against scipy** (:func:`solver_rows`):
   :func:`~shallowlearn.second_order.trust_region` and
   :func:`~shallowlearn.second_order.cubic_regularization` against
   ``scipy.optimize.minimize(method="trust-krylov")`` and ``"trust-ncg"`` fed the package's
   ``Objective.value``, ``Objective.grad`` and ``Objective.hvp`` (each call a forward pass;
   for reference also trust-ncg on one cached evaluation point per :math:`\theta`, as the
   package's own solvers use, without a target), on Theorem 2.1 problems
   (:func:`theorem21_problem`: quadratic :math:`\phi`, :math:`v` half :math:`+1` and half
   :math:`-1` and fixed, random labels, :math:`n \le d(d+1)/2` so that the global minimum is 0,
   :math:`W_0` with :math:`\mathcal N(0, 1/d)` entries) with
   :math:`(d, k, n) = (8, 16, 30)`, :math:`(20, 40, 150)` and :math:`(50, 100, 1000)`,
   :math:`p` = 128, 800 and 5,000. Every run stops at :math:`\mathcal L \le 10^{-10}` (scipy
   through a callback); the package's wall time includes the :math:`\lambda_{\min}` certificate
   of its result. Each side counts its best of ``--repeat`` alternating rounds; the target is at
   most 1.5 times the faster scipy method.
7. **Dask workers** (``bench --dask``): the reduced Figure 3a protocol (3 teachers × 3 starts,
   at most 5,000 steps; 2 tasks, see :mod:`shallowlearn.tasks`) run by
   :func:`~shallowlearn.runner.run_protocol` on a local cluster of 2 worker processes against
   one of 1, both started before the clock runs; the results of both and of an in-process
   run must be identical.

``--quick`` runs a reduced Figure 3a protocol (3 teachers × 3 starts, at most 5,000 steps)
and loops over all of its runs, fewer steps of the other workloads, and the solver comparison
without p = 5,000.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.util
import json
import os
import platform
import sys
import time
import tracemalloc

import numpy as np
from scipy.optimize import minimize
from scipy.sparse.linalg import LinearOperator, eigsh

from .batched import batched_gradient_descent
from .data import planted, random_labels
from .first_order import gradient_descent
from .objective import Objective
from .protocols import get_protocol, protocol_inputs
from .runner import run_protocol
from .second_order import cubic_regularization, trust_region
from .spectrum import HessianOperator, hessian_spectrum
from .validation import as_rng, check_positive_int

__all__ = ["SOLVER_SIZES", "baseline_rows", "dask_rows", "engine_rows", "floor_rows", "gradient_rows",
           "load_baseline", "solver_rows", "spectrum_rows", "theorem21_problem", "write_report"]

_QUICK_MAX_ITER = 5_000
SPECTRUM_SIZES = {"full": (2000, 100, 200), "quick": (400, 20, 40)}
_SPECTRUM_DENSE_MAX = 5000  # the spectrum benchmark runs the dense route up to this p
# steps of every run in the floor benchmark, and of the comparison with a baseline
FLOOR_STEPS = {"full": 500, "quick": 40}
BASELINE_STEPS = {"full": 2000, "quick": 100}


# --- timing helpers --------------------------------------------------------------------------


def _best_times(*fns, repeat: int, number: int, clock=time.perf_counter) -> list[float]:
    """For each function, the smallest mean time of ``number`` calls over ``repeat`` trials;
    the trials of the functions alternate, so that a change of load affects them alike."""
    best = [np.inf] * len(fns)
    for _ in range(repeat):
        for i, fn in enumerate(fns):
            start = clock()
            for _ in range(number):
                fn()
            best[i] = min(best[i], (clock() - start) / number)
    return best


def _matmul_rate() -> float:
    """Floating-point operations per second of a large matrix product on this machine."""
    a, b = np.random.default_rng(0).normal(size=(2, 1000, 1000))
    [seconds] = _best_times(lambda: a @ b, repeat=5, number=3, clock=time.process_time)
    return 2e9 / seconds


def _clocks() -> np.ndarray:
    """Wall time and this process's CPU time, in seconds."""
    return np.array([time.perf_counter(), time.process_time()])


# --- the floor of the engine -----------------------------------------------------------------

# The passes counted as unavoidable for each activation (module docstring, item 2), and the
# scale s of the argument −s·abs(z) that its exponentials take (None: b of the activation).
_UNAVOIDABLE = {
    "quadratic": (("multiply", "multiply"), 1.0),
    "softplus": (("exp", "log1p", "divide", "multiply"), None),
    "sigmoid": (("exp", "divide", "multiply"), None),
    "tanh": (("expm1", "exp", "divide", "multiply"), 2.0),
}


def _engine_Z(batch: dict) -> np.ndarray:
    """The pre-activations of a batch's starts, as one array of the engine's size."""
    Z = [batch["X"][i] @ w.T for i, w in zip(batch["data_index"], batch["W0"])]
    return np.concatenate([z.ravel() for z in Z])


def _pass_seconds(Z: np.ndarray, activation, repeat: int) -> float:
    """CPU seconds per element of the activation's unavoidable passes, each measured on
    arguments of the kind it gets from pre-activations ``Z``."""
    names, scale = _UNAVOIDABLE[activation.name]
    scale = activation.params.get("b", 1.0) if scale is None else scale
    arg = np.multiply(np.abs(Z), -scale)
    e = np.exp(arg)
    inputs = {"exp": (arg,), "expm1": (arg,), "log1p": (e,), "divide": (e, e + 1.0),
              "multiply": (Z, Z)}
    out = np.empty_like(Z)
    unique = sorted(set(names))
    fns = [lambda name=name: getattr(np, name)(*inputs[name], out=out) for name in unique]
    seconds = _best_times(*fns, repeat=repeat, number=3, clock=time.process_time)
    per_element = dict(zip(unique, np.array(seconds) / Z.size))
    return sum(per_element[name] for name in names)


def _product_seconds(batch: dict, repeat: int) -> dict:
    """For each width k of a batch, CPU seconds per run of the step's two products at the
    engine's shapes (one product per data set over its runs' units), scaled up for the
    per-run products with v."""
    X, index = batch["X"], batch["data_index"]
    widths = np.array([w.shape[0] for w in batch["W0"]])
    n, d = X.shape[1:]
    out = {}
    for k in np.unique(widths):
        runs = np.flatnonzero(widths == k)
        data = np.unique(index[runs])
        W = np.stack([np.concatenate([batch["W0"][t] for t in runs[index[runs] == i]])
                      for i in data])
        Xt = np.ascontiguousarray(X[data].transpose(0, 2, 1))
        Xd, Z, U = X[data], np.empty((data.size, W.shape[1], n)), np.empty_like(W)

        def forward(W=W, Xt=Xt, Z=Z):
            np.matmul(W, Xt, out=Z)

        def backward(Z=Z, Xd=Xd, U=U):
            np.matmul(Z, Xd, out=U)

        seconds = sum(_best_times(forward, backward, repeat=repeat, number=3,
                                  clock=time.process_time))
        vector = 2 * n * k * (1 if batch["activation"].name == "quadratic" else 2)
        out[int(k)] = seconds / runs.size * (1 + vector / (4 * n * k * d))
    return out


def _floor(batch: dict, steps_of_run: np.ndarray, repeat: int, rate: float) -> np.ndarray:
    """CPU seconds of the floor of a batch's run-steps: [products at their shapes + passes,
    products at the large-product rate + passes]."""
    act = batch["activation"]
    n, d = batch["X"].shape[1:]
    widths = np.array([w.shape[0] for w in batch["W0"]])
    passes = _pass_seconds(_engine_Z(batch), act, repeat) * n
    products = _product_seconds(batch, repeat)
    at_shape = sum(products[int(k)] * steps_of_run[widths == k].sum() for k in np.unique(widths))
    at_rate = np.sum(steps_of_run * 4 * n * d * widths) / rate
    elementwise = passes * np.sum(steps_of_run * widths)
    return np.array([at_shape + elementwise, at_rate + elementwise])


# --- 1. the batched engine against the per-run loops ---------------------------------------


def _objective(batch: dict, t: int) -> Objective:
    data = batch["data_index"][t]
    return Objective(batch["X"][data], batch["y"][data], "quadratic", k=batch["v0"][t].size)


def _solver_loop(batch: dict, runs, options: dict) -> list:
    """The runs one after another through gradient_descent: (status, iterations, loss)."""
    out = []
    for t in runs:
        obj = _objective(batch, t)
        res = gradient_descent(obj, obj.pack(batch["W0"][t], batch["v0"][t]), grad_tol=0.0,
                               history_stride=options["max_iter"], progress=False, **options)
        out.append((res.status, res.iterations, res.loss))
    return out


def _bare_loop(batch: dict, runs, options: dict) -> list:
    """The runs as bare fixed-step loops on the evaluation point, with the same stopping."""
    out = []
    for t in runs:
        obj = _objective(batch, t)
        theta = obj.pack(batch["W0"][t], batch["v0"][t])
        for i in range(options["max_iter"] + 1):
            point = obj.at(theta, validate=False)
            if point.value <= options["loss_tol"] or i == options["max_iter"]:
                break
            theta = theta - options["step"] * point.grad
        out.append(("converged" if point.value <= options["loss_tol"] else "max_iter", i,
                    point.value))
    return out


def _run_batch(batch: dict, protocol, progress: bool = False, engine=batched_gradient_descent,
               activation=None):
    return engine(batch["X"], batch["y"], activation or batch["activation"], batch["W0"],
                  batch["v0"], data_index=batch["data_index"], step=protocol.step,
                  max_iter=protocol.max_iter, loss_tol=protocol.loss_tol, progress=progress)


def engine_rows(*, quick: bool = False, repeat: int = 3, progress: bool = False) -> list[tuple]:
    """The rows of benchmark 1 (module docstring): (label, value, target, passed or None)."""
    repeat = check_positive_int(repeat, "repeat")
    protocol = get_protocol("fig3a", "reduced" if quick else "full")
    if quick:
        protocol = dataclasses.replace(protocol, max_iter=_QUICK_MAX_ITER)
    [batch] = protocol_inputs(protocol, seed=0)
    options = dict(step=protocol.step, max_iter=protocol.max_iter, loss_tol=protocol.loss_tol)
    k = np.array(batch["rows"]["k"])
    per_width = None if quick else 2
    engine, solver, bare = (np.full(2, np.inf) for _ in range(3))
    speedups = []
    for _ in range(repeat):
        start = _clocks()
        res = _run_batch(batch, protocol, progress)
        this_engine = _clocks() - start
        engine = np.minimum(engine, this_engine)
        steps = res.iterations + 1  # gradient evaluations of each run
        rounds = [np.zeros(2), np.zeros(2)]
        same, differences, count = 0, [], 0
        for width in np.unique(k):
            runs = np.flatnonzero(k == width)[:per_width]
            scale = steps[k == width].sum() / steps[runs].sum()
            count += runs.size
            for i, loop in enumerate((_solver_loop, _bare_loop)):
                start = _clocks()
                outcome = loop(batch, runs, options)
                rounds[i] += (_clocks() - start) * scale
                for t, (status, iterations, loss) in zip(runs, outcome):
                    same += int(status == res.status[t] and iterations == res.iterations[t])
                    differences.append(abs(loss - res.loss[t]) / res.initial_loss[t])
        solver, bare = np.minimum(solver, rounds[0]), np.minimum(bare, rounds[1])
        speedups.append(rounds[0] / this_engine)
    total = int(steps.sum())
    floor = _floor(batch, steps, max(3, repeat), _matmul_rate())
    speedups = np.array(speedups)
    rows = [
        (f"Figure 3a ({protocol.size}, at most {protocol.max_iter:,} steps): {len(k)} runs, "
         f"{total:,} run-steps", "", "", None),
        (f"  batched engine, wall | CPU time (best of {repeat} rounds)",
         f"{engine[0]:.1f} | {engine[1]:.1f} s", "", None),
        (f"  loop over gradient_descent, wall | CPU (timed on {count} runs, scaled)",
         f"{solver[0]:.1f} | {solver[1]:.1f} s", "", None),
    ]
    rows += [(f"  speed-up over that loop in round {i + 1}, wall | CPU",
              f"{a:.1f}x | {c:.1f}x", "", None) for i, (a, c) in enumerate(speedups)]
    rows += [
        (f"  speed-up over that loop, CPU, in each of {repeat} consecutive rounds",
         f"{speedups[:, 1].min():.1f}x", ">= 10x", bool(np.all(speedups[:, 1] >= 10))),
        (f"  bare loop on Objective.at, wall | CPU (the same {count} runs)",
         f"{bare[0]:.1f} | {bare[1]:.1f} s", "", None),
        ("  speed-up over the bare loop, wall | CPU",
         f"{bare[0] / engine[0]:.1f}x | {bare[1] / engine[1]:.1f}x", "", None),
        ("  engine CPU time per run-step", f"{engine[1] / total * 1e6:.2f} us", "", None),
        ("  floor per run-step (products at the engine's shapes | at the 1000^2 rate)",
         f"{floor[0] / total * 1e6:.2f} | {floor[1] / total * 1e6:.2f} us", "", None),
        ("  engine CPU time / floor, whole protocol",
         f"{engine[1] / floor[0]:.2f}x | {engine[1] / floor[1]:.2f}x", "<= 2.5x",
         bool(engine[1] / floor[0] <= 2.5)),
        ("  loops vs engine: runs with the same status and iterations",
         f"{same}/{2 * count}", "all", same == 2 * count),
        ("  loops vs engine: median |dL|/L0 of the final losses",
         f"{np.median(differences):.0e}", "rounding", bool(np.median(differences) < 1e-10)),
    ]
    return rows


# --- 2. the engine at its floor, per activation -----------------------------------------------


def _floor_workloads(quick: bool):
    """(label, protocol, batches) of benchmark 2: each activation on its protocol's shapes."""
    steps = FLOOR_STEPS["quick" if quick else "full"]
    fig2b = dataclasses.replace(get_protocol("fig2b"), max_iter=steps)
    out = [("quadratic (Figure 3a)", dataclasses.replace(get_protocol("fig3a"), max_iter=steps)),
           ("softplus b=10 (Figure 2b)", fig2b),
           ("sigmoid b=10 (Figure 2b setup)",
            dataclasses.replace(fig2b, activation="sigmoid", activation_params={"b": 10.0})),
           ("tanh (Figure 2b setup)",
            dataclasses.replace(fig2b, activation="tanh", activation_params={}))]
    return [(label, p, protocol_inputs(p, seed=0)[: 1 if quick else None]) for label, p in out]


def floor_rows(*, quick: bool = False, repeat: int = 3) -> list[tuple]:
    """The rows of benchmark 2 (module docstring)."""
    repeat = check_positive_int(repeat, "repeat")
    rate = _matmul_rate()
    workloads = _floor_workloads(quick)
    rows = [(f"Engine at its floor: every run's first {workloads[0][1].max_iter} steps, CPU "
             f"time per run-step (best of {repeat} rounds); 1000^2 product at "
             f"{rate / 1e9:.0f} GFlop/s", "", "", None)]
    for label, protocol, batches in workloads:
        engine, floor = np.inf, np.full(2, np.inf)
        for _ in range(repeat):
            start, this, total = time.process_time(), np.zeros(2), 0
            steps = [_run_batch(batch, protocol).iterations + 1 for batch in batches]
            seconds = time.process_time() - start
            for batch, steps_of_run in zip(batches, steps):
                this += _floor(batch, steps_of_run, 3, rate)
                total += int(steps_of_run.sum())
            engine, floor = min(engine, seconds), np.minimum(floor, this)
        target = 2.5 if protocol.activation == "quadratic" else 2.0
        rows.append((f"  {label}: engine {engine / total * 1e6:.2f} us, floor "
                     f"{floor[0] / total * 1e6:.2f} us (at the 1000^2 rate "
                     f"{floor[1] / total * 1e6:.2f} us)", f"{engine / floor[0]:.2f}x",
                     f"<= {target:g}x", bool(engine / floor[0] <= target)))
    return rows


# --- 3. the engine against a baseline version of the package --------------------------------


def load_baseline(path):
    """Import the ``shallowlearn`` package found at ``path`` under the name
    ``shallowlearn_baseline``, beside this one.

    ``path`` is the package folder or a folder that holds it (a checkout of another commit).

    Examples
    --------
    >>> import os, shallowlearn
    >>> from shallowlearn.bench import load_baseline
    >>> load_baseline(os.path.dirname(shallowlearn.__file__)).__name__
    'shallowlearn_baseline'
    """
    path = os.path.abspath(os.fspath(path))
    if os.path.isfile(os.path.join(path, "shallowlearn", "__init__.py")):
        path = os.path.join(path, "shallowlearn")
    init = os.path.join(path, "__init__.py")
    if not os.path.isfile(init):
        raise ValueError(f"baseline must be a shallowlearn package folder or a folder holding "
                         f"one; {path!r} has no __init__.py")
    name = "shallowlearn_baseline"
    spec = importlib.util.spec_from_file_location(name, init, submodule_search_locations=[path])
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def baseline_rows(path, *, quick: bool = False, repeat: int = 3) -> list[tuple]:
    """The rows of benchmark 3 (module docstring)."""
    repeat = check_positive_int(repeat, "repeat")
    baseline = load_baseline(path)
    protocol = dataclasses.replace(get_protocol("fig2b"),
                                   max_iter=BASELINE_STEPS["quick" if quick else "full"])
    batches = protocol_inputs(protocol, seed=0)[: 1 if quick else None]
    theirs = baseline.get_activation(protocol.activation, **protocol.activation_params)
    ratios, same, count, best = [], 0, 0, np.full(2, np.inf)
    for _ in range(repeat):
        seconds = []
        for engine, act in ((baseline.batched.batched_gradient_descent, theirs),
                            (batched_gradient_descent, None)):
            start = time.process_time()
            results = [_run_batch(batch, protocol, engine=engine, activation=act)
                       for batch in batches]
            seconds.append(time.process_time() - start)
            if act is not None:
                reference = results
        ratios.append(seconds[0] / seconds[1])
        best = np.minimum(best, seconds)
        for a, b in zip(reference, results):
            same += int(np.sum(np.asarray(a.status) == b.status))
            count += b.status.size
    steps = [r.iterations + 1 for r in results]
    total = sum(int(s.sum()) for s in steps)
    rate = _matmul_rate()
    floor = sum(_floor(batch, s, 3, rate)[0] for batch, s in zip(batches, steps))
    rows = [(f"Figure 2b, first {protocol.max_iter:,} steps ({total:,} run-steps): engine "
             f"against the baseline at {path}", "", "", None),
            ("  baseline | engine | floor, CPU time per run-step",
             f"{best[0] / total * 1e6:.1f} | {best[1] / total * 1e6:.1f} | "
             f"{floor / total * 1e6:.1f} us", "", None)]
    rows += [(f"  baseline CPU time / engine CPU time, round {i + 1}", f"{r:.2f}x", "", None)
             for i, r in enumerate(ratios)]
    rows += [(f"  speed-up over the baseline (best of {repeat} rounds)",
              f"{max(ratios):.2f}x", ">= 4x", bool(max(ratios) >= 4)),
             ("  the most the floor allows: baseline time / floor", f"{best[0] / floor:.2f}x",
              "", None),
             ("  baseline vs engine: runs with the same status", f"{same}/{count}", "all",
              same == count)]
    return rows


# --- 4. the fused gradient ---------------------------------------------------------------------


def gradient_rows() -> list[tuple]:
    """The rows of benchmark 4 (module docstring)."""
    rows = []
    for name in ("quadratic", "softplus"):
        rng = np.random.default_rng(0)
        n, d, k = 2000, 100, 200
        X, y = rng.normal(size=(n, d)), rng.normal(size=n)
        W, v = rng.normal(size=(k, d)) / np.sqrt(d), rng.normal(size=k)
        obj = Objective(X, y, name, k=k)
        act, theta = obj.activation, obj.pack(W, v)

        def by_hand():
            Z = X @ W.T
            A, dA = act.evaluate(Z)
            r = A @ v - y
            D = dA * np.outer(r, v)
            return 0.5 * r @ r / n, np.concatenate([A.T @ r / n, (D.T @ X).ravel() / n])

        fused, hand = _best_times(lambda: obj.value_and_grad(theta), by_hand, repeat=15,
                                  number=5)
        rows.append((f"fused / hand-written numpy gradient, {name} (2000, 100, 200)",
                     f"{fused / hand:.2f}", "<= 1.3", bool(fused / hand <= 1.3)))
    for name in ("quadratic", "softplus"):
        rng = np.random.default_rng(1)
        obj = Objective(rng.normal(size=(100, 20)), rng.normal(size=100), name, k=10)
        theta = rng.normal(size=obj.p) / np.sqrt(20)
        fused, auto = _best_times(lambda: obj.grad(theta),
                                  lambda: obj.grad(theta, method="autograd"), repeat=15, number=50)
        rows.append((f"autograd / fused gradient, {name} (100, 20, 10)",
                     f"{auto / fused:.1f}x", ">= 3x", bool(auto / fused >= 3)))
    return rows


# --- 5. the most negative Hessian eigenvalue ----------------------------------------------------


class _FreshProducts(LinearOperator):
    """``Objective.hvp``, a forward pass per product, as the baseline operator."""

    def __init__(self, obj: Objective, theta: np.ndarray):
        super().__init__(dtype=np.float64, shape=(obj.p, obj.p))
        self.obj, self.theta, self.n_products = obj, theta, 0

    def _matvec(self, u):
        self.n_products += 1
        return self.obj.hvp(self.theta, np.ravel(u))


def _measure(route, fn) -> dict:
    """Run ``fn`` (returning (λ, u, products)) with wall and CPU clocks and tracemalloc."""
    tracemalloc.start()
    start = _clocks()
    lam, u, products = fn()
    wall, cpu = _clocks() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {"route": route, "wall": wall, "cpu": cpu, "products": products, "lambda_min": lam,
            "vector": u, "peak_mb": peak / 2**20}


def spectrum_rows(*, quick: bool = False, activation: str = "softplus", seed: int = 0) -> list[dict]:
    r"""The routes to :math:`\lambda_{\min}` of benchmark 5, each a dict of its measurements.

    The problem: planted data, :math:`v` fixed to the teacher's (all ones), :math:`W` with
    :math:`\mathcal N(0, 1/d)` entries (the paper's random start). Each route is measured for
    wall and CPU time, Hessian-vector products, the residual
    :math:`\lVert Hu - \lambda u \rVert / \lambda_{\max}` and peak traced memory.
    """
    n, d, k = SPECTRUM_SIZES["quick" if quick else "full"]
    gen = as_rng(seed)
    data = planted(n, d, k, activation, rng=gen)
    obj = Objective(data.X, data.y, activation, v=np.ones(k))
    theta = gen.normal(0.0, 1.0 / np.sqrt(d), size=obj.p)
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
        _measure("eigsh SA, Objective.hvp", plain(_FreshProducts(obj, theta))),
        _measure("eigsh SA, HessianOperator", plain(HessianOperator(obj, theta))),
        _measure("hessian_spectrum, iterative", package("iterative")),
    ]
    if obj.p <= _SPECTRUM_DENSE_MAX:
        rows.append(_measure("hessian_spectrum, dense", package("dense")))
    for row in rows:
        u = row.pop("vector")
        row["residual"] = float(np.linalg.norm(probe @ u - row["lambda_min"] * u) / lam_max)
    return rows


def spectrum_table(rows: list[dict], header: str) -> str:
    """The spectrum benchmark's rows as a text table, with ratios against the first row."""
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


# --- 6. second-order solvers against scipy ------------------------------------------------------

#: The :math:`(d, k, n)` of the solver comparison, with :math:`p = kd` = 128, 800 and 5,000
#: and each :math:`n \le d(d+1)/2`.
SOLVER_SIZES = ((8, 16, 30), (20, 40, 150), (50, 100, 1000))
_SOLVER_LOSS = 1e-10  # every run of the solver comparison stops at this loss
_SOLVER_TARGET = 1.5  # the package may take at most this multiple of the faster scipy method


def theorem21_problem(d: int, k: int, n: int, seed: int = 0):
    r"""A problem of Theorem 2.1 and a random start: (objective, :math:`\theta_0`).

    Quadratic activation, :math:`v = (+1 \times k/2, -1 \times k/2)` fixed, random labels
    (:func:`~shallowlearn.data.random_labels`) and :math:`W_0` with :math:`\mathcal N(0, 1/d)`
    entries. With :math:`n \le d(d+1)/2` the global minimum is 0.

    Examples
    --------
    >>> from shallowlearn.bench import theorem21_problem
    >>> obj, theta0 = theorem21_problem(4, 6, 10)
    >>> obj.p, theta0.shape, obj.v.tolist()
    (24, (24,), [1.0, 1.0, 1.0, -1.0, -1.0, -1.0])
    """
    data = random_labels(n=n, d=d, rng=seed)
    v = np.r_[np.ones(k // 2), -np.ones(k - k // 2)]
    obj = Objective(data.X, data.y, "quadratic", v=v)
    return obj, as_rng(seed + 1).normal(0.0, 1.0 / np.sqrt(d), size=obj.p)


def _scipy(method: str, cached: bool = False):
    """scipy's ``method`` on Objective.value, .grad and .hvp (each a forward pass), or, with
    ``cached``, on one evaluation point per θ that all three share."""
    def run(obj, theta0):
        def stop(intermediate_result):
            if intermediate_result.fun <= _SOLVER_LOSS:
                raise StopIteration

        if cached:
            points = {}

            def point(theta):
                key = theta.tobytes()
                if key not in points:
                    points.clear()
                    points[key] = obj.at(theta, validate=False)
                return points[key]

            fun, jac, hessp = (lambda t: point(t).value), (lambda t: point(t).grad), (
                lambda t, u: point(t).hvp(u))
        else:
            fun, jac, hessp = obj.value, obj.grad, obj.hvp
        res = minimize(fun, theta0, jac=jac, hessp=hessp, method=method, callback=stop,
                       options={"gtol": 1e-12, "maxiter": 1000})
        return float(res.fun), None
    return run


def _package(solver):
    def run(obj, theta0):
        res = solver(obj, theta0, loss_tol=_SOLVER_LOSS, grad_tol=1e-12, max_iter=1000,
                     progress=False)
        return res.loss, res
    return run


_SOLVER_RUNS = {
    "scipy trust-krylov": _scipy("trust-krylov"),
    "scipy trust-ncg": _scipy("trust-ncg"),
    "scipy trust-ncg, one cached point per theta": _scipy("trust-ncg", cached=True),
    "trust_region": _package(trust_region),
    "cubic_regularization": _package(cubic_regularization),
}


def solver_rows(*, quick: bool = False, repeat: int = 3, sizes=None) -> list[tuple]:
    """The rows of benchmark 6 (module docstring): (label, value, target, passed or None).

    ``sizes`` replaces :data:`SOLVER_SIZES` (``quick``: the first two).
    """
    repeat = check_positive_int(repeat, "repeat")
    sizes = (SOLVER_SIZES[:2] if quick else SOLVER_SIZES) if sizes is None else sizes
    rows = []
    for d, k, n in sizes:
        obj, theta0 = theorem21_problem(d, k, n)
        best = {name: np.inf for name in _SOLVER_RUNS}
        final = {}
        for _ in range(repeat):
            for name, run in _SOLVER_RUNS.items():
                start = time.perf_counter()
                final[name] = run(obj, theta0)
                best[name] = min(best[name], time.perf_counter() - start)
        rows.append((f"Theorem 2.1, p={obj.p} (d={d}, k={k}, n={n}), to L <= {_SOLVER_LOSS:g}",
                     "wall | final L", f"best of {repeat}", None))
        for name in _SOLVER_RUNS:
            rows.append((f"  {name}", f"{best[name] * 1e3:.1f} ms | {final[name][0]:.1e}", "",
                         None))
        peer = min(best["scipy trust-krylov"], best["scipy trust-ncg"])
        for name in ("trust_region", "cubic_regularization"):
            loss, res = final[name]
            rows.append((f"  {name}: lambda_min ({res.lambda_min_route})",
                         f"{res.lambda_min:.1e} +- {res.lambda_min_residual:.0e}", "", None))
            ratio = best[name] / peer
            rows.append((f"  {name} / faster scipy (certificate included)", f"{ratio:.2f}x",
                         f"<= {_SOLVER_TARGET}x", bool(ratio <= _SOLVER_TARGET
                                                      and loss <= _SOLVER_LOSS)))
            rows.append((f"  {name} / scipy trust-ncg on a cached point",
                         f"{best[name] / best['scipy trust-ncg, one cached point per theta']:.2f}x",
                         "", None))
    return rows


# --- 7. Dask workers ------------------------------------------------------------------------------


def _identical(a, b) -> bool:
    """Whether two Results hold the same runs, bit for bit."""
    return a.runs.keys() == b.runs.keys() and all(
        np.array_equal(a.runs[key], b.runs[key]) for key in a.runs)


def dask_rows(*, repeat: int = 2) -> list[tuple]:
    """The rows of benchmark 7 (module docstring): (label, value, target, passed or None).

    Starts local Dask clusters, so a script that calls it must do so under
    ``if __name__ == "__main__":``.
    """
    from .distributed import local_client
    from .tasks import protocol_tasks

    repeat = check_positive_int(repeat, "repeat")
    protocol = dataclasses.replace(get_protocol("fig3a", "reduced"), max_iter=_QUICK_MAX_ITER)
    start = time.perf_counter()
    reference = run_protocol(protocol, progress=False)
    in_process = time.perf_counter() - start
    same = True
    best = [np.inf, np.inf]
    with contextlib.ExitStack() as clusters:
        start = time.perf_counter()
        clients = [clusters.enter_context(local_client(count)) for count in (1, 2)]
        started = time.perf_counter() - start
        for _ in range(repeat):
            for i, client in enumerate(clients):
                start = time.perf_counter()
                res = run_protocol(protocol, client=client, progress=False)
                best[i] = min(best[i], time.perf_counter() - start)
                same &= _identical(res, reference)
    speedup = best[0] / best[1]
    return [
        (f"Dask: Figure 3a (reduced, at most {protocol.max_iter:,} steps), "
         f"{len(protocol_tasks(protocol))} tasks, {len(reference.runs['loss'])} runs", "", "",
         None),
        ("  in-process, wall", f"{in_process:.1f} s", "", None),
        (f"  1 worker process, wall (best of {repeat} rounds)", f"{best[0]:.1f} s", "", None),
        (f"  2 worker processes, wall (best of {repeat} rounds)", f"{best[1]:.1f} s", "", None),
        ("  speed-up of 2 workers over 1", f"{speedup:.2f}x", ">= 1.7x", bool(speedup >= 1.7)),
        ("  results of 1 and 2 workers and in-process", "identical" if same else "differ",
         "identical", same),
        ("  starting the two clusters (not timed above)", f"{started:.1f} s", "", None),
    ]


# --- the report ----------------------------------------------------------------------------------


def table(rows: list[tuple]) -> str:
    """Rows (label, value, target, passed) as a text table; a row with a target is marked
    PASS or FAIL."""
    header = (f"measurement (OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')})",
              "value", "target", None)
    rows = [header, *rows]
    width = max(len(r[0]) for r in rows)
    lines = []
    for label, value, target, passed in rows:
        mark = "" if passed is None else ("PASS" if passed else "FAIL")
        lines.append(f"{label:<{width}}  {value:>15}  {target:<9} {mark}".rstrip())
    lines.insert(1, "-" * (width + 32))
    return "\n".join(lines)


def write_report(text: str, out, *, name: str = "bench", data=None, command=None) -> str:
    """Write ``text`` (with the machine's description) to ``out/<name>.md``, and ``data`` to
    ``out/<name>.json``; return the path of the markdown file. The title is the command that
    measured it, ``python -m shallowlearn <command>`` (``command`` defaults to ``name``)."""
    os.makedirs(out, exist_ok=True)
    machine = (f"{platform.platform()}, Python {platform.python_version()}, numpy "
               f"{np.__version__}, {os.cpu_count()} CPUs, "
               f"{time.strftime('%Y-%m-%d %H:%M %Z')}")
    path = os.path.join(out, f"{name}.md")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(f"# python -m shallowlearn {command or name}\n\n{machine}\n\n```\n{text}\n```\n")
    if data is not None:
        with open(os.path.join(out, f"{name}.json"), "w", encoding="utf-8") as handle:
            json.dump({"machine": machine, "rows": data}, handle, indent=1, default=str)
    return path
