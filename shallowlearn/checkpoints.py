"""Checkpoints of a protocol run: each finished task on disk, so that a run can resume.

The checkpoints of a run of protocol ``name`` at size ``size`` with seed ``seed`` live in the
folder ``<root>/<name>-<size>-seed<seed>/`` (the command line's root is ``<out>/.checkpoints``):

* ``manifest.json``: the protocol (every field), the seed, the ``shallowlearn`` version and
  the cut into tasks (the teachers of each task);
* ``task-0003.npz``: the results of task 3, the arrays of
  :func:`~shallowlearn.tasks.run_task`, with a record of the protocol, seed, version and task
  they belong to.

Each file is written atomically (:func:`~shallowlearn.results_io.write_atomically`): a save
that is killed leaves at most a hidden temporary file, which is never read and is removed
when a run next opens the folder. Resuming reads every finished task back and refuses, with a
:class:`CheckpointError` that says what differs, a folder written for another protocol, seed,
version or cut, and any task file that is corrupt or foreign. Only one run may use a folder
at a time.
"""

from __future__ import annotations

import json
import os
import re
import zipfile

import numpy as np

from .protocols import Protocol
from .results_io import write_atomically
from .tasks import Task, result_columns

__all__ = ["CheckpointError", "Checkpoints"]

_FORMAT = "shallowlearn-checkpoints"
_FORMAT_VERSION = 1
_MANIFEST = "manifest.json"
_TASK_FILE = re.compile(r"task-(\d{4,})\.npz")
# what a killed write_atomically leaves behind
_TEMPORARY = re.compile(r"\.(manifest\.json|task-\d{4,}\.npz)\.[0-9a-f]{32}\.tmp")


class CheckpointError(ValueError):
    """Checkpoints that cannot be resumed: written for another run, or corrupt."""


class Checkpoints:
    """The checkpoint folder of one run: a protocol with a seed, cut into tasks.

    Parameters
    ----------
    root : str or path-like
        The folder that holds the checkpoint folders of runs.
    protocol : Protocol
    seed : int
    tasks : list of Task
        The protocol's tasks (:func:`~shallowlearn.tasks.protocol_tasks`).
    version : str
        The ``shallowlearn`` version that computes the tasks.

    Examples
    --------
    >>> import dataclasses, tempfile
    >>> from shallowlearn import get_protocol
    >>> from shallowlearn.checkpoints import Checkpoints
    >>> from shallowlearn.tasks import protocol_tasks, run_task
    >>> p = dataclasses.replace(get_protocol("fig3a", "reduced"), max_iter=20)
    >>> tasks = protocol_tasks(p)
    >>> store = Checkpoints(tempfile.mkdtemp(), p, 0, tasks, "0.1.0")
    >>> store.open(resume=False)
    {}
    >>> store.save(tasks[1], run_task(p, tasks[1], 0))
    >>> sorted(store.open(resume=True)), store.folder.endswith("fig3a-reduced-seed0")
    ([1], True)
    """

    def __init__(self, root, protocol: Protocol, seed: int, tasks: list[Task], version: str):
        self.folder = os.path.join(os.path.abspath(os.fspath(root)),
                                   f"{protocol.name}-{protocol.size}-seed{seed}")
        self.tasks = tasks
        self.manifest = {
            "format": _FORMAT, "format_version": _FORMAT_VERSION, "version": version,
            "seed": seed, "protocol": protocol.to_dict(),
            "tasks": [[list(pair) for pair in task.teachers] for task in tasks],
        }

    def open(self, *, resume: bool) -> dict[int, dict]:
        """Prepare the folder and return the finished tasks, by index.

        With ``resume`` the finished tasks are read back (after checking that the folder
        belongs to this run); without it the folder's earlier checkpoints are deleted and the
        run starts over. Either way, temporary files of killed saves are removed and the
        manifest is written.

        Raises
        ------
        CheckpointError
            When resuming from a folder of another run, or a corrupt one.
        """
        os.makedirs(self.folder, exist_ok=True)
        names = os.listdir(self.folder)
        for name in names:
            if _TEMPORARY.fullmatch(name) or (not resume and (
                    name == _MANIFEST or _TASK_FILE.fullmatch(name))):
                os.unlink(os.path.join(self.folder, name))
        done = {}
        if resume and any(_TASK_FILE.fullmatch(name) for name in names):
            self._check_manifest()
            for name in sorted(names):
                match = _TASK_FILE.fullmatch(name)
                if match:
                    index = int(match.group(1))
                    done[index] = self._load(os.path.join(self.folder, name), index)
        write_atomically(os.path.join(self.folder, _MANIFEST),
                         lambda handle: json.dump(self.manifest, handle), text=True)
        return done

    def save(self, task: Task, result: dict) -> None:
        """Write the results of a finished task (atomically)."""
        record = json.dumps(self._record(task.index))
        arrays = {key: np.asarray(value) for key, value in result.items()}
        write_atomically(self._path(task.index),
                         lambda handle: np.savez(handle, record=np.array(record), **arrays))

    def remove(self) -> None:
        """Delete the checkpoint files and, if it is then empty, the folder."""
        if not os.path.isdir(self.folder):
            return
        for name in os.listdir(self.folder):
            if name == _MANIFEST or _TASK_FILE.fullmatch(name) or _TEMPORARY.fullmatch(name):
                os.unlink(os.path.join(self.folder, name))
        if not os.listdir(self.folder):
            os.rmdir(self.folder)

    def _record(self, index: int) -> dict:
        """What a task file says it holds: the run (protocol, size, seed, version) and task."""
        protocol = self.manifest["protocol"]
        return {"format": _FORMAT, "version": self.manifest["version"],
                "seed": self.manifest["seed"], "protocol": protocol["name"],
                "size": protocol["size"], "task": index, "teachers": self.manifest["tasks"][index]}

    def _path(self, index: int) -> str:
        return os.path.join(self.folder, f"task-{index:04d}.npz")

    def _refuse(self, what: str) -> CheckpointError:
        return CheckpointError(
            f"cannot resume from {self.folder}: {what}; delete that folder, or run without "
            f"resume to start over")

    def _check_manifest(self) -> None:
        path = os.path.join(self.folder, _MANIFEST)
        try:
            with open(path, encoding="utf-8") as handle:
                found = json.load(handle)
        except FileNotFoundError:
            raise self._refuse(f"it has task files but no {_MANIFEST}") from None
        except (OSError, ValueError) as err:
            raise self._refuse(f"{_MANIFEST} is unreadable ({err})") from None
        if not isinstance(found, dict) or found.get("format") != _FORMAT:
            raise self._refuse(f"{_MANIFEST} is not a shallowlearn checkpoint manifest")
        differ = []
        for key in ("format_version", "version", "seed", "tasks"):
            if found.get(key) != self.manifest[key]:
                differ.append(f"{key} {_short(found.get(key))} (this run: "
                              f"{_short(self.manifest[key])})")
        protocol = found.get("protocol") if isinstance(found.get("protocol"), dict) else {}
        for key, value in self.manifest["protocol"].items():
            if protocol.get(key) != value:
                differ.append(f"protocol {key} {_short(protocol.get(key))} (this run: "
                              f"{_short(value)})")
        if differ:
            raise self._refuse("its checkpoints belong to another run: " + ", ".join(differ))

    def _load(self, path: str, index: int) -> dict:
        name = os.path.basename(path)
        if index >= len(self.tasks):
            raise self._refuse(f"{name} names a task beyond the {len(self.tasks)} of this run")
        task = self.tasks[index]
        try:
            with np.load(path, allow_pickle=False) as archive:
                arrays = {key: archive[key] for key in archive.files}
            record = json.loads(str(arrays.pop("record")))
        except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as err:
            raise self._refuse(f"{name} is corrupt ({err})") from None
        if record != self._record(index):
            raise self._refuse(f"{name} holds the results of another task or run")
        columns = set(result_columns(Protocol.from_dict(self.manifest["protocol"])))
        if set(arrays) != columns or any(len(arrays[key]) != task.runs for key in columns):
            raise self._refuse(f"{name} does not hold the {task.runs} runs of task {index}")
        return arrays


def _short(value) -> str:
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."
