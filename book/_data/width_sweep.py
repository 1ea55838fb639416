"""The width sweep of the chapter "How wide is wide enough" (book/width.md).

For an input dimension d and a sample size n, the sweep draws random-label data sets
(xᵢ ~ N(0, I_d), yᵢ ~ N(0, 1)) and trains the quadratic network x ↦ Σ_ℓ v_ℓ (w_ℓᵀx)² of every
width k in a range from several random starts, with the output weights v fixed to alternating
signs (+1, −1, +1, ...) and W trained by fixed-step gradient descent in the package's batched
engine. Every run ends in one of four outcomes:

* ``reached``: its loss is within ``tol`` · L₀ of the global optimum L* (the least-squares
  optimum over all symmetric matrices M, ``shallowlearn.quadratic.lifted_optimum``), where
  L₀ = mean(y²)/2 is the loss of the zero network;
* ``stuck``: it is not within the tolerance, and ``shallowlearn.classify_point`` finds it at
  a critical point (a local minimum, a strict saddle or a degenerate point) above L*;
* ``slow``: neither: it is still descending when the budget runs out;
* ``diverged``: its loss blew up (the step was too large for it).

Runs that are not within the tolerance when the first budget ends are continued for a second,
longer one before they are classified, so that a run is called slow only when a much larger
budget did not settle it either.

Each data set and each start has its own seed (derived from d, n and its indices), so any part
of the sweep can be rerun alone and gives the same numbers. Run the whole sweep from the
repository root with ``python book/_data/width_sweep.py`` (about an hour on one core); it
writes ``book/_data/width_sweep.json``, which the chapter loads, and the chapter reruns part of
it live.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

import shallowlearn as sl
from shallowlearn import quadratic as q

#: How every run is made (the chapter states and justifies each choice).
SETTINGS = {
    "datasets": 5,         # T data sets per (n, d)
    "starts": 8,           # S random starts per data set and width
    "step": 0.03,          # fixed step size of gradient descent
    "max_iter": 40_000,    # first budget
    "extra_iter": 100_000,  # second budget, for runs not within the tolerance after the first
    "grad_tol": 1e-10,     # a run stops once its gradient norm is below this
    "tol": 1e-6,           # reached: L − L* at most tol · L₀
    "scale": 0.5,          # starting rows w_ℓ ~ N(0, scale² / d · I_d)
    "halvings": 3,         # a run that diverges is restarted with half the step, this often
}

#: Sample sizes as fractions of d(d+1)/2 for the sweeps over n, and the sweep over d.
FRACTIONS = (0.2, 0.4, 0.6, 0.8, 1.0, 1.25, 1.6, 2.5, 4.0)
DIMENSIONS_FOR_N = (4, 6, 8)
FIXED_N, DIMENSIONS_FOR_D = 30, tuple(range(3, 11))

OUTCOMES = ("reached", "stuck", "slow", "diverged")
OUTPUT = Path(__file__).with_suffix(".json")


def signs(k: int) -> np.ndarray:
    """Alternating output weights +1, −1, +1, ... of a network of width k."""
    return np.where(np.arange(k) % 2 == 0, 1.0, -1.0)


def lifted_dimension(d: int) -> int:
    """d(d+1)/2, the dimension of the symmetric d × d matrices."""
    return d * (d + 1) // 2


def sample_size(d: int, fraction: float) -> int:
    """The sample size of a sweep over n: the fraction of d(d+1)/2, rounded, at least 2."""
    return max(2, int(round(fraction * lifted_dimension(d))))


def data_set(n: int, d: int, index: int) -> sl.Dataset:
    """Data set number ``index`` of the sweep at (n, d)."""
    return sl.random_labels(n=n, d=d, rng=np.random.default_rng([2018, d, n, index]))


def start(n: int, d: int, k: int, index: int, start_index: int, scale: float) -> np.ndarray:
    """The starting W of a run: its own seed, so that any subset of runs can be rerun."""
    rng = np.random.default_rng([2019, d, n, k, index, start_index])
    return rng.normal(scale=scale / np.sqrt(d), size=(k, d))


def _descend(X, y, W0, data_of_run, step, max_iter, grad_tol):
    return sl.batched_gradient_descent(
        X, y, "quadratic", W0, [signs(w.shape[0]) for w in W0], train_v=False, step=step,
        max_iter=max_iter, data_index=np.asarray(data_of_run), grad_tol=grad_tol)


def _train(X, y, W0, data_of_run, gap_of, step, settings):
    """Both budgets at one step size (budgets in units of step × iterations, so a smaller
    step gets proportionally more iterations): final W, loss, status and iterations."""
    scale = settings["step"] / step
    first = _descend(X, y, W0, data_of_run, step, int(settings["max_iter"] * scale),
                     settings["grad_tol"])
    W = [first.W[i, : w.shape[0]] for i, w in enumerate(W0)]
    loss, status, iterations = first.loss.copy(), first.status.copy(), first.iterations.copy()
    again = np.flatnonzero((gap_of(loss) > settings["tol"]) & (status == "max_iter"))
    if again.size:
        second = _descend(X, y, [W[i] for i in again], np.asarray(data_of_run)[again], step,
                          int(settings["extra_iter"] * scale), settings["grad_tol"])
        for j, i in enumerate(again):
            W[i] = second.W[j, : W[i].shape[0]]
        loss[again], status[again] = second.loss, second.status
        iterations[again] += second.iterations
    return W, loss, status, iterations


def measure(n: int, d: int, widths, **overrides) -> dict:
    """Run the sweep at one (n, d) for the given widths; return its outcomes.

    A run whose loss blows up is restarted from the same point with half the step, at most
    ``halvings`` times. Returns a dict with the settings, L*/L₀ of each data set, and
    ``runs``: one row ``[k, data set, start, outcome, verdict, gap, iterations, step]`` per
    run, where the gap is (L − L*)/L₀ at the end, the verdict is classify_point's (None for
    runs that reached L*) and iterations counts both budgets.
    """
    settings = {**SETTINGS, **overrides}
    sets = [data_set(n, d, t) for t in range(settings["datasets"])]
    X, y = np.stack([s.X for s in sets]), np.stack([s.y for s in sets])
    optimum = np.array([q.lifted_optimum(s.X, s.y, "symmetric").loss for s in sets])
    null = 0.5 * np.mean(y**2, axis=1)
    runs = [(int(k), t, s) for k in widths for t in range(settings["datasets"])
            for s in range(settings["starts"])]
    W0 = [start(n, d, k, t, s, settings["scale"]) for k, t, s in runs]
    data_of_run = np.array([t for _, t, _ in runs])
    W, loss = list(W0), np.full(len(runs), np.inf)
    status = np.full(len(runs), "diverged", dtype=object)
    iterations, steps = np.zeros(len(runs), dtype=int), np.full(len(runs), np.nan)
    todo, step = np.arange(len(runs)), settings["step"]
    for _ in range(settings["halvings"] + 1):
        result = _train(X, y, [W0[i] for i in todo], data_of_run[todo],
                        lambda L: (L - optimum[data_of_run[todo]]) / null[data_of_run[todo]],
                        step, settings)
        for j, i in enumerate(todo):
            W[i] = result[0][j]
        loss[todo], status[todo], iterations[todo], steps[todo] = *result[1:], step
        todo, step = todo[status[todo] == "diverged"], step / 2
        if not todo.size:
            break
    gaps = (loss - optimum[data_of_run]) / null[data_of_run]
    rows = []
    for i, (k, t, s) in enumerate(runs):
        verdict = None
        if status[i] == "diverged":
            outcome = "diverged"
        elif gaps[i] <= settings["tol"]:
            outcome = "reached"
        else:
            obj = sl.Objective(sets[t].X, sets[t].y, "quadratic", v=signs(k))
            verdict = sl.classify_point(obj, obj.pack(W[i])).verdict
            outcome = "slow" if verdict == "not critical" else "stuck"
        rows.append([k, t, s, outcome, verdict, float(gaps[i]), int(iterations[i]),
                     float(steps[i])])
    return {"n": n, "d": d, "settings": settings,
            "optimum": [float(o / z) for o, z in zip(optimum, null)], "runs": rows}


def grid() -> list[tuple[int, int]]:
    """Every (n, d) of the sweep: the sweeps over n at fixed d, then the sweep over d."""
    points = [(sample_size(d, f), d) for d in DIMENSIONS_FOR_N for f in FRACTIONS]
    points += [(FIXED_N, d) for d in DIMENSIONS_FOR_D]
    return list(dict.fromkeys(points))


def main() -> None:
    results = []
    for n, d in grid():
        began = time.perf_counter()
        results.append(measure(n, d, range(2, 2 * d + 1)))
        counts = {o: sum(row[3] == o for row in results[-1]["runs"]) for o in OUTCOMES}
        print(f"n = {n:3d}, d = {d:2d}: {counts} in {time.perf_counter() - began:.0f} s",
              flush=True)
        OUTPUT.write_text(json.dumps({"package": sl.__version__, "sweeps": results}))
    print(f"wrote {OUTPUT}", file=sys.stderr)


if __name__ == "__main__":
    main()
