"""Run experiments' grids into a store: :func:`run_experiments`, :func:`run_experiment`.

One plan for all the ``(experiment, scale)`` pairs, finished runs skipped (their stored config
checked), the pending runs handed to an executor (:mod:`.backends`: local groups, a pool of
worker processes, Ray or Slurm), runs that another process holds waited for. A run that two
experiments of the plan make identically (:func:`twin_key`) is trained once and stored for
both (:meth:`nclab.store.Store.copy_run`).
"""

from __future__ import annotations

import json
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
    done = []
    for prun in runs:
        status = store.status(prun.experiment.id, prun.scale, prun.run_id)
        if status in DONE_STATUSES and not overwrite:
            check_same_config(store, prun)
        done.append(status in DONE_STATUSES and not overwrite)
    outcomes: dict[int, RunOutcome] = {}
    interrupted = False
    progress.start(runs, done)
    twins = find_twins(runs, done)
    pending = [i for i, d in enumerate(done) if not d and i not in twins]
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
        _wait_for_busy(runs, store, progress, outcomes, chunk_seconds)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        try:  # also after Ctrl-C: what was trained is kept for every experiment
            _copy_twins(runs, twins, store, progress, outcomes, overwrite)
        finally:
            progress.close()
    seconds = time.perf_counter() - t0
    return [ExperimentOutcome(experiment, scale,
                              [outcomes[i] for i in sorted(outcomes) if owner[i] == k],
                              interrupted, seconds)
            for k, (experiment, scale) in enumerate(items)]


def twin_key(prun: PlannedRun):
    """What a training run's stored records depend on: its scale and run id (grid point and
    seed), its resolved config, and its experiment's measures and layer names (the same
    :class:`~nclab.experiments.spec.Measure` objects: experiments that share a run share the
    tuple). Two planned runs with equal keys store the same numbers; None for a theory
    computation (cheap, never shared)."""
    if prun.config is None:
        return None
    exp = prun.experiment
    return (prun.scale, prun.run_id, json.dumps(prun.config_dict(), sort_keys=True),
            exp.measures, exp.layer_names)


def find_twins(runs: Sequence[PlannedRun], done: Sequence[bool]) -> dict[int, int]:
    """``{index: index of the run it copies}`` for the pending runs whose :func:`twin_key`
    equals that of an earlier or already done run of another experiment (a done one is
    preferred: nothing is trained)."""
    first: dict = {}
    for i in sorted(range(len(runs)), key=lambda i: not done[i]):
        key = twin_key(runs[i])
        if key is not None:
            first.setdefault(key, i)
    return {i: first[twin_key(runs[i])] for i in range(len(runs))
            if not done[i] and twin_key(runs[i]) is not None and first[twin_key(runs[i])] != i}


def _copy_twins(runs, twins: dict[int, int], store, progress: Progress, outcomes: dict,
                overwrite: bool) -> None:
    """Store each twin as a copy of its source once that is done; a twin whose source failed
    fails with it; one whose source was not reached (Ctrl-C) stays unfinished."""
    for j, i in sorted(twins.items()):
        prun, src = runs[j], runs[i]
        path = str(store.run_dir(prun.experiment.id, prun.scale, prun.run_id))
        if store.is_done(src.experiment.id, src.scale, src.run_id):
            try:
                store.copy_run(src.experiment.id, src.scale, src.run_id, prun.experiment.id,
                               overwrite=overwrite)
                stored = store.status(prun.experiment.id, prun.scale, prun.run_id)
                outcomes[j] = RunOutcome(prun.run_id, prun.experiment.id, "copied", path=path,
                                         stored=stored)
            except FileExistsError:  # done meanwhile by another process
                outcomes[j] = skipped_outcome(store, prun)
            except BlockingIOError as err:  # another process holds it: it finishes it
                outcomes[j] = RunOutcome(prun.run_id, prun.experiment.id, "busy",
                                         error=str(err), path=path)
            except (OSError, ValueError) as err:
                outcomes[j] = RunOutcome(prun.run_id, prun.experiment.id, "failed", path=path,
                                         error=f"copying {src.experiment.id}/{src.run_id}: "
                                               f"{type(err).__name__}: {err}")
        elif i in outcomes and outcomes[i].status == "failed":
            outcomes[j] = RunOutcome(prun.run_id, prun.experiment.id, "failed", path=path,
                                     error=f"the identical run of {src.experiment.id} failed: "
                                           f"{outcomes[i].error}")
        else:
            continue
        progress.run_end(j, prun, outcomes[j])


def _wait_for_busy(runs, store, progress: Progress, outcomes: dict, chunk_seconds: float) -> None:
    """Runs found ``busy`` (another process holds their lock): wait until it lets go, then
    execute them here (skipped if that process finished them, resumed if it died)."""
    for i in sorted(i for i, o in outcomes.items() if o.status == "busy"):
        prun = runs[i]
        while store.status(prun.experiment.id, prun.scale, prun.run_id) == "running":
            time.sleep(WAIT_SECONDS)
        execute_unit([prun], [i], store, progress, options=Options(chunk_seconds=chunk_seconds),
                     outcomes=outcomes)
