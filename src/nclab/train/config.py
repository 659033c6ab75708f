"""The run configuration: frozen, typed, validated dataclasses, one section per concern.

``TrainConfig`` = data + model + loss + reg + optim + schedule + probe + checkpoint + seed,
device, dtype. Every field is coerced to its annotated type on construction (lists become tuples,
``1`` becomes ``1.0`` for a float field) and checked; a bad value raises :class:`ConfigError`
naming the key, e.g. ``optim.lr: must be > 0, got -0.1``. Checks that need the data or the
model (a batch size that is a multiple of K, one ``reg.layer_decays`` entry per weight matrix)
are made when the run is built and name their key too.

String overrides (``"optim.lr=0.1"``) are parsed against these types by
:func:`nclab.train.overrides.apply_overrides`. The sections and the values their fields may take
live in :mod:`nclab.train.sections` and are importable from here too.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import torch

from .sections import (
    ARCHS,
    DEFAULTS_MODEL,
    DTYPES,
    INITS,
    LOSS_PRESETS,
    OPTIMIZERS,
    PARTS,
    REG_SCHEMES,
    SAMPLERS,
    SCHEDULES,
    SPACINGS,
    TARGETS,
    CheckpointConfig,
    DataConfig,
    LossConfig,
    ModelConfig,
    OptimConfig,
    ProbeConfig,
    RegConfig,
    ScheduleConfig,
)
from .typed import ConfigError, Section, build, diff, to_dict, unknown_key

__all__ = [
    "ARCHS",
    "DEFAULTS_MODEL",
    "DTYPES",
    "INITS",
    "LOSS_PRESETS",
    "OPTIMIZERS",
    "PARTS",
    "REG_SCHEMES",
    "SAMPLERS",
    "SCHEDULES",
    "SECTIONS",
    "SPACINGS",
    "TARGETS",
    "CheckpointConfig",
    "ConfigError",
    "DataConfig",
    "LossConfig",
    "ModelConfig",
    "OptimConfig",
    "ProbeConfig",
    "RegConfig",
    "ScheduleConfig",
    "TrainConfig",
    "diff",
    "from_dict",
    "to_dict",
    "unknown_key",
]


@dataclass(frozen=True)
class TrainConfig(Section):
    """A whole run. ``seed`` draws the initial weights and the batch order; ``device`` is any
    torch device string; ``threads``: ``torch.set_num_threads`` during the run (None: as is);
    ``out_dir``: where checkpoints go (also an argument of :func:`nclab.train.run`)."""

    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    reg: RegConfig = field(default_factory=RegConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    probe: ProbeConfig = field(default_factory=ProbeConfig)
    checkpoint: CheckpointConfig = field(default_factory=CheckpointConfig)
    seed: int = 0
    device: str = "cpu"
    dtype: str = "float32"
    threads: int | None = None
    out_dir: str | None = None
    name: str = ""

    def __post_init__(self):
        for f in dataclasses.fields(self):
            cls = SECTIONS.get(f.name)
            value = getattr(self, f.name)
            if cls is not None and not isinstance(value, cls):
                if not isinstance(value, dict):
                    raise ConfigError(f"{f.name}: expected a {cls.__name__} or a mapping")
                object.__setattr__(self, f.name, build(value, cls, f.name))
        super().__post_init__()

    def _check(self):
        self._one_of("dtype", DTYPES)
        self._positive("threads")
        try:
            torch.device(self.device)
        except (RuntimeError, ValueError):
            self._fail("device", "must be a torch device string such as 'cpu' or 'cuda:0'")
        arch, data, reg = self.model.arch, self.data, self.reg
        if (data.name == "labels") != (arch == "dufm"):
            raise ConfigError(
                "data.name: the DUFM trains on labels only (data.name='labels') and 'labels' "
                f"has no inputs for model.arch={arch!r}; got data.name={data.name!r}"
            )
        if reg.scheme == "rho" and arch != "weightnorm":
            raise ConfigError("reg.scheme: 'rho' needs model.arch='weightnorm' (the only ρ)")
        if reg.scheme == "dufm_like" and arch not in ("resnet20", "mlp", "dufm"):
            raise ConfigError(f"reg.scheme: 'dufm_like' needs a backbone, not {arch!r}")
        if reg.scheme == "dufm_like" and arch == "mlp" and self.model.n_backbone == 0:
            raise ConfigError("reg.scheme: 'dufm_like' on an MLP needs model.n_backbone >= 1")
        if reg.feature_decay > 0 and (arch == "weightnorm" or arch == "mlp" and
                                      self.model.n_backbone == 0):
            raise ConfigError(
                "reg.feature_decay: the model has no features entering a head (use the DUFM, "
                "the ResNet20 or an MLP with model.n_backbone >= 1)"
            )
        if reg.activation_decay > 0 and arch == "resnet20":
            raise ConfigError("reg.activation_decay: not supported for resnet20 (BatchNorm)")

    @property
    def torch_dtype(self):
        return getattr(torch, self.dtype)


SECTIONS: dict[str, type] = {
    "data": DataConfig,
    "model": ModelConfig,
    "loss": LossConfig,
    "reg": RegConfig,
    "optim": OptimConfig,
    "schedule": ScheduleConfig,
    "probe": ProbeConfig,
    "checkpoint": CheckpointConfig,
}


def from_dict(values: dict[str, Any]) -> TrainConfig:
    """A :class:`TrainConfig` from a nested mapping (e.g. a saved ``config.json``); unknown keys
    are errors naming the key."""
    return build(values, TrainConfig)
