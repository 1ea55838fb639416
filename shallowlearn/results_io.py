"""Results of a protocol, and saving and loading them.

Results are saved as JSON (atomically: an interrupted save never leaves a half-written file)
with the protocol, the seed and the package version, and loading checks all three.
"""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass, field
from importlib import resources

import numpy as np

from .protocols import Protocol, get_protocol

__all__ = ["Results", "load_results", "save_results", "shipped_results", "write_atomically"]

_FORMAT = "shallowlearn-results"
_FORMAT_VERSION = 1
# the statuses that files written before the stopping contract use for "converged"
_OLD_CONVERGED = ("loss_tol", "grad_tol")


@dataclass(frozen=True, eq=False)
class Results:
    """The tidy outcome of a protocol.

    Attributes
    ----------
    protocol : Protocol
    seed : int
    version : str
        The ``shallowlearn`` version that produced it.
    runs : dict of str to numpy.ndarray
        One row per gradient-descent run, columns of equal length: ``value`` (of the sweep),
        ``teacher``, ``start``, ``d``, ``k``, ``initial_loss``, ``loss``, ``grad_norm``,
        ``iterations``, ``status`` (see :data:`shallowlearn.stopping.STATUSES`) and
        ``outcome`` (``"success"``, ``"slow"``, ``"stuck"`` or ``"diverged"``).
    summary : dict of str to numpy.ndarray
        One row per sweep value. Success protocols: ``value``, ``passed`` (teachers whose runs
        all succeeded), ``teachers``, ``rate``, ``runs_succeeded``. Curve protocols:
        ``value``, ``final_median`` (median final RMSE or loss), ``rate_median`` (local: the
        median slope of log L per iteration).
    fit : dict of str to float
        Success protocols: the logistic fit ``intercept``, ``slope`` and the 50% ``crossing``.
    curves : dict of str to numpy.ndarray
        Curve protocols: ``iteration`` (m,) and ``loss`` (runs, m), NaN after a run stopped.

    Examples
    --------
    >>> from shallowlearn import get_protocol, run_protocol
    >>> import dataclasses
    >>> p = dataclasses.replace(get_protocol("fig3a", "reduced"), k=(3, 8), max_iter=200)
    >>> res = run_protocol(p, seed=0, progress=False)
    >>> res
    Results('fig3a', size='reduced', seed=0, runs=18)
    >>> sorted(res.summary)
    ['passed', 'rate', 'runs_succeeded', 'teachers', 'value']
    """

    protocol: Protocol
    seed: int
    version: str
    runs: dict
    summary: dict
    fit: dict = field(default_factory=dict)
    curves: dict = field(default_factory=dict)

    def __repr__(self) -> str:
        return (
            f"Results({self.protocol.name!r}, size={self.protocol.size!r}, seed={self.seed}, "
            f"runs={len(self.runs['loss'])})"
        )


def _to_json(value):
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, dict):
        return {key: _to_json(item) for key, item in value.items()}
    return value


def save_results(results: Results, path) -> None:
    """Write results to a JSON file, atomically.

    The file is written under a temporary name in the same folder and then renamed over
    ``path``, so an interrupted save leaves either the old file or the new one, never half.
    Missing values (the NaN of unrecorded curve points) are written as ``NaN``, which Python's
    JSON reader, and hence :func:`load_results`, accepts.

    Examples
    --------
    >>> import dataclasses, os, tempfile
    >>> from shallowlearn import get_protocol, load_results, run_protocol, save_results
    >>> p = dataclasses.replace(get_protocol("fig3a", "reduced"), k=(3,), max_iter=50)
    >>> res = run_protocol(p, progress=False)
    >>> path = os.path.join(tempfile.mkdtemp(), "fig3a.json")
    >>> save_results(res, path)
    >>> load_results(path, protocol=p).runs["loss"].tolist() == res.runs["loss"].tolist()
    True
    """
    if not isinstance(results, Results):
        raise TypeError(f"results must be a Results; got {type(results).__name__}")
    payload = {
        "format": _FORMAT,
        "format_version": _FORMAT_VERSION,
        "version": results.version,
        "seed": results.seed,
        "protocol": results.protocol.to_dict(),
        "runs": _to_json(results.runs),
        "summary": _to_json(results.summary),
        "fit": results.fit,
        "curves": _to_json(results.curves),
    }
    write_atomically(path, lambda handle: json.dump(payload, handle), text=True)


def write_atomically(path, write, *, text: bool = False) -> None:
    """Write a file so that an interrupted write leaves the old file or the new one, never half.

    ``write(handle)`` writes the contents to a file open under a fresh hidden name in the same
    folder (``.<name>.<hex>.tmp``), in binary mode, or as UTF-8 text if ``text``; the file is
    then flushed to disk and renamed over ``path``, and the rename is flushed too. If
    ``write`` raises, the temporary file is removed; a process killed meanwhile leaves it
    behind, under a name that readers ignore.

    Examples
    --------
    >>> import os, tempfile
    >>> from shallowlearn.results_io import write_atomically
    >>> path = os.path.join(tempfile.mkdtemp(), "note.txt")
    >>> write_atomically(path, lambda handle: handle.write(b"done"))
    >>> open(path).read(), os.listdir(os.path.dirname(path))
    ('done', ['note.txt'])
    """
    path = os.path.abspath(os.fspath(path))
    folder = os.path.dirname(path)
    # a fresh name in the same folder (so that the rename is atomic), created with the usual
    # permissions (the process umask applies, unlike for tempfile's private files)
    temporary = os.path.join(folder, f".{os.path.basename(path)}.{uuid.uuid4().hex}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        mode, encoding = ("w", "utf-8") if text else ("wb", None)
        with open(descriptor, mode, encoding=encoding) as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise
    directory = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(directory)  # the rename itself reaches the disk
    finally:
        os.close(directory)


def _parse(text: str, source: str) -> Results:
    try:
        payload = json.loads(text)
    except json.JSONDecodeError as err:
        raise ValueError(f"{source} is not a valid results file (corrupt JSON: {err})") from None
    if not isinstance(payload, dict) or payload.get("format") != _FORMAT:
        raise ValueError(f"{source} is not a shallowlearn results file")
    if payload.get("format_version") != _FORMAT_VERSION:
        raise ValueError(
            f"{source} has results format version {payload.get('format_version')}; this "
            f"version of shallowlearn reads version {_FORMAT_VERSION}"
        )
    try:
        protocol = Protocol.from_dict(payload["protocol"])
        runs = {key: np.array(col) for key, col in payload["runs"].items()}
        if "status" in runs:  # version 1 files name the two ways of converging
            runs["status"] = np.where(np.isin(runs["status"], _OLD_CONVERGED), "converged",
                                      runs["status"])
        summary = {key: np.array(col) for key, col in payload["summary"].items()}
        curves = {key: np.array(col, dtype=float) for key, col in payload["curves"].items()}
        return Results(
            protocol, int(payload["seed"]), str(payload["version"]), runs, summary,
            dict(payload["fit"]), curves,
        )
    except (KeyError, TypeError, ValueError) as err:
        raise ValueError(f"{source} is an incomplete or corrupt results file ({err!r})") from None


def load_results(path, protocol: Protocol | str | None = None) -> Results:
    """Read results saved by :func:`save_results`.

    Parameters
    ----------
    path : str or path-like
    protocol : Protocol or str, optional
        The protocol the file must hold: a :class:`Protocol` (compared field by field) or a
        name. A mismatch raises ``ValueError`` naming the differing fields.

    Raises
    ------
    ValueError
        For a file that is not valid results (corrupt, truncated, another format) or that
        holds another protocol.

    Examples
    --------
    See :func:`save_results`.
    """
    path = os.fspath(path)
    with open(path, encoding="utf-8") as handle:
        results = _parse(handle.read(), path)
    _check_protocol(results, protocol, path)
    return results


def _check_protocol(results: Results, protocol, source: str) -> None:
    if protocol is None:
        return
    if isinstance(protocol, str):
        if results.protocol.name != protocol:
            raise ValueError(
                f"{source} holds protocol {results.protocol.name!r}, not {protocol!r}"
            )
        return
    want, got = protocol.to_dict(), results.protocol.to_dict()
    differ = [key for key in want if want[key] != got.get(key)]
    if differ:
        details = ", ".join(f"{key}: file {got.get(key)!r} vs {want[key]!r}" for key in differ)
        raise ValueError(f"{source} holds a different protocol ({details})")


def shipped_results(name: str, size: str = "full") -> Results:
    """Results shipped with the package (``shallowlearn/results/<name>-<size>.json``).

    Examples
    --------
    >>> from shallowlearn import shipped_results
    >>> shipped_results("fig3a", "reduced").protocol.figure
    'Figure 3a'
    """
    protocol = get_protocol(name, size)
    resource = resources.files("shallowlearn") / "results" / f"{name}-{size}.json"
    if not resource.is_file():
        raise FileNotFoundError(
            f"no shipped results for {name!r} at size {size!r}; produce them with "
            f"python -m shallowlearn run {name} --size {size}"
        )
    results = _parse(resource.read_text(encoding="utf-8"), str(resource))
    _check_protocol(results, protocol, str(resource))
    return results


