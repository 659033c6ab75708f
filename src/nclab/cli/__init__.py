"""nclab: reproduce the figures of four papers on neural collapse and low-rank bias.

Commands: list, run, verify, report, runs, measure, theory, demo. Every command takes --help.
Runs go to a store directory (--out, else $NCLAB_RUNS, else ./runs); running a command again
skips finished (and diverged) runs and resumes the others. Run statuses: finished, diverged,
failed, interrupted, running, damaged. Exit codes: 0 success, 1 a run failed or diverged or a
claim failed, 2 usage errors (unknown experiment, bad --set value, unreadable input file,
unwritable --out), 130 interrupted.
"""

from __future__ import annotations

import argparse

from rich.console import Console

from nclab import __version__

from . import demo, measure, report, run, runs, theory, verify
from .common import EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, UsageError

# the command groups, in the order `nclab --help` lists their commands
GROUPS = (run, verify, report, runs, measure, theory, demo)


def build_parser() -> argparse.ArgumentParser:
    """The ``nclab`` parser: each command group adds its commands and options."""
    parser = argparse.ArgumentParser(prog="nclab", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"nclab {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def add(name, help_, fn, description=None):
        p = sub.add_parser(name, help=help_, description=description or help_,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        p.set_defaults(fn=fn)
        return p

    for group in GROUPS:
        group.register(add)
    return parser


def main(argv=None) -> int:
    """The ``nclab`` command on ``argv`` (default: the process's arguments); the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    if getattr(args, "fn", None) is None:
        parser.print_help()
        return EXIT_OK
    try:
        return int(args.fn(args) or 0)
    except UsageError as err:
        Console(stderr=True, highlight=False).print(f"nclab {args.command}: error: {err}",
                                                    markup=False)
        return EXIT_USAGE
    except KeyboardInterrupt:
        Console(stderr=True).print("interrupted")
        return EXIT_INTERRUPTED
