"""``run_many(configs)``: vectorised groups where possible, ``nclab.train.run`` for the rest."""

from __future__ import annotations

from collections.abc import Sequence

from nclab.train import RunResult, TrainConfig, run

from .grouping import group_compatible
from .vmap import run_vectorised


def run_many(
    configs: Sequence[TrainConfig],
    *,
    max_replicas: int | None = None,
    compile: bool = False,
    min_group: int = 2,
) -> list[RunResult]:
    """Train every config; results in input order.

    Configs are grouped by :func:`~nclab.sweep.group_compatible` (at most ``max_replicas``
    per group); groups of at least ``min_group`` replicas run through
    :func:`~nclab.sweep.run_vectorised` (``compile`` as there), the others through
    :func:`nclab.train.run` (with their ``out_dir``, if any).
    """
    if min_group < 1:
        raise ValueError(f"min_group must be >= 1, got {min_group}")
    configs = list(configs)
    results: list[RunResult | None] = [None] * len(configs)
    for group in group_compatible(configs, max_replicas=max_replicas):
        members = [configs[i] for i in group]
        if len(group) >= min_group:
            done = run_vectorised(members, compile=compile)
        else:
            done = [run(c) for c in members]
        for i, r in zip(group, done, strict=True):
            results[i] = r
    return results
