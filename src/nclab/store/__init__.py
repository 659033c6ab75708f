"""The run store: every run of every experiment on disk, queryable together with DuckDB.

Layout (``root`` is any directory; names are path-safe, see :func:`run_id`)::

    root/<experiment>/<scale>/<run_id>/
        config.json       identity (experiment, scale, run_id, seed, params), the caller's
                          resolved "config", nclab_version, git_commit (None outside a
                          git checkout), started -- written by start_run
        metrics.parquet   long records, columns RECORD_COLUMNS (see :mod:`.schema`) --
                          rewritten by write_metrics
        summary.json      identity, status ("finished" | "diverged" | "failed"), finished,
                          host, the caller's "summary", "files" (sha256 of config.json and
                          metrics.parquet) and "sha256" (of itself) -- written LAST by finish:
                          no summary, not done
        .lock             flock held by the process writing the run (owner pid and host
                          inside): no summary and no live owner means "interrupted"
        train/            the trainer's out_dir: its config.json and checkpoints/
                          (a run stored by Store.copy_run, the copy of another experiment's
                          identical run, has the source's files, provenance and records
                          with its own identity, and "copied_from" in config and summary)
        figures/          per-run figures (created on first use)
    root/<experiment>/<scale>/_report/   the experiment's HTML report (nclab.report)

Every file is written to a temporary name and moved into place with ``os.replace``, so a crash
leaves whole files only, and a run without ``summary.json`` is never counted as finished.
Statuses (``STATUSES``, read them with ``store.status(...)``, ``summary["status"]`` or the
``status`` column of ``store.runs()``): ``running``, ``interrupted``, ``damaged``,
``finished``, ``diverged``, ``failed`` -- see :mod:`nclab.store.integrity`. Every file is
written with the same mode (``0666`` less the umask). A damaged file is reported by path
(``store.damaged()``, the ``damage`` column) and never stops reading the other runs.

Usage::

    store = Store("runs")
    if not store.is_done("p0_fig2", "cpu", run_id(params, seed)):
        with store.start_run("p0_fig2", "cpu", params, seed, config) as run:
            run.write_metrics(rows)            # {"step", "layer", "metric", "value"} dicts
            run.finish({"final_loss": 0.12})
    store.query("SELECT metric, avg(value) FROM metrics GROUP BY metric")
    results = store.results("p0_fig2", "cpu")  # a Results: the records claims read
    results = store.results("p0_fig2", "cpu", run_ids=planned)  # only the runs of a plan

The store owns its data definition (:mod:`.schema`: ``RECORD_COLUMNS``, ``SCHEMA``,
``SCALES``; :mod:`.ids`: run ids; :mod:`.results`: :class:`Results`) and imports nothing
of :mod:`nclab.experiments`.
"""

from .atomic import jsonable, write_atomic, write_json, write_parquet
from .ids import canonical_params, run_id
from .integrity import DONE_STATUSES, STATUSES, DamagedFile, RunInfo
from .lock import RunBusy
from .provenance import git_commit, nclab_version
from .results import Results
from .schema import RECORD_COLUMNS, SCALES, SCHEMA
from .store import RunHandle, Store, set_aside

__all__ = [
    "DONE_STATUSES",
    "RECORD_COLUMNS",
    "SCALES",
    "SCHEMA",
    "STATUSES",
    "DamagedFile",
    "RunBusy",
    "RunHandle",
    "Results",
    "RunInfo",
    "Store",
    "set_aside",
    "canonical_params",
    "git_commit",
    "jsonable",
    "nclab_version",
    "run_id",
    "write_atomic",
    "write_json",
    "write_parquet",
]
