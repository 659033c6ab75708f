"""``run(config) -> RunResult`` and ``run_many(configs)``: the entry points of the engine.

A single run is the simplest case of the one training engine (:mod:`.engine`): a group of one
replica. ``run_many`` trains any list of configs, compatible ones together; on CPU the numbers
of a run are the same either way (see :mod:`.engine`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from .config import TrainConfig
from .engine import run_group
from .grouping import group_compatible
from .result import RunResult


def run(
    config: TrainConfig,
    *,
    out_dir: str | Path | None = None,
    resume: bool = False,
    max_steps: int | None = None,
    verbose: bool = False,
) -> RunResult:
    """Train ``config`` and return a :class:`RunResult`.

    ``out_dir`` (or ``config.out_dir``): run directory for ``config.json`` and checkpoints.
    ``resume=True`` continues from its newest checkpoint (the saved config must match), ending
    bit-identical on CPU to an uninterrupted run; without it an ``out_dir`` that already holds
    checkpoints is an error. ``max_steps``: stop after that many steps as if killed (writing a
    checkpoint there), without changing the schedule or the probe steps. ``verbose``: print
    the loss and accuracy at every probe.
    """
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a TrainConfig, got {type(config).__name__}")
    out = out_dir if out_dir is not None else config.out_dir
    return run_group([config], out_dirs=[out], resume=resume, max_steps=max_steps,
                     verbose=verbose)[0]


def run_many(configs: Sequence[TrainConfig], *, max_replicas: int | None = None,
             compile: bool = False) -> list[RunResult]:
    """Train every config; results in input order. Configs are grouped by
    :func:`~nclab.train.group_compatible` (at most ``max_replicas`` per group) and each group is
    one batched computation (``compile`` as in :func:`~nclab.train.run_group`); each run uses
    its own ``out_dir``, if any."""
    configs = list(configs)
    for i, cfg in enumerate(configs):
        if not isinstance(cfg, TrainConfig):
            raise TypeError(f"configs[{i}] is not a TrainConfig: {type(cfg).__name__}")
    results: list[RunResult | None] = [None] * len(configs)
    for group in group_compatible(configs, max_replicas=max_replicas):
        done = run_group([configs[i] for i in group], compile=compile)
        for i, r in zip(group, done, strict=True):
            results[i] = r
    return results
