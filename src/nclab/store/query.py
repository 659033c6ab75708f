"""DuckDB views over a store: ``metrics`` (every readable ``metrics.parquet``) and ``runs``
(one row per run directory, with its checked status).

``metrics``: the long records, columns of :data:`nclab.store.schema.RECORD_COLUMNS` (all runs,
finished or not, except damaged ones). ``runs``: ``experiment, scale, run_id, seed, params`` (JSON text),
``status`` (one of :data:`nclab.store.STATUSES` but ``missing``: ``running``,
``interrupted``, ``damaged``, ``finished``, ``diverged``, ``failed``), ``started``,
``finished`` (UTC ISO times), ``nclab_version``, ``git_commit``, ``path`` (the run
directory), ``config`` and ``summary`` (JSON), ``damage`` (``"path: reason"`` of each damaged
file, ``; ``-separated; NULL when intact).

The run directories are inspected (checksums verified, locks probed) when the connection is
opened (:func:`nclab.store.integrity.find_runs`); a damaged file never stops the others.
Join the views on ``(experiment, scale, run_id)``; e.g. each finished run's final NC1 per
layer::

    SELECT m.experiment, m.run_id, m.layer, m.value
    FROM metrics m JOIN runs r USING (experiment, scale, run_id)
    WHERE r.status = 'finished' AND m.metric = 'nc1_trace'
    QUALIFY m.step = max(m.step) OVER (PARTITION BY m.experiment, m.scale, m.run_id, m.layer)
"""

from __future__ import annotations

import json

import duckdb
import pyarrow as pa

from .integrity import RunInfo
from .schema import SCHEMA

_SQL_TYPES = {"string": "VARCHAR", "int64": "BIGINT", "double": "DOUBLE"}
RUN_COLUMNS = ("experiment", "scale", "run_id", "seed", "params", "status", "started",
               "finished", "nclab_version", "git_commit", "path", "config", "summary", "damage")


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _empty(columns: dict[str, str]) -> str:
    cols = ", ".join(f"CAST(NULL AS {t}) AS {k}" for k, t in columns.items())
    return f"SELECT {cols} WHERE false"


def _run_row(info: RunInfo) -> dict:
    config, summary = info.config or {}, info.summary or {}

    def pick(key):
        return config.get(key, summary.get(key))

    def text(value):
        return None if value is None else json.dumps(value, sort_keys=True)

    seed = pick("seed")
    return {
        "experiment": info.experiment, "scale": info.scale, "run_id": info.run_id,
        "seed": seed if isinstance(seed, int) and not isinstance(seed, bool) else None,
        "params": text(pick("params")), "status": info.status,
        "started": config.get("started"), "finished": summary.get("finished"),
        "nclab_version": config.get("nclab_version"), "git_commit": config.get("git_commit"),
        "path": str(info.path), "config": text(config.get("config")),
        "summary": text(summary.get("summary")) if info.summary is not None else None,
        "damage": "; ".join(info.damage) or None,
    }


def connect(runs: list[RunInfo]) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection with the ``metrics`` and ``runs`` views of ``runs``
    (found by :func:`nclab.store.integrity.find_runs`)."""
    con = duckdb.connect(":memory:")
    files = [str(r.path / "metrics.parquet") for r in runs
             if r.metrics_ok and r.status != "damaged"]
    if files:
        listed = "[" + ", ".join(_literal(f) for f in files) + "]"
        metrics = (f"SELECT * FROM read_parquet({listed}, union_by_name=true, "
                   "hive_partitioning=false)")
    else:
        metrics = _empty({f.name: _SQL_TYPES[str(f.type)] for f in SCHEMA})
    con.execute(f"CREATE VIEW metrics AS {metrics}")
    types = {"seed": pa.int64()}
    table = pa.table({c: pa.array([_run_row(r)[c] for r in runs], type=types.get(c, pa.string()))
                      for c in RUN_COLUMNS})
    con.register("_runs", table)
    con.execute(
        """CREATE VIEW runs AS
        SELECT experiment, scale, run_id, seed, params, status, started, finished,
               nclab_version, git_commit, path, CAST(config AS JSON) AS config,
               CAST(summary AS JSON) AS summary, damage
        FROM _runs"""
    )
    return con
