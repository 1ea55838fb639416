"""A protocol cut into independent tasks, and running one task.

A **task** is a group of whole teachers of one input dimension d: each teacher (the data set
of one sweep value) comes with all of its starts. The cut depends on the protocol alone:

* teachers of different input dimensions never share a task (the batched engine takes one d
  per call), so a sweep over d has at least one task per sweep value; nor, in a phase
  protocol, teachers of different sample counts n (one n per call too);
* the teachers of one d are dealt in turn, as cards, to as few tasks as hold them with at
  most :data:`TASK_RUNS` runs each (one teacher per task if a teacher has more starts than
  that), so the tasks are of nearly equal size and the sweep values of that d mix in every
  task, which evens out the tasks' costs.

The paper's Figure 3a protocol (700 runs) becomes 14 tasks of 50 runs, its reduced version
(63 runs) 2 tasks of 33 and 30. The engine gains from batching (runs that share data share
a matrix product, and the per-step call overhead is shared by all runs), which a few dozen
runs already collect; smaller tasks would spend more time on that overhead, larger ones
would leave fewer tasks to spread over the workers.

A task's data and starts come from :func:`~shallowlearn.protocols.teacher_inputs`, seeded by
(seed, sweep index, teacher, start), so its results do not depend on where or when it runs,
nor on the other tasks; a task runs with one BLAS thread, so that its arithmetic, and hence
its results to the last bit, are the same whatever the machine's threading.
:func:`shallowlearn.runner.run_protocol` runs the tasks, in-process or
on a Dask cluster, and assembles their results.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from threadpoolctl import threadpool_limits

from .batched import batched_gradient_descent
from .diagnosis import diagnose_run
from .objective import Objective
from .population import population_objective
from .protocols import PHASE_ROWS, Protocol, population_start, teacher_inputs
from .second_order import trust_region
from .thresholds import psd_uniqueness

__all__ = ["PHASE_COLUMNS", "RESULT_COLUMNS", "TASK_RUNS", "Task", "protocol_tasks",
           "result_columns", "run_task"]

#: Most runs in a task (unless one teacher has more starts).
TASK_RUNS = 50

#: The per-run results of a task, in this order (``history`` too for curve protocols), which
#: are the run's identity, its engine results, and its diagnosis (:mod:`shallowlearn.diagnosis`).
RESULT_COLUMNS = ("value", "teacher", "start", "d", "k", "initial_loss", "loss", "grad_norm",
                  "iterations", "status", "outcome", "lambda_min", "loss_slope", "steps_needed")

#: The further per-run results of a phase protocol, which are the grid point's n and teacher
#: width m*; the run's test error, the population loss of its end point over that of the zero
#: network (:class:`~shallowlearn.population.QuadraticPopulation`); and whether its teacher's M* is
#: certified to be the only PSD matrix that fits its data (1) or not (0), by
#: :func:`~shallowlearn.thresholds.psd_uniqueness`.
PHASE_COLUMNS = (*PHASE_ROWS, "test_error", "certified")

# Losses recorded per run for the diagnosis when the protocol records no curves.
_DIAGNOSIS_RECORDS = 200
# The trust region of a population protocol stops at this gradient norm (or at loss_tol).
_POPULATION_GRAD_TOL = 1e-9


@dataclass(frozen=True)
class Task:
    """One independent piece of a protocol: some of its teachers, each with all its starts.

    Attributes
    ----------
    index : int
        Position in :func:`protocol_tasks`.
    teachers : tuple of (int, int)
        The pairs (j, i): teacher i of sweep value j.
    runs : int
        Number of gradient-descent runs (teachers × starts).

    Examples
    --------
    >>> from shallowlearn import get_protocol
    >>> from shallowlearn.tasks import protocol_tasks
    >>> task = protocol_tasks(get_protocol("fig3a", "reduced"))[1]
    >>> task.index, task.runs, task.teachers[:3]
    (1, 30, ((0, 1), (1, 0), (1, 2)))
    """

    index: int
    teachers: tuple
    runs: int


def result_columns(protocol: Protocol) -> tuple:
    """The per-run results of a protocol's tasks: :data:`RESULT_COLUMNS`, then
    :data:`PHASE_COLUMNS` for a phase protocol, then ``history`` for one that records curves.

    Examples
    --------
    >>> from shallowlearn import get_protocol
    >>> from shallowlearn.tasks import result_columns
    >>> result_columns(get_protocol("phase"))[-3:]
    ('teacher_width', 'test_error', 'certified')
    """
    return (RESULT_COLUMNS + (PHASE_COLUMNS if protocol.kind == "phase" else ())
            + (("history",) if protocol.record_every is not None else ()))


def protocol_tasks(protocol: Protocol) -> list[Task]:
    """The tasks of a protocol, by the rule of the module docstring.

    Examples
    --------
    >>> from shallowlearn import get_protocol
    >>> from shallowlearn.tasks import protocol_tasks
    >>> [t.runs for t in protocol_tasks(get_protocol("fig3a"))] == [50] * 14
    True
    >>> [t.runs for t in protocol_tasks(get_protocol("fig3b", "reduced"))]
    [9, 9, 9, 9, 9, 9, 9]
    """
    if not isinstance(protocol, Protocol):
        raise TypeError(f"protocol must be a Protocol; got {type(protocol).__name__}")
    tasks = []
    for teachers in protocol.teacher_groups():
        per_task = max(1, TASK_RUNS // protocol.starts)  # teachers
        count = -(-len(teachers) // per_task)
        for first in range(count):
            dealt = tuple(teachers[first::count])
            tasks.append(Task(len(tasks), dealt, len(dealt) * protocol.starts))
    return tasks


def run_task(protocol: Protocol, task: Task, seed: int) -> dict:
    """Run the gradient descents of one task, batched.

    Returns
    -------
    dict of str to numpy.ndarray
        One entry per run, in the order of ``task.teachers`` and their starts, for each of
        :func:`result_columns`: ``history`` (runs, m) holds the recorded losses.

    Examples
    --------
    >>> import dataclasses
    >>> from shallowlearn import get_protocol
    >>> from shallowlearn.tasks import protocol_tasks, run_task
    >>> p = dataclasses.replace(get_protocol("fig3a", "reduced"), max_iter=100)
    >>> out = run_task(p, protocol_tasks(p)[0], seed=0)
    >>> out["loss"].shape, sorted(set(out["k"].tolist()))
    ((33,), [3, 4, 5, 6, 7, 8, 9])
    """
    with threadpool_limits(limits=1):  # the same arithmetic on any machine and any worker
        if protocol.kind == "population":
            return _run_population(protocol, task, seed)
        return _run(protocol, task, seed)


def _run(protocol: Protocol, task: Task, seed: int) -> dict:
    batch = teacher_inputs(protocol, task.teachers, seed=seed)
    record_every = protocol.record_every or max(1, protocol.max_iter // _DIAGNOSIS_RECORDS)
    res = batched_gradient_descent(
        batch["X"], batch["y"], batch["activation"], batch["W0"], batch["v0"],
        data_index=batch["data_index"], step=protocol.step, max_iter=protocol.max_iter,
        loss_tol=protocol.loss_tol, record_every=record_every, train_v=protocol.train_v,
    )
    out = {key: np.array(column) for key, column in batch["rows"].items()}
    for key in RESULT_COLUMNS[5:10]:
        out[key] = np.array(getattr(res, key))
    diagnoses = [_diagnose(protocol, batch, res, t, record_every) for t in range(res.loss.size)]
    out["outcome"] = np.array([dg.category for dg in diagnoses])
    out["lambda_min"] = np.array([dg.lambda_min for dg in diagnoses])
    out["loss_slope"] = np.array([dg.slope for dg in diagnoses])
    out["steps_needed"] = np.array([dg.steps_needed for dg in diagnoses])
    if protocol.kind == "phase":
        out["test_error"] = np.array([_test_error(batch, res, t) for t in range(res.loss.size)])
        unique = [psd_uniqueness(X, _target(teacher)).certified
                  for X, teacher in zip(batch["X"], batch["teachers"])]
        out["certified"] = np.array(unique, dtype=int)[batch["data_index"]]
    if protocol.record_every is not None:
        out["history"] = np.array(res.history)
    return out


def _target(teacher) -> np.ndarray:
    """M* = W*ᵀD_v*W* of a teacher."""
    return teacher.W.T @ (teacher.v[:, None] * teacher.W)


def _test_error(batch: dict, res, t: int) -> float:
    """The population loss of run t's end point relative to the zero network's."""
    teacher = batch["teachers"][batch["data_index"][t]]
    population = population_objective(teacher, v=res.v[t])
    return population.value(res.W[t].ravel()) / population.null_loss


def _diagnose(protocol: Protocol, batch: dict, res, t: int, record_every: int):
    """The diagnosis of run t of a batch, at its final point."""
    data, k = batch["data_index"][t], int(res.widths[t])
    X, y, act = batch["X"][data], batch["y"][data], batch["activation"]
    v, W = res.v[t, :k], res.W[t, :k]
    obj = Objective(X, y, act, k=k) if protocol.train_v else Objective(X, y, act, v=v)
    theta = obj.pack(W, v) if protocol.train_v else obj.pack(W)
    return diagnose_run(obj, theta, res.history[t], record_every=record_every,
                        status=str(res.status[t]), loss_tol=protocol.loss_tol,
                        max_iter=protocol.max_iter)


def _run_population(protocol: Protocol, task: Task, seed: int) -> dict:
    """The trust-region runs of one task of a population protocol, one after another, each
    diagnosed at its end point (its history is every iteration)."""
    columns = {key: [] for key in RESULT_COLUMNS}
    for j, i in task.teachers:
        d, k, _ = protocol.configs()[j]
        for s in range(protocol.starts):
            teacher, W0 = population_start(protocol, j, s, seed=seed)
            obj = population_objective(teacher, v=np.ones(k + protocol.extra_units))
            res = trust_region(obj, obj.pack(W0), radius=protocol.step, max_iter=protocol.max_iter,
                               grad_tol=_POPULATION_GRAD_TOL, loss_tol=protocol.loss_tol,
                               progress=False)
            dg = diagnose_run(obj, res.theta, res.history.loss, record_every=1,
                              status=res.status, loss_tol=protocol.loss_tol,
                              max_iter=protocol.max_iter)
            row = (protocol.values[j], i, s, d, k, res.history.loss[0], res.loss, res.grad_norm,
                   res.iterations, res.status, dg.category, dg.lambda_min, dg.slope,
                   dg.steps_needed)
            for key, value in zip(RESULT_COLUMNS, row):
                columns[key].append(value)
    return {key: np.array(values) for key, values in columns.items()}
