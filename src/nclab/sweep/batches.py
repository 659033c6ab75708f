"""The training data of a vectorised run and each step's batch for the live replicas."""

from __future__ import annotations

import torch

from nclab.data import Dataset
from nclab.train import TrainConfig, TrainSet, make_targets

from .replica import Replica


def train_set(cfg: TrainConfig, data: Dataset) -> TrainSet:
    """The split's tensors as ``nclab.train.run`` trains on them (the DUFM has no inputs)."""
    inputs = None if cfg.model.arch == "dufm" else data.X
    return TrainSet(inputs, data.y, make_targets(data.y, data.K, cfg.loss, cfg.torch_dtype))


class StackedBatches:
    """Each step's ``(x, targets, idx)`` in the layout of :class:`~nclab.sweep.StackedNet`.

    Full batch: the shared inputs (N, D) and targets (K, N) (labels (N,) for cross-entropy),
    no copy, ``idx`` None. Mini-batches: every replica's sampler draws its own indices
    (S, B); inputs (S, B, D), targets (S, K, B) (labels (S, B)).
    """

    def __init__(self, train: TrainSet, kind: str):
        self.train, self.kind = train, kind
        self.X = None if train.inputs is None else train.inputs.reshape(train.N, -1)
        self.targets = train.targets if kind == "ce" else train.targets.T.contiguous()

    def take(self, replicas: list[Replica]):
        index = [r.sampler.next() for r in replicas]
        if index[0] is None:
            return self.X, self.targets, None
        idx = torch.stack(index)
        x = None if self.X is None else self.X[idx]
        t = self.train.targets[idx]
        return x, (t if self.kind == "ce" else t.transpose(1, 2)), idx
