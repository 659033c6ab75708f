"""Run an experiment's grid: plan, train (or compute), store, skip finished runs, resume.

:func:`plan` expands a scale's grid x seeds into :class:`PlannedRun` s with fully resolved
configs (``Experiment.base`` + the scale's overrides + the grid point + ``derive`` + the user's
``--set`` overrides + seed/device/data dir). :func:`run_experiment` executes the plan against a
store (any object with the :class:`nclab.store.Store` methods ``status``, ``start_run`` and
``results``; the store is passed in, never imported, so that imports go one way).

A training run is executed in chunks of optimiser steps with ``nclab.train.run(...,
resume=True, max_steps=...)``: every chunk ends with a checkpoint, the progress callback sees
the step and the loss, measures (:class:`~nclab.experiments.spec.Measure`) are taken at their
steps, and an interruption (Ctrl-C, a killed process) loses at most the current chunk. A run
whose ``summary.json`` exists is finished and skipped; any other run directory is resumed from
its newest intact checkpoint. Each run ends with a status (see :mod:`nclab.store`):
``finished``, ``diverged`` (training stopped at a non-finite value; the records up to there are
stored; not retried, left out of the results the claims are scored on) or ``failed`` (an
error, or a measure that raised: the records are stored and the measure's error is in the
summary; retried by the next call). A run that another process is writing (its lock held) is
waited for, then skipped if that process finished it or resumed if it died. A damaged run
(files failing their checksums) is trained again, its damaged files set aside.
Records go to the store as long rows: the probe's rows (split ``train``
as is, other splits prefixed, e.g. ``test/accuracy``), the measures' rows, and on layer
``model`` the final decomposition of the objective (``final/loss``, ``final/fit``, ...).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from nclab.store import DONE_STATUSES as DONE  # store statuses a re-run skips
from nclab.store import run_id
from nclab.train import (
    CheckpointError,
    ConfigError,
    TrainConfig,
    apply_overrides,
    build_data,
    latest_checkpoint,
    run,
    to_dict,
)
from nclab.train.config import diff

from .measures import Context
from .spec import SCALES, Experiment, Results, grid_points

MEASURES_FILE = "measures.json"
WAIT_SECONDS = 0.5  # polling interval while another process holds a run's lock
# config keys that may differ between a stored run and a new plan without invalidating it
_UNCHECKED = {"data.data_dir", "device", "threads", "out_dir"}


class PlanError(ValueError):
    """A bad scale, grid key or ``--set`` override (the CLI exits with code 2)."""


# ---- planning --------------------------------------------------------------------------------
@dataclass(frozen=True)
class PlannedRun:
    """One run of a leaf experiment: grid point ``params`` with ``seed``; ``config`` is the
    resolved :class:`TrainConfig` (None for a theory computation)."""

    experiment: Experiment
    scale: str
    params: dict
    seed: int
    config: TrainConfig | None

    @property
    def run_id(self) -> str:
        return run_id(self.params, self.seed)

    def config_dict(self) -> dict:
        if self.config is not None:
            return to_dict(self.config)
        name = getattr(self.experiment.compute, "__qualname__", str(self.experiment.compute))
        return {"compute": name, "params": self.params, "seed": self.seed}


def _is_config_key(key: str) -> bool:
    try:
        apply_overrides(TrainConfig(), [f"{key}=0"])
    except ConfigError as err:
        return not str(err).startswith("unknown config key")
    return True


def _literal(value) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value)


def plan(
    experiment: Experiment,
    scale: str = "smoke",
    *,
    seeds: int | None = None,
    sets: Sequence[str] = (),
    device: str | None = None,
    data_dir: str | None = None,
) -> list[PlannedRun]:
    """Every run of ``experiment`` (all leaves of a composite) at ``scale``.

    ``seeds``: number of seeds (default: the scale's); ``sets``: ``"a.b=value"`` overrides
    applied last (a key the grid sets is an error); ``device``/``data_dir``: config overrides.
    Raises :class:`PlanError` for a skipped experiment, an unknown scale, a grid key that is
    neither a config key nor handled by ``derive``, or a bad override (the message names it).
    """
    if experiment.skipped:
        raise PlanError(f"{experiment.id} is not runnable: {experiment.skipped}")
    if scale not in SCALES:
        raise PlanError(f"unknown scale {scale!r}; use one of {', '.join(SCALES)}")
    if seeds is not None and seeds < 1:
        raise PlanError(f"--seeds must be >= 1, got {seeds}")
    out: list[PlannedRun] = []
    for leaf in experiment.leaves():
        out += _plan_leaf(leaf, scale, seeds, list(sets), device, data_dir)
    return out


def _plan_leaf(exp: Experiment, scale, seeds, sets, device, data_dir) -> list[PlannedRun]:
    if scale not in exp.scales:
        raise PlanError(f"{exp.id} has no scale {scale!r}; it defines {', '.join(exp.scales)}")
    sc = exp.scales[scale]
    n_seeds = sc.seeds if seeds is None else seeds
    points = grid_points(sc.grid)
    if exp.compute is not None:
        if sets:
            raise PlanError(f"{exp.id} is a theory computation: --set does not apply")
        return [PlannedRun(exp, scale, p, s, None) for p in points for s in range(n_seeds)]
    if exp.base is None:
        raise PlanError(f"{exp.id} has nothing to run (no base config, no compute)")
    set_keys = {item.split("=", 1)[0].strip() for item in sets}
    try:
        scaled = apply_overrides(exp.base, list(sc.overrides))
    except ConfigError as err:
        raise PlanError(f"{exp.id} ({scale}): {err}") from None
    runs = []
    for point in points:
        direct = [f"{k}={_literal(v)}" for k, v in point.items() if _is_config_key(k)]
        derived = list(exp.derive(point, scaled)) if exp.derive is not None else []
        unhandled = [k for k in point if not _is_config_key(k)]
        if unhandled and exp.derive is None:
            raise PlanError(f"{exp.id}: grid keys {unhandled} are not config keys and the "
                            "experiment has no derive() to handle them")
        grid_keys = {o.split("=", 1)[0] for o in direct + derived}
        clash = sorted(set_keys & grid_keys)
        if clash:
            raise PlanError(f"--set {', '.join(clash)}: set by the grid of {exp.id} "
                            f"({scale} scale); choose another key or edit the grid")
        for seed in range(n_seeds):
            items = [*sc.overrides, *direct, *derived, *sets, f"seed={seed}"]
            if device is not None:
                items.append(f"device={device}")
            if data_dir is not None:
                items.append(f"data.data_dir={data_dir}")
            try:
                cfg = apply_overrides(exp.base, items)
            except ConfigError as err:
                raise PlanError(f"{exp.id} ({scale}): {err}") from None
            runs.append(PlannedRun(exp, scale, point, seed, cfg))
    return runs


# ---- progress --------------------------------------------------------------------------------
class Progress:
    """Callbacks of :func:`run_experiment` (the default does nothing; the CLI draws a bar)."""

    def start(self, runs: list[PlannedRun], done: list[bool]) -> None:
        """Before the first run: the plan and which runs are already finished."""

    def run_start(self, index: int, prun: PlannedRun, resumed_at: int | None) -> None:
        """Run ``index`` (0-based) begins (``resumed_at``: the step it resumes from)."""

    def step(self, index: int, step: int, total: int, loss: float) -> None:
        """Run ``index`` has reached ``step`` of ``total`` (batch loss ``loss``)."""

    def run_end(self, index: int, prun: PlannedRun, outcome: RunOutcome) -> None:
        """Run ``index`` ended (finished, failed, skipped)."""

    def close(self) -> None:
        """After the last run (also after an interruption)."""


@dataclass
class RunOutcome:
    """What happened to one planned run. ``status``: ``"finished"``, ``"diverged"`` (trained,
    stopped at a non-finite value), ``"skipped"`` (already done: ``stored`` says finished or
    diverged), ``"failed"`` (an error; the run will be retried), ``"interrupted"`` or
    ``"busy"`` (another process holds its lock; :func:`run_experiments` waits for it)."""

    run_id: str
    experiment: str
    status: str
    seconds: float = 0.0
    summary: dict = field(default_factory=dict)
    error: str = ""
    path: str = ""
    stored: str = ""  # the run's status in the store after this call

    def __post_init__(self):
        if not self.stored and self.status in ("finished", "diverged", "failed"):
            self.stored = self.status


@dataclass
class ExperimentOutcome:
    """All runs of one call of :func:`run_experiment`; ``interrupted`` after Ctrl-C."""

    experiment: Experiment
    scale: str
    runs: list[RunOutcome]
    interrupted: bool = False
    seconds: float = 0.0

    @property
    def failed(self) -> list[RunOutcome]:
        return [r for r in self.runs if r.status == "failed"]

    @property
    def diverged(self) -> list[RunOutcome]:
        """Runs stored as diverged (trained now or earlier)."""
        return [r for r in self.runs if r.stored == "diverged"]


# ---- execution -------------------------------------------------------------------------------
def run_experiment(
    experiment: Experiment,
    store,
    scale: str = "smoke",
    *,
    seeds: int | None = None,
    sets: Sequence[str] = (),
    device: str | None = None,
    data_dir: str | None = None,
    progress: Progress | None = None,
    chunk_seconds: float = 2.0,
    overwrite: bool = False,
    jobs: int = 1,
    executor: Executor | None = None,
) -> ExperimentOutcome:
    """Plan and execute every run of ``experiment`` at ``scale`` into ``store``.

    Finished runs are skipped (a finished run whose stored config differs from the planned
    one is an error: use another store root or ``overwrite=True``); unfinished ones resume from
    their newest checkpoint. ``chunk_seconds``: target wall time between checkpoints / progress
    updates. Ctrl-C stops after writing nothing partial (the interrupted run stays unfinished
    and resumes next time) and returns with ``interrupted=True``. An error in one run marks it
    failed and the next run goes on. ``jobs > 1``: that many runs at once in worker processes
    (registered experiments only; each run keeps its own thread setting). ``executor``: runs
    the pending runs instead (see :data:`Executor`; ``nclab.sweep`` has the vectorised, Ray
    and Slurm ones); ``jobs`` is then ignored.
    """
    return run_experiments([(experiment, scale)], store, seeds=seeds, sets=sets, device=device,
                           data_dir=data_dir, progress=progress, chunk_seconds=chunk_seconds,
                           overwrite=overwrite, jobs=jobs, executor=executor)[0]


def run_experiments(
    items: Sequence[tuple[Experiment, str]],
    store,
    *,
    seeds: int | None = None,
    sets: Sequence[str] = (),
    device: str | None = None,
    data_dir: str | None = None,
    progress: Progress | None = None,
    chunk_seconds: float = 2.0,
    overwrite: bool = False,
    jobs: int = 1,
    executor: Executor | None = None,
) -> list[ExperimentOutcome]:
    """:func:`run_experiment` for several ``(experiment, scale)`` pairs at once: one plan, one
    progress display and, with ``jobs > 1``, one pool of workers for all their runs (so that no
    worker idles between experiments). Returns one outcome per pair."""
    runs: list[PlannedRun] = []
    owner: list[int] = []
    for k, (experiment, scale) in enumerate(items):
        got = plan(experiment, scale, seeds=seeds, sets=sets, device=device, data_dir=data_dir)
        runs += got
        owner += [k] * len(got)
    progress = progress or Progress()
    t0 = time.perf_counter()
    done = []
    for prun in runs:
        status = store.status(prun.experiment.id, prun.scale, prun.run_id)
        if status in DONE and not overwrite:
            _check_same_config(store, prun)
        done.append(status in DONE and not overwrite)
    outcomes: dict[int, RunOutcome] = {}
    interrupted = False
    progress.start(runs, done)
    pending = [i for i, d in enumerate(done) if not d]
    try:
        if executor is not None:
            for i, prun in enumerate(runs):
                if done[i]:
                    outcomes[i] = skipped_outcome(store, prun)
                    progress.run_end(i, prun, outcomes[i])
            if pending:  # the executor fills ``outcomes`` as runs end (kept on Ctrl-C)
                executor(runs, pending, store, progress,
                         Options(seeds, tuple(sets), device, data_dir, chunk_seconds, overwrite),
                         outcomes)
        elif jobs > 1 and len(pending) > 1 and registered(runs):
            _run_parallel(runs, done, store, progress, jobs, chunk_seconds, overwrite, sets,
                          device, data_dir, seeds, outcomes)
        else:
            for i, prun in enumerate(runs):
                if done[i]:
                    out = skipped_outcome(store, prun)
                else:
                    out = execute(prun, store, progress=progress, index=i,
                                  chunk_seconds=chunk_seconds, overwrite=overwrite)
                outcomes[i] = out
                progress.run_end(i, prun, out)
        _wait_for_busy(runs, store, progress, outcomes, chunk_seconds)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        progress.close()
    seconds = time.perf_counter() - t0
    return [ExperimentOutcome(experiment, scale,
                              [outcomes[i] for i in sorted(outcomes) if owner[i] == k],
                              interrupted, seconds)
            for k, (experiment, scale) in enumerate(items)]


def skipped_outcome(store, prun: PlannedRun) -> RunOutcome:
    """The outcome of a run that was already done (finished or diverged)."""
    return RunOutcome(prun.run_id, prun.experiment.id, "skipped", path=str(_run_dir(store, prun)),
                      stored=store.status(prun.experiment.id, prun.scale, prun.run_id))


def _wait_for_busy(runs, store, progress: Progress, outcomes: dict, chunk_seconds: float) -> None:
    """Runs found ``busy`` (another process holds their lock): wait until it lets go, then
    execute them here (skipped if that process finished them, resumed if it died)."""
    for i in sorted(i for i, o in outcomes.items() if o.status == "busy"):
        prun = runs[i]
        while store.status(prun.experiment.id, prun.scale, prun.run_id) == "running":
            time.sleep(WAIT_SECONDS)
        outcomes[i] = execute(prun, store, progress=progress, index=i,
                              chunk_seconds=chunk_seconds)
        progress.run_end(i, prun, outcomes[i])


@dataclass(frozen=True)
class Options:
    """The planning and execution options of a :func:`run_experiments` call, as an executor
    needs them to re-plan a run in another process (:func:`replan`)."""

    seeds: int | None = None
    sets: tuple[str, ...] = ()
    device: str | None = None
    data_dir: str | None = None
    chunk_seconds: float = 2.0
    overwrite: bool = False


# executor(runs, pending indices, store, progress, options, outcomes) executes the pending runs,
# storing each one's RunOutcome in ``outcomes[index]`` as soon as it ends (so that what ended
# before a Ctrl-C is kept); it calls progress.run_start / step / run_end and lets
# KeyboardInterrupt propagate.
Executor = Callable[[list[PlannedRun], list[int], Any, Progress, Options, dict], None]


def replan(experiment_id: str, scale: str, run_id_: str, options: Options) -> PlannedRun:
    """The planned run ``run_id_`` of a registered experiment, planned again from its id (how a
    worker process or a remote task gets its run: only ids and options travel)."""
    from .registry import get

    runs = plan(get(experiment_id), scale, seeds=options.seeds, sets=options.sets,
                device=options.device, data_dir=options.data_dir)
    for r in runs:
        if r.run_id == run_id_:
            return r
    raise PlanError(f"{experiment_id} ({scale}) has no run {run_id_!r}")


def registered(runs: list[PlannedRun]) -> bool:
    """Whether every run's experiment is the registered one of its id (so it can be
    re-planned elsewhere with :func:`replan`)."""
    from .registry import UnknownExperiment, get

    try:
        return all(get(r.experiment.id) is r.experiment for r in runs)
    except UnknownExperiment:
        return False


class QueueProgress(Progress):
    """Forwards ``run_start`` and ``step`` calls from a worker process to the parent (which
    replays them with :func:`drain_progress`)."""

    def __init__(self, queue):
        self.queue = queue

    def step(self, index: int, step: int, total: int, loss: float) -> None:
        self.queue.put(("step", index, step, total, loss))

    def run_start(self, index: int, prun: PlannedRun, resumed_at: int | None) -> None:
        self.queue.put(("start", index, resumed_at))


def _worker(payload, queue) -> dict[int, RunOutcome]:
    experiment_id, scale, run_id_, index, store, options = payload
    prun = replan(experiment_id, scale, run_id_, options)
    try:
        out = execute(prun, store, progress=QueueProgress(queue), index=index,
                      chunk_seconds=options.chunk_seconds, overwrite=options.overwrite)
    except KeyboardInterrupt:
        out = RunOutcome(prun.run_id, prun.experiment.id, "interrupted")
    return {index: out}


def _run_parallel(runs, done, store, progress, jobs, chunk_seconds, overwrite, sets, device,
                  data_dir, seeds, outcomes: dict[int, RunOutcome]) -> None:
    for i, prun in enumerate(runs):
        if done[i]:
            outcomes[i] = skipped_outcome(store, prun)
            progress.run_end(i, prun, outcomes[i])
    options = Options(seeds, tuple(sets), device, data_dir, chunk_seconds, overwrite)
    tasks = [([i], (runs[i].experiment.id, runs[i].scale, runs[i].run_id, i, store, options))
             for i in range(len(runs)) if not done[i]]
    run_pool(tasks, _worker, runs, progress, jobs, outcomes)


def run_pool(tasks: list[tuple[list[int], Any]], worker, runs: list[PlannedRun],
             progress: Progress, jobs: int,
             outcomes: dict[int, RunOutcome] | None = None) -> dict[int, RunOutcome]:
    """Execute ``tasks`` (``(run indices, payload)``) in ``jobs`` worker processes (spawned).

    ``worker(payload, queue)``, a module-level function, returns ``{index: RunOutcome}`` and
    reports progress through a :class:`QueueProgress` on ``queue``. The most expensive tasks
    (by the scales' estimated CPU minutes) start first, so that no worker idles at the end.
    A crashed worker fails its runs; an ``"interrupted"`` outcome (Ctrl-C) stops the pool and
    raises ``KeyboardInterrupt``. Outcomes go into ``outcomes`` (returned) as tasks end."""
    import multiprocessing as mp
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    def cost(task):
        total = 0.0
        for i in task[0]:
            sc = runs[i].experiment.scales.get(runs[i].scale)
            n = sum(r.experiment is runs[i].experiment for r in runs)
            total += (sc.est_cpu_minutes or 0.0) / max(n, 1) if sc is not None else 0.0
        return -total

    outcomes = {} if outcomes is None else outcomes
    ctx = mp.get_context("spawn")
    manager = ctx.Manager()
    q = manager.Queue()
    pool = ProcessPoolExecutor(max_workers=jobs, mp_context=ctx)
    try:
        futures = {pool.submit(worker, payload, q): indices
                   for indices, payload in sorted(tasks, key=cost)}
        remaining = set(futures)
        while remaining:
            finished, remaining = wait(remaining, timeout=0.2, return_when=FIRST_COMPLETED)
            drain_progress(q, progress, runs)
            for fut in finished:
                try:
                    got = fut.result()
                except Exception as err:  # noqa: BLE001 -- a crashed worker: its runs failed
                    got = {i: RunOutcome(runs[i].run_id, runs[i].experiment.id, "failed",
                                         error=f"{type(err).__name__}: {err}")
                           for i in futures[fut]}
                for i, out in got.items():
                    outcomes[i] = out
                    progress.run_end(i, runs[i], out)
                if any(out.status == "interrupted" for out in got.values()):
                    raise KeyboardInterrupt
        drain_progress(q, progress, runs)
    except KeyboardInterrupt:
        pool.shutdown(wait=False, cancel_futures=True)
        manager.shutdown()
        raise
    pool.shutdown()
    manager.shutdown()
    return outcomes


def drain_progress(q, progress: Progress, runs: list[PlannedRun]) -> None:
    """Replay the messages a :class:`QueueProgress` has queued so far on ``progress``."""
    import queue as queue_mod

    while True:
        try:
            msg = q.get_nowait()
        except (queue_mod.Empty, EOFError, OSError):
            return
        if msg[0] == "step":
            progress.step(*msg[1:])
        elif msg[0] == "start":
            progress.run_start(msg[1], runs[msg[1]], msg[2])


def _run_dir(store, prun: PlannedRun) -> Path:
    return store.run_dir(prun.experiment.id, prun.scale, prun.run_id)


def _stored_config(store, prun: PlannedRun) -> dict | None:
    config = store.inspect(prun.experiment.id, prun.scale, prun.run_id).config
    return None if config is None else config.get("config")


def _config_changes(stored: dict | None, prun: PlannedRun) -> list[str]:
    if stored is None:
        return []
    if prun.config is None:
        return [] if stored == prun.config_dict() else ["compute"]
    from nclab.train import from_dict

    try:
        old = from_dict(stored)
    except (ConfigError, TypeError, ValueError):
        return ["<unreadable stored config>"]
    return [k for k in diff(old, prun.config) if k not in _UNCHECKED]


def _check_same_config(store, prun: PlannedRun) -> None:
    changed = _config_changes(_stored_config(store, prun), prun)
    if changed:
        raise PlanError(
            f"run {prun.experiment.id}/{prun.scale}/{prun.run_id} is finished with a different "
            f"config (differs in {changed}); use another --out directory or --overwrite"
        )


def open_run(prun: PlannedRun, store, overwrite: bool = False):
    """``store.start_run`` for a planned run; an unfinished run of another config loses its
    checkpoints (it starts afresh). ``FileExistsError`` if it is done (and not
    ``overwrite``), ``RunBusy`` if another process holds it."""
    exp = prun.experiment
    stored = _stored_config(store, prun)
    handle = store.start_run(exp.id, prun.scale, prun.params, prun.seed, prun.config_dict(),
                             run_id=prun.run_id, overwrite=overwrite)
    if _config_changes(stored, prun) and handle.train_dir.exists():
        shutil.rmtree(handle.train_dir)
    return handle


def sealed_status(summary: dict) -> str:
    """The store status of a run that ended with ``summary``: ``failed`` when it holds an
    ``"error"`` (e.g. a measure raised), ``diverged`` when training diverged, else
    ``finished``."""
    if summary.get("error"):
        return "failed"
    return "diverged" if summary.get("diverged") else "finished"


def execute(prun: PlannedRun, store, *, progress: Progress | None = None, index: int = 0,
            chunk_seconds: float = 2.0, overwrite: bool = False) -> RunOutcome:
    """Run (or resume) one planned run into ``store`` and finish it; returns its outcome.

    ``KeyboardInterrupt`` propagates (the run stays unfinished, its checkpoints kept)."""
    progress = progress or Progress()
    exp = prun.experiment
    t0 = time.perf_counter()
    try:
        handle = open_run(prun, store, overwrite)
    except FileExistsError:  # done by another process since the plan was made
        return skipped_outcome(store, prun)
    except BlockingIOError as err:  # nclab.store.RunBusy: another process holds the run
        return RunOutcome(prun.run_id, exp.id, "busy", error=str(err),
                          path=str(_run_dir(store, prun)))
    try:
        if prun.config is None:
            progress.run_start(index, prun, None)
            rows = [dict(r, step=int(r.get("step", 0)))
                    for r in exp.compute(params=dict(prun.params), seed=prun.seed)]
            progress.step(index, 1, 1, math.nan)
            handle.write_metrics(rows)
            summary = {"kind": exp.kind, "rows": len(rows),
                       "seconds": time.perf_counter() - t0}
        else:
            rows, summary = _train(prun, handle, progress, index, chunk_seconds)
            handle.write_metrics(rows)
        status = sealed_status(summary)
        handle.finish(summary, status=status)
    except KeyboardInterrupt:
        handle.release()  # the run is interrupted: a re-run resumes it
        raise
    except Exception as err:  # noqa: BLE001 -- the run is marked failed, the grid goes on
        reason = f"{type(err).__name__}: {err}"
        handle.fail(reason)
        return RunOutcome(prun.run_id, exp.id, "failed", time.perf_counter() - t0,
                          error=reason, path=str(handle.dir))
    finally:
        handle.release()
    return RunOutcome(prun.run_id, exp.id, status, time.perf_counter() - t0, summary,
                      error=summary.get("error", ""), path=str(handle.dir))


def measure_steps(exp: Experiment, total: int) -> dict[int, list]:
    steps: dict[int, list] = {}
    for m in exp.measures:
        for a in m.at:
            steps.setdefault(int(round(a * total)), []).append(m)
    return steps


def _measured_digest(measured: dict) -> str:
    text = json.dumps(measured, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def _load_measured(path: Path) -> dict[int, list[dict]]:
    """The measures saved so far (``{step: rows}``), checked against their sha256."""
    if not path.is_file():
        return {}
    try:
        saved = json.loads(path.read_text())
        if "sha256" in saved:  # (files of earlier versions hold the bare mapping)
            if _measured_digest(saved["measured"]) != saved["sha256"]:
                raise ValueError("checksum mismatch (truncated or altered)")
            saved = saved["measured"]
        return {int(k): list(v) for k, v in saved.items()}
    except (ValueError, TypeError, AttributeError, KeyError, UnicodeDecodeError) as err:
        raise CheckpointError(f"{path}: unreadable ({err})") from None


def take_measures(measures, take, errors: dict, step: int) -> list[dict]:
    """``take(measure)`` -> rows for each measure; a measure that raises adds its error to
    ``errors[step]`` (the other measures and the run's records are kept)."""
    rows = []
    for m in measures:
        try:
            rows += take(m)
        except Exception as err:  # noqa: BLE001 -- recorded; the run is stored as failed
            errors.setdefault(step, []).append(f"measure {m.name!r}: {type(err).__name__}: "
                                               f"{err}")
    return rows


def measure_error_summary(errors: dict) -> dict:
    """The summary keys of measures that raised (``{step: [errors]}``): ``measure_errors``
    and ``error`` (so the run is stored as failed, its records kept)."""
    if not errors:
        return {}
    first = errors[min(errors)][0]
    n = sum(len(v) for v in errors.values())
    return {"measure_errors": {str(k): v for k, v in sorted(errors.items())},
            "error": f"{n} measure(s) raised; first, at step {min(errors)}: {first}"}


def _save_measured(path: Path, measured: dict[int, list[dict]]) -> None:
    body = json.loads(json.dumps({str(k): v for k, v in sorted(measured.items())}))
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps({"measured": body, "sha256": _measured_digest(body)}))
    tmp.replace(path)


def total_steps_of(cfg: TrainConfig, splits) -> int:
    from nclab.train import make_sampler
    from nclab.train.optim import total_steps

    sampler = make_sampler(cfg.optim, splits.train.y, splits.train.K, cfg.seed)
    return total_steps(cfg.optim, sampler.steps_per_epoch)


def _train(prun: PlannedRun, handle, progress: Progress, index: int, chunk_seconds: float):
    """Chunked training with checkpoints, measures and progress; returns (rows, summary).

    The first chunk is a tenth of the run (or up to the first measure); later chunks are
    sized to take about ``chunk_seconds`` each. Damaged trainer files (no intact checkpoint,
    an unreadable ``measures.json`` or trainer config) or measures that cannot be taken any
    more (a resume past a step whose measures were never saved, e.g. because one raised) set
    ``train/`` aside (``train.set-aside-<UTC time>``) and train afresh (``"restarted"`` in the
    summary says why): training is deterministic, so no number changes."""
    try:
        return _train_chunks(prun, handle, progress, index, chunk_seconds)
    except CheckpointError as err:  # damaged trainer files, lost measures: train afresh
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
        aside = handle.train_dir.with_name(f"{handle.train_dir.name}.set-aside-{stamp}")
        handle.train_dir.rename(aside)
        rows, summary = _train_chunks(prun, handle, progress, index, chunk_seconds)
        summary["restarted"] = f"{err}; trained afresh, the old files kept in {aside}"
        return rows, summary


def _train_chunks(prun: PlannedRun, handle, progress: Progress, index: int,
                  chunk_seconds: float):
    cfg, exp = prun.config, prun.experiment
    out_dir = handle.train_dir
    resumed_at = None
    latest = latest_checkpoint(out_dir)
    if latest is not None:
        resumed_at = int(latest.name.split("_")[-1])
    progress.run_start(index, prun, resumed_at)
    measured_path = out_dir / MEASURES_FILE
    measured = _load_measured(measured_path)
    errors: dict[int, list[str]] = {}
    splits = build_data(cfg)
    total = total_steps_of(cfg, splits)
    wanted = measure_steps(exp, total)
    step = resumed_at or 0
    lost = [s for s in wanted if s < step and s not in measured]
    if lost:  # interrupted before they were saved, or a measure raised: recompute them
        raise CheckpointError(f"measures at steps {sorted(lost)} were not taken")
    progress.step(index, step, total, math.nan)

    t_start = time.perf_counter()
    chunk = max(1, total // 10)
    per_step = None
    def due(s):
        return s in wanted and s not in measured and s not in errors

    while True:
        if due(step) or step >= total:
            target = step  # load the model here (no training) to measure / to finish
        else:
            later = [s for s in wanted if s > step and due(s)]
            target = min([total, step + chunk, *later])
        t = time.perf_counter()
        result = run(cfg, out_dir=out_dir, resume=True, max_steps=target)
        if result.steps > step:
            rate = (time.perf_counter() - t) / (result.steps - step)
            per_step = rate if per_step is None else 0.5 * per_step + 0.5 * rate
            chunk = int(min(max(chunk_seconds / per_step, 1), total))
        step = result.steps
        progress.step(index, step, total,
                      float(result.loss_trace[-1]) if len(result.loss_trace) else math.nan)
        if due(step) and not result.diverged:
            rows = take_measures(
                wanted[step], lambda m, r=result, s=step: measure_rows(
                    prun, r.model, splits, s, total, [m], r.final_metrics, r.loss_parts),
                errors, step)
            measured[step] = rows  # the measures that worked are stored with the run
            if step not in errors:  # a resume re-takes (from scratch) the incomplete steps
                _save_measured(measured_path,
                               {k: v for k, v in measured.items() if k not in errors})
        if step >= total or result.diverged:
            break

    rows = run_rows(prun, result, measured)
    summary = train_summary(prun, result, step, total, time.perf_counter() - t_start, resumed_at,
                            **measure_error_summary(errors))
    return rows, summary


def layer_names(prun: PlannedRun) -> dict:
    """The experiment's renaming of the probe's layers for this run's config."""
    exp = prun.experiment
    return dict(exp.layer_names(prun.config)) if exp.layer_names is not None else {}


def run_rows(prun: PlannedRun, result, measured: dict[int, list[dict]]) -> list[dict]:
    """A finished training run's store rows: the probe's records, the measures taken
    (``{step: rows}``) and on layer ``model`` the final objective (``final/loss``...)."""
    rows = _records(result.records, layer_names(prun))
    for s, mrows in sorted(measured.items()):
        rows += [dict(r, step=s) for r in mrows]
    rows += [{"step": result.steps, "layer": "model", "metric": f"final/{k}", "value": float(v)}
             for k, v in (result.loss_parts or {}).items()]
    return rows


def train_summary(prun: PlannedRun, result, step: int, total: int, seconds: float,
                  resumed_at: int | None, **extra) -> dict:
    """The ``summary.json`` body of a finished training run."""
    return {
        "kind": "train",
        "steps": step,
        "total_steps": total,
        "diverged": result.diverged,
        "divergence": result.divergence,
        "loss_preset": result.loss_preset,
        "loss_parts": result.loss_parts,
        "resumed_at": resumed_at,
        "seconds": seconds,
        "final": _final_by_layer(result.final_metrics, layer_names(prun)),
        **extra,
    }


def measure_rows(prun: PlannedRun, model, splits, step: int, total: int, measures,
                 final_metrics: dict, loss_parts: dict | None) -> list[dict]:
    """Rows ``{"layer", "metric", "value"}`` of ``measures`` on ``model`` at ``step``."""
    ctx = Context(
        model=model, config=prun.config, train=splits.train, test=splits.test,
        step=step, total=total, params=dict(prun.params), seed=prun.seed,
        final_metrics=final_metrics, loss_parts=loss_parts or {}, names=layer_names(prun),
    )
    rows = []
    for m in measures:
        for r in m.fn(ctx):
            layer = f"{r['layer']}@{step}" if m.tag_step else r["layer"]
            rows.append({"layer": layer, "metric": r["metric"], "value": float(r["value"])})
    return rows


def _records(records: list[dict], names: dict | None = None) -> list[dict]:
    """The probe's rows as store rows: the split folded into the metric (``test/accuracy``),
    layers renamed by ``names`` (weight rows, metrics ``w_*``, through ``"w:<layer>"``)."""
    names = names or {}
    out = []
    for r in records:
        metric = r["metric"] if r["split"] == "train" else f"{r['split']}/{r['metric']}"
        layer = r["layer"]
        key = f"w:{layer}" if r["metric"].startswith("w_") else layer
        out.append({"step": r["step"], "layer": names.get(key, layer), "metric": metric,
                    "value": r["value"]})
    return out


def _final_by_layer(final: dict, names: dict | None = None) -> dict:
    names = names or {}
    out: dict[str, dict] = {}
    for (split, layer, metric), value in sorted(final.items()):
        name = metric if split == "train" else f"{split}/{metric}"
        key = f"w:{layer}" if metric.startswith("w_") else layer
        v = float(value)
        out.setdefault(names.get(key, layer), {})[name] = v if math.isfinite(v) else str(v)
    return out


# ---- results and claims ----------------------------------------------------------------------
def mean_final(results: Results, metric: str, layer: str) -> float:
    """Mean over runs of the final ``metric`` of ``layer`` (NaN when absent)."""
    v = results.final(metric, layer)
    return float(np.mean(v)) if v.size else math.nan


def replace_scale(experiment: Experiment, scale: str, **changes) -> Experiment:
    """A copy of ``experiment`` whose ``scale`` has some fields changed (tests, ablations)."""
    scales = dict(experiment.scales)
    scales[scale] = dataclasses.replace(scales[scale], **changes)
    return dataclasses.replace(experiment, scales=scales)


ProgressFactory = Callable[[], Progress]
