"""The command line: ``python -m shallowlearn <command> [options]``.

- ``run PROTOCOL``: run an experiment protocol (:mod:`shallowlearn.protocols`), save its
  results (JSON) and figure (PNG), print a summary.
- ``bench``: time the batched engine (against loops, its floor and optionally a baseline
  version of the package) and the fused gradient (:mod:`shallowlearn.bench`).
- ``bench-spectrum``: time the routes to the most negative Hessian eigenvalue.
- ``grade SUBMISSION...``: run and check students' assignment notebooks and write a gradebook
  (:mod:`shallowlearn.grading`).

Every argument is checked before any work starts; a user error exits with status 2 and a
one-line message. ``python -m shallowlearn --help`` lists the commands.
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

__all__ = ["build_parser", "main"]


# --- argument types: each refuses a bad value before any work starts -------------------------


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer; got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer; got {value}")
    return value


def _positive_int(text: str) -> int:
    value = _non_negative_int(text)
    if value == 0:
        raise argparse.ArgumentTypeError("expected a positive integer; got 0")
    return value


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
    from .plotting import plot_results
    from .protocols import get_protocol
    from .results_io import save_results
    from .runner import run_protocol

    protocol = get_protocol(args.protocol, args.size)
    results = run_protocol(protocol, seed=args.seed, progress=not args.no_progress)
    os.makedirs(args.out, exist_ok=True)
    stem = os.path.join(args.out, f"{protocol.name}-{protocol.size}")
    save_results(results, stem + ".json")
    fig, _ = plot_results(results)
    fig.savefig(stem + ".png", dpi=120)
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
        tally = ", ".join(f"{o} {int(np.sum(outcomes[here] == o))}"
                          for o in ("success", "slow", "stuck", "diverged"))
        if p.kind == "success":
            lines.append(f"  {p.sweep} = {value}: {summary['passed'][i]}/{summary['teachers'][i]}"
                         f" teachers pass; runs: {tally}")
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

    rows = bench.engine_rows(quick=args.quick, repeat=args.repeat, progress=not args.no_progress)
    rows += bench.floor_rows(quick=args.quick, repeat=args.repeat)
    if args.baseline is not None:
        rows += bench.baseline_rows(args.baseline, quick=args.quick, repeat=args.repeat)
    rows += bench.gradient_rows()
    text = bench.table(rows)
    print(text)
    if args.out is not None:
        print(f"wrote {bench.write_report(text, args.out, data=rows)}")
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
        description="Run one of the paper's protocols, save its results (JSON) and figure (PNG).",
        formatter_class=defaults)
    run.add_argument("protocol", type=_choice_of(list(PROTOCOLS)),
                     help=f"which protocol: {', '.join(PROTOCOLS)}")
    run.add_argument("--size", type=_choice_of(("full", "reduced")), default="reduced",
                     help="the paper's sizes (full), or a quick version (reduced)")
    run.add_argument("--out", type=_output_folder, default=".",
                     help="folder for <protocol>-<size>.json and .png")
    run.add_argument("--seed", type=_non_negative_int, default=0, help="random seed")
    run.add_argument("--no-progress", action="store_true", help="hide progress bars")
    run.set_defaults(handler=_run)

    bench = commands.add_parser(
        "bench", help="time the batched engine and the fused gradient",
        description="Time the batched engine against per-run loops and against its floor for "
                    "each activation (and against a baseline version of the package, with "
                    "--baseline), and the fused gradient against hand-written numpy and "
                    "autograd. Run with OPENBLAS_NUM_THREADS=1.",
        formatter_class=defaults)
    bench.add_argument("--quick", action="store_true",
                       help="reduced Figure 3a protocol and fewer steps elsewhere")
    bench.add_argument("--repeat", type=_positive_int, default=3,
                       help="alternating rounds of each engine measurement")
    bench.add_argument("--baseline", type=_package_folder, default=None, metavar="PATH",
                       help="also time the engine against the shallowlearn package in PATH "
                            "(e.g. a git worktree of an earlier commit) on Figure 2b")
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
