"""Run planned grid points into a store: vectorised groups, single runs, work units.

A *work unit* is a list of planned runs executed together: a group of compatible training runs
(:func:`nclab.sweep.group_compatible`) trained as one vectorised computation, or a single run
(incompatible shapes, theory computations, ``vmap=False``) executed by
:func:`nclab.experiments.runner.execute` with its chunked checkpoints.

Each run of a vectorised group is stored exactly as the sequential runner stores it (the
probe's rows, the experiment's measures at their steps, the final objective, a
``summary.json`` written last), plus ``"vectorised": S`` in the summary. The vectorised
trainer writes no checkpoints: an interrupted group leaves its runs unfinished and the next
call trains the group again from step 0 (groups are small models; a sequential run resumes
from its newest checkpoint instead). A diverged replica is stored with the parameters of its
last successful probe (the sequential runner restores its last checkpoint; both are the last
good state, at steps that can differ).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from nclab.experiments.runner import (
    Options,
    PlannedRun,
    Progress,
    QueueProgress,
    RunOutcome,
    execute,
    measure_error_summary,
    measure_rows,
    measure_steps,
    open_run,
    replan,
    run_rows,
    sealed_status,
    take_measures,
    total_steps_of,
    train_summary,
)
from nclab.train import build_data

from .grouping import group_compatible
from .vmap import run_vectorised

DEFAULT_MAX_REPLICAS = 32


def work_units(runs: Sequence[PlannedRun], pending: Sequence[int], *, vmap: bool = True,
               max_replicas: int | None = DEFAULT_MAX_REPLICAS) -> list[list[int]]:
    """Partition the ``pending`` indices of ``runs`` into work units (lists of indices).

    With ``vmap``, training runs whose configs may share a vectorised run form groups of at
    most ``max_replicas``; every other run is a unit of its own. Units keep the plan order of
    their first member."""
    if not vmap:
        return [[i] for i in pending]
    train = [i for i in pending if runs[i].config is not None]
    groups = group_compatible([runs[i].config for i in train], max_replicas=max_replicas)
    units = [[train[j] for j in g] for g in groups]
    units += [[i] for i in pending if runs[i].config is None]
    return sorted(units, key=lambda u: u[0])


def _skipped(store, prun: PlannedRun) -> RunOutcome:
    return RunOutcome(prun.run_id, prun.experiment.id, "skipped",
                      path=str(store.run_dir(prun.experiment.id, prun.scale, prun.run_id)),
                      stored=store.status(prun.experiment.id, prun.scale, prun.run_id))


def spread_units(units: list[list[int]], workers: int) -> list[list[int]]:
    """Split the largest groups in halves until there are at least ``workers`` units (or only
    single runs): with fewer units than worker processes, parallel processes beat one wide
    vectorised group (a group of S wide MLPs is not S times faster on one core)."""
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
    as runs end).

    A run found finished meanwhile (another worker, a retried task) is skipped; a unit of one
    run goes through :func:`nclab.experiments.runner.execute` (checkpoints, resume); a group
    through :func:`execute_group`."""
    progress = progress or Progress()
    options = options or Options()
    out: dict[int, RunOutcome] = {} if outcomes is None else outcomes
    todo = []
    for prun, i in zip(runs, indices, strict=True):
        if not options.overwrite and store.is_done(prun.experiment.id, prun.scale, prun.run_id):
            out[i] = _skipped(store, prun)
            progress.run_end(i, prun, out[i])
        else:
            todo.append((prun, i))
    if len(todo) == 1:
        prun, i = todo[0]
        out[i] = execute(prun, store, progress=progress, index=i,
                         chunk_seconds=options.chunk_seconds, overwrite=options.overwrite)
        progress.run_end(i, prun, out[i])
    elif todo:
        done = execute_group([p for p, _ in todo], store, progress, [i for _, i in todo],
                             overwrite=options.overwrite, compile=compile)
        for prun, i in todo:
            out[i] = done[i]
            progress.run_end(i, prun, done[i])
    return {i: out[i] for i in indices}


def execute_group(runs: Sequence[PlannedRun], store, progress: Progress, indices: Sequence[int],
                  *, overwrite: bool = False, compile: bool = False) -> dict[int, RunOutcome]:
    """Train compatible runs as one vectorised computation and store each; ``{index: outcome}``.

    A run finished meanwhile by another task is skipped, one that another process holds is
    ``"busy"``; an error in training fails every run of the group, an error in storing one
    run (or a measure that raised) fails that run (they are retried next time);
    ``KeyboardInterrupt`` propagates with the runs unfinished. ``summary["seconds"]`` is the
    group's wall time divided by its size (``"group_seconds"``: the whole)."""
    t0 = time.perf_counter()
    out: dict[int, RunOutcome] = {}
    live: list[tuple[int, PlannedRun, object]] = []
    for i, p in zip(indices, runs, strict=True):
        try:
            live.append((i, p, open_run(p, store, overwrite)))
        except FileExistsError:
            out[i] = _skipped(store, p)
        except BlockingIOError as err:  # nclab.store.RunBusy
            out[i] = RunOutcome(p.run_id, p.experiment.id, "busy", error=str(err),
                                path=str(store.run_dir(p.experiment.id, p.scale, p.run_id)))
    if not live:
        return out
    runs = [p for _, p, _ in live]
    try:
        splits = build_data(runs[0].config)
        total = total_steps_of(runs[0].config, splits)
        wanted = [measure_steps(p.experiment, total) for p in runs]
        measured: list[dict[int, list[dict]]] = [{} for _ in runs]
        errors: list[dict[int, list[str]]] = [{} for _ in runs]

        def on_step(step, k, model, parts, probe):
            if step in wanted[k]:
                measured[k][step] = take_measures(
                    wanted[k][step], lambda m: measure_rows(runs[k], model, splits, step, total,
                                                            [m], probe, parts),
                    errors[k], step)

        def on_progress(step, total_, losses):
            for k, loss in losses.items():
                progress.step(live[k][0], step, total_, loss)

        for i, p, _ in live:
            progress.run_start(i, p, None)
        results = run_vectorised([p.config for p in runs], compile=compile,
                                 at_steps={s for w in wanted for s in w}, on_step=on_step,
                                 on_progress=on_progress, restore_last_probe=True)
    except Exception as err:  # noqa: BLE001 -- the group's runs are failed, the grid goes on
        return {**out, **{i: _fail(h, p, err, time.perf_counter() - t0) for i, p, h in live}}
    except BaseException:
        for _, _, h in live:
            h.release()  # interrupted: a re-run trains the group again
        raise
    group_seconds = time.perf_counter() - t0
    for k, ((i, p, h), result) in enumerate(zip(live, results, strict=True)):
        try:
            h.write_metrics(run_rows(p, result, measured[k]))
            summary = train_summary(p, result, result.steps, total, group_seconds / len(live),
                                    None, vectorised=len(live), group_seconds=group_seconds,
                                    **measure_error_summary(errors[k]))
            status = sealed_status(summary)
            h.finish(summary, status=status)
        except Exception as err:  # noqa: BLE001 -- this run failed; the others are stored
            out[i] = _fail(h, p, err, group_seconds)
            continue
        finally:
            h.release()
        out[i] = RunOutcome(p.run_id, p.experiment.id, status, group_seconds, summary,
                            error=summary.get("error", ""), path=str(h.dir))
    return out


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


@dataclass(frozen=True)
class UnitSpec:
    """A work unit as ids only (what travels to a worker process, a Ray task, a Slurm job):
    ``runs`` = ``((experiment id, scale, run id), ...)`` of registered experiments."""

    runs: tuple[tuple[str, str, str], ...]
    indices: tuple[int, ...]
    store_root: str
    options: Options
    compile: bool = False

    @classmethod
    def of(cls, runs: Sequence[PlannedRun], unit: Sequence[int], store, options: Options,
           compile: bool = False) -> UnitSpec:
        return cls(tuple((runs[i].experiment.id, runs[i].scale, runs[i].run_id) for i in unit),
                   tuple(unit), str(store.root), options, compile)


def run_unit_spec(spec: UnitSpec, queue=None) -> dict[int, RunOutcome]:
    """Re-plan a :class:`UnitSpec` from the registry and execute it into its store (the body
    of a worker process or remote task; ``queue``: forward progress to the parent through a
    :class:`~nclab.experiments.runner.QueueProgress`). Ctrl-C gives ``"interrupted"``
    outcomes."""
    from nclab.store import Store

    runs = [replan(e, s, r, spec.options) for e, s, r in spec.runs]
    progress = QueueProgress(queue) if queue is not None else None
    try:
        return execute_unit(runs, spec.indices, Store(spec.store_root), progress,
                            options=spec.options, compile=spec.compile)
    except KeyboardInterrupt:
        return {i: RunOutcome(p.run_id, p.experiment.id, "interrupted")
                for i, p in zip(spec.indices, runs, strict=True)}
