"""The machinery behind the assignment checkers: named checks, one runner, contained calls.

A checker in :mod:`shallowlearn.assignments` is a list of small named checks. Each check is a
function of one shared *state* (the submission and what earlier checks computed) that returns
``(ok, message)``, and declares the checks it *needs*: the earlier checks that must pass for
it to run at all. :func:`run_checks` runs them in order, marks every check that cannot run
as not run with the reason, and builds the :class:`Feedback`.

**Student code is contained.** Every call of submitted code goes through
:meth:`CheckState.call`, which runs it under a time limit and turns whatever goes wrong (an
exception, ``sys.exit``, a ``KeyboardInterrupt``, any other ``BaseException``, a timeout) into
a :class:`SubmissionError`; the runner reports it as a failed check carrying its message. An
error raised by the package itself while a check runs on a hostile submission (overflow, a
``LinAlgError`` on non-finite values) also becomes a failed check: a checker never raises
because of what the student handed in.

**How the time limit works, and its limits.** :data:`DEFAULT_TIME_LIMIT` seconds per call
(10 s), changed by setting this module attribute or by the ``time_limit`` argument of each
checker. In the main thread on POSIX systems (Linux, macOS; also inside a Jupyter kernel,
which runs cells in its main thread) the limit is a ``SIGALRM`` timer: when it expires, an
exception is raised inside the running submission, which unwinds it, and the timer keeps
firing every half second until the call has returned, so code that catches the first one is
interrupted again. Code inside one long C call (a huge matrix product, say) is interrupted
only when that call returns to Python, and code that catches ``BaseException`` in a loop
forever cannot be stopped from inside the process. Elsewhere (another thread, or Windows) the
call runs in a daemon thread that is abandoned at the deadline: it is asked to stop by an
asynchronous exception (CPython's ``PyThreadState_SetAsyncExc``), but a thread cannot be
killed, so a runaway one may go on running in the background until the process ends. A
subprocess would contain anything, but cannot run the closures and lambdas students write
unless they pickle; :mod:`shallowlearn.grading` therefore contains whole notebooks instead, by
running each in its own kernel process under a wall-clock limit. ``os._exit`` ends the process
it is called in: only that kind of containment survives it.
"""

from __future__ import annotations

import ctypes
import math
import numbers
import signal
import textwrap
import threading
import time
from dataclasses import dataclass
from typing import Callable

__all__ = [
    "DEFAULT_TIME_LIMIT",
    "Check",
    "CheckState",
    "Feedback",
    "NamedCheck",
    "NotRun",
    "SubmissionError",
    "call_limited",
    "check_names",
    "check_time_limit",
    "named_check",
    "run_checks",
]

#: Seconds that one call of submitted code may take before it fails as timed out.
DEFAULT_TIME_LIMIT = 10.0

_WIDTH = 64  # the width Feedback wraps its text to (fits a book page)
_REFIRE = 0.5  # seconds between repeated alarms while a timed-out call has not returned


# --- the feedback type -------------------------------------------------------------------------


@dataclass(frozen=True)
class Check:
    """One named check of a submission.

    Attributes
    ----------
    name : str
        What was checked (for example ``"dphi"`` or ``"gradient"``).
    ok : bool
        Whether the submission passed it.
    message : str
        What was measured and, on failure, what is wrong and where.
    """

    name: str
    ok: bool
    message: str


@dataclass(frozen=True)
class Feedback:
    """The checker's verdict on one submission.

    Attributes
    ----------
    assignment : str
        Which assignment was checked.
    items : tuple of Check
        The checks that were run, in order.
    not_run : tuple of str
        Checks skipped because an earlier check they depend on failed.
    reasons : tuple of str
        Why each check of ``not_run`` was skipped, in the same order (see :meth:`reason`).

    Examples
    --------
    >>> from shallowlearn.assignments import Check, Feedback
    >>> fb = Feedback("demo", (Check("shape", True, "(3,) as expected"),
    ...                        Check("sign", False, "yours is the negative of the reference")))
    >>> fb.passed, fb.failed
    (False, ('sign',))
    >>> print(fb)
    demo: NOT PASSED (1 of 2 checks failed)
      [ok]   shape: (3,) as expected
      [FAIL] sign: yours is the negative of the reference
    """

    assignment: str
    items: tuple
    not_run: tuple = ()
    reasons: tuple = ()

    @property
    def passed(self) -> bool:
        """True when every check ran and passed."""
        return bool(self.items) and not self.not_run and all(c.ok for c in self.items)

    @property
    def failed(self) -> tuple:
        """Names of the failed checks."""
        return tuple(c.name for c in self.items if not c.ok)

    def ok(self, name: str) -> bool:
        """Whether the check called ``name`` ran and passed (False when it failed or did not
        run; a ``KeyError`` when the checker has no such check).

        Examples
        --------
        >>> from shallowlearn.assignments import Check, Feedback
        >>> fb = Feedback("demo", (Check("a", False, "broken"),), not_run=("b",))
        >>> fb.ok("a"), fb.ok("b")
        (False, False)
        """
        if name in self.not_run:
            return False
        return self[name].ok

    def reason(self, name: str) -> str:
        """Why the check called ``name`` was not run.

        Examples
        --------
        >>> from shallowlearn.assignments import Check, Feedback
        >>> fb = Feedback("demo", (Check("a", False, "broken"),), ("b",),
        ...               ("needs 'a', which failed",))
        >>> fb.reason("b")
        "needs 'a', which failed"
        """
        if name not in self.not_run:
            raise KeyError(f"{name!r} is not among the checks that were not run, "
                           f"{list(self.not_run)}")
        i = self.not_run.index(name)
        return self.reasons[i] if i < len(self.reasons) else "an earlier check failed"

    def __getitem__(self, name: str) -> Check:
        """The check called ``name``."""
        for check in self.items:
            if check.name == name:
                return check
        raise KeyError(f"no check named {name!r}; the checks are {[c.name for c in self.items]}")

    def __contains__(self, name) -> bool:
        return any(c.name == name for c in self.items)

    def __str__(self) -> str:
        bad = len(self.failed)
        if self.passed:
            head = f"{self.assignment}: PASSED (all {len(self.items)} checks)"
        else:
            head = f"{self.assignment}: NOT PASSED ({bad} of {len(self.items)} checks failed)"
        lines = [head]
        for c in self.items:
            mark = "[ok]  " if c.ok else "[FAIL]"
            lines.append(textwrap.fill(f"{c.name}: {c.message}", width=_WIDTH,
                                       initial_indent=f"  {mark} ", subsequent_indent=" " * 11,
                                       break_on_hyphens=False, break_long_words=False))
        if self.not_run:
            lines.append(textwrap.fill(
                f"not run until the failures above are fixed: {', '.join(self.not_run)}",
                width=_WIDTH, initial_indent="  ", subsequent_indent=" " * 11))
        return "\n".join(lines)

    __repr__ = __str__

    def to_dict(self) -> dict:
        """The feedback as plain JSON-ready data (:meth:`from_dict` reads it back).

        Examples
        --------
        >>> from shallowlearn.assignments import Check, Feedback
        >>> fb = Feedback("demo", (Check("a", True, "fine"),))
        >>> Feedback.from_dict(fb.to_dict()) == fb
        True
        """
        return {"assignment": self.assignment,
                "items": [[c.name, bool(c.ok), c.message] for c in self.items],
                "not_run": list(self.not_run), "reasons": list(self.reasons)}

    @classmethod
    def from_dict(cls, data: dict) -> "Feedback":
        """Rebuild a feedback from :meth:`to_dict`'s data."""
        try:
            items = tuple(Check(str(n), bool(ok), str(m)) for n, ok, m in data["items"])
            return cls(str(data["assignment"]), items, tuple(map(str, data.get("not_run", ()))),
                       tuple(map(str, data.get("reasons", ()))))
        except (KeyError, TypeError, ValueError) as err:
            raise ValueError(f"not a feedback record ({type(err).__name__}: {err}); expected "
                             "the dict that Feedback.to_dict returns") from None


# --- contained calls of student code ------------------------------------------------------------


class SubmissionError(Exception):
    """A call of submitted code failed: it raised, exited, was interrupted or timed out.

    ``str(error)`` is ``what`` followed by ``detail``, for example
    ``"dphi raised ValueError: math domain error"``.
    """

    def __init__(self, what: str, detail: str, kind: str, error: BaseException | None = None):
        super().__init__(f"{what} {detail}")
        # the call's name, what happened, and the kind ("raised", "exit", "interrupted" or
        # "timeout"); ``error`` is the exception the submission raised (None on a timeout)
        self.what, self.detail, self.kind, self.error = what, detail, kind, error


class _TimedOut(BaseException):
    """Raised inside submitted code when its time is up (a BaseException, so that an
    ``except Exception`` in the submission does not swallow it)."""


def check_time_limit(value, name: str = "time_limit") -> float:
    """``value`` as a positive finite number of seconds, or the module default for None.

    Examples
    --------
    >>> from shallowlearn.checks import check_time_limit
    >>> check_time_limit(2)
    2.0
    """
    if value is None:
        value = DEFAULT_TIME_LIMIT
        name = "shallowlearn.checks.DEFAULT_TIME_LIMIT"
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or \
            not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a positive finite number of seconds; got {value!r}")
    return float(value)


def _describe(err: BaseException) -> tuple[str, str]:
    if isinstance(err, SystemExit):
        return "exit", f"called sys.exit({err.code!r}), which would end the checker"
    if isinstance(err, KeyboardInterrupt):
        return "interrupted", "was interrupted (KeyboardInterrupt)"
    text = str(err)
    return "raised", f"raised {type(err).__name__}" + (f": {text}" if text else "")


def call_limited(fn: Callable, args=(), *, what: str, time_limit=None):
    """``fn(*args)`` under a time limit, or a :class:`SubmissionError` saying what went wrong.

    Parameters
    ----------
    fn : callable
    args : tuple
    what : str
        How to name the call in a message (for example ``"your dphi"``).
    time_limit : float, optional
        Seconds; :data:`DEFAULT_TIME_LIMIT` when None.

    Examples
    --------
    >>> from shallowlearn.checks import SubmissionError, call_limited
    >>> call_limited(abs, (-2,), what="abs")
    2
    >>> try:
    ...     call_limited(lambda: 1 / 0, what="your function")
    ... except SubmissionError as err:
    ...     print(err)
    your function raised ZeroDivisionError: division by zero
    """
    limit = check_time_limit(time_limit)
    if hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread():
        outcome, value = _with_alarm(fn, args, limit)
    else:
        outcome, value = _with_thread(fn, args, limit)
    if outcome == "ok":
        return value
    if outcome == "timeout":
        raise SubmissionError(what, f"did not finish within the time limit of {limit:g} s"
                                    f"{value}", "timeout")
    kind, detail = _describe(value)
    raise SubmissionError(what, detail, kind, value)


def _with_alarm(fn, args, limit):
    """Main thread, POSIX: SIGALRM raises _TimedOut inside fn, again every _REFIRE s."""
    state = {"active": False, "fired": False}

    def on_alarm(signum, frame):
        if state["active"]:
            state["fired"] = True
            raise _TimedOut

    start = time.monotonic()
    previous = signal.signal(signal.SIGALRM, on_alarm)
    before = signal.setitimer(signal.ITIMER_REAL, limit, _REFIRE)
    try:
        state["active"] = True
        try:
            value = fn(*args)
        finally:
            state["active"] = False
            signal.setitimer(signal.ITIMER_REAL, 0)
    except _TimedOut:
        return "timeout", ""
    except BaseException as err:  # anything the submission raised, SystemExit included
        return ("timeout", "") if state["fired"] else ("raised", err)
    finally:  # a handler installed from C reads as None: put the default back then
        signal.signal(signal.SIGALRM, signal.SIG_DFL if previous is None else previous)
        if before[0] > 0:  # someone else's timer was running: give it back what is left
            left = before[0] - (time.monotonic() - start)
            signal.setitimer(signal.ITIMER_REAL, max(left, 1e-3), before[1])
    if state["fired"]:  # it caught the alarm and returned late: still a timeout
        return "timeout", ""
    return "ok", value


def _with_thread(fn, args, limit):
    """Anywhere else: run fn in a daemon thread and abandon it at the deadline."""
    box = {}

    def target():
        try:
            box["value"] = fn(*args)
        except BaseException as err:  # reported to the caller, never lost in the thread
            box["error"] = err

    worker = threading.Thread(target=target, name="shallowlearn-submission", daemon=True)
    worker.start()
    worker.join(limit)
    if worker.is_alive():
        try:  # ask it to stop at its next bytecode; CPython only
            ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(worker.ident),
                                                       ctypes.py_object(_TimedOut))
        except (AttributeError, TypeError, ValueError):
            pass
        worker.join(_REFIRE)
        if worker.is_alive():
            return "timeout", " (it is still running in a background thread)"
        return "timeout", ""
    if "error" in box:
        if isinstance(box["error"], _TimedOut):
            return "timeout", ""
        return "raised", box["error"]
    return "ok", box.get("value")


# --- named checks and the runner ----------------------------------------------------------------


class NotRun(Exception):
    """Raised by a check that finds, once running, that it has nothing to check; the runner
    lists it as not run, with this exception's message as the reason."""


class CheckState:
    """What the checks of one submission share: the submission, the checker's options and
    the results of earlier checks, as attributes; plus :meth:`call` for submitted code.

    Examples
    --------
    >>> from shallowlearn.checks import CheckState
    >>> state = CheckState(time_limit=1.0, z=3)
    >>> state.z, state.call(abs, -state.z, what="abs")
    (3, 3)
    """

    def __init__(self, *, time_limit=None, **values):
        self.time_limit = check_time_limit(time_limit)
        self._status: dict[str, str] = {}
        self.__dict__.update(values)

    def passed(self, name: str) -> bool:
        """Whether the earlier check ``name`` ran and passed."""
        return self._status.get(name) == "passed"

    def call(self, fn: Callable, *args, what: str):
        """``fn(*args)`` under this checker's time limit (see :func:`call_limited`)."""
        return call_limited(fn, args, what=what, time_limit=self.time_limit)


@dataclass(frozen=True)
class NamedCheck:
    """One check: its name, the function that runs it and the checks it needs.

    Attributes
    ----------
    name : str
    run : callable
        ``run(state) -> (ok, message)``; may raise :class:`NotRun`.
    needs : tuple of str
        Earlier checks that must pass for this one to run.
    applies : callable or None
        ``applies(state) -> bool``; a check that does not apply (for example, the rerun of
        a sweep when no trial function was given) is left out of the feedback entirely.
    quiet : bool
        Whether a pass is left out of the feedback (a failure always shows). The ``input``
        checks are quiet: they show only when the submission is unusable.
    """

    name: str
    run: Callable
    needs: tuple = ()
    applies: Callable | None = None
    quiet: bool = False


def named_check(name: str, *, needs=(), applies=None, quiet=False):
    """Decorator: turn ``run(state) -> (ok, message)`` into a :class:`NamedCheck`.

    Examples
    --------
    >>> from shallowlearn.checks import CheckState, named_check, run_checks
    >>> @named_check("positive")
    ... def positive(state):
    ...     return state.x > 0, f"x = {state.x}"
    >>> @named_check("small", needs=("positive",))
    ... def small(state):
    ...     return state.x < 10, f"x = {state.x}"
    >>> fb = run_checks("demo", (positive, small), CheckState(x=-1))
    >>> fb.failed, fb.not_run, fb.reason("small")
    (('positive',), ('small',), "needs 'positive', which failed")
    """
    def wrap(run):
        return NamedCheck(name, run, tuple(needs), applies, quiet)
    return wrap


def _blocked_reason(needs, status) -> str:
    names = " and ".join(f"{n!r}" for n in needs)
    blocked = [n for n in needs if status.get(n, "passed") != "passed"]
    why = " and ".join(f"{n!r} {'failed' if status[n] == 'failed' else 'was not run'}"
                       for n in blocked)
    if len(needs) == 1:
        return f"needs {names}, which {why.split(' ', 1)[1]}"
    return f"needs {names}, and {why}"


def run_checks(assignment: str, checks, state: CheckState) -> Feedback:
    """Run ``checks`` in order on ``state`` and collect the :class:`Feedback`.

    A check runs only when every check it needs has passed (a check that did not apply counts
    as passed); otherwise it is listed as not run, with the reason. A
    :class:`SubmissionError` from a check, or any other ``Exception``, is a failed check with
    its message.

    Parameters
    ----------
    assignment : str
    checks : sequence of NamedCheck
    state : CheckState

    Returns
    -------
    Feedback
    """
    items, not_run, reasons = [], [], []
    status: dict[str, str] = {}
    state._status = status
    for check in checks:
        unknown = [n for n in check.needs if n not in status]
        if unknown:  # a mistake in the checker's definition, not in the submission
            raise ValueError(f"check {check.name!r} needs {unknown}, which are not earlier "
                             "checks")
        if check.applies is not None and not check.applies(state):
            status[check.name] = "passed"  # does not apply: blocks nothing
            continue
        if any(status[n] != "passed" for n in check.needs):
            status[check.name] = "not run"
            not_run.append(check.name)
            reasons.append(_blocked_reason(check.needs, status))
            continue
        try:
            ok, message = check.run(state)
        except NotRun as why:
            status[check.name] = "not run"
            not_run.append(check.name)
            reasons.append(str(why))
            continue
        except SubmissionError as err:
            ok, message = False, str(err)
        except Exception as err:  # the package failed on this submission: say so, never raise
            ok, message = False, (
                f"the checker could not evaluate your submission here ({type(err).__name__}: "
                f"{err}); look for values that overflow or are not finite")
        ok = bool(ok)
        status[check.name] = "passed" if ok else "failed"
        if not (ok and check.quiet):
            items.append(Check(check.name, ok, str(message)))
    return Feedback(assignment, tuple(items), tuple(not_run), tuple(reasons))


def check_names(checks, state: CheckState | None = None) -> tuple:
    """The names of ``checks`` that apply to ``state`` (all of them when None), quiet ones
    left out."""
    return tuple(c.name for c in checks if not c.quiet
                 and (state is None or c.applies is None or c.applies(state)))
