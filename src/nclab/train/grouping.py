"""Which configs can share one batched computation: :func:`group_key`, :func:`group_compatible`.

Replicas of one group are trained as one batched computation, so they must agree on everything
that fixes shapes, data, batches' sizes and the code path: the data section, the architecture
(``model`` except its initialisation), the loss, the optimiser type, momentum and length, the
schedule shape, the probes, ``dtype``, ``device`` and ``threads``. They may differ in

- ``seed`` (initial weights and batch order), ``name``, ``out_dir``, ``checkpoint``;
- ``optim.lr`` (the base learning rate of the shared schedule);
- the whole ``reg`` section (weight decay, per-layer decays, feature/activation decay, scheme,
  factor: every replica gets its own penalty coefficients);
- ``model.init``, ``model.init_scale``, ``model.feature_std``, ``model.init_from`` (each replica
  is initialised by ``nclab.train.build_model`` from its own config).

Whether grouping changes a run's numbers: :func:`exact_grouping`. On CPU with one thread the
hand-batched DUFM / MLP / dense weight-normalised families compute every row of the stack exactly
as a run alone does (bit-identical, ``tests/train/test_group_equivalence.py``). The ``torch.func``
families (ResNet20's ``vmap``-batched convolutions, the weight-normalised net with convolutions),
the dense weight-normalised net in float32 (measured on an AVX2 CPU: a replica drifts in the last
bits after ~60 SGD steps) and more than one thread round differently for different group sizes
(measured: float32 parameters differ by ~1e-5 after 60 steps), so the runner trains those alone.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from .config import TrainConfig, to_dict


def torch_func_path(cfg: TrainConfig) -> str | None:
    """None when ``cfg`` trains through the hand-batched matmuls of
    :class:`nclab.train.stacked.StackedNet` (DUFM, MLP, dense weight-normalised net); else the
    phrase saying that it trains through ``torch.func``."""
    m = cfg.model
    if m.arch in ("dufm", "mlp") or (m.arch == "weightnorm" and not m.conv_channels):
        return None
    what = "with convolutions " if m.arch == "weightnorm" else ""
    return f"model.arch={m.arch!r} {what}trains through torch.func"


def stacked(cfg: TrainConfig) -> bool:
    """Whether ``cfg`` is hand-batched (:func:`torch_func_path` is None)."""
    return torch_func_path(cfg) is None


# fields that may differ between the replicas of one group
FREE = {
    None: ("seed", "name", "out_dir", "reg", "checkpoint"),
    "optim": ("lr",),
    "model": ("init", "init_scale", "feature_std", "init_from"),
}


def exact_grouping(cfg: TrainConfig) -> str | None:
    """None when training ``cfg`` in a group of any size gives the numbers of training it alone,
    bit for bit; else why not (the runner then trains it alone, so that a run id's numbers never
    depend on how it was scheduled)."""
    if path := torch_func_path(cfg):
        return f"{path} (vmap-batched kernels round differently for different group sizes)"
    if cfg.model.arch == "weightnorm" and cfg.dtype != "float64":
        return (f"model.arch='weightnorm' in {cfg.dtype}: replicas trained in a group drift from "
                "the run alone in the last bits (measured on an AVX2 CPU: one of 3 float32 "
                "replicas after 56 SGD steps, not seen on an AVX-512 one; float64 is exact)")
    if cfg.threads != 1:
        return (f"threads={cfg.threads} (intra-op parallel splits depend on the group size; "
                "threads=1 is exact)")
    if cfg.device != "cpu":
        return f"device={cfg.device!r} (kernels are chosen by shape; only the CPU is checked)"
    return None


def group_key(cfg: TrainConfig) -> str:
    """A string equal for two configs exactly when they may share one batched run."""
    if not isinstance(cfg, TrainConfig):
        raise TypeError(f"not a TrainConfig: {type(cfg).__name__}")
    values = to_dict(cfg)
    for section, names in FREE.items():
        target = values if section is None else values[section]
        for name in names:
            target.pop(name, None)
    return json.dumps(values, sort_keys=True, default=str)


def group_compatible(
    configs: Sequence[TrainConfig], *, max_replicas: int | None = None
) -> list[list[int]]:
    """Partition the indices of ``configs`` into groups that can share one batched run:
    configs with the same :func:`group_key` (at most ``max_replicas`` each, in input order).
    Groups are listed in the order of their first member."""
    if max_replicas is not None and (isinstance(max_replicas, bool) or max_replicas < 1):
        raise ValueError(f"max_replicas must be a positive integer or None, got {max_replicas!r}")
    groups: dict[str, list[list[int]]] = {}
    order: list[list[int]] = []
    for i, cfg in enumerate(configs):
        chunks = groups.setdefault(group_key(cfg), [])
        if not chunks or (max_replicas is not None and len(chunks[-1]) >= max_replicas):
            chunks.append([])
            order.append(chunks[-1])
        chunks[-1].append(i)
    return order
