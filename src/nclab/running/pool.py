"""Work units away from this process: a pool of worker processes (``--jobs N``) and the
:class:`UnitSpec` that a worker, a Ray task or a Slurm job receives."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .execute import RunOutcome, execute_unit
from .plan import Options, PlannedRun, replan
from .progress import Progress, QueueProgress, drain_progress


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
    :class:`~nclab.running.progress.QueueProgress`). Ctrl-C gives ``"interrupted"`` outcomes."""
    from nclab.store import Store

    runs = [replan(e, s, r, spec.options) for e, s, r in spec.runs]
    progress = QueueProgress(queue) if queue is not None else None
    try:
        return execute_unit(runs, spec.indices, Store(spec.store_root), progress,
                            options=spec.options, compile=spec.compile)
    except KeyboardInterrupt:
        return {i: RunOutcome(p.run_id, p.experiment.id, "interrupted")
                for i, p in zip(spec.indices, runs, strict=True)}
