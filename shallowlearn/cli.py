"""The command line: ``python -m shallowlearn <command> [options]``.

Each command lives in the module it exercises, as a function ``add_command(commands)`` that
adds a sub-parser to ``commands`` and sets ``handler`` (parsed arguments -> exit code) as its
default; :func:`build_parser` calls each of them. ``python -m shallowlearn --help`` lists the commands.
The ``grade`` command's parser and handler are here; its work is done by ``shallowlearn.grading``.
"""

from __future__ import annotations

import argparse

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every command registered."""
    parser = argparse.ArgumentParser(
        prog="python -m shallowlearn",
        description="Benchmarks and experiment protocols of the shallowlearn package.",
    )
    commands = parser.add_subparsers(dest="command", metavar="command", required=True)
    from . import bench, experiments, spectrum

    for add_command in (bench.add_command, experiments.add_command, spectrum.add_command):
        add_command(commands)
    _add_grade_command(commands)
    return parser


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


def main(argv=None) -> int:
    """Run the command line; returns the exit code."""
    args = build_parser().parse_args(argv)
    return args.handler(args)
