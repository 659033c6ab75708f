"""Validate long metric rows and turn them into the Arrow table of ``metrics.parquet``.

The table has exactly the columns of :data:`nclab.store.schema.RECORD_COLUMNS` (types in
:data:`~nclab.store.schema.SCHEMA`).
"""

from __future__ import annotations

import json
import numbers

import pyarrow as pa

from .ids import canonical_params
from .schema import RECORD_COLUMNS, SCHEMA

ROW_KEYS = ("step", "layer", "metric", "value")  # what a row must give; the rest is the run's


def rows_table(rows, identity: dict) -> pa.Table:
    """The Arrow table of ``rows`` (dicts with ``step, layer, metric, value``) for the run
    ``identity`` (``experiment, scale, run_id, seed, params`` with params canonical JSON).

    A row may repeat identity columns only with the run's own values. Other keys (e.g. the
    trainer's ``split``) are errors: fold them into ``layer`` or ``metric`` first
    (``metric="test/accuracy"``), so every record has the same meaning everywhere.
    """
    cols: dict[str, list] = {k: [] for k in ROW_KEYS}
    allowed = set(RECORD_COLUMNS)
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            raise ValueError(f"metric row {i} must be a dict, got {type(row).__name__}")
        extra = set(row) - allowed
        if extra:
            raise ValueError(
                f"metric row {i} has unknown columns {sorted(extra)}; records hold only "
                f"{RECORD_COLUMNS} -- fold them into 'layer' or 'metric' (e.g. 'test/accuracy')"
            )
        missing = [k for k in ROW_KEYS if k not in row]
        if missing:
            raise ValueError(f"metric row {i} lacks {missing} (got {sorted(row)})")
        for key in ("experiment", "scale", "run_id", "seed", "params"):
            if key in row:
                given = _params(row[key], i) if key == "params" else row[key]
                if given != identity[key]:
                    raise ValueError(
                        f"metric row {i} has {key}={row[key]!r} but the run has "
                        f"{key}={identity[key]!r}"
                    )
        step, layer, metric, value = (row[k] for k in ROW_KEYS)
        if isinstance(step, bool) or not isinstance(step, numbers.Integral):
            raise ValueError(f"metric row {i}: step must be an int, got {step!r}")
        for name, text in (("layer", layer), ("metric", metric)):
            if not isinstance(text, str) or not text:
                raise ValueError(
                    f"metric row {i}: {name} must be a non-empty string, got {text!r} "
                    "(use layer='model' for whole-network quantities)"
                )
        if not isinstance(value, numbers.Real):
            raise ValueError(
                f"metric row {i} ({layer!r}, {metric!r}, step {step}): value must be a real "
                f"number (NaN allowed), got {value!r}"
            )
        cols["step"].append(int(step))
        cols["layer"].append(layer)
        cols["metric"].append(metric)
        cols["value"].append(float(value))
    n = len(cols["step"])
    data = {k: [identity[k]] * n for k in ("experiment", "scale", "run_id", "seed", "params")}
    data.update(cols)
    return pa.table(data, schema=SCHEMA)


def _params(value, i: int) -> str:
    """A row's params (dict or JSON text) as canonical JSON."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise ValueError(f"metric row {i}: params is not JSON: {value!r}") from None
    return canonical_params(value)
