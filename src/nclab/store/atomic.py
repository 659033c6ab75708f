"""Atomic file writes: write a temporary file next to the target, fsync it, ``os.replace`` it.

A reader (or a crash) sees either the old complete file or the new complete file, never a
partial one. Temporary names start with ``.`` and never match the names the store globs for.
"""

from __future__ import annotations

import json
import math
import os
import uuid
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq


def write_atomic(path: Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp)`` to fill a temporary file, then move it onto ``path`` atomically."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    try:
        write(tmp)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def jsonable(obj):
    """``obj`` as plain JSON values: numpy scalars/arrays and tuples become Python numbers and
    lists, paths become strings, and non-finite floats the strings ``"nan"``, ``"inf"``,
    ``"-inf"`` (strict JSON has no NaN). Anything else non-JSON raises ``ValueError``."""
    if isinstance(obj, dict):
        bad = [k for k in obj if not isinstance(k, str)]
        if bad:
            raise ValueError(f"JSON object keys must be strings, got {bad!r}")
        return {k: jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return [jsonable(v) for v in obj.tolist()]
    if isinstance(obj, np.generic):
        return jsonable(obj.item())
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else ("nan" if math.isnan(obj) else str(obj).lower())
    if obj is None or isinstance(obj, (bool, int, str)):
        return obj
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    raise ValueError(f"cannot write {type(obj).__name__} {obj!r} as JSON")


def write_json(path: Path, obj) -> Path:
    """Write ``jsonable(obj)`` as indented JSON, atomically."""
    text = json.dumps(jsonable(obj), indent=2, sort_keys=True, allow_nan=False) + "\n"
    return write_atomic(path, lambda tmp: tmp.write_text(text))


def write_parquet(path: Path, table: pa.Table) -> Path:
    """Write an Arrow table as Parquet, atomically."""
    return write_atomic(path, lambda tmp: pq.write_table(table, tmp))
