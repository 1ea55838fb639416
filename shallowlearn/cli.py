"""The command line: ``python -m shallowlearn <command> [options]``.

- ``run PROTOCOL``: run an experiment protocol (:mod:`shallowlearn.protocols`), in-process
  or on a Dask cluster (``--workers N``, ``--scheduler ADDRESS``), checkpointing each
  finished task in ``OUT/.checkpoints`` (``--resume`` continues an interrupted run); save
  its results (JSON) and figure (PNG), print a summary.
- ``bench``: time the batched engine (against loops, its floor and optionally a baseline
  version of the package), the fused gradient and the second-order solvers against scipy
  (:mod:`shallowlearn.bench`; ``--solvers``: only the last; ``--dask``: also 2 Dask workers
  against 1).
- ``bench-spectrum``: time the routes to the most negative Hessian eigenvalue.
- ``grade SUBMISSION...``: run and check students' assignment notebooks and write a gradebook
  (:mod:`shallowlearn.grading`).

Every argument is checked before any work starts; a user error exits with status 2 and a
one-line message. ``python -m shallowlearn --help`` lists the commands.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys

import numpy as np

__all__ = ["build_parser", "main"]


# --- argument types: each refuses a bad value before any work starts -------------------------


def _integer_from(low: int, what: str):
    """An argument type that accepts an integer of at least ``low`` (``what`` names them)."""

    def check(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}; got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"expected {what}; got {value}")
        return value

    return check


_non_negative_int = _integer_from(0, "a non-negative integer")
_positive_int = _integer_from(1, "a positive integer")


def _worker_count(text: str) -> int:
    """A number of local worker processes: at least 1, at most the CPUs this process may use."""
    value = _positive_int(text)
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    if value > cpus:
        raise argparse.ArgumentTypeError(
            f"expected at most {cpus} (the CPUs of this machine); got {value} (use --scheduler "
            f"for a larger cluster)")
    return value


def _scheduler_address(text: str) -> str:
    """A Dask scheduler address, [scheme://]host:port (reached only once the run starts)."""
    host, colon, port = text.rpartition("://")[2].rpartition(":")
    if not colon or not host or not port.isdigit() or any(c.isspace() for c in text):
        raise argparse.ArgumentTypeError(
            f"expected a scheduler address such as tcp://10.0.0.5:8786; got {text!r}")
    return text


def _output_folder(text: str) -> str:
    """A folder that exists or can be created, and can be written to."""
    if not text.strip():
        raise argparse.ArgumentTypeError("expected a folder; got an empty path")
    path = os.path.abspath(text)
    if os.path.exists(path) and not os.path.isdir(path):
        raise argparse.ArgumentTypeError(f"{text!r} exists and is not a folder")
    existing = path
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing) or not os.access(existing, os.W_OK | os.X_OK):
        raise argparse.ArgumentTypeError(f"cannot write to {text!r} ({existing} is not writable)")
    return text


def _package_folder(text: str) -> str:
    """A folder that is, or holds, a shallowlearn package (a folder with __init__.py)."""
    path = os.path.abspath(text)
    for folder in (path, os.path.join(path, "shallowlearn")):
        if os.path.isfile(os.path.join(folder, "__init__.py")):
            return text
    raise argparse.ArgumentTypeError(
        f"expected a shallowlearn package folder or a folder holding one; {text!r} is neither")


def _choice_of(choices):
    """An argument type that accepts one of ``choices`` (listing them when it refuses)."""

    def check(text: str) -> str:
        if text not in choices:
            raise argparse.ArgumentTypeError(
                f"expected one of {', '.join(choices)}; got {text!r}")
        return text

    return check


# --- the commands ----------------------------------------------------------------------------


def _run(args) -> int:
    from . import __version__
    from .checkpoints import CheckpointError, Checkpoints
    from .plotting import plot_results
    from .protocols import get_protocol
    from .results_io import save_results
    from .runner import run_protocol
    from .tasks import protocol_tasks

    def refuse(err) -> int:
        print(f"python -m shallowlearn run: error: {err}", file=sys.stderr)
        return 2

    protocol = get_protocol(args.protocol, args.size)
    root = os.path.join(args.out, ".checkpoints")
    refused = (CheckpointError,)
    client = None
    if args.workers is not None or args.scheduler is not None:
        try:
            from . import distributed
        except ImportError as err:
            return refuse(err)
        refused += (distributed.ClusterError,)
    try:
        if args.scheduler is not None:
            client = distributed.connect(args.scheduler)
        results = run_protocol(protocol, seed=args.seed, progress=not args.no_progress,
                               client=client, workers=args.workers, checkpoints=root,
                               resume=args.resume)
    except refused as err:
        return refuse(err)
    except KeyboardInterrupt:
        print(f"the finished tasks are checkpointed in {root}; add --resume to finish them",
              file=sys.stderr)
        raise
    finally:
        if client is not None:
            client.close()
    stem = os.path.join(args.out, f"{protocol.name}-{protocol.size}")
    save_results(results, stem + ".json")
    fig, _ = plot_results(results)
    fig.savefig(stem + ".png", dpi=120)
    # the results are saved: the checkpoints of the run have served
    Checkpoints(root, protocol, args.seed, protocol_tasks(protocol), __version__).remove()
    with contextlib.suppress(OSError):  # and their root goes too, unless other runs use it
        os.rmdir(root)
    print(report(results))
    print(f"saved {stem}.json and {stem}.png")
    return 0


def report(results) -> str:
    """A short text summary of protocol results (what ``run`` prints).

    Examples
    --------
    >>> import dataclasses
    >>> from shallowlearn import get_protocol, run_protocol
    >>> from shallowlearn.cli import report
    >>> p = dataclasses.replace(get_protocol("fig3a", "reduced"), k=(3, 8), max_iter=50)
    >>> print(report(run_protocol(p, progress=False)).splitlines()[0])
    Figure 3a (fig3a, reduced), seed 0:
    """
    from .statistics import fit_logistic

    p, summary = results.protocol, results.summary
    lines = [f"{p.figure} ({p.name}, {p.size}), seed {results.seed}:"]
    outcomes = results.runs["outcome"]
    for i, value in enumerate(summary["value"]):
        here = results.runs["value"] == value
        names, counts = np.unique(outcomes[here], return_counts=True)
        tally = ", ".join(f"{o} {c}" for o, c in zip(names, counts))
        if p.kind == "success":
            lines.append(f"  {p.sweep} = {value}: {summary['passed'][i]}/{summary['teachers'][i]}"
                         f" teachers pass; runs: {tally}")
        elif p.kind == "population":
            lines.append(f"  k = d = {value}: {summary['spurious'][i]} of {int(here.sum())} runs "
                         f"at a spurious minimum; runs: {tally}")
        elif p.kind == "phase":
            lines.append(f"  alpha = {summary['alpha'][i]:g}, kappa = {summary['kappa'][i]:g} "
                         f"(n = {summary['n'][i]}, m* = {summary['teacher_width'][i]}): "
                         f"{int(np.sum(outcomes[here] == 'succeeded'))}/{int(here.sum())} reach "
                         f"the loss threshold, median test error "
                         f"{summary['test_error_median'][i]:.2g}; runs: {tally}")
        else:
            lines.append(f"  {p.sweep} = {value}: median final "
                         f"{'loss' if p.kind == 'local' else 'RMSE'} "
                         f"{summary['final_median'][i]:.3g}; runs: {tally}")
    if p.kind == "success":
        run_fit = fit_logistic(summary["value"], summary["runs_succeeded"],
                               p.teachers * p.starts)
        for what, fit in (("teachers passing", results.fit), ("runs succeeding", run_fit)):
            crossing = fit["crossing"]
            lines.append(f"  logistic fit to the {what}: " + (
                f"50% at {p.sweep} = {crossing:.2f}" if np.isfinite(crossing)
                else "no 50% crossing inside the swept range"))
    return "\n".join(lines)


def _bench(args) -> int:
    from . import bench

    if args.dask:
        try:
            from . import distributed  # noqa: F401 (refuses with the install command)
        except ImportError as err:
            print(f"python -m shallowlearn bench: error: {err}", file=sys.stderr)
            return 2
    rows = []
    if not args.solvers:
        rows += bench.engine_rows(quick=args.quick, repeat=args.repeat,
                                  progress=not args.no_progress)
        rows += bench.floor_rows(quick=args.quick, repeat=args.repeat)
        if args.baseline is not None:
            rows += bench.baseline_rows(args.baseline, quick=args.quick, repeat=args.repeat)
        rows += bench.gradient_rows()
    rows += bench.solver_rows(quick=args.quick, repeat=args.repeat)
    if args.dask:
        rows += bench.dask_rows(repeat=args.repeat)
    text = bench.table(rows)
    print(text)
    if args.out is not None:
        options = " --solvers" * args.solvers + " --quick" * args.quick + " --dask" * args.dask
        name = "bench-solvers" if args.solvers else "bench"
        path = bench.write_report(text, args.out, name=name, data=rows, command="bench" + options)
        print(f"wrote {path}")
    return 0


def _bench_spectrum(args) -> int:
    from . import bench

    n, d, k = bench.SPECTRUM_SIZES["quick" if args.quick else "full"]
    header = (
        f"lambda_min of the Hessian: planted {args.activation}, n={n}, d={d}, k={k}, p={k * d}, "
        f"v = 1 fixed, W ~ N(0, 1/d); ratios against the first row"
    )
    rows = bench.spectrum_rows(quick=args.quick, activation=args.activation, seed=args.seed)
    text = bench.spectrum_table(rows, header)
    print(text)
    if args.out is not None:
        print(f"wrote {bench.write_report(text, args.out, name='bench-spectrum', data=rows)}")
    return 0


def _add_grade_command(commands) -> None:
    """``grade``: run and check collected assignment notebooks (see shallowlearn.grading)."""
    from . import grading

    grade = commands.add_parser(
        "grade", help="run and check students' assignment notebooks; write a gradebook",
        description=("Run each submitted notebook in a fresh kernel, check the answers it "
                     "defines with the assignment's checker, and write a gradebook CSV and one "
                     "feedback file per submission. The student comes from the file name "
                     "(alice_activation.ipynb) or its folder (alice/activation.ipynb, or "
                     "nbgrader's submitted/<student>/...); the assignment from --assignment, "
                     "the notebook metadata, the file or folder name, or the page's label."))
    grade.add_argument("submissions", nargs="+", metavar="SUBMISSION",
                       help="a notebook (.ipynb or MyST .md) or a folder of them")
    grade.add_argument("--out", default=grading.DEFAULT_OUT,
                       help="folder for gradebook.csv and feedback/ (default: %(default)s)")
    grade.add_argument("--timeout", default=f"{grading.DEFAULT_TIMEOUT:g}", metavar="SECONDS",
                       help="wall-clock limit for the cells of one notebook (default: "
                            "%(default)s)")
    grade.add_argument("--check-timeout", default=f"{grading.DEFAULT_CHECK_TIMEOUT:g}",
                       metavar="SECONDS", help="limit for the checks of one notebook, run after "
                                               "its cells (default: %(default)s)")
    grade.add_argument("--assignment", metavar="NAME", default=None,
                       help="grade every submission as this assignment, one of "
                            f"{', '.join(grading.ASSIGNMENTS)} (default: told from each "
                            "notebook)")
    grade.set_defaults(handler=_grade)


def _grade(args) -> int:
    import sys

    from . import grading

    def show(r):
        print(f"{r.student:<16} {r.assignment or '?':<17} {r.score:>2}/{r.max_score:<2} "
              f"{r.status:<18} {r.seconds:6.1f} s  {r.note}".rstrip(), flush=True)

    try:
        records = grading.grade(args.submissions, out=args.out, timeout=args.timeout,
                                check_timeout=args.check_timeout, assignment=args.assignment,
                                progress=show)
    except grading.UsageError as err:
        print(f"python -m shallowlearn grade: error: {err}", file=sys.stderr)
        return 2
    print(f"graded {len(records)} submission(s); wrote {args.out}/gradebook.csv and "
          f"{args.out}/feedback/")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every command registered.

    Examples
    --------
    >>> from shallowlearn.cli import build_parser
    >>> build_parser().parse_args(["run", "fig3a", "--seed", "3"]).seed
    3
    """
    from .protocols import PROTOCOLS

    parser = argparse.ArgumentParser(
        prog="python -m shallowlearn",
        description="Benchmarks and experiment protocols of the shallowlearn package.",
    )
    commands = parser.add_subparsers(dest="command", metavar="command", required=True)
    defaults = argparse.ArgumentDefaultsHelpFormatter

    run = commands.add_parser(
        "run", help="run an experiment protocol, save its results and figure",
        description="Run one of the protocols, save its results (JSON) and figure "
                    "(PNG). The protocol is cut into tasks, run in this process one after "
                    "another, or on a Dask cluster with --workers or --scheduler (the results "
                    "are the same). Each finished task is checkpointed in "
                    "OUT/.checkpoints/<protocol>-<size>-seed<seed>/ until the results are "
                    "saved.",
        formatter_class=defaults)
    run.add_argument("protocol", type=_choice_of(list(PROTOCOLS)),
                     help=f"which protocol: {', '.join(PROTOCOLS)}")
    run.add_argument("--size", type=_choice_of(("full", "reduced")), default="reduced",
                     help="the paper's sizes (full), or a quick version (reduced)")
    run.add_argument("--out", type=_output_folder, default=".",
                     help="folder for <protocol>-<size>.json and .png")
    run.add_argument("--seed", type=_non_negative_int, default=0, help="random seed")
    run.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    where = run.add_mutually_exclusive_group()
    where.add_argument("--workers", type=_worker_count, default=None, metavar="N",
                       help="run the tasks on N local Dask worker processes")
    where.add_argument("--scheduler", type=_scheduler_address, default=None,
                       metavar="ADDRESS",
                       help="run the tasks on the Dask cluster whose scheduler is at ADDRESS, "
                            "e.g. tcp://10.0.0.5:8786")
    run.add_argument("--resume", action="store_true",
                     help="keep the tasks that an interrupted run of the same protocol, size "
                          "and seed checkpointed in OUT/.checkpoints; compute the others")
    run.set_defaults(handler=_run)

    bench = commands.add_parser(
        "bench", help="time the batched engine, the fused gradient and the second-order solvers",
        description="Time the batched engine against per-run loops and against its floor for "
                    "each activation (and against a baseline version of the package, with "
                    "--baseline), the fused gradient against hand-written numpy and autograd, "
                    "and the trust region and cubic regularization against scipy's "
                    "trust-krylov and trust-ncg. Run with OPENBLAS_NUM_THREADS=1.",
        formatter_class=defaults)
    bench.add_argument("--quick", action="store_true",
                       help="reduced Figure 3a protocol, fewer steps elsewhere, solvers without "
                            "p = 5,000")
    bench.add_argument("--repeat", type=_positive_int, default=3,
                       help="alternating rounds of each measurement; the best of each side "
                            "counts")
    bench.add_argument("--baseline", type=_package_folder, default=None, metavar="PATH",
                       help="also time the engine against the shallowlearn package in PATH "
                            "(e.g. a git worktree of an earlier commit) on Figure 2b")
    bench.add_argument("--solvers", action="store_true",
                       help="only the comparison of the second-order solvers with scipy")
    bench.add_argument("--dask", action="store_true",
                       help="also time a reduced protocol on 2 Dask worker processes against 1 "
                            "(about a minute)")
    bench.add_argument("--out", type=_output_folder, default=None,
                       help="also write bench.md and bench.json to this folder")
    bench.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    bench.set_defaults(handler=_bench)

    spectrum = commands.add_parser(
        "bench-spectrum", help="time the routes to the most negative Hessian eigenvalue",
        description="Time the routes to the most negative Hessian eigenvalue on a planted "
                    "problem (p = 20,000; --quick: 800): plain eigsh(which='SA') against the "
                    "package's iterative route, and the dense route where feasible. Run with "
                    "OPENBLAS_NUM_THREADS=1.",
        formatter_class=defaults)
    spectrum.add_argument("--quick", action="store_true",
                          help="p = 800 instead of 20,000, with the dense route")
    spectrum.add_argument("--activation",
                          type=_choice_of(("quadratic", "softplus", "sigmoid", "tanh", "erf")),
                          default="softplus", help="the activation")
    spectrum.add_argument("--seed", type=_non_negative_int, default=0,
                          help="seed of the data and the point")
    spectrum.add_argument("--out", type=_output_folder, default=None,
                          help="also write bench-spectrum.md and .json to this folder")
    spectrum.set_defaults(handler=_bench_spectrum)
    _add_grade_command(commands)
    return parser


def main(argv=None) -> int:
    """Run the command line; returns the exit code (2 for a user error)."""
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
