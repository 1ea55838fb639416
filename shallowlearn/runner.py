"""Running a protocol: its tasks, in-process or on a Dask cluster, into tidy
:class:`~shallowlearn.results_io.Results`.

A protocol is cut into independent tasks (:mod:`shallowlearn.tasks`), each a batched
gradient-descent call on some of its teachers. In-process the tasks run one after another;
with a ``distributed.Client`` or a number of local workers they run on a Dask cluster
(:mod:`shallowlearn.distributed`). A task's data and starts depend only on the protocol, the
seed and the task, so the results are the same, bit for bit, in-process and with any number
of workers. Finished tasks can be checkpointed to disk (:mod:`shallowlearn.checkpoints`) and
an interrupted run resumed, recomputing only the tasks that had not finished.

Every run ends diagnosed (:mod:`shallowlearn.diagnosis`): its ``outcome`` says whether it
succeeded, and if not, why (slow, stuck at a second-order point or near a saddle,
oscillating, crawling, diverged), with the numbers that decided it.
"""

from __future__ import annotations

import contextlib
import os

import numpy as np
from tqdm.auto import tqdm

from .checkpoints import Checkpoints
from .protocols import Protocol, get_protocol
from .results_io import Results
from .statistics import fit_logistic
from .tasks import protocol_tasks, result_columns, run_task
from .validation import check_bool, check_non_negative_int, check_positive_int

__all__ = ["POPULATION_COUNTS", "run_protocol"]

def run_protocol(
    protocol: Protocol | str,
    *,
    seed: int = 0,
    progress: bool = True,
    client=None,
    workers: int | None = None,
    checkpoints=None,
    resume: bool = False,
    on_task=None,
) -> Results:
    """Run a protocol: all its teachers and starts, cut into batched tasks.

    Parameters
    ----------
    protocol : Protocol or str
        A :class:`Protocol`, or the name of a full-size one.
    seed : int
        Seeds every teacher and start (same seed, same results).
    progress : bool
        Show a progress bar over the tasks.
    client : distributed.Client, optional
        Run the tasks on this Dask cluster.
    workers : int, optional
        Run the tasks on a new cluster of this many worker processes on this machine (one
        thread each), closed at the end. The processes are spawned, so a script that asks for
        them must call this under ``if __name__ == "__main__":``. Without ``client`` and
        ``workers`` the tasks run in this process, one after another.
    checkpoints : str or path-like, optional
        Save each finished task in ``<checkpoints>/<name>-<size>-seed<seed>/`` (see
        :mod:`shallowlearn.checkpoints`); without ``resume``, earlier checkpoints there are
        deleted first. The checkpoints are kept after the run.
    resume : bool
        Read the tasks finished by an earlier run with the same ``checkpoints`` and compute
        only the others. A folder of another protocol, seed or package version, or a
        corrupt one, is refused with a :class:`~shallowlearn.checkpoints.CheckpointError`.
    on_task : callable, optional
        Called as ``on_task(task)`` in this process with each
        :class:`~shallowlearn.tasks.Task` once it has finished and been checkpointed; an
        exception it raises stops the run (the finished tasks stay checkpointed).

    Returns
    -------
    Results
        One row per run, in the order of sweep value, teacher and start.

    Examples
    --------
    >>> import dataclasses
    >>> from shallowlearn import get_protocol, run_protocol
    >>> p = dataclasses.replace(get_protocol("local", "reduced"), radii=(0.1,), max_iter=100)
    >>> res = run_protocol(p, progress=False)
    >>> bool(res.summary["rate_median"][0] < 0)     # the loss decreases
    True

    On two local worker processes (from a script, under ``if __name__ == "__main__":``), with
    checkpoints, the results are the same:

    >>> same = run_protocol(p, workers=2, checkpoints="runs", progress=False)  # doctest: +SKIP
    >>> bool((same.runs["loss"] == res.runs["loss"]).all())  # doctest: +SKIP
    True
    """
    from . import __version__

    if isinstance(protocol, str):
        protocol = get_protocol(protocol)
    if not isinstance(protocol, Protocol):
        raise TypeError(f"protocol must be a Protocol or a name; got {type(protocol).__name__}")
    tasks = protocol_tasks(protocol)
    progress, resume = check_bool(progress, "progress"), check_bool(resume, "resume")
    if workers is not None:
        workers = check_positive_int(workers, "workers")
        if client is not None:
            raise ValueError("give client or workers, not both")
    if client is not None or workers is not None:
        from . import distributed  # imports Dask, only when a cluster is asked for

        if client is not None:
            distributed.check_client(client)
    if resume and checkpoints is None:
        raise ValueError("resume=True needs the checkpoints folder of the run to resume")
    if on_task is not None and not callable(on_task):
        raise TypeError(f"on_task must be callable; got {type(on_task).__name__}")
    seed = check_non_negative_int(seed, "seed")
    store = None
    done: dict[int, dict] = {}
    if checkpoints is not None:
        store = Checkpoints(os.fspath(checkpoints), protocol, seed, tasks, __version__)
        done = store.open(resume=resume)
    todo = [task for task in tasks if task.index not in done]
    bar = tqdm(total=len(tasks), initial=len(done), disable=not progress, unit="task",
               desc=f"{protocol.name} ({protocol.size})")
    # closing: an error here stops the cluster's tasks (and a local cluster) at once
    with bar, contextlib.closing(_execute(protocol, todo, seed, client, workers)) as finished:
        for task, result in finished:
            if store is not None:
                store.save(task, result)
            done[task.index] = result
            bar.update()
            if on_task is not None:
                on_task(task)
    return _assemble(protocol, seed, __version__, tasks, done)


def _execute(protocol: Protocol, tasks: list, seed: int, client, workers):
    """(task, result) for each task: in this process in order, or on a Dask cluster as each
    finishes."""
    if client is None and workers is None:
        for task in tasks:
            yield task, run_task(protocol, task, seed)
        return
    if not tasks:
        return
    from . import distributed

    if client is not None:
        yield from distributed.run_tasks(client, run_task, protocol, tasks, seed)
        return
    with distributed.local_client(workers) as local:
        yield from distributed.run_tasks(local, run_task, protocol, tasks, seed)


def _assemble(protocol: Protocol, seed: int, version: str, tasks: list, done: dict) -> Results:
    """The tasks' results as one table of runs, in the order of (sweep value, teacher, start)."""
    results = [done[task.index] for task in tasks]
    columns = {key: np.concatenate([r[key] for r in results]) for key in result_columns(protocol)}
    # position of each run in the order of (sweep index j, teacher i, start s)
    position = np.concatenate([
        np.repeat([j * protocol.teachers + i for j, i in task.teachers], protocol.starts)
        * protocol.starts + np.tile(np.arange(protocol.starts), len(task.teachers))
        for task in tasks
    ])
    order = np.argsort(position, kind="stable")
    history = columns.pop("history", None)
    runs = {key: column[order] for key, column in columns.items()}
    curves = {}
    if history is not None:
        curves = {
            "iteration": np.arange(history.shape[1]) * protocol.record_every,
            "loss": history[order],
        }
    summary, fit = _summarize(protocol, runs, curves)
    return Results(protocol, seed, version, runs, summary, fit, curves)


def _summarize(protocol: Protocol, runs: dict, curves: dict) -> tuple[dict, dict]:
    values = np.array(protocol.values)
    if protocol.kind == "success":
        passed, runs_ok = [], []
        for value in values:
            here = runs["value"] == value
            ok = runs["outcome"][here] == "succeeded"
            teacher = runs["teacher"][here]
            passed.append(sum(bool(np.all(ok[teacher == i])) for i in range(protocol.teachers)))
            runs_ok.append(int(ok.sum()))
        passed = np.array(passed)
        summary = {
            "value": values,
            "passed": passed,
            "teachers": np.full(values.size, protocol.teachers),
            "rate": passed / protocol.teachers,
            "runs_succeeded": np.array(runs_ok),
        }
        return summary, fit_logistic(values, passed, protocol.teachers)
    if protocol.kind == "population":
        return _population_summary(values, runs), {}
    if protocol.kind == "phase":
        return _phase_summary(protocol, runs), {}
    loss = curves["loss"]
    final = runs["loss"] if protocol.kind == "local" else np.sqrt(runs["loss"])
    rates = np.array([_log_slope(curves["iteration"], row) for row in loss])
    summary = {
        "value": values,
        "final_median": np.array([np.median(final[runs["value"] == v]) for v in values]),
        "rate_median": np.array([np.median(rates[runs["value"] == v]) for v in values]),
    }
    return summary, {}


#: How the runs of a population protocol are counted, as each summary column and the
#: outcomes (:data:`shallowlearn.diagnosis.CATEGORIES`) it counts.
POPULATION_COUNTS = {
    "global": ("succeeded",),
    "spurious": ("stuck at a second-order point",),
    "saddle": ("stuck near a saddle",),
    "unfinished": ("slow", "oscillating", "crawling", "diverged"),
}


def _population_summary(values: np.ndarray, runs: dict) -> dict:
    """Per sweep value: the runs ending at a global minimum, at a certified spurious local
    minimum, near a saddle, and unfinished; and the fraction of spurious minima."""
    summary = {"value": values}
    for name, outcomes in POPULATION_COUNTS.items():
        summary[name] = np.array([int(np.sum(np.isin(runs["outcome"][runs["value"] == v],
                                                      outcomes))) for v in values])
    total = sum(summary[name] for name in POPULATION_COUNTS)
    summary["spurious_fraction"] = summary["spurious"] / total
    return summary


def _phase_summary(protocol: Protocol, runs: dict) -> dict:
    """Per grid point: α, κ, n, m*, the fraction of runs that reached the loss threshold, the
    fraction of teachers certified unique, and the median and largest test error and median
    final training loss of its runs."""
    alpha, kappa, n, width = (np.array(column) for column in zip(*protocol.grid()))
    here = [runs["value"] == j for j in protocol.values]
    return {
        "value": np.array(protocol.values), "alpha": alpha, "kappa": kappa, "n": n,
        "teacher_width": width,
        "success": np.array([np.mean(runs["outcome"][h] == "succeeded") for h in here]),
        "certified": np.array([np.mean(runs["certified"][h]) for h in here]),
        "test_error_median": np.array([np.median(runs["test_error"][h]) for h in here]),
        "test_error_max": np.array([np.max(runs["test_error"][h]) for h in here]),
        "loss_median": np.array([np.median(runs["loss"][h]) for h in here]),
    }


def _log_slope(iterations: np.ndarray, loss: np.ndarray) -> float:
    """Least-squares slope of log L against the iteration, over the recorded positive losses."""
    keep = np.isfinite(loss) & (loss > 0)
    if keep.sum() < 2:
        return float("nan")
    return float(np.polyfit(iterations[keep], np.log(loss[keep]), 1)[0])


