"""DuckDB views over a store root: ``metrics`` (every ``metrics.parquet``) and ``runs`` (every
run's ``config.json`` joined with its ``summary.json``). No file scanning by hand: DuckDB globs.

``metrics``: the long records, columns of ``RECORD_COLUMNS`` (all runs, finished or not).
``runs``: ``experiment, scale, run_id, seed, params`` (JSON text), ``status`` (``"finished"``,
``"failed"``, or ``"running"`` when there is no summary yet: in progress or crashed),
``started``, ``finished`` (UTC ISO times), ``nclab_version``, ``git_commit``, ``path`` (the run
directory), ``config`` and ``summary`` (JSON).

Join them on ``(experiment, scale, run_id)``; e.g. each finished run's final NC1 per layer::

    SELECT m.experiment, m.run_id, m.layer, m.value
    FROM metrics m JOIN runs r USING (experiment, scale, run_id)
    WHERE r.status = 'finished' AND m.metric = 'nc1_trace'
    QUALIFY m.step = max(m.step) OVER (PARTITION BY m.experiment, m.scale, m.run_id, m.layer)
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from .records import SCHEMA

_SQL_TYPES = {"string": "VARCHAR", "int64": "BIGINT", "double": "DOUBLE"}
_CONFIG_COLUMNS = {
    "experiment": "VARCHAR", "scale": "VARCHAR", "run_id": "VARCHAR", "seed": "BIGINT",
    "params": "JSON", "config": "JSON", "nclab_version": "VARCHAR", "git_commit": "VARCHAR",
    "started": "VARCHAR",
}
_SUMMARY_COLUMNS = {
    "experiment": "VARCHAR", "scale": "VARCHAR", "run_id": "VARCHAR", "status": "VARCHAR",
    "finished": "VARCHAR", "summary": "JSON",
}
_GLOB_CHARS = set("*?[]{}")


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _struct(columns: dict[str, str]) -> str:
    return "{" + ", ".join(f"{k}: {_literal(v)}" for k, v in columns.items()) + "}"


def _empty(columns: dict[str, str]) -> str:
    cols = ", ".join(f"CAST(NULL AS {t}) AS {k}" for k, t in columns.items())
    return f"SELECT {cols} WHERE false"


def _has_files(con, pattern: str) -> bool:
    return con.execute(f"SELECT count(*) FROM glob({_literal(pattern)})").fetchone()[0] > 0


def connect(root: Path) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection with the ``metrics`` and ``runs`` views over ``root``.

    The views re-read the files at each query; a kind of file that did not exist at all when
    the connection was opened (an empty store) appears only in a new connection."""
    root = Path(root).resolve()
    if _GLOB_CHARS & set(str(root)):
        raise ValueError(f"store root {root} contains glob characters {sorted(_GLOB_CHARS)}")
    con = duckdb.connect(":memory:")
    parquet = f"{root}/**/metrics.parquet"
    if _has_files(con, parquet):
        metrics = (f"SELECT * FROM read_parquet({_literal(parquet)}, union_by_name=true, "
                   "hive_partitioning=false)")
    else:
        metrics = _empty({f.name: _SQL_TYPES[str(f.type)] for f in SCHEMA})
    con.execute(f"CREATE VIEW metrics AS {metrics}")

    configs, summaries = f"{root}/*/*/*/config.json", f"{root}/*/*/*/summary.json"
    for name, pattern, columns in (
        ("_configs", configs, _CONFIG_COLUMNS),
        ("_summaries", summaries, _SUMMARY_COLUMNS),
    ):
        if _has_files(con, pattern):
            body = (f"SELECT * FROM read_json({_literal(pattern)}, columns={_struct(columns)}, "
                    "filename=true, format='auto')")
        else:
            body = _empty({**columns, "filename": "VARCHAR"})
        con.execute(f"CREATE VIEW {name} AS {body}")
    con.execute(
        """CREATE VIEW runs AS
        SELECT c.experiment, c.scale, c.run_id, c.seed, CAST(c.params AS VARCHAR) AS params,
               coalesce(s.status, 'running') AS status, c.started, s.finished,
               c.nclab_version, c.git_commit, parse_dirpath(c.filename) AS path,
               c.config, s.summary
        FROM _configs c LEFT JOIN _summaries s USING (experiment, scale, run_id)"""
    )
    return con
