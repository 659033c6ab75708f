"""Planning an experiment's grid: :class:`PlannedRun` s with fully resolved configs.

:func:`plan` expands a scale's grid x seeds into planned runs (``Experiment.base`` + the scale's
overrides + the grid point + ``derive`` + the user's ``--set`` overrides + seed/device/data dir).
:func:`replan` re-plans one run from ids and :class:`Options` (what a worker process, a Ray task
or a Slurm job receives).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass

from nclab.experiments.spec import SCALES, Experiment, grid_points
from nclab.store import run_id
from nclab.train import ConfigError, TrainConfig, apply_overrides, to_dict


class PlanError(ValueError):
    """A bad scale, grid key or ``--set`` override (the CLI exits with code 2)."""


@dataclass(frozen=True)
class PlannedRun:
    """One run of a leaf experiment: grid point ``params`` with ``seed``; ``config`` is the
    resolved :class:`TrainConfig` (None for a theory computation)."""

    experiment: Experiment
    scale: str
    params: dict
    seed: int
    config: TrainConfig | None

    @property
    def run_id(self) -> str:
        return run_id(self.params, self.seed)

    def config_dict(self) -> dict:
        if self.config is not None:
            return to_dict(self.config)
        name = getattr(self.experiment.compute, "__qualname__", str(self.experiment.compute))
        return {"compute": name, "params": self.params, "seed": self.seed}


def _is_config_key(key: str) -> bool:
    try:
        apply_overrides(TrainConfig(), [f"{key}=0"])
    except ConfigError as err:
        return not str(err).startswith("unknown config key")
    return True


def _literal(value) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value)


def plan(
    experiment: Experiment,
    scale: str = "smoke",
    *,
    seeds: int | None = None,
    sets: Sequence[str] = (),
    device: str | None = None,
    data_dir: str | None = None,
) -> list[PlannedRun]:
    """Every run of ``experiment`` (all leaves of a composite) at ``scale``.

    ``seeds``: number of seeds (default: the scale's); ``sets``: ``"a.b=value"`` overrides
    applied last (a key the grid sets is an error); ``device``/``data_dir``: config overrides.
    Raises :class:`PlanError` for a skipped experiment, an unknown scale, a grid key that is
    neither a config key nor handled by ``derive``, or a bad override (the message names it).
    """
    if experiment.skipped:
        raise PlanError(f"{experiment.id} is not runnable: {experiment.skipped}")
    if scale not in SCALES:
        raise PlanError(f"unknown scale {scale!r}; use one of {', '.join(SCALES)}")
    if seeds is not None and seeds < 1:
        raise PlanError(f"--seeds must be >= 1, got {seeds}")
    out: list[PlannedRun] = []
    for leaf in experiment.leaves():
        out += _plan_leaf(leaf, scale, seeds, list(sets), device, data_dir)
    return out


def _plan_leaf(exp: Experiment, scale, seeds, sets, device, data_dir) -> list[PlannedRun]:
    if scale not in exp.scales:
        raise PlanError(f"{exp.id} has no scale {scale!r}; it defines {', '.join(exp.scales)}")
    sc = exp.scales[scale]
    n_seeds = sc.seeds if seeds is None else seeds
    points = grid_points(sc.grid)
    if exp.compute is not None:
        if sets:
            raise PlanError(f"{exp.id} is a theory computation: --set does not apply")
        return [PlannedRun(exp, scale, p, s, None) for p in points for s in range(n_seeds)]
    if exp.base is None:
        raise PlanError(f"{exp.id} has nothing to run (no base config, no compute)")
    set_keys = {item.split("=", 1)[0].strip() for item in sets}
    try:
        scaled = apply_overrides(exp.base, list(sc.overrides))
    except ConfigError as err:
        raise PlanError(f"{exp.id} ({scale}): {err}") from None
    runs = []
    for point in points:
        direct = [f"{k}={_literal(v)}" for k, v in point.items() if _is_config_key(k)]
        derived = list(exp.derive(point, scaled)) if exp.derive is not None else []
        unhandled = [k for k in point if not _is_config_key(k)]
        if unhandled and exp.derive is None:
            raise PlanError(f"{exp.id}: grid keys {unhandled} are not config keys and the "
                            "experiment has no derive() to handle them")
        grid_keys = {o.split("=", 1)[0] for o in direct + derived}
        clash = sorted(set_keys & grid_keys)
        if clash:
            raise PlanError(f"--set {', '.join(clash)}: set by the grid of {exp.id} "
                            f"({scale} scale); choose another key or edit the grid")
        for seed in range(n_seeds):
            items = [*sc.overrides, *direct, *derived, *sets, f"seed={seed}"]
            if device is not None:
                items.append(f"device={device}")
            if data_dir is not None:
                items.append(f"data.data_dir={data_dir}")
            try:
                cfg = apply_overrides(exp.base, items)
            except ConfigError as err:
                raise PlanError(f"{exp.id} ({scale}): {err}") from None
            runs.append(PlannedRun(exp, scale, point, seed, cfg))
    return runs


@dataclass(frozen=True)
class Options:
    """The planning and execution options of a :func:`run_experiments` call, as an executor
    needs them to re-plan a run in another process (:func:`replan`)."""

    seeds: int | None = None
    sets: tuple[str, ...] = ()
    device: str | None = None
    data_dir: str | None = None
    chunk_seconds: float = 2.0
    overwrite: bool = False


def replan(experiment_id: str, scale: str, run_id_: str, options: Options) -> PlannedRun:
    """The planned run ``run_id_`` of a registered experiment, planned again from its id (how a
    worker process or a remote task gets its run: only ids and options travel)."""
    from nclab.experiments.registry import get

    runs = plan(get(experiment_id), scale, seeds=options.seeds, sets=options.sets,
                device=options.device, data_dir=options.data_dir)
    for r in runs:
        if r.run_id == run_id_:
            return r
    raise PlanError(f"{experiment_id} ({scale}) has no run {run_id_!r}")


def registered(runs: list[PlannedRun]) -> bool:
    """Whether every run's experiment is the registered one of its id (so it can be
    re-planned elsewhere with :func:`replan`)."""
    from nclab.experiments.registry import is_registered

    return all(is_registered(r.experiment) for r in runs)


def replace_scale(experiment: Experiment, scale: str, **changes) -> Experiment:
    """A copy of ``experiment`` whose ``scale`` has some fields changed (tests, ablations)."""
    scales = dict(experiment.scales)
    scales[scale] = dataclasses.replace(scales[scale], **changes)
    return dataclasses.replace(experiment, scales=scales)
