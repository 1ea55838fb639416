"""Results of a protocol, and saving and loading them.

Results are saved as JSON (atomically: an interrupted save never leaves a half-written file)
with the protocol, the seed, the package version and a SHA-256 checksum of all of it.
Loading checks everything before it returns: the file's size (at most :data:`MAX_BYTES`), its
encoding, the format and its version, the checksum (so that an edit or corruption is
detected), and every field's type, finiteness and length. A file edited on purpose is
re-sealed with :func:`reseal`. Files of format version 1 (no checksum, no diagnosis) still
load.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import numbers
import os
import uuid
from dataclasses import dataclass, field
from importlib import resources

import numpy as np

from .protocols import Protocol, get_protocol

__all__ = ["MAX_BYTES", "Results", "load_results", "reseal", "save_results", "shipped_results",
           "write_atomically"]

_FORMAT = "shallowlearn-results"
_FORMAT_VERSION = 2
_READABLE_VERSIONS = (1, 2)
# the statuses that files written before the stopping contract use for "converged"
_OLD_CONVERGED = ("loss_tol", "grad_tol")
#: The largest results file :func:`load_results` reads, in bytes.
MAX_BYTES = 64 * 2**20


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
        ``iterations``, ``status`` (see :data:`shallowlearn.stopping.STATUSES`), and the
        diagnosis of :func:`shallowlearn.diagnosis.diagnose_run`: ``outcome`` (one of
        :data:`shallowlearn.diagnosis.CATEGORIES`), ``lambda_min``, ``loss_slope`` and
        ``steps_needed``. Phase protocols add ``n``, ``teacher_width``, ``test_error`` and
        ``certified`` (:data:`shallowlearn.tasks.PHASE_COLUMNS`). Files of format version 1 have no
        diagnosis columns, and their ``outcome`` is ``"success"``, ``"slow"``, ``"stuck"`` or
        ``"diverged"``.
    summary : dict of str to numpy.ndarray
        One row per sweep value. Success protocols: ``value``, ``passed`` (teachers whose runs
        all succeeded), ``teachers``, ``rate``, ``runs_succeeded``. Curve protocols:
        ``value``, ``final_median`` (median final RMSE or loss), ``rate_median`` (local: the
        median slope of log L per iteration). Phase protocols: ``value`` (the grid point's
        index), ``alpha``, ``kappa``, ``n``, ``teacher_width``, ``success`` (the fraction of
        runs that reached ``loss_tol``), ``certified`` (the fraction of teachers certified
        to be the only PSD fit of their data), ``test_error_median``, ``test_error_max``
        and ``loss_median``.
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
    _write(path, payload)


def _checksum(payload: dict) -> str:
    """SHA-256 of the payload (without its checksum) in a canonical JSON form."""
    body = {key: value for key, value in payload.items() if key != "sha256"}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), allow_nan=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _write(path, payload: dict) -> None:
    """Seal the payload with its checksum and write it atomically; remove the temporary
    files that earlier saves of the same file, killed midway, left behind."""
    payload = {**payload, "sha256": _checksum(payload)}
    path = os.path.abspath(os.fspath(path))
    folder, name = os.path.split(path)
    write_atomically(path, lambda handle: json.dump(payload, handle), text=True)
    for stale in os.listdir(folder):
        if stale.startswith(f".{name}.") and stale.endswith(".tmp"):
            with contextlib.suppress(OSError):
                os.unlink(os.path.join(folder, stale))


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


def _parse(text: str, source: str, *, verify: bool = True) -> Results:
    """The results in a file's text, checked as the module docstring says."""
    try:
        payload = json.loads(text)
    except json.JSONDecodeError as err:
        raise ValueError(f"{source} is not a valid results file (corrupt JSON: {err})") from None
    except RecursionError:
        raise ValueError(f"{source} is not a results file: its JSON is nested too deeply") from None
    if not isinstance(payload, dict) or payload.get("format") != _FORMAT:
        raise ValueError(f"{source} is not a shallowlearn results file")
    version = payload.get("format_version")
    if isinstance(version, bool) or version not in _READABLE_VERSIONS:
        raise ValueError(
            f"{source} has results format version {version!r}; this version of shallowlearn "
            f"reads versions {', '.join(map(str, _READABLE_VERSIONS))}")
    if verify and version >= 2 and payload.get("sha256") != _checksum(payload):
        raise ValueError(
            f"{source} has changed since it was saved (its checksum does not match its "
            "contents): it is corrupt, or it was edited; if it was edited on purpose, re-seal "
            "it with shallowlearn.results_io.reseal(path)")
    try:
        return _results(payload, version)
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise ValueError(f"{source} is an incomplete or corrupt results file: {err}") from None


_INTEGER_COLUMNS = ("teacher", "start", "d", "k", "iterations")
_FLOAT_COLUMNS = ("value", "initial_loss", "loss", "grad_norm")
_DIAGNOSIS_COLUMNS = ("lambda_min", "loss_slope", "steps_needed")


def _column(values, name: str, kind: str) -> np.ndarray:
    if not isinstance(values, list):
        raise TypeError(f"runs.{name} must be a list; got {type(values).__name__}")
    if kind == "str":
        if not all(isinstance(x, str) for x in values):
            raise TypeError(f"runs.{name} must hold strings")
        return np.array(values, dtype=str)
    if not all(isinstance(x, numbers.Real) and not isinstance(x, bool) for x in values):
        raise TypeError(f"runs.{name} must hold numbers")
    column = np.array(values, dtype=float)
    if kind == "int":
        if not np.all(np.isfinite(column)) or np.any(column != np.round(column)) or np.any(column < 0):
            raise ValueError(f"runs.{name} must hold non-negative integers")
        return column.astype(int)
    if kind == "finite" and not np.all(np.isfinite(column)):
        raise ValueError(f"runs.{name} must be finite")
    return column


def _results(payload: dict, version: int) -> Results:
    from .diagnosis import CATEGORIES
    from .stopping import STATUSES

    seed = payload["seed"]
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise TypeError(f"seed must be a non-negative integer; got {seed!r}")
    if not isinstance(payload["version"], str):
        raise TypeError(f"version must be a string; got {payload['version']!r}")
    protocol = Protocol.from_dict(payload["protocol"])
    raw = payload["runs"]
    if not isinstance(raw, dict):
        raise TypeError("runs must be a table of columns")
    runs = {name: _column(raw[name], name, "int") for name in _INTEGER_COLUMNS}
    runs.update({name: _column(raw[name], name, "finite") for name in _FLOAT_COLUMNS})
    for name in ("status", "outcome"):
        runs[name] = _column(raw[name], name, "str")
    runs["status"] = np.where(np.isin(runs["status"], _OLD_CONVERGED), "converged", runs["status"])
    outcomes = CATEGORIES if version >= 2 else ("success", "slow", "stuck", "diverged")
    if version >= 2:
        runs.update({name: _column(raw[name], name, "float") for name in _DIAGNOSIS_COLUMNS})
    if protocol.kind == "phase":
        runs.update({name: _column(raw[name], name, "int")
                     for name in ("n", "teacher_width", "certified")})
        runs["test_error"] = _column(raw["test_error"], "test_error", "finite")
    for name, allowed in (("status", STATUSES), ("outcome", outcomes)):
        unknown = set(runs[name]) - set(allowed)
        if unknown:
            raise ValueError(f"runs.{name} has unknown values {sorted(unknown)}")
    lengths = {name: column.size for name, column in runs.items()}
    expected = len(protocol.values) * protocol.teachers * protocol.starts
    if set(lengths.values()) != {expected}:
        raise ValueError(f"every runs column must have {expected} entries (the protocol's runs); "
                         f"got lengths {lengths}")
    if np.any(runs["loss"] < 0) or np.any(runs["initial_loss"] < 0):
        raise ValueError("runs.loss and runs.initial_loss must be non-negative")
    summary = {}
    for name, values in payload["summary"].items():
        column = np.array(values)
        if column.shape != (len(protocol.values),) or column.dtype.kind not in "biuf":
            raise ValueError(f"summary.{name} must hold one number per sweep value")
        summary[name] = column
    fit = payload["fit"]
    if not isinstance(fit, dict) or not all(
            isinstance(x, numbers.Real) and not isinstance(x, bool) for x in fit.values()):
        raise TypeError("fit must map names to numbers")
    curves = {key: np.array(col, dtype=float) for key, col in payload["curves"].items()}
    if curves and (curves["loss"].shape != (expected, curves["iteration"].size)):
        raise ValueError("curves.loss must have one row per run and one column per iteration")
    return Results(protocol, seed, payload["version"], runs, summary, dict(fit), curves)


def _read(path) -> str:
    """The text of a results file, refusing one larger than MAX_BYTES or not UTF-8."""
    path = os.fspath(path)
    if os.path.getsize(path) > MAX_BYTES:
        raise ValueError(f"{path} is {os.path.getsize(path):,} bytes, more than a results file "
                         f"may be ({MAX_BYTES:,}; shallowlearn.results_io.MAX_BYTES)")
    with open(path, "rb") as handle:
        data = handle.read(MAX_BYTES + 1)  # a device reports size 0 but may never end
    if len(data) > MAX_BYTES:
        raise ValueError(f"{path} holds more than {MAX_BYTES:,} bytes, more than a results file "
                         "may be (shallowlearn.results_io.MAX_BYTES)")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ValueError(f"{path} is not a results file: it is not UTF-8 text ({err})") from None


def reseal(path) -> None:
    """Re-seal a results file that was edited on purpose: check it, and save it again with a
    checksum of its new contents (and in the current format).

    Examples
    --------
    >>> import dataclasses, json, os, tempfile
    >>> from shallowlearn import get_protocol, load_results, run_protocol, save_results
    >>> from shallowlearn.results_io import reseal
    >>> p = dataclasses.replace(get_protocol("fig3a", "reduced"), k=(3,), max_iter=20)
    >>> path = os.path.join(tempfile.mkdtemp(), "r.json")
    >>> save_results(run_protocol(p, progress=False), path)
    >>> payload = json.load(open(path)); payload["version"] = "edited"
    >>> json.dump(payload, open(path, "w"))
    >>> reseal(path)
    >>> load_results(path).version
    'edited'
    """
    results = _parse(_read(path), os.fspath(path), verify=False)
    save_results(results, path)


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
    if protocol is not None and not isinstance(protocol, (str, Protocol)):
        raise TypeError(f"protocol must be a Protocol, a protocol's name or None; got "
                        f"{type(protocol).__name__}")
    results = _parse(_read(path), path)
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


