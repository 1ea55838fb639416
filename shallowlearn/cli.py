"""The command line: ``python -m shallowlearn <command> [options]``.

Each command lives in the module it exercises, as a function ``add_command(commands)`` that
adds a sub-parser to ``commands`` and sets ``handler`` (parsed arguments -> exit code) as its
default; :func:`build_parser` calls each of them. ``python -m shallowlearn --help`` lists the commands.
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
    return parser


def main(argv=None) -> int:
    """Run the command line; returns the exit code."""
    args = build_parser().parse_args(argv)
    return args.handler(args)
