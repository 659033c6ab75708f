"""A pool of worker processes for work units (``--jobs N``)."""

from __future__ import annotations

from typing import Any

from .execute import RunOutcome
from .plan import PlannedRun
from .progress import Progress, drain_progress


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
