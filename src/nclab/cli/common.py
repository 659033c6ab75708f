"""What every command shares: exit codes, usage errors (exit 2), the store root, the console,
number formatting and JSON output."""

from __future__ import annotations

import json
import math
import os
import sys
from pathlib import Path

from rich.console import Console

RUNS_ENV = "NCLAB_RUNS"
EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


class UsageError(Exception):
    """A bad argument: printed as ``nclab: error: ...`` with exit code 2."""


def store_root(args) -> Path:
    """The store root: ``--out``, else ``$NCLAB_RUNS``, else ``./runs``."""
    return Path(args.out or os.environ.get(RUNS_ENV) or "runs")


def writable_root(args) -> Path:
    """The store root, created if needed; a UsageError if it cannot be written."""
    import tempfile

    root = store_root(args)
    try:
        root.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=root, prefix=".write-test-"):
            pass
    except OSError as err:
        raise UsageError(f"--out {root}: cannot write there ({err.strerror or err})") from None
    return root


def report_damage(console, store, experiment=None) -> None:
    """One line per damaged store file (readers leave those runs out and go on)."""
    for line in store.damaged(experiment):
        console.print(f"[red]damaged:[/red] {line}")


def make_console(args=None, stderr: bool = False) -> Console:
    """A console on stdout, or on stderr when asked or when ``--json`` owns stdout."""
    err = stderr or bool(getattr(args, "json", False))
    stream = sys.stderr if err else sys.stdout
    width = None if stream.isatty() else 132  # pipes and files: wide tables, no wrapping
    return Console(stderr=err, highlight=False, soft_wrap=False, width=width)


def fmt(v) -> str:
    """A table cell: floats to 4 significant digits, everything else as ``str``."""
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if not math.isfinite(v):
            return str(v)
        return f"{v:.4g}"
    return str(v)


def _jsonable(obj):
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return str(obj)
    if hasattr(obj, "item") and not isinstance(obj, (str, bytes)):
        try:
            return _jsonable(obj.item())
        except (TypeError, ValueError):
            pass
    return obj


def print_json(obj) -> None:
    """``obj`` as indented JSON on stdout (numpy scalars as numbers, NaN / inf as strings)."""
    sys.stdout.write(json.dumps(_jsonable(obj), indent=2) + "\n")
    sys.stdout.flush()


def get_experiment(exp_id: str):
    """The registered experiment ``exp_id``; a UsageError (with close matches) if none."""
    from nclab.experiments.registry import UnknownExperiment, get

    try:
        return get(exp_id)
    except UnknownExperiment as err:
        raise UsageError(str(err)) from None


def out_arg(p) -> None:
    """The ``--out DIR`` option of every command that reads or writes the store."""
    p.add_argument("--out", metavar="DIR", help=f"store root (default ${RUNS_ENV} or ./runs)")
