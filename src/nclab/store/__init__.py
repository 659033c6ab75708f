"""The run store: every run of every experiment on disk, queryable together with DuckDB.

Layout (``root`` is any directory; names are path-safe, see :func:`run_id`)::

    root/<experiment>/<scale>/<run_id>/
        config.json       identity (experiment, scale, run_id, seed, params), the caller's
                          resolved "config", nclab_version, git_commit (None outside a
                          git checkout), started -- written by start_run
        metrics.parquet   long records, columns RECORD_COLUMNS -- rewritten by write_metrics
        summary.json      identity, status ("finished" | "failed"), finished, the caller's
                          "summary" -- written LAST by finish: no summary, not finished
        train/            the trainer's out_dir: its config.json and checkpoints/
        figures/          per-run figures (created on first use)
    root/<experiment>/<scale>/_report/   the experiment's HTML report (nclab.report)

Every file is written to a temporary name and moved into place with ``os.replace``, so a crash
leaves whole files only, and a run without ``summary.json`` is never counted as finished.

Usage::

    store = Store("runs")
    if not store.is_finished("p0_fig2", "cpu", run_id(params, seed)):
        with store.start_run("p0_fig2", "cpu", params, seed, config) as run:
            run.write_metrics(rows)            # {"step", "layer", "metric", "value"} dicts
            run.finish({"final_loss": 0.12})
    store.query("SELECT metric, avg(value) FROM metrics GROUP BY metric")
    results = store.results("p0_fig2", "cpu")  # nclab.experiments.spec.Results
"""

from .atomic import jsonable, write_atomic, write_json, write_parquet
from .ids import canonical_params, run_id
from .provenance import git_commit, nclab_version
from .records import SCHEMA
from .store import STATUSES, RunHandle, Store

__all__ = [
    "SCHEMA",
    "STATUSES",
    "RunHandle",
    "Store",
    "canonical_params",
    "git_commit",
    "jsonable",
    "nclab_version",
    "run_id",
    "write_atomic",
    "write_json",
    "write_parquet",
]
