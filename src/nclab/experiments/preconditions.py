"""Preconditions of claims: the regime a paper's claim is about, as predicates over the runs.

A claim about low rank, collapse or a generalisation bound means something only in the regime
the paper trains in: a non-trivial solution (the loss below that of the all-zero parameters),
every class learned (a dropped class is not a low-rank bias), training error ≈ 0. Each factory
returns a :class:`~nclab.experiments.spec.Requirement` for ``Claim.requires`` /
``Experiment.requires``; a run that fails it makes the claim NOT-RUN with the measured values
(see :func:`nclab.experiments.claims.evaluate_claim`; diverged runs are excluded there).

The values read are each run's final ones, recorded by the probe (``loss``, ``accuracy`` on
layer ``model``) and by the :func:`nclab.experiments.measures.class_fit` measure
(``ref/zero_loss``, ``class_recall_min``).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from nclab.store import Results

from .checks import fmt
from .spec import Missing, Requirement

__all__ = [
    "ZERO_RTOL",
    "at_least_classes",
    "below_zero_solution",
    "every_class_learned",
    "interpolates",
    "requirement",
]

# "below the zero solution" means below it by more than 0.1 %: near the all-zero parameters the
# loss is 0.5 + O(ε²) (the output is a product of L + 1 small factors), so a run drifting to the
# zero solution sits a hair above or, with rounding, a hair below it -- never 0.1 % below
ZERO_RTOL = 1e-3


def _per_run(results: Results, metric: str, layer: str = "model") -> dict[str, float]:
    """``{run_id: final value}`` of ``metric`` (its last recorded step in each run)."""
    last: dict[str, tuple[int, float]] = {}
    for r in results.select(metric, layer):
        if r["run_id"] not in last or r["step"] > last[r["run_id"]][0]:
            last[r["run_id"]] = (r["step"], r["value"])
    return {run: v for run, (_, v) in last.items()}


def _need(results: Results, metric: str) -> dict[str, float]:
    got = _per_run(results, metric)
    missing = [run for run in results.runs() if run not in got]
    if not got or missing:
        raise Missing(f"no final {metric!r} on layer 'model' in run(s) "
                      f"{missing[:3] or results.runs()[:3]}")
    return got


def _label(results: Results, run: str) -> str:
    """A run's grid point and seed, for messages (``run_id`` if unknown)."""
    for r in results.rows:
        if r["run_id"] == run:
            p = {k.rsplit(".", 1)[-1]: v for k, v in r["params"].items()}
            return ", ".join(f"{k}={v}" for k, v in p.items()) + f", seed {r['seed']}" \
                if p else f"seed {r['seed']}"
    return run


def requirement(text: str, fn: Callable[[Results], tuple[bool, str]]) -> Requirement:
    """A :class:`Requirement` from ``fn(results) -> (ok, measured)``."""
    return Requirement(text, fn)


def below_zero_solution(rtol: float = ZERO_RTOL) -> Requirement:
    """Every run's final objective is below the zero solution's (``ref/zero_loss``: the
    objective at all-zero parameters, computed from the run's loss preset and targets) by more
    than ``rtol`` of it: training found a non-trivial solution (Súkeník et al. §6.1: for large
    λ the global optimum is the zero solution, L_DNC = 1/2 for ``p2_dufm``)."""

    def fn(results: Results):
        loss, zero = _need(results, "loss"), _need(results, "ref/zero_loss")
        bad = [run for run in zero if not loss[run] < (1 - rtol) * zero[run]]
        where = "; ".join(f"{_label(results, r)}: {fmt(loss[r])} vs {fmt(zero[r])}"
                          for r in bad[:4])
        return not bad, (f"{len(bad)}/{len(zero)} runs at the zero solution (loss vs zero-"
                         f"solution loss) — {where}" if bad else
                         f"every loss below the zero solution's ({fmt(max(zero.values()))})")

    return requirement(f"a non-trivial solution: every run's final loss is below the zero "
                       f"solution's loss (by > {rtol:g} of it)", fn)


def every_class_learned(min_recall: float = 0.5) -> Requirement:
    """Every class is learned in every run: each class's training recall (fraction of its
    samples predicted as it) is at least ``min_recall`` (``class_recall_min``). A class whose
    outputs stay ≈ 0 is dropped, which lowers ranks and the loss's fit for a reason other than
    the low-rank bias or collapse the claim is about."""

    def fn(results: Results):
        rec = _need(results, "class_recall_min")
        pred = _per_run(results, "classes_predicted")
        bad = [run for run, v in rec.items() if not v >= min_recall]
        where = "; ".join(f"{_label(results, r)}: min recall {fmt(rec[r])}"
                          + (f", {int(pred[r])} classes predicted" if r in pred else "")
                          for r in bad[:4])
        return not bad, (f"{len(bad)}/{len(rec)} runs drop a class — {where}" if bad else
                         f"min class recall over runs {fmt(min(rec.values()))}")

    return requirement(f"every class learned: each class's training recall >= {min_recall:g} "
                       "in every run", fn)


def interpolates(max_error: float = 0.0) -> Requirement:
    """Training error ≈ 0: every run's final training error (1 - ``accuracy``) is at most
    ``max_error`` (the interpolation regime of the norm-based bounds and of collapse)."""

    def fn(results: Results):
        err = {run: 1.0 - v for run, v in _need(results, "accuracy").items()}
        bad = [run for run, v in err.items() if not v <= max_error + 1e-12]
        where = "; ".join(f"{_label(results, r)}: {fmt(err[r])}" for r in bad[:4])
        return not bad, (f"training error above {max_error:g} in {len(bad)}/{len(err)} runs — "
                         f"{where}" if bad else
                         f"max training error {fmt(float(np.max(list(err.values()))))}")

    return requirement(f"interpolation: training error <= {max_error:g} in every run", fn)


def at_least_classes(k_min: int, K: int, why: str) -> Requirement:
    """The experiment has at least ``k_min`` classes (``K``: the number its data config
    selects). A static fact of the design, stated as a precondition so that a claim whose
    quantity is fixed by the class sizes for fewer classes reads NOT-RUN with ``why`` instead
    of scoring rounding noise."""
    if isinstance(K, bool) or not isinstance(K, int) or K < 1:
        raise ValueError(f"K must be a positive number of classes, got {K!r}")

    def fn(results: Results):
        return K >= k_min, f"K = {K}" + ("" if K >= k_min else f": {why}")

    return requirement(f"at least {k_min} classes", fn)
