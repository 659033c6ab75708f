"""Run experiments' grids into a store: :func:`run_experiments`, :func:`run_experiment`.

One plan for all the ``(experiment, scale)`` pairs, finished runs skipped (their stored config
checked), the pending runs handed to an executor (:mod:`.backends`: local groups, a pool of
worker processes, Ray or Slurm), runs that another process holds waited for. A run that two
experiments of the plan make identically is trained once and stored for both (:mod:`.twins`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from nclab.experiments.spec import Experiment
from nclab.store import DONE_STATUSES

from .execute import (
    ExperimentOutcome,
    RunOutcome,
    check_same_config,
    execute_unit,
    skipped_outcome,
)
from .plan import Options, PlannedRun, plan
from .progress import Progress
from .twins import copy_twins, find_twins

WAIT_SECONDS = 0.5  # polling interval while another process holds a run's lock

# executor(runs, pending indices, store, progress, options, outcomes) executes the pending runs,
# storing each one's RunOutcome in ``outcomes[index]`` as soon as it ends (so that what ended
# before a Ctrl-C is kept); it calls progress.run_start / step / run_end and lets
# KeyboardInterrupt propagate.
Executor = Callable[[list[PlannedRun], list[int], Any, Progress, Options, dict], None]


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
    the pending runs instead (see :data:`Executor`; :mod:`nclab.running.backends` has the
    local, Ray and Slurm ones); by default :class:`~nclab.running.backends.LocalExecutor` with
    ``jobs`` (compatible runs trained as one group: the numbers are those of runs alone).
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
    done, started = [], set()
    for i, prun in enumerate(runs):
        status = store.status(prun.experiment.id, prun.scale, prun.run_id)
        if status in DONE_STATUSES and not overwrite:
            check_same_config(store, prun)
        done.append(status in DONE_STATUSES and not overwrite)
        if status != "missing":
            started.add(i)  # e.g. checkpoints to resume from: the better source of twins
    todo = [i for i, d in enumerate(done) if not d]
    twins = find_twins(runs, todo, prefer=started)  # trained once (as the source)
    pending = [i for i in todo if i not in twins]
    outcomes: dict[int, RunOutcome] = {}
    interrupted = False
    progress.start(runs, done)
    try:
        for i, prun in enumerate(runs):
            if done[i]:
                outcomes[i] = skipped_outcome(store, prun)
                progress.run_end(i, prun, outcomes[i])
        if pending:  # the executor fills ``outcomes`` as runs end (kept on Ctrl-C)
            from .backends import LocalExecutor

            executor = executor or LocalExecutor(jobs=jobs)
            executor(runs, pending, store, progress,
                     Options(seeds, tuple(sets), device, data_dir, chunk_seconds, overwrite),
                     outcomes)
        copy_twins(runs, twins, store, progress, outcomes, overwrite)
        _wait_for_busy(runs, store, progress, outcomes, chunk_seconds)
    except KeyboardInterrupt:
        interrupted = True
        copy_twins(runs, twins, store, progress, outcomes, overwrite)  # keep what was trained
    finally:
        progress.close()
    seconds = time.perf_counter() - t0
    return [ExperimentOutcome(experiment, scale,
                              [outcomes[i] for i in sorted(outcomes) if owner[i] == k],
                              interrupted, seconds)
            for k, (experiment, scale) in enumerate(items)]


def _wait_for_busy(runs, store, progress: Progress, outcomes: dict, chunk_seconds: float) -> None:
    """Runs found ``busy`` (another process holds their lock): wait until it lets go, then
    execute them here (skipped if that process finished them, resumed if it died)."""
    for i in sorted(i for i, o in outcomes.items() if o.status == "busy"):
        prun = runs[i]
        while store.status(prun.experiment.id, prun.scale, prun.run_id) == "running":
            time.sleep(WAIT_SECONDS)
        execute_unit([prun], [i], store, progress, options=Options(chunk_seconds=chunk_seconds),
                     outcomes=outcomes)
