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
from its newest checkpoint instead).
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
    measure_rows,
    measure_steps,
    replan,
    run_rows,
    total_steps_of,
    train_summary,
)
from nclab.train import build_data

from .grouping import group_compatible
from .vectorised import run_vectorised

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


def execute_unit(runs: Sequence[PlannedRun], indices: Sequence[int], store,
                 progress: Progress | None = None, *, options: Options | None = None,
                 compile: bool = False) -> dict[int, RunOutcome]:
    """Execute one work unit into ``store``; ``{index: outcome}``.

    A run found finished meanwhile (another worker, a retried task) is skipped; a unit of one
    run goes through :func:`nclab.experiments.runner.execute` (checkpoints, resume); a group
    through :func:`execute_group`."""
    progress = progress or Progress()
    options = options or Options()
    out: dict[int, RunOutcome] = {}
    todo = []
    for prun, i in zip(runs, indices, strict=True):
        if not options.overwrite and store.is_finished(prun.experiment.id, prun.scale, prun.run_id):
            out[i] = RunOutcome(prun.run_id, prun.experiment.id, "skipped",
                                path=str(store.run_dir(prun.experiment.id, prun.scale,
                                                       prun.run_id)))
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
        for (prun, i) in todo:
            out[i] = done[i]
            progress.run_end(i, prun, done[i])
    return out


def execute_group(runs: Sequence[PlannedRun], store, progress: Progress, indices: Sequence[int],
                  *, overwrite: bool = False, compile: bool = False) -> dict[int, RunOutcome]:
    """Train compatible runs as one vectorised computation and store each; ``{index: outcome}``.

    An error fails every run of the group (they are retried next time);
    ``KeyboardInterrupt`` propagates with the runs unfinished."""
    t0 = time.perf_counter()
    handles = [store.start_run(p.experiment.id, p.scale, p.params, p.seed, p.config_dict(),
                               run_id=p.run_id, overwrite=overwrite) for p in runs]
    try:
        splits = build_data(runs[0].config)
        total = total_steps_of(runs[0].config, splits)
        wanted = [measure_steps(p.experiment, total) for p in runs]
        measured: list[dict[int, list[dict]]] = [{} for _ in runs]

        def on_step(step, k, model, parts, probe):
            if step in wanted[k]:
                measured[k][step] = measure_rows(runs[k], model, splits, step, total,
                                                 wanted[k][step], probe, parts)

        def on_progress(step, total_, losses):
            for k, loss in losses.items():
                progress.step(indices[k], step, total_, loss)

        for k, p in enumerate(runs):
            progress.run_start(indices[k], p, None)
        results = run_vectorised([p.config for p in runs], compile=compile,
                                 at_steps={s for w in wanted for s in w}, on_step=on_step,
                                 on_progress=on_progress)
    except Exception as err:  # noqa: BLE001 -- the group's runs are failed, the grid goes on
        reason = f"{type(err).__name__}: {err}"
        for h in handles:
            h.fail(reason)
        return {i: RunOutcome(p.run_id, p.experiment.id, "failed", time.perf_counter() - t0,
                              error=reason, path=str(h.dir))
                for i, p, h in zip(indices, runs, handles, strict=True)}
    out = {}
    for k, (p, h, result) in enumerate(zip(runs, handles, results, strict=True)):
        h.write_metrics(run_rows(p, result, measured[k]))
        summary = train_summary(p, result, result.steps, total, result.seconds, None,
                                vectorised=len(runs))
        h.finish(summary)
        out[indices[k]] = RunOutcome(p.run_id, p.experiment.id, "finished", result.seconds,
                                     summary, path=str(h.dir))
    return out


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
