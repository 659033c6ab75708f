"""Runs that two experiments plan identically: trained once, stored for both.

Two experiments may plan the very same training run: at cpu scale Jacot et al. Fig 5 is Fig 2's
lower row (experiments.md C.1), and Zangrando et al. Figs 6 and 7 are two views of one network.
Within one :func:`~nclab.running.run_experiments` call, :func:`find_twins` pairs the runs to be
made whose :func:`twin_key` is equal (everything that reaches a run's records) and whose
experiments differ; only the source goes to the executor, and :func:`copy_twins` stores the
twin as a copy (:meth:`nclab.store.Store.copy_run`, ``"copied_from"`` in its summary) once the
source was trained by this call -- never a run stored earlier, which other code or other
measures may have made. A run's numbers are those it gets trained alone (same seed, same
numbers).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence

from .execute import RunOutcome, skipped_outcome
from .plan import PlannedRun
from .progress import Progress


def twin_key(prun: PlannedRun):
    """What a training run's stored records depend on: its scale and run id (grid point and
    seed), its resolved config, and its experiment's measures and layer names (the same
    :class:`~nclab.experiments.spec.Measure` objects: experiments that share a run share the
    tuple). None for a theory computation (cheap, never shared) or measures that cannot be
    compared (not hashable)."""
    if prun.config is None:
        return None
    exp = prun.experiment
    key = (prun.scale, prun.run_id, json.dumps(prun.config_dict(), sort_keys=True),
           exp.measures, exp.layer_names)
    try:
        hash(key)
    except TypeError:
        return None
    return key


def find_twins(runs: Sequence[PlannedRun], pending: Sequence[int],
               prefer: Collection[int] = ()) -> dict[int, int]:
    """``{twin index: source index}`` among the ``pending`` runs: equal :func:`twin_key`,
    different experiments. The source of a set of twins is the first in ``prefer`` (e.g. runs
    with checkpoints to resume from), else the first in plan order."""
    keys = {i: twin_key(runs[i]) for i in pending}
    source: dict = {}
    for i in sorted(pending, key=lambda i: (i not in prefer, i)):
        if keys[i] is not None:
            source.setdefault(keys[i], i)
    out = {}
    for i in pending:
        j = source.get(keys[i]) if keys[i] is not None else None
        if j is not None and j != i and runs[j].experiment.id != runs[i].experiment.id:
            out[i] = j
    return out


def copy_twins(runs: Sequence[PlannedRun], twins: dict[int, int], store, progress: Progress,
               outcomes: dict[int, RunOutcome], overwrite: bool) -> None:
    """Store each twin whose source this call trained (finished or diverged) as a copy of it;
    a twin whose source failed fails with it; one whose source another process holds or
    made is ``"busy"`` (it is then waited for and made here); one whose source was not
    reached (Ctrl-C) stays unfinished. Twins with an outcome already are left alone."""
    for j, i in sorted(twins.items()):
        prun, src, made = runs[j], runs[i], outcomes.get(i)
        if j in outcomes or made is None or made.status == "interrupted":
            continue
        ids = (prun.experiment.id, prun.scale, prun.run_id)
        path = str(store.run_dir(*ids))
        if made.status in ("busy", "skipped"):
            outcomes[j] = RunOutcome(prun.run_id, prun.experiment.id, "busy", path=path,
                                     error=f"its identical run {src.experiment.id}/"
                                           f"{src.run_id} was made by another process")
            continue
        if made.status == "failed":
            outcomes[j] = RunOutcome(prun.run_id, prun.experiment.id, "failed", path=path,
                                     stored=store.status(*ids),
                                     error=f"the identical run of {src.experiment.id} failed: "
                                           f"{made.error}")
        else:
            outcomes[j] = _copy(store, src, prun, path, overwrite)
        if outcomes[j].status != "busy":
            progress.run_end(j, prun, outcomes[j])


def _copy(store, src: PlannedRun, prun: PlannedRun, path: str, overwrite: bool) -> RunOutcome:
    ids = (prun.experiment.id, prun.scale, prun.run_id)
    try:
        store.copy_run(src.experiment.id, src.scale, src.run_id, prun.experiment.id,
                       overwrite=overwrite)
    except FileExistsError:  # made meanwhile by another process
        return skipped_outcome(store, prun)
    except BlockingIOError as err:  # another process holds it (or the source): waited for
        return RunOutcome(prun.run_id, prun.experiment.id, "busy", error=str(err), path=path)
    except Exception as err:  # noqa: BLE001 -- this twin failed (retried next time)
        return RunOutcome(prun.run_id, prun.experiment.id, "failed", path=path,
                          stored=store.status(*ids),
                          error=f"copying {src.experiment.id}/{src.run_id}: "
                                f"{type(err).__name__}: {err}")
    return RunOutcome(prun.run_id, prun.experiment.id, "copied", path=path,
                      stored=store.status(*ids))
