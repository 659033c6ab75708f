"""The run store: one directory per run, atomic writes, DuckDB queries across all runs.

See :mod:`nclab.store` for the on-disk layout and the life of a run.
"""

from __future__ import annotations

import json
import shutil
import socket
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import pyarrow as pa

from .atomic import jsonable, write_json, write_parquet
from .ids import canonical_params, check_name, check_seed
from .ids import run_id as make_run_id
from .integrity import (
    CONFIG,
    DONE_STATUSES,
    METRICS,
    SEALED_STATUSES,
    STATUSES,
    SUMMARY,
    RunInfo,
    find_runs,
    inspect_run,
    seal,
)
from .lock import LOCK, RunLock
from .provenance import git_commit, nclab_version
from .query import connect
from .records import ROW_KEYS, rows_table
from .results import Results
from .schema import RECORD_COLUMNS, SCALES, SCHEMA

TRAIN, CHECKPOINTS, FIGURES, REPORT = "train", "checkpoints", "figures", "_report"
FINAL_STATUSES = SEALED_STATUSES  # what a run may be finished as
_GLOB_CHARS = set("*?[]{}")


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _check_scale(scale) -> str:
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {SCALES}, got {scale!r}")
    return scale


def set_aside(run_dir: Path, names=(SUMMARY, METRICS, CONFIG)) -> list[Path]:
    """Rename the files ``names`` of a run to ``<name>.damaged-<UTC time>`` (never deleted;
    no reader globs for these names); returns the new paths."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ")
    moved = []
    for name in names:
        src = Path(run_dir) / name
        if src.exists():
            dst = src.with_name(f"{name}.damaged-{stamp}")
            src.rename(dst)
            moved.append(dst)
    return moved


class Store:
    """All runs under ``root``: ``root/<experiment>/<scale>/<run_id>/``.

    ``root`` need not exist yet (it is created by the first :meth:`start_run`)."""

    def __init__(self, root):
        self.root = Path(root)
        if self.root.exists() and not self.root.is_dir():
            raise ValueError(f"store root {self.root} exists and is not a directory")

    def __repr__(self) -> str:
        return f"Store({str(self.root)!r})"

    # ---- paths -------------------------------------------------------------------------------
    def run_dir(self, experiment: str, scale: str, run_id: str) -> Path:
        """The directory of one run (whether or not it exists)."""
        check_name(experiment, "experiment")
        _check_scale(scale)
        check_name(run_id, "run_id")
        return self.root / experiment / scale / run_id

    def report_dir(self, experiment: str, scale: str) -> Path:
        """Where :func:`nclab.report.build_report` writes: ``root/<experiment>/<scale>/_report``
        (run ids never start with ``_``, so it cannot clash with a run)."""
        check_name(experiment, "experiment")
        return self.root / experiment / _check_scale(scale) / REPORT

    # ---- the life of a run -------------------------------------------------------------------
    def start_run(
        self,
        experiment: str,
        scale: str,
        params: dict | None,
        seed: int,
        config: dict,
        *,
        run_id: str | None = None,
        overwrite: bool = False,
    ) -> RunHandle:
        """Open the run of grid point ``params`` with ``seed``; write its ``config.json``.

        ``config``: the fully resolved configuration as a JSON-able dict (e.g.
        ``nclab.train.to_dict(cfg)``), stored under ``"config"`` next to the run's identity,
        ``nclab_version``, ``git_commit`` and ``started``. ``run_id``: default
        :func:`nclab.store.run_id` of ``(params, seed)``.

        The run's lock is taken first (:class:`~nclab.store.lock.RunBusy` if another process
        holds it) and held until :meth:`RunHandle.finish` / :meth:`RunHandle.release` or the
        process's death. A run that exists but is not done (interrupted, failed) is reopened
        for a resume: its summary and metrics are removed (write the full records again),
        ``train/`` (the trainer's checkpoints) is kept. A damaged run's files are set aside
        (:func:`set_aside`) and it is reopened likewise. A done run (``finished`` or
        ``diverged``) raises ``FileExistsError`` unless ``overwrite=True``, which deletes it
        and starts afresh.
        """
        canon = canonical_params(params)
        seed = check_seed(seed)
        if not isinstance(config, dict):
            raise ValueError(f"config must be a JSON-able dict, got {type(config).__name__}")
        rid = make_run_id(params, seed) if run_id is None else run_id
        path = self.run_dir(experiment, scale, rid)
        path.mkdir(parents=True, exist_ok=True)
        lock = RunLock(path).acquire()
        try:
            info = inspect_run(path)
            old = info.config or {}
            if old and (old.get("seed") != seed or canonical_params(old.get("params")) != canon):
                raise ValueError(
                    f"{path} holds the run of seed={old.get('seed')!r}, "
                    f"params={old.get('params')!r}, not seed={seed!r}, params={params!r}"
                )
            if info.status in DONE_STATUSES and not overwrite:
                raise FileExistsError(
                    f"run {experiment}/{scale}/{rid} is already {info.status} "
                    f"({path / SUMMARY}); skip it (store.is_done) or pass overwrite=True to "
                    "run it again"
                )
            if info.status == "damaged":
                set_aside(path)
            (path / SUMMARY).unlink(missing_ok=True)  # first: the run stops counting as done
            if info.status in DONE_STATUSES:
                for child in path.iterdir():
                    if child.name != LOCK:
                        shutil.rmtree(child) if child.is_dir() else child.unlink()
            (path / METRICS).unlink(missing_ok=True)
        except BaseException:
            lock.release()
            raise
        handle = RunHandle(self, experiment, scale, rid, seed, json.loads(canon), path,
                           _lock=lock)
        write_json(
            path / CONFIG,
            {
                **handle.identity(),
                "config": config,
                "nclab_version": nclab_version(),
                "git_commit": git_commit(),
                "started": _now(),
            },
        )
        return handle

    def copy_run(self, experiment: str, scale: str, run_id: str, to_experiment: str, *,
                 overwrite: bool = False) -> Path:
        """Store the done run ``experiment/scale/run_id`` again as a run of ``to_experiment``
        (same run id): its records (with ``to_experiment``'s identity columns), its trainer
        files (``train/``), its status (finished or diverged) and its summary, and its
        ``config.json`` with the source's provenance (commit, version, start); both files
        gain ``"copied_from": "<experiment>/<scale>/<run_id>"`` (the original, for a copy of
        a copy).

        For two experiments that plan the identical run (the caller decides that: same
        config, same measures), so that it is trained once. The source's lock is held while
        it is read. ``ValueError`` if the source is not done or is the destination;
        ``FileExistsError`` / :class:`~nclab.store.lock.RunBusy` as :meth:`start_run` (also
        ``RunBusy`` if another process holds the source)."""
        import pyarrow.parquet as pq

        if to_experiment == experiment:
            raise ValueError(f"cannot copy run {experiment}/{scale}/{run_id} onto itself")

        def done_source() -> RunInfo:
            info = self.inspect(experiment, scale, run_id)
            if info.status not in DONE_STATUSES:
                raise ValueError(f"cannot copy run {experiment}/{scale}/{run_id}: it is "
                                 f"{info.status}, not one of {DONE_STATUSES}")
            return info

        src_lock = RunLock(done_source().path).acquire()
        try:
            info = done_source()  # again, under the lock
            src = info.path
            origin = (info.summary.get("summary") or {}).get("copied_from") \
                or f"{experiment}/{scale}/{run_id}"
            rows = pq.read_table(src / METRICS, columns=list(ROW_KEYS)).to_pylist()
            handle = self.start_run(to_experiment, scale, info.config.get("params"),
                                    info.config["seed"], info.config["config"], run_id=run_id,
                                    overwrite=overwrite)
            try:
                write_json(handle.dir / CONFIG, {**info.config, **handle.identity(),
                                                 "copied_from": origin})
                if handle.train_dir.exists():  # an unfinished attempt of its own: replaced
                    shutil.rmtree(handle.train_dir)
                if (src / TRAIN).is_dir():
                    shutil.copytree(src / TRAIN, handle.train_dir)
                handle.write_metrics(rows)
                summary = {**(info.summary.get("summary") or {}), "copied_from": origin}
                return handle.finish(summary, status=info.status)
            finally:
                handle.release()
        finally:
            src_lock.release()

    def status(self, experiment: str, scale: str, run_id: str) -> str:
        """One of :data:`STATUSES` (see :mod:`nclab.store.integrity`): ``"missing"``,
        ``"running"`` (no summary, a live owner), ``"interrupted"`` (no summary, no live
        owner), ``"damaged"`` (see :meth:`inspect`), or the summary's ``"finished"`` /
        ``"diverged"`` / ``"failed"``. Never raises for a damaged file."""
        return self.inspect(experiment, scale, run_id).status

    def inspect(self, experiment: str, scale: str, run_id: str) -> RunInfo:
        """The run's status, config, verified summary and damaged files (``damage``)."""
        return inspect_run(self.run_dir(experiment, scale, run_id))

    def is_done(self, experiment: str, scale: str, run_id: str) -> bool:
        """Whether the run is complete (``finished`` or ``diverged``: a re-run skips it)."""
        return self.status(experiment, scale, run_id) in DONE_STATUSES

    def is_finished(self, experiment: str, scale: str, run_id: str) -> bool:
        """Whether the run finished (not diverged, failed, interrupted, damaged)."""
        return self.status(experiment, scale, run_id) == "finished"

    def damaged(self, experiment: str | None = None, scale: str | None = None) -> list[str]:
        """``"path: reason"`` of every damaged file (also unsealed records that cannot be read)."""
        return [d for info in self._find(experiment, scale) for d in info.damage]

    # ---- queries -----------------------------------------------------------------------------
    def _find(self, experiment: str | None = None, scale: str | None = None) -> list[RunInfo]:
        if experiment is not None:
            check_name(experiment, "experiment")
        if scale is not None:
            _check_scale(scale)
        return find_runs(self.root, experiment, scale)

    def connect(self, experiment: str | None = None, scale: str | None = None):
        """A DuckDB connection with the views ``metrics`` and ``runs`` (see :mod:`.query`) of
        every run (or of one experiment and/or scale); damaged runs are listed in ``runs``
        with status ``damaged`` and left out of ``metrics``."""
        if _GLOB_CHARS & set(str(self.root.resolve())):
            raise ValueError(f"store root {self.root} contains glob characters "
                             f"{sorted(_GLOB_CHARS)}")
        return connect(self._find(experiment, scale))

    def query(self, sql: str, parameters=None, *, experiment: str | None = None,
              scale: str | None = None) -> list[dict]:
        """Run SQL against the ``metrics`` and ``runs`` views; rows as dicts.
        ``parameters``: values for ``?`` placeholders; ``experiment`` / ``scale``: restrict
        the views to those runs (faster on a large store)."""
        con = self.connect(experiment, scale)
        try:
            cur = con.execute(sql, parameters or [])
            names = [d[0] for d in cur.description]
            return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
        finally:
            con.close()

    def runs(
        self,
        experiment: str | None = None,
        scale: str | None = None,
        status: str | None = None,
        where: str | None = None,
    ) -> list[dict]:
        """Rows of the ``runs`` view (``params``, ``config``, ``summary`` decoded), sorted by
        experiment, scale, run_id. ``where``: an extra SQL condition on its columns, e.g.
        ``"git_commit IS NOT NULL"``."""
        if status is not None and status not in STATUSES[1:]:
            raise ValueError(f"status must be one of {STATUSES[1:]}, got {status!r}")
        conds, args = [], []
        for col, value in (("experiment", experiment), ("scale", scale), ("status", status)):
            if value is not None:
                conds.append(f"{col} = ?")
                args.append(value)
        if where:
            conds.append(f"({where})")
        sql = "SELECT * FROM runs" + (" WHERE " + " AND ".join(conds) if conds else "")
        rows = self.query(sql + " ORDER BY experiment, scale, run_id", args,
                          experiment=experiment, scale=scale)
        for row in rows:
            for key in ("params", "config", "summary"):
                if row[key] is not None:
                    row[key] = json.loads(row[key])
        return rows

    def results(self, experiment: str, scale: str, run_ids=None) -> Results:
        """The records of the finished runs of one experiment at one scale (possibly none);
        diverged, failed, interrupted and damaged runs contribute no records (see :meth:`runs`),
        but every run's status and trainer summary is in :attr:`Results.run_info`, so claims
        can tell that a run diverged.

        ``run_ids``: only these runs (e.g. those of the experiment's current plan); the other
        runs stored at this experiment and scale (e.g. of an older grid) are left out entirely,
        records and status alike, and listed in :attr:`Results.excluded`. None: every run."""
        check_name(experiment, "experiment")
        _check_scale(scale)
        wanted = None if run_ids is None else _run_id_set(run_ids)
        con = self.connect(experiment, scale)
        try:
            keep = "" if wanted is None else " AND list_contains(?::VARCHAR[], m.run_id)"
            cols = con.execute(
                f"""SELECT {", ".join("m." + c for c in RECORD_COLUMNS)}
                FROM metrics m JOIN runs r USING (experiment, scale, run_id)
                WHERE r.status = 'finished' AND m.experiment = ? AND m.scale = ?{keep}
                ORDER BY m.run_id, m.step, m.layer, m.metric""",
                [experiment, scale, *([] if wanted is None else [sorted(wanted)])],
            ).fetchnumpy()
            # every run's status and trainer summary (claims never score a diverged run)
            info = con.execute("SELECT run_id, status, summary FROM runs WHERE experiment = ? "
                               "AND scale = ?", [experiment, scale]).fetchall()
        finally:
            con.close()
        decoded = {p: json.loads(p) for p in set(cols["params"].tolist())}
        n = len(cols["run_id"])
        lists = {k: cols[k].tolist() for k in RECORD_COLUMNS}
        lists["params"] = [decoded[p] for p in lists["params"]]
        rows = [{k: lists[k][i] for k in RECORD_COLUMNS} for i in range(n)]
        runs = {rid: {"status": status, "summary": json.loads(summary) if summary else {}}
                for rid, status, summary in info if wanted is None or rid in wanted}
        excluded = [rid for rid, _, _ in info if wanted is not None and rid not in wanted]
        return Results(experiment, scale, rows, runs=runs, excluded=excluded)


def _run_id_set(run_ids) -> set[str]:
    if isinstance(run_ids, str):
        raise ValueError(f"run_ids must be a collection of run ids, got the string {run_ids!r}")
    out = set(run_ids)
    bad = [r for r in out if not isinstance(r, str)]
    if bad:
        raise ValueError(f"run_ids must be strings, got {bad[:3]!r}")
    return out


@dataclass
class RunHandle:
    """An open run: write its metrics, then :meth:`finish` it.

    ``dir``: the run directory; ``train_dir``: pass it as the trainer's ``out_dir`` (it keeps
    its own ``config.json``, checked on resume, and ``checkpoints/``); ``figures_dir``: per-run
    figures. Used as a context manager, an exception marks the run ``failed`` (and propagates);
    any exit releases the run's lock. The lock is also released when the handle is garbage
    collected or the process dies (the run is then ``interrupted``).
    """

    store: Store
    experiment: str
    scale: str
    run_id: str
    seed: int
    params: dict
    dir: Path
    _tables: list[pa.Table] = field(default_factory=list, repr=False)
    _closed: bool = field(default=False, repr=False)
    _lock: RunLock | None = field(default=None, repr=False)

    @property
    def closed(self) -> bool:
        """Whether the run was finished (or failed, or diverged): it then takes no more rows."""
        return self._closed

    @property
    def train_dir(self) -> Path:
        return self.dir / TRAIN

    @property
    def checkpoint_dir(self) -> Path:
        return self.train_dir / CHECKPOINTS

    @property
    def figures_dir(self) -> Path:
        path = self.dir / FIGURES
        path.mkdir(exist_ok=True)
        return path

    def identity(self) -> dict:
        return {
            "experiment": self.experiment, "scale": self.scale, "run_id": self.run_id,
            "seed": self.seed, "params": self.params,
        }

    def write_metrics(self, rows) -> int:
        """Add long rows (``step, layer, metric, value``; the run's identity columns are filled
        in) and atomically rewrite ``metrics.parquet`` with all rows so far; returns that count.
        """
        self._check_open()
        ident = {**self.identity(), "params": canonical_params(self.params)}
        self._tables.append(rows_table(rows, ident))
        table = pa.concat_tables(self._tables)
        write_parquet(self.dir / METRICS, table)
        return table.num_rows

    def finish(self, summary: dict | None = None, status: str = "finished") -> Path:
        """Mark the run done by writing ``summary.json`` last (after the metrics), with the
        sha256 of ``config.json``, ``metrics.parquet`` and itself; then release the lock.

        ``summary``: JSON-able dict (final losses, divergence, timings...; non-finite floats
        are written as ``"nan"``/``"inf"``). ``status``: ``"finished"``, ``"diverged"``
        (training stopped at a non-finite value: records kept, not retried, left out of
        :meth:`Store.results`) or ``"failed"`` (retried by a re-run)."""
        self._check_open()
        if status not in FINAL_STATUSES:
            raise ValueError(f"status must be one of {FINAL_STATUSES}, got {status!r}")
        if summary is not None and not isinstance(summary, dict):
            raise ValueError(f"summary must be a dict, got {type(summary).__name__}")
        if not self._tables:
            write_parquet(self.dir / METRICS, SCHEMA.empty_table())
        body = {**self.identity(), "status": status, "finished": _now(),
                "host": socket.gethostname(), "summary": summary or {}}
        path = write_json(self.dir / SUMMARY, seal(jsonable(body), self.dir))
        self._closed = True
        self.release()
        return path

    def release(self) -> None:
        """Release the run's lock without finishing it (it is then ``interrupted``)."""
        if self._lock is not None:
            self._lock.release()

    def fail(self, reason: str) -> Path:
        """Mark the run failed (it will be run again on resume); ``reason`` goes in the summary."""
        return self.finish({"error": str(reason)}, status="failed")

    def _check_open(self) -> None:
        if self._closed:
            raise ValueError(f"run {self.experiment}/{self.scale}/{self.run_id} is already closed")

    def __enter__(self) -> RunHandle:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if exc is not None and isinstance(exc, Exception) and not self._closed:
                self.fail(f"{exc_type.__name__}: {exc}")
        finally:
            self.release()
