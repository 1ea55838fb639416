"""Running a protocol: every teacher and start, batched, into tidy :class:`~shallowlearn.results_io.Results`.

A failed run is called *stuck* when its gradient has become negligible for its loss
(‖∇L‖² ≤ 10⁻⁶ L) and *slow* otherwise.
"""

from __future__ import annotations

import numpy as np

from .batched import batched_gradient_descent
from .protocols import Protocol, get_protocol, protocol_inputs
from .results_io import Results
from .statistics import fit_logistic

__all__ = ["run_protocol"]

# A failed run is "stuck" when ‖∇L‖² ≤ _STUCK · L, "slow" otherwise.
_STUCK = 1e-6


def _outcomes(res, loss_tol: float) -> np.ndarray:
    success = res.loss <= loss_tol
    stuck = res.grad_norm**2 <= _STUCK * res.loss
    return np.where(
        res.status == "diverged", "diverged",
        np.where(success, "success", np.where(stuck, "stuck", "slow")),
    )


def run_protocol(protocol: Protocol | str, *, seed: int = 0, progress: bool = True) -> Results:
    """Run a protocol: all its teachers and starts, batched.

    Parameters
    ----------
    protocol : Protocol or str
        A :class:`Protocol`, or the name of a full-size one.
    seed : int
        Seeds every teacher and start (same seed, same results).
    progress : bool
        Show progress bars.

    Returns
    -------
    Results

    Examples
    --------
    >>> import dataclasses
    >>> from shallowlearn import get_protocol, run_protocol
    >>> p = dataclasses.replace(get_protocol("local", "reduced"), radii=(0.1,), max_iter=100)
    >>> res = run_protocol(p, progress=False)
    >>> bool(res.summary["rate_median"][0] < 0)     # the loss decreases
    True
    """
    from . import __version__

    if isinstance(protocol, str):
        protocol = get_protocol(protocol)
    if not isinstance(protocol, Protocol):
        raise TypeError(f"protocol must be a Protocol or a name; got {type(protocol).__name__}")
    columns: dict[str, list] = {}
    histories = []
    # one batched call per input dimension: the runs of all widths of that d advance together
    for batch in protocol_inputs(protocol, seed=seed):
        res = batched_gradient_descent(
            batch["X"], batch["y"], batch["activation"], batch["W0"], batch["v0"],
            data_index=batch["data_index"], step=protocol.step, max_iter=protocol.max_iter,
            loss_tol=protocol.loss_tol, record_every=protocol.record_every, progress=progress,
        )
        for key, col in batch["rows"].items():
            columns.setdefault(key, []).extend(col)
        for key in ("initial_loss", "loss", "grad_norm", "iterations", "status"):
            columns.setdefault(key, []).extend(getattr(res, key))
        columns.setdefault("outcome", []).extend(_outcomes(res, protocol.loss_tol))
        if res.history is not None:
            histories.append(res.history)
    runs = {key: np.array(col) for key, col in columns.items()}
    curves = {}
    if histories:
        loss = np.vstack(histories)
        curves = {
            "iteration": np.arange(loss.shape[1]) * protocol.record_every,
            "loss": loss,
        }
    summary, fit = _summarize(protocol, runs, curves)
    return Results(protocol, seed, __version__, runs, summary, fit, curves)


def _summarize(protocol: Protocol, runs: dict, curves: dict) -> tuple[dict, dict]:
    values = np.array(protocol.values)
    if protocol.kind == "success":
        passed, runs_ok = [], []
        for value in values:
            here = runs["value"] == value
            ok = runs["outcome"][here] == "success"
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
    loss = curves["loss"]
    final = runs["loss"] if protocol.kind == "local" else np.sqrt(runs["loss"])
    rates = np.array([_log_slope(curves["iteration"], row) for row in loss])
    summary = {
        "value": values,
        "final_median": np.array([np.median(final[runs["value"] == v]) for v in values]),
        "rate_median": np.array([np.median(rates[runs["value"] == v]) for v in values]),
    }
    return summary, {}


def _log_slope(iterations: np.ndarray, loss: np.ndarray) -> float:
    """Least-squares slope of log L against the iteration, over the recorded positive losses."""
    keep = np.isfinite(loss) & (loss > 0)
    if keep.sum() < 2:
        return float("nan")
    return float(np.polyfit(iterations[keep], np.log(loss[keep]), 1)[0])


