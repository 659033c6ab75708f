"""Claim evaluation on stored results (moving to :mod:`nclab.experiments.claims`)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .spec import Experiment, Results


# ---- results and claims ----------------------------------------------------------------------
def evaluate(experiment: Experiment, results: Results) -> list[tuple[str, Any]]:
    """``[(claim text, ClaimOutcome)]`` of a leaf experiment's claims on ``results``."""
    from .spec import ClaimOutcome

    out = []
    nothing = not results.rows and not results.diverged()  # diverged runs: Claim.evaluate says so
    for claim in experiment.claims:
        if nothing:
            out.append((claim.text, ClaimOutcome("NOT-RUN", reason="no finished runs")))
            continue
        try:
            outcome = claim.evaluate(results)
        except Exception as err:  # noqa: BLE001 -- shown as NOT-RUN with the reason
            outcome = ClaimOutcome("NOT-RUN", reason=f"check raised {type(err).__name__}: {err}")
        out.append((claim.text, outcome))
    return out


def mean_final(results: Results, metric: str, layer: str) -> float:
    """Mean over runs of the final ``metric`` of ``layer`` (NaN when absent)."""
    v = results.final(metric, layer)
    return float(np.mean(v)) if v.size else math.nan
