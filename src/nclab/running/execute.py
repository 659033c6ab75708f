"""Execute planned runs into a store: one path for a single run and a group of any size.

A *work unit* is a list of planned runs executed together: the training runs of a unit are one
:func:`nclab.train.run_group` (a run alone is a group of one). Runs are grouped only where that
gives the numbers of the run alone, bit for bit (:func:`nclab.train.exact_grouping`: the DUFM /
MLP families on one CPU thread); the others train alone. A theory computation is a unit of its
own. Every training run of a unit

- resumes from its newest intact checkpoint in ``<run>/train`` (checkpoints about every
  ``chunk_seconds``, so an interruption loses at most that much), its measures taken so far
  read back from ``measures.json``;
- takes the experiment's measures at their steps (a measure that raises is recorded, the run
  stored ``failed`` with its records kept);
- ends with a status (see :mod:`nclab.store`): ``finished``, ``diverged`` (stored with the
  parameters of its last probe; not retried) or ``failed`` (retried by the next call).

A run finished meanwhile by another process is skipped, one that another process holds is
``"busy"``. Damaged trainer files (no intact checkpoint, an unreadable ``measures.json`` or
trainer config, a checkpoint of an older trainer) or measures that can no longer be taken set
``train/`` aside (``train.set-aside-<UTC time>``) and train afresh: training is deterministic,
so no number changes (``"restarted"`` in the summary says why).
"""

from __future__ import annotations

import math
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from nclab.experiments.spec import Experiment
from nclab.train import (
    CheckpointError,
    ConfigError,
    build_data,
    exact_grouping,
    from_dict,
    group_compatible,
    make_sampler,
    run_group,
)
from nclab.train.checkpoint import list_checkpoints
from nclab.train.config import diff
from nclab.train.optim import total_steps

from .plan import Options, PlanError, PlannedRun
from .progress import Progress
from .records import (
    MEASURES_FILE,
    load_measured,
    measure_error_summary,
    measure_rows,
    measure_steps,
    run_rows,
    save_measured,
    sealed_status,
    take_measures,
    train_summary,
)

DEFAULT_MAX_REPLICAS = 32
# config keys that may differ between a stored run and a new plan without invalidating it
_UNCHECKED = {"data.data_dir", "device", "threads", "out_dir"}


@dataclass
class RunOutcome:
    """What happened to one planned run. ``status``: ``"finished"``, ``"diverged"`` (trained,
    stopped at a non-finite value), ``"skipped"`` (already done: ``stored`` says finished or
    diverged), ``"copied"`` (the identical run of another experiment of the plan was stored
    for it: ``stored`` says finished or diverged), ``"failed"`` (an error; the run will be
    retried), ``"interrupted"`` or ``"busy"`` (another process holds its lock, or made the
    identical run it was to copy: it is waited for, then made here)."""

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
    """All runs of one experiment in a call of :func:`~nclab.running.run_experiments`;
    ``interrupted`` after Ctrl-C."""

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


# ---- work units ------------------------------------------------------------------------------
def work_units(runs: Sequence[PlannedRun], pending: Sequence[int], *, vmap: bool = True,
               max_replicas: int | None = DEFAULT_MAX_REPLICAS) -> list[list[int]]:
    """Partition the ``pending`` indices of ``runs`` into work units (lists of indices).

    With ``vmap``, training runs whose configs may share a batched run form groups of at most
    ``max_replicas``, but only where grouping is exact (:func:`nclab.train.exact_grouping`: the
    numbers of a run never depend on its group); every other run (and every theory computation)
    is a unit of its own. Units keep the plan order of their first member."""
    if not vmap:
        return [[i] for i in pending]
    train = [i for i in pending
             if runs[i].config is not None and exact_grouping(runs[i].config) is None]
    groups = group_compatible([runs[i].config for i in train], max_replicas=max_replicas)
    units = [[train[j] for j in g] for g in groups]
    units += [[i] for i in pending if i not in set(train)]
    return sorted(units, key=lambda u: u[0])


def spread_units(units: list[list[int]], workers: int) -> list[list[int]]:
    """Split the largest groups in halves until there are at least ``workers`` units (or only
    single runs): with fewer units than worker processes, parallel processes beat one wide
    batched group (a group of S wide MLPs is not S times faster on one core)."""
    units = [list(u) for u in units]
    while len(units) < workers:
        big = max(range(len(units)), key=lambda k: len(units[k]), default=None)
        if big is None or len(units[big]) < 2:
            break
        u = units.pop(big)
        half = (len(u) + 1) // 2
        units += [u[:half], u[half:]]
    return sorted(units, key=lambda u: u[0])


def execute_unit(runs: Sequence[PlannedRun], indices: Sequence[int], store,
                 progress: Progress | None = None, *, options: Options | None = None,
                 compile: bool = False, outcomes: dict | None = None) -> dict[int, RunOutcome]:
    """Execute one work unit into ``store``; ``{index: outcome}`` (also put into ``outcomes``
    as runs end). ``KeyboardInterrupt`` propagates with the runs unfinished (they resume)."""
    progress = progress or Progress()
    options = options or Options()
    out: dict[int, RunOutcome] = {} if outcomes is None else outcomes
    todo = []
    for prun, i in zip(runs, indices, strict=True):
        if not options.overwrite and store.is_done(prun.experiment.id, prun.scale, prun.run_id):
            out[i] = skipped_outcome(store, prun)
            progress.run_end(i, prun, out[i])
        elif prun.config is None:
            out[i] = execute_compute(prun, store, progress, i, options.overwrite)
            progress.run_end(i, prun, out[i])
        else:
            todo.append((prun, i))
    if todo:
        done = execute_group([p for p, _ in todo], store, progress, [i for _, i in todo],
                             overwrite=options.overwrite, compile=compile,
                             chunk_seconds=options.chunk_seconds)
        for prun, i in todo:
            out[i] = done[i]
            progress.run_end(i, prun, done[i])
    return {i: out[i] for i in indices}


# ---- opening runs ----------------------------------------------------------------------------
def skipped_outcome(store, prun: PlannedRun) -> RunOutcome:
    """The outcome of a run that was already done (finished or diverged)."""
    return RunOutcome(prun.run_id, prun.experiment.id, "skipped", path=str(_run_dir(store, prun)),
                      stored=store.status(prun.experiment.id, prun.scale, prun.run_id))


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
    try:
        old = from_dict(stored)
    except (ConfigError, TypeError, ValueError):
        return ["<unreadable stored config>"]
    return [k for k in diff(old, prun.config) if k not in _UNCHECKED]


def check_same_config(store, prun: PlannedRun) -> None:
    """A done run must have been made with the planned config (PlanError otherwise)."""
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


def _open(prun: PlannedRun, store, overwrite: bool):
    """``(handle, None)`` or ``(None, outcome)`` for a run that is done or busy."""
    try:
        return open_run(prun, store, overwrite), None
    except FileExistsError:  # done by another process since the plan was made
        return None, skipped_outcome(store, prun)
    except BlockingIOError as err:  # nclab.store.RunBusy: another process holds the run
        return None, RunOutcome(prun.run_id, prun.experiment.id, "busy", error=str(err),
                                path=str(_run_dir(store, prun)))


def _fail(handle, prun: PlannedRun, err: Exception, seconds: float) -> RunOutcome:
    reason = f"{type(err).__name__}: {err}"
    try:
        handle.fail(reason)
    except (OSError, ValueError):
        pass  # already closed or unwritable: the run stays unfinished, which is also safe
    finally:
        handle.release()
    return RunOutcome(prun.run_id, prun.experiment.id, "failed", seconds, error=reason,
                      path=str(handle.dir))


def _seal(handle, prun: PlannedRun, rows: list[dict], summary: dict, seconds: float):
    """Write a run's rows and summary, release it; its outcome."""
    try:
        handle.write_metrics(rows)
        status = sealed_status(summary)
        handle.finish(summary, status=status)
    except Exception as err:  # noqa: BLE001 -- this run failed; the others are stored
        return _fail(handle, prun, err, seconds)
    finally:
        handle.release()
    return RunOutcome(prun.run_id, prun.experiment.id, status, seconds, summary,
                      error=summary.get("error", ""), path=str(handle.dir))


# ---- theory computations ---------------------------------------------------------------------
def execute_compute(prun: PlannedRun, store, progress: Progress, index: int,
                    overwrite: bool = False) -> RunOutcome:
    """Run one theory computation (``Experiment.compute``) into ``store``."""
    t0 = time.perf_counter()
    handle, done = _open(prun, store, overwrite)
    if done is not None:
        return done
    try:
        progress.run_start(index, prun, None)
        rows = [dict(r, step=int(r.get("step", 0)))
                for r in prun.experiment.compute(params=dict(prun.params), seed=prun.seed)]
        progress.step(index, 1, 1, math.nan)
    except KeyboardInterrupt:
        handle.release()
        raise
    except Exception as err:  # noqa: BLE001 -- the run is marked failed, the grid goes on
        return _fail(handle, prun, err, time.perf_counter() - t0)
    summary = {"kind": prun.experiment.kind, "rows": len(rows),
               "seconds": time.perf_counter() - t0}
    return _seal(handle, prun, rows, summary, time.perf_counter() - t0)


# ---- training --------------------------------------------------------------------------------
def execute_group(runs: Sequence[PlannedRun], store, progress: Progress, indices: Sequence[int],
                  *, overwrite: bool = False, compile: bool = False,
                  chunk_seconds: float = 2.0) -> dict[int, RunOutcome]:
    """Train compatible runs (any number, one included) as one group and store each;
    ``{index: outcome}``. An error in training fails every run of the group, an error in
    storing one run fails that run (they are retried next time). ``summary["seconds"]`` is the
    group's wall time divided by its size (``"group_seconds"``: the whole, ``"group_size"``)."""
    t0 = time.perf_counter()
    out: dict[int, RunOutcome] = {}
    live: list[tuple[int, PlannedRun, object]] = []
    for i, p in zip(indices, runs, strict=True):
        handle, done = _open(p, store, overwrite)
        if done is not None:
            out[i] = done
        else:
            live.append((i, p, handle))
    if not live:
        return out
    try:
        try:
            trained = _train(live, progress, compile, chunk_seconds)
        except CheckpointError as err:  # damaged trainer files: set aside, train afresh
            restarted = [_set_aside(h, err) for _, _, h in live]
            trained = _train(live, progress, compile, chunk_seconds)
            for (_, summary), why in zip(trained, restarted, strict=True):
                if why:
                    summary["restarted"] = why
    except Exception as err:  # noqa: BLE001 -- the group's runs are failed, the grid goes on
        return {**out, **{i: _fail(h, p, err, time.perf_counter() - t0) for i, p, h in live}}
    except BaseException:
        for _, _, h in live:
            h.release()  # interrupted: a re-run resumes from the checkpoints
        raise
    seconds = time.perf_counter() - t0
    for (i, p, h), (rows, summary) in zip(live, trained, strict=True):
        summary.update(seconds=seconds / len(live), group_seconds=seconds, group_size=len(live))
        out[i] = _seal(h, p, rows, summary, seconds)
    return out


def _set_aside(handle, err: Exception) -> str:
    """Rename a run's ``train/`` (kept, never resumed from); the reason, or "" if absent."""
    if not handle.train_dir.exists():
        return ""
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    aside = handle.train_dir.with_name(f"{handle.train_dir.name}.set-aside-{stamp}")
    handle.train_dir.rename(aside)
    return f"{err}; trained afresh, the old files kept in {aside}"


def _train(live, progress: Progress, compile: bool, chunk_seconds: float):
    """``[(rows, summary)]`` of the ``live`` runs ``(index, planned run, handle)``, trained as
    one group with checkpoints in each run's ``train/`` and the measures at their steps."""
    runs = [p for _, p, _ in live]
    cfg = runs[0].config
    splits = build_data(cfg)
    sampler = make_sampler(cfg.optim, splits.train.y, splits.train.K, cfg.seed)
    total = total_steps(cfg.optim, sampler.steps_per_epoch)
    measured, errors, wanted = [], [], []
    for i, p, h in live:
        measured.append(load_measured(h.train_dir / MEASURES_FILE))
        errors.append({})
        wanted.append(measure_steps(p.experiment, total))
        saved = list_checkpoints(h.train_dir)
        start = saved[-1][0] if saved else 0
        lost = [s for s in wanted[-1] if s <= start and start and s not in measured[-1]]
        if lost:  # interrupted before they were saved, or a measure raised: recompute them
            raise CheckpointError(f"{h.train_dir}: measures at steps {sorted(lost)} were not "
                                  "taken")
        progress.run_start(i, p, start or None)

    def on_step(step, k, model, parts, probe):
        if step in wanted[k] and step not in measured[k]:
            measured[k][step] = take_measures(
                wanted[k][step], lambda m: measure_rows(runs[k], model, splits, step, total,
                                                        [m], probe, parts),
                errors[k], step)
            if step not in errors[k]:  # a resume re-takes (from scratch) the incomplete steps
                save_measured(live[k][2].train_dir / MEASURES_FILE,
                              {s: v for s, v in measured[k].items() if s not in errors[k]})

    def on_progress(step, total_, losses):
        for k, loss in losses.items():
            progress.step(live[k][0], step, total_, loss)

    results = run_group([p.config for p in runs], out_dirs=[h.train_dir for _, _, h in live],
                        resume=True, compile=compile, at_steps={s for w in wanted for s in w},
                        on_step=on_step, on_progress=on_progress,
                        progress_seconds=min(chunk_seconds, 1.0),
                        checkpoint_seconds=chunk_seconds, restore_last_probe=True)
    out = []
    for k, (p, result) in enumerate(zip(runs, results, strict=True)):
        rows = run_rows(p, result, measured[k])
        summary = train_summary(p, result, result.steps, total, 0.0, result.resumed_from,
                                **measure_error_summary(errors[k]))
        out.append((rows, summary))
    return out
