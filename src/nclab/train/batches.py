"""Which samples each step sees: the full batch, shuffled mini-batches or class-balanced ones.

Every sampler draws from its own CPU ``torch.Generator`` (seeded from the run seed), so the data
order does not depend on anything else that consumes random numbers, and its ``state_dict``
(generator state, current permutation, position) makes a resumed run see exactly the batches of
an uninterrupted one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from .config import ConfigError, OptimConfig, TrainConfig
from .losses import make_targets


@dataclass
class TrainSet:
    """Tensors of one split on the training device: ``inputs`` (N, ...) or None for the DUFM
    (whose inputs are sample indices), integer labels ``y`` and loss ``targets``."""

    inputs: torch.Tensor | None
    y: torch.Tensor
    targets: torch.Tensor

    @property
    def N(self) -> int:
        return self.y.shape[0]

    def chunks(self, size: int | None):
        """``[(inputs, y, targets)]`` in order, ``size`` samples each (None: one chunk)."""
        if size is None or size >= self.N:
            return [(self.inputs, self.y, self.targets)]
        out = []
        for start in range(0, self.N, size):
            idx = torch.arange(start, min(start + size, self.N), device=self.y.device)
            inputs = idx if self.inputs is None else self.inputs[start : start + size]
            out.append((inputs, self.y[start : start + size], self.targets[start : start + size]))
        return out


def train_set(cfg: TrainConfig, data) -> TrainSet:
    """A split's tensors as the engine trains on them: inputs (None for the DUFM, whose inputs
    are sample indices), labels and the loss targets of ``cfg.loss``."""
    inputs = None if cfg.model.arch == "dufm" else data.X
    return TrainSet(inputs, data.y, make_targets(data.y, data.K, cfg.loss, cfg.torch_dtype))


def batch_seed(seed: int) -> int:
    """Seed of the data-order generator, distinct from the initialisation seed."""
    return (int(seed) * 6364136223846793005 + 1442695040888963407) % (2**63)


class FullBatch:
    """Gradient descent: every step uses all N samples."""

    steps_per_epoch = 1

    def next(self) -> None:
        return None

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass


class ShuffledBatches:
    """Consecutive slices of a fresh seeded permutation per epoch (the last may be smaller)."""

    def __init__(self, N: int, batch_size: int, seed: int, device):
        self.N, self.B, self.device = N, min(batch_size, N), device
        self.generator = torch.Generator().manual_seed(batch_seed(seed))
        self.perm = torch.empty(0, dtype=torch.long, device=device)
        self.pos = 0
        self.steps_per_epoch = math.ceil(N / self.B)

    def _new_epoch(self) -> None:
        self.perm = torch.randperm(self.N, generator=self.generator).to(self.device)
        self.pos = 0

    def next(self) -> torch.Tensor:
        if self.pos >= self.perm.numel():
            self._new_epoch()
        index = self.perm[self.pos : self.pos + self.B]
        self.pos += self.B
        return index

    def state_dict(self) -> dict:
        return {"perm": self.perm.cpu(), "pos": self.pos, "generator": self.generator.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self.perm = state["perm"].to(self.device)
        self.pos = int(state["pos"])
        self.generator.set_state(state["generator"])


class ClassBalancedBatches(ShuffledBatches):
    """Every batch holds ``b = B / K`` samples of each class (Xu et al. Thm 6, B = bC).

    Per epoch each class is permuted separately; batch j takes the j-th block of b from every
    class, so an epoch has ``min_c N_c // b`` batches (the remainders are left out).
    """

    def __init__(self, y: torch.Tensor, K: int, batch_size: int, seed: int, device):
        if batch_size % K:
            raise ConfigError(
                f"optim.batch_size: class-balanced batches need a multiple of K={K}, "
                f"got {batch_size}"
            )
        self.b = batch_size // K
        y = y.cpu()
        self.members = [torch.nonzero(y == c).flatten() for c in range(K)]
        per_class = min(m.numel() for m in self.members)
        if per_class < self.b:
            raise ConfigError(
                f"optim.batch_size: {self.b} samples per class per batch, but the smallest "
                f"class has {per_class}"
            )
        super().__init__(y.numel(), batch_size, seed, device)
        self.steps_per_epoch = per_class // self.b

    def _new_epoch(self) -> None:
        m = self.steps_per_epoch * self.b
        table = torch.stack(
            [c[torch.randperm(c.numel(), generator=self.generator)[:m]] for c in self.members]
        )  # (K, m)
        blocks = table.reshape(len(self.members), self.steps_per_epoch, self.b).transpose(0, 1)
        self.perm = blocks.reshape(-1).to(self.device)  # batch j = the j-th K*b slice
        self.pos = 0


def make_sampler(optim: OptimConfig, y: torch.Tensor, K: int, seed: int):
    """The sampler of ``optim`` (full batch when ``batch_size`` is None)."""
    if optim.batch_size is None:
        return FullBatch()
    if optim.sampler == "class_balanced":
        return ClassBalancedBatches(y, K, optim.batch_size, seed, y.device)
    return ShuffledBatches(y.numel(), optim.batch_size, seed, y.device)
