"""The ``nclab`` command (grows with the experiment registry; for now ``demo`` and ``--version``)."""

from __future__ import annotations

import argparse

from nclab import __version__


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="nclab", description=__doc__)
    parser.add_argument("--version", action="version", version=f"nclab {__version__}")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("demo", help="metrics of a synthetic collapsed vs random network")
    args = parser.parse_args(argv)
    if args.command == "demo":
        from nclab.demo import main as demo

        demo()
        return 0
    parser.print_help()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
