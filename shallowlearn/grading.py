"""Grade collected assignment notebooks: ``python -m shallowlearn grade SUBMISSION...``.

:func:`grade` runs each submitted notebook (``.ipynb``, or a MyST ``.md`` notebook read with
jupytext) from top to bottom in a fresh kernel, then, in the same kernel, runs the assignment's
checker on the names the assignment page asks students to define (:data:`ASSIGNMENTS`), as
nbgrader's autograder and otter-grader do: the answers are whatever those names hold once the
whole notebook has run, and a cell that raises does not stop the run. It writes a gradebook
CSV and one feedback file per submission.

**Answers.** ``activation``: ``my_activation`` (checked against the page's swish, as its
``reference``). ``spurious_minimum``: ``theta``, checked on the page's objective, which the
grader rebuilds itself (a student cannot change the data). ``phase_transition``: ``values``,
``successes``, ``trials`` and ``crossing``, with the reruns done by the page's own ``trial``
function. :func:`check_answers` does the same on any namespace, which is how the checkers plug
into nbgrader and otter-grader (see the book's Assignments page).

**Which assignment, which student.** The assignment is, in this order: ``assignment=`` (the
``--assignment`` option); the notebook metadata ``{"shallowlearn": {"assignment": ...}}``; the
file name, when it is an assignment's name or ends with one after ``_`` or ``-``
(``activation.ipynb``, ``alice_activation.ipynb``); the page label the assignment pages start
with, ``(assignment-activation)=``; the name of the enclosing folder. The student is: the
folder below ``submitted`` or ``autograded`` in nbgrader's layout
(``submitted/<student>/<assignment>/<notebook>.ipynb``); else the file name without the
assignment's name (``alice_activation.ipynb`` → ``alice``); else, for a file named after the
assignment, its folder (``alice/activation.ipynb`` → ``alice``).

**Containment.** Each notebook runs in its own kernel process, started from this Python, with
a copy of the notebook in a fresh temporary working directory that is deleted afterwards; its
cells get ``timeout`` seconds in all (:data:`DEFAULT_TIMEOUT`), the checks ``check_timeout``
more (:data:`DEFAULT_CHECK_TIMEOUT`), and at most :data:`MAX_OUTPUT` characters of its output
are kept. At the deadline, or when the grading is done, the kernel's whole process group is
killed. A notebook that cannot be read, raises, exits (``sys.exit`` fails its cell,
``os._exit`` ends its kernel), hangs, floods its output or deletes the files around it gives a
failed row; the grader goes on. This is no security sandbox: the code runs as the user who runs
the grader and can reach any file that user can. Grade untrusted work in a container or under
an unprivileged account, as nbgrader's and otter-grader's documentation advise, and treat a
pass as trust in the kernel's state, which a notebook could tamper with.
"""

from __future__ import annotations

import asyncio
import csv
import math
import numbers
import os
import re
import secrets
import shutil
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import autograd.numpy as anp
import numpy as np

import shallowlearn as sl

from . import assignment_checks, assignments
from .checks import Check, Feedback, check_names

__all__ = [
    "ASSIGNMENTS",
    "DEFAULT_CHECK_TIMEOUT",
    "DEFAULT_OUT",
    "DEFAULT_TIMEOUT",
    "MAX_OUTPUT",
    "GradeRecord",
    "UsageError",
    "check_answers",
    "grade",
]

#: Seconds a notebook's own cells may take in all.
DEFAULT_TIMEOUT = 300.0
#: Seconds the checks may take, after the notebook, in the same kernel.
DEFAULT_CHECK_TIMEOUT = 120.0
#: Where the gradebook and the feedback files go, relative to the working directory.
DEFAULT_OUT = "grades"
#: Characters of a notebook's output that are kept; the rest is dropped.
MAX_OUTPUT = 1_000_000

_MIME = "application/vnd.shallowlearn.feedback+json"
_STARTUP = 60  # seconds a kernel may take to start


class UsageError(ValueError):
    """A mistake in how the grader was called (a missing file, a bad option); one line."""


# --- the assignments and their answers ---------------------------------------------------------


def _swish(z):
    return z / (1.0 + anp.exp(-z))


def _spurious_objective():
    data = sl.random_labels(n=8, d=4, rng=0)
    return sl.Objective(data.X, data.y, "quadratic", v=[1.0, -1.0])


def _transition_trial(n, rng):
    data = sl.random_labels(n=n, d=6, rng=rng)
    obj = sl.Objective(data.X, data.y, "quadratic", v=[1.0, -1.0, 1.0, -1.0])
    target = 1e-10 * 0.5 * np.mean(data.y ** 2)
    start = rng.normal(scale=0.5, size=obj.p)
    res = sl.trust_region(obj, start, grad_tol=1e-9, loss_tol=target, max_iter=200,
                          progress=False)
    return bool(res.loss <= target)


@dataclass(frozen=True)
class _Assignment:
    name: str
    title: str
    answers: tuple
    checks: tuple
    run: object = field(repr=False)


#: The assignments the grader knows, by name (the names a submission defines, and its checks).
ASSIGNMENTS = {a.name: a for a in (
    _Assignment("activation", "activation", ("my_activation",),
                assignment_checks.ACTIVATION_CHECKS,
                lambda ns: assignments.check_activation(ns["my_activation"], reference=_swish)),
    _Assignment("spurious_minimum", "spurious minimum", ("theta",),
                assignment_checks.SPURIOUS_MINIMUM_CHECKS,
                lambda ns: assignments.check_spurious_minimum(_spurious_objective(),
                                                              ns["theta"])),
    _Assignment("phase_transition", "phase transition",
                ("values", "successes", "trials", "crossing"),
                assignment_checks.PHASE_TRANSITION_CHECKS,
                lambda ns: assignments.check_phase_transition(
                    ns["values"], ns["successes"], ns["trials"], ns["crossing"],
                    trial=_transition_trial)),
)}


def _assignment(name) -> _Assignment:
    key = str(name).strip().lower().replace("-", "_").replace(" ", "_")
    if key not in ASSIGNMENTS:
        raise UsageError(f"assignment must be one of {', '.join(ASSIGNMENTS)}; got {name!r}")
    return ASSIGNMENTS[key]


def _not_graded(spec: _Assignment, message: str) -> Feedback:
    names = check_names(spec.checks)
    return Feedback(spec.title, (Check("input", False, message),), names,
                    ("needs 'input', which failed",) * len(names))


def check_answers(assignment: str, namespace) -> Feedback:
    """Run an assignment's checker on the answers a notebook defined.

    Parameters
    ----------
    assignment : str
        ``"activation"``, ``"spurious_minimum"`` or ``"phase_transition"``.
    namespace : mapping
        Where the answers are, usually ``globals()`` of the notebook.

    Returns
    -------
    Feedback
        A failed ``input`` check when an answer is missing.

    Examples
    --------
    >>> from shallowlearn.grading import check_answers
    >>> check_answers("spurious_minimum", {"theta": [0.0] * 8}).failed    # W = 0: a saddle
    ('curvature',)
    >>> print(check_answers("activation", {})["input"].message)
    your notebook does not define my_activation, the name the assignment page asks for
    """
    spec = _assignment(assignment)
    missing = [name for name in spec.answers if name not in namespace]
    if missing:
        return _not_graded(spec, f"your notebook does not define {', '.join(missing)}, the "
                                 f"name{'s' if len(missing) > 1 else ''} the assignment page "
                                 "asks for")
    return spec.run({name: namespace[name] for name in spec.answers})


def _report(assignment: str, namespace, nonce: str) -> None:
    """Run in the kernel after the notebook: check it and display the result for the grader."""
    from IPython.display import display

    try:
        data = {"nonce": nonce, "feedback": check_answers(assignment, namespace).to_dict()}
    except BaseException as err:  # reported as a failed row, whatever it is
        data = {"nonce": nonce, "error": f"{type(err).__name__}: {err}"}
    display({_MIME: data}, raw=True)


# --- finding submissions -----------------------------------------------------------------------


@dataclass(frozen=True)
class _Submission:
    path: Path
    student: str
    assignment: str | None  # None: could not tell
    notebook: object = field(repr=False)  # the parsed notebook, or the error text


def _is_myst(path: Path) -> bool:
    try:
        head = path.read_bytes()[:2000].decode("utf-8", "replace")
    except OSError:
        return False
    return head.startswith("---") and ("jupytext" in head or "kernelspec" in head)


def _collect(paths, out: Path) -> list[Path]:
    found = []
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            raise UsageError(f"submission {str(raw)!r} does not exist")
        if path.is_file():
            if path.suffix not in (".ipynb", ".md") or (path.suffix == ".md"
                                                         and not _is_myst(path)):
                raise UsageError(f"submission {str(raw)!r} is not a notebook (an .ipynb, or a "
                                 ".md with a jupytext or kernelspec header)")
            found.append(path)
            continue
        inside = [p for p in sorted(path.rglob("*"))
                  if p.suffix in (".ipynb", ".md") and p.is_file()
                  and not any(part.startswith(".") for part in p.relative_to(path).parts)
                  and out.resolve() not in p.resolve().parents
                  and (p.suffix == ".ipynb" or _is_myst(p))]
        if not inside:
            raise UsageError(f"folder {str(raw)!r} holds no notebooks (.ipynb or MyST .md)")
        found.extend(inside)
    unique = list(dict.fromkeys(p.resolve() for p in found))
    return [Path(p) for p in unique]


def _read(path: Path):
    try:
        if path.suffix == ".md":
            import jupytext

            return jupytext.read(path)
        import nbformat

        return nbformat.read(path, as_version=4)
    except Exception as err:  # a broken submission: a failed row, not a crash
        return f"cannot read the notebook ({type(err).__name__}: {str(err)[:300]})"


_LABEL = re.compile(r"\(assignment-([\w-]+)\)=")


def _key(name: str) -> str:
    return name.lower().replace("-", "_")


def _which_assignment(path: Path, nb, forced: str | None) -> str | None:
    if forced:
        return forced
    if not isinstance(nb, str):
        meta = nb.metadata.get("shallowlearn", {})
        if isinstance(meta, dict) and _key(str(meta.get("assignment", ""))) in ASSIGNMENTS:
            return _key(meta["assignment"])
    stem = _key(path.stem)
    for name in ASSIGNMENTS:
        if stem == name or stem.endswith("_" + name):
            return name
    if not isinstance(nb, str):
        for cell in nb.cells:
            if cell.cell_type == "markdown":
                match = _LABEL.search(cell.source)
                if match and _key(match[1]) in ASSIGNMENTS:
                    return _key(match[1])
    parent = _key(path.parent.name)
    return parent if parent in ASSIGNMENTS else None


def _which_student(path: Path, assignment: str | None) -> str:
    parts = path.parts
    for marker in ("submitted", "autograded"):
        if marker in parts[:-2]:
            return parts[parts.index(marker) + 1]
    stem = path.stem
    if assignment and _key(stem) == assignment:
        stem = ""
    elif assignment and _key(stem).endswith("_" + assignment):
        stem = stem[: -len(assignment) - 1]
    return stem or path.parent.name


# --- running one notebook ----------------------------------------------------------------------


@dataclass(frozen=True)
class GradeRecord:
    """The grade of one submission.

    Attributes
    ----------
    student, assignment : str
    notebook : str
        The submission's path.
    status : str
        ``"passed"``, ``"not passed"`` (checked, some check failed), ``"timeout"``,
        ``"crashed"`` (the kernel died or the checks could not run), ``"unreadable"`` or
        ``"unknown assignment"``.
    feedback : Feedback or None
        The checker's feedback, when the checks ran.
    score, max_score : int
        Checks passed, and checks in all.
    seconds : float
        Wall time of the run.
    note : str
        One line on what happened, for the gradebook.
    errors : tuple of str
        The notebook's cells that raised, with their errors.
    """

    student: str
    assignment: str
    notebook: str
    status: str
    feedback: Feedback | None
    score: int
    max_score: int
    seconds: float
    note: str = ""
    errors: tuple = ()


def _kernel_manager():
    import ipykernel.kernelspec
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import AsyncKernelManager

    class CurrentPython(KernelSpecManager):  # the grader's own Python, with shallowlearn
        def get_kernel_spec(self, kernel_name):
            return self.kernel_spec_class(resource_dir=ipykernel.kernelspec.RESOURCES,
                                          **ipykernel.kernelspec.get_kernel_dict())

    return AsyncKernelManager(kernel_name="shallowlearn-grader",
                              kernel_spec_manager=CurrentPython())


def _client_class():
    from nbclient import NotebookClient

    class CappedClient(NotebookClient):
        """Keeps at most MAX_OUTPUT characters of the student cells' output."""

        def output(self, outs, msg, display_id, cell_index):
            if cell_index < self.student_cells:
                self.output_chars += len(str(msg.get("content", "")))
                if self.output_chars > MAX_OUTPUT:
                    self.output_truncated = True
                    return None
            return super().output(outs, msg, display_id, cell_index)

    return CappedClient


class _TimedOut(Exception):
    pass


async def _execute(nb, workdir: Path, log, timeout: float, check_timeout: float):
    """Run the notebook's cells, then its last (the grading) cell; returns the client."""
    from nbclient.exceptions import CellTimeoutError

    client = _client_class()(nb, km=_kernel_manager(), allow_errors=True,
                             shutdown_kernel="immediate", startup_timeout=_STARTUP,
                             resources={"metadata": {"path": str(workdir)}}, record_timing=False)
    client.student_cells, client.output_chars, client.output_truncated = len(nb.cells) - 1, 0, False
    env = {**os.environ, "MPLBACKEND": "Agg"}
    async with client.async_setup_kernel(cleanup_kc=True, env=env, stdout=log, stderr=log,
                                         stdin=subprocess.DEVNULL):
        deadline = time.monotonic() + timeout
        for index, cell in enumerate(nb.cells[:-1]):
            left = deadline - time.monotonic()
            if left <= 0:
                raise _TimedOut(f"ran out of the {timeout:g} s before cell {index + 1}")
            client.timeout = max(1, math.ceil(left))
            try:
                await client.async_execute_cell(cell, index)
            except CellTimeoutError:
                raise _TimedOut(f"did not finish within {timeout:g} s (still running cell "
                                f"{index + 1})") from None
        client.timeout = max(1, math.ceil(check_timeout))
        try:
            await client.async_execute_cell(nb.cells[-1], len(nb.cells) - 1)
        except CellTimeoutError:
            raise _TimedOut(f"the checks did not finish within {check_timeout:g} s") from None
    return client


def _run_async(factory, limit: float):
    """Run ``factory()`` to completion under a hard wall-clock limit, in a thread when an event
    loop is running already (as in a Jupyter kernel)."""
    def run():
        return asyncio.run(asyncio.wait_for(factory(), limit))

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return run()
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(run).result()


def _grade_one(sub: _Submission, timeout: float, check_timeout: float) -> GradeRecord:
    start = time.monotonic()
    spec = ASSIGNMENTS.get(sub.assignment) if sub.assignment else None
    total = len(check_names(spec.checks)) if spec else 0

    def record(status, feedback=None, note="", errors=()):
        score = sum(c.ok for c in feedback.items) if feedback else 0
        return GradeRecord(sub.student, sub.assignment or "", str(sub.path), status, feedback,
                           score, total, round(time.monotonic() - start, 2), note, tuple(errors))

    if isinstance(sub.notebook, str):
        return record("unreadable", note=sub.notebook)
    if spec is None:
        return record("unknown assignment", note=(
            "cannot tell which assignment this is: name the file after it, add the page's label "
            "or the metadata shallowlearn.assignment, or pass --assignment"))
    import nbformat
    from nbclient.exceptions import DeadKernelError

    nb = nbformat.from_dict(dict(sub.notebook))
    nb.cells = [cell for cell in nb.cells if cell.get("cell_type") in ("code", "markdown", "raw")]
    nonce = secrets.token_hex(16)
    nb.cells.append(nbformat.v4.new_code_cell(
        "from shallowlearn.grading import _report as _shallowlearn_report\n"
        f"_shallowlearn_report({spec.name!r}, globals(), {nonce!r})"))
    root = Path(tempfile.mkdtemp(prefix="shallowlearn-grade-"))
    workdir = root / "work"
    workdir.mkdir()
    try:
        shutil.copy2(sub.path, workdir / sub.path.name)
        hard = timeout + check_timeout + _STARTUP + 30  # in case nbclient itself hangs
        with open(root / "kernel.log", "wb") as log:
            try:
                client = _run_async(lambda: _execute(nb, workdir, log, timeout, check_timeout),
                                    hard)
            except _TimedOut as err:
                return record("timeout", note=f"timed out: {err}")
            except (asyncio.TimeoutError, DeadKernelError):
                if time.monotonic() - start >= hard - 1:  # nbclient reports a cancel as death
                    return record("timeout", note=f"timed out: no end after {hard:g} s")
                return record("crashed", note=(
                    "the kernel died (os._exit, exit(), a crash or running out of memory)"),
                    errors=_errors(nb))
    except Exception as err:  # the grader must go on with the next notebook
        return record("crashed", note=f"could not run the notebook: {type(err).__name__}: {err}")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    errors = _errors(nb)
    note = "output truncated" if client.output_truncated else ""
    for output in nb.cells[-1].get("outputs", []):
        data = output.get("data", {}).get(_MIME) if output.get("output_type") == "display_data" \
            else None
        if isinstance(data, dict) and data.get("nonce") == nonce:
            if "error" in data:
                return record("crashed", note=f"the checks failed: {data['error']}", errors=errors)
            feedback = Feedback.from_dict(data["feedback"])
            return record("passed" if feedback.passed else "not passed", feedback, note, errors)
    problem = next((f"{o.get('ename')}: {o.get('evalue')}" for o in nb.cells[-1].get("outputs", [])
                    if o.get("output_type") == "error"), "no result")
    return record("crashed", note=f"the checks did not report ({problem})", errors=errors)


def _errors(nb) -> list[str]:
    return [f"cell {i + 1} raised {out.get('ename')}: {str(out.get('evalue'))[:300]}"
            for i, cell in enumerate(nb.cells[:-1]) for out in cell.get("outputs", [])
            if out.get("output_type") == "error"]


# --- the gradebook ----------------------------------------------------------------------------


def _seconds(value, name: str) -> float:
    try:
        number = float(value) if isinstance(value, str) else value
    except ValueError:
        number = None
    if isinstance(number, bool) or not isinstance(number, numbers.Real) or \
            not math.isfinite(number) or number <= 0:
        raise UsageError(f"{name} must be a positive number of seconds; got {value!r}")
    return float(number)


def _safe(name: str) -> str:
    return re.sub(r"[^\w.-]+", "_", name).strip("._") or "unnamed"


def _columns(records) -> list[str]:
    present = {r.assignment for r in records}
    names = []
    for spec in ASSIGNMENTS.values():
        if spec.name in present:
            names += [n for n in check_names(spec.checks) if n not in names]
    return names


def _cell(record: GradeRecord, name: str) -> str:
    spec = ASSIGNMENTS.get(record.assignment)
    if spec is None or name not in check_names(spec.checks):
        return ""
    fb = record.feedback
    if fb is None or name in fb.not_run or name not in fb:
        return "not run"
    return "pass" if fb[name].ok else "fail"


def _write_gradebook(records, path: Path) -> None:
    checks = _columns(records)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["student", "assignment", "status", "score", "max_score", *checks,
                         "seconds", "notebook", "note"])
        for r in records:
            writer.writerow([r.student, r.assignment, r.status, r.score, r.max_score,
                             *(_cell(r, name) for name in checks), r.seconds, r.notebook,
                             r.note])


def _feedback_text(r: GradeRecord) -> str:
    lines = [f"# {r.assignment or 'unknown assignment'}: {r.student}", "",
             f"- notebook: `{r.notebook}`", f"- status: {r.status}",
             f"- score: {r.score} of {r.max_score} checks"]
    if r.note:
        lines.append(f"- note: {r.note}")
    if r.feedback is not None:
        lines += ["", "## Checks", "", "```text", str(r.feedback), "```"]
        if r.feedback.not_run:
            lines += ["", "## Not run", ""]
            lines += [f"- {n}: {r.feedback.reason(n)}" for n in r.feedback.not_run]
    if r.errors:
        lines += ["", "## Cells that raised", ""] + [f"- {e}" for e in r.errors]
    return "\n".join(lines) + "\n"


def grade(submissions, *, out=DEFAULT_OUT, timeout=DEFAULT_TIMEOUT,
          check_timeout=DEFAULT_CHECK_TIMEOUT, assignment: str | None = None,
          progress=None) -> tuple:
    """Run and check submitted notebooks; write a gradebook and feedback files.

    Everything is validated before the first notebook runs. Each notebook then runs in a
    fresh kernel (see the module docstring for the conventions and the containment), and
    every submission gets a row, whatever its notebook does.

    Parameters
    ----------
    submissions : path or sequence of paths
        Notebooks (``.ipynb`` or MyST ``.md``) and folders searched for them recursively
        (hidden folders and ``out`` skipped).
    out : path
        Folder for ``gradebook.csv`` and ``feedback/<student>_<assignment>.md``; created
        when missing, and files of the same names in it are replaced.
    timeout : float
        Seconds the cells of one notebook may take in all.
    check_timeout : float
        Seconds the checks of one notebook may take, after its cells.
    assignment : str, optional
        Grade every submission as this assignment instead of telling it from each notebook.
    progress : callable, optional
        Called with each :class:`GradeRecord` as it is made.

    Returns
    -------
    tuple of GradeRecord
        In the order of the submissions (sorted paths within a folder).

    Raises
    ------
    UsageError
        A missing submission, a file that is not a notebook, two submissions of one student
        for one assignment, a bad timeout or assignment, or an ``out`` that is a file.

    Examples
    --------
    >>> from shallowlearn.grading import grade
    >>> grade(["no/such/notebook.ipynb"])
    Traceback (most recent call last):
    ...
    shallowlearn.grading.UsageError: submission 'no/such/notebook.ipynb' does not exist
    """
    timeout = _seconds(timeout, "timeout (--timeout)")
    check_timeout = _seconds(check_timeout, "check_timeout (--check-timeout)")
    forced = _assignment(assignment).name if assignment is not None else None
    if progress is not None and not callable(progress):
        raise UsageError(f"progress must be a callable or None; got {type(progress).__name__}")
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"out {str(out)!r} is a file; it must be a folder (or not exist yet)")
    if isinstance(submissions, (str, os.PathLike)):
        submissions = [submissions]
    paths = _collect(list(submissions), out)
    subs, seen = [], {}
    for path in paths:
        nb = _read(path)
        which = _which_assignment(path, nb, forced)
        sub = _Submission(path, _which_student(path, which), which, nb)
        key = (sub.student, sub.assignment)
        if sub.assignment and key in seen:
            raise UsageError(f"two submissions of {sub.assignment} by {sub.student!r}: "
                             f"{seen[key]} and {path}; grade them separately")
        seen[key] = path
        subs.append(sub)
    try:
        (out / "feedback").mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise UsageError(f"cannot create the out folder {str(out)!r}: {err.strerror}") from None
    records, names = [], set()
    for sub in subs:
        record = _grade_one(sub, timeout, check_timeout)
        records.append(record)
        base = name = f"{_safe(record.student)}_{_safe(record.assignment or 'unknown')}"
        while name in names:  # only unknown assignments can repeat
            name = f"{base}_{len(names)}"
        names.add(name)
        (out / "feedback" / f"{name}.md").write_text(_feedback_text(record), encoding="utf-8")
        _write_gradebook(records, out / "gradebook.csv")  # after each: a stopped run keeps rows
        if progress is not None:
            progress(record)
    return tuple(records)
