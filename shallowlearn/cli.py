"""The command line: ``python -m shallowlearn <command> [options]``.

Each command is a sub-parser registered in :func:`build_parser`; its handler takes the parsed
arguments and returns an exit code. ``python -m shallowlearn --help`` lists the commands.
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
    parser.add_subparsers(dest="command", metavar="command", required=True)
    return parser


def main(argv=None) -> int:
    """Run the command line; returns the exit code."""
    args = build_parser().parse_args(argv)
    return args.handler(args)
