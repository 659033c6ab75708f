"""From the store to the report in one call: :func:`build_report`."""

from __future__ import annotations

from pathlib import Path

from nclab.experiments.claims import planned_results
from nclab.store import Store

from .html import write_html_report


def build_report(
    store: Store,
    experiment,
    scale: str,
    *,
    out_dir=None,
    claims=None,
    inline: bool = False,
    run_ids=None,
) -> Path:
    """Read the finished runs of ``experiment`` (an :class:`~nclab.experiments.spec.Experiment`)
    at ``scale`` from ``store`` and write their HTML report (figures, claims, final metrics,
    the list of runs with their status); return the path of ``report.html``.

    Only the runs of the experiment's current plan are read (``run_ids``: these runs instead,
    e.g. of a plan with other ``--seeds``); stored runs of other run ids (an older grid) are
    left out, and the report says how many.

    ``out_dir``: default ``store.report_dir(experiment.id, scale)``. ``claims``: precomputed
    outcomes, else evaluated here. With no finished run the report still renders (empty
    figures, claims NOT-RUN) and lists the runs that are running or failed.
    """
    if not isinstance(store, Store):
        raise ValueError(f"store must be a nclab.store.Store, got {type(store).__name__}")
    if scale not in experiment.scales:
        raise ValueError(
            f"experiment {experiment.id} has no scale {scale!r}; "
            f"it defines {sorted(experiment.scales)}"
        )
    results = planned_results(store, experiment, scale, run_ids=run_ids)
    runs = [r for r in store.runs(experiment.id, scale=scale) if r["run_id"] in results.run_info]
    out = Path(out_dir) if out_dir is not None else store.report_dir(experiment.id, scale)
    return write_html_report(experiment, results, out, claims, inline=inline, runs=runs)
