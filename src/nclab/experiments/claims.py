"""Claims evaluated in one place: :func:`evaluate` (every claim of a leaf experiment) and
:func:`evaluate_claim` (one), on the runs of the experiment's current plan
(:func:`planned_results`).

A :class:`~nclab.experiments.spec.ClaimOutcome`'s status is one of :data:`CLAIM_STATUSES`:

- ``PASS`` / ``FAIL``: the check's verdict (``measured`` against ``threshold``);
- ``NOT-RUN`` with the ``reason``, in this order: no finished run; the scale cannot show the
  claim (``Claim.scales``, with ``Claim.why``); a run diverged (a diverged run is never
  scored); a precondition (``Claim.requires``) not met, with the measured values; the records
  lack what the check reads (:class:`~nclab.experiments.spec.Missing`);
- ``ERROR``: the check or a precondition raised (a bug, never a verdict on the paper); the
  ``reason`` holds the exception. ``nclab verify`` counts it as a failure.

Claims are scored on the runs the experiment plans at that scale (grid x seeds:
:meth:`~nclab.experiments.spec.Scale.run_ids`) and on nothing else: runs stored under other run
ids (an older grid, another ``--seeds``) are left out and counted in ``Results.excluded``.
"""

from __future__ import annotations

from nclab.store import Results

from .spec import CLAIM_STATUSES, Claim, ClaimOutcome, Experiment, Missing

__all__ = [
    "CLAIM_STATUSES",
    "evaluate",
    "evaluate_claim",
    "planned_results",
    "planned_run_ids",
]


def planned_run_ids(experiment: Experiment, scale: str, seeds: int | None = None):
    """The run ids of ``experiment``'s plan at ``scale`` (``seeds``: default the scale's);
    None for an experiment whose records come from elsewhere (kind ``"records"``, e.g. a
    :class:`nclab.integrations.Monitor`'s runs): all its stored runs count."""
    if experiment.kind == "records":
        return None
    if scale not in experiment.scales:
        raise ValueError(f"{experiment.id} has no scale {scale!r}; it defines "
                         f"{', '.join(experiment.scales)}")
    return [rid for leaf in experiment.leaves() for rid in leaf.scales[scale].run_ids(seeds)]


def planned_results(store, experiment: Experiment, scale: str, seeds: int | None = None,
                    run_ids=None) -> Results:
    """``store.results`` of ``experiment`` at ``scale`` restricted to the runs of its current
    plan (``run_ids``: those runs instead, e.g. of a plan with ``--seeds``); the other stored
    runs are in ``Results.excluded``."""
    if run_ids is None:
        run_ids = planned_run_ids(experiment, scale, seeds)
    return store.results(experiment.id, scale, run_ids=run_ids)


def evaluate_claim(claim: Claim, results: Results) -> ClaimOutcome:
    """One claim's outcome on ``results`` (see the module doc for the order of the rules)."""
    if not results.rows and not results.diverged():
        left = (f" ({len(results.excluded)} stored runs not in the current plan left out)"
                if results.excluded else "")
        return ClaimOutcome("NOT-RUN", reason=f"no finished runs{left}")
    if results.scale not in claim.scales:
        why = f": {claim.why}" if claim.why else ""
        return ClaimOutcome("NOT-RUN", reason=f"not meaningful at {results.scale!r} scale{why}")
    diverged = results.diverged()
    if diverged:
        shown = "; ".join(f"{run}: {why}" for run, why in sorted(diverged.items())[:3])
        more = f" (+{len(diverged) - 3} more)" if len(diverged) > 3 else ""
        return ClaimOutcome("NOT-RUN", measured=f"{len(diverged)} diverged run(s): {shown}{more}",
                            reason="diverged runs are not scored")
    for req in claim.requires:
        try:
            ok, measured = req.check(results)
        except Missing as err:
            ok, measured = False, str(err)
        except Exception as err:  # noqa: BLE001 -- a crashed precondition is an ERROR
            return ClaimOutcome("ERROR", reason=f"precondition {req.text!r} raised "
                                f"{type(err).__name__}: {err}")
        if not ok:
            return ClaimOutcome("NOT-RUN", measured=measured,
                                reason=f"precondition not met: {req.text}")
    try:
        outcome = claim.check(results)
    except Missing as err:
        return ClaimOutcome("NOT-RUN", reason=str(err))
    except Exception as err:  # noqa: BLE001 -- a crashed check is an ERROR, never hidden
        return ClaimOutcome("ERROR", reason=f"check raised {type(err).__name__}: {err}")
    if not isinstance(outcome, ClaimOutcome):
        return ClaimOutcome("ERROR", reason=f"check returned {outcome!r}, not a ClaimOutcome")
    return outcome


def evaluate(experiment: Experiment, results: Results) -> list[tuple[str, ClaimOutcome]]:
    """``[(claim text, outcome)]`` of a leaf experiment's claims on ``results`` (in the order of
    ``experiment.claims``); never raises for a broken check (that claim is ERROR)."""
    if results.experiment != experiment.id:
        raise ValueError(f"results are of experiment {results.experiment!r}, not "
                         f"{experiment.id!r}")
    return [(claim.text, evaluate_claim(claim, results)) for claim in experiment.claims]
