"""CIFAR ResNet20 backbone (He et al. 2016, §4.2) with an MLP head (Jacot et al. §6,
Súkeník et al. §6): the pooled 64-d backbone output is treated as the unconstrained features."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from .layers import ExposedModel, Recorder, as_images
from .mlp import MLP

STAGE_CHANNELS = (16, 32, 64)
BLOCKS_PER_STAGE = 3


class BasicBlock(nn.Module):
    """Two 3x3 conv-BN layers, ReLU after each, identity or option-A shortcut before the last ReLU.

    Option A (He et al. §4.2, used for their CIFAR ResNets): when the block halves the spatial
    size and doubles the channels, the shortcut takes every second pixel and zero-pads the new
    channels, so it has no parameters (every weight of the network is a conv or head matrix).
    """

    def __init__(self, in_channels: int, channels: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, channels, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.stride, self.pad = stride, channels - in_channels
        if self.pad < 0 or self.pad % 2:
            raise ValueError(f"option-A shortcut cannot map {in_channels} -> {channels} channels")

    def shortcut(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride != 1:
            x = x[:, :, :: self.stride, :: self.stride]
        if self.pad:
            x = F.pad(x, (0, 0, 0, 0, self.pad // 2, self.pad // 2))
        return x

    def run(self, x: torch.Tensor, rec: Recorder | None, name: str) -> torch.Tensor:
        pre1 = self.bn1(self.conv1(x))
        post1 = F.relu(pre1)
        pre2 = self.bn2(self.conv2(post1)) + self.shortcut(x)
        post2 = F.relu(pre2)
        if rec is not None:
            rec.add(f"{name}.conv1", pre1, post1, part="backbone", kind="conv")
            rec.add(f"{name}.conv2", pre2, post2, part="backbone", kind="conv", is_linear=False)
        return post2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.run(x, None, "")


class ResNet20(ExposedModel):
    """ResNet20 (3 stages x 3 basic blocks, 16/32/64 channels, BN, option-A shortcuts) + MLP head.

    ``forward(x) = head(features(x))`` where ``features`` is the global-average-pooled output of
    the last stage (N, 64), non-negative (after the final ReLU) -- the ``H_1`` of Súkeník et al.
    §6 / Part D #30. Inputs: (N, C, H, W) or flattened square images (N, C*H*W); both
    1x28x28 (Fashion-MNIST, MNIST) and 3x32x32 (CIFAR-10) work (any size >= 4).

    Args:
        in_channels: image channels (1 or 3).
        head: an :class:`MLP` with ``in_features == 64``; default a single bias-free linear layer
            to ``num_classes`` outputs. Build the papers' heads with :meth:`with_head`.
        num_classes: outputs of the default head.

    Layer names (:meth:`layer_outputs`): ``"input"``, ``"stem"``, ``"stage{s}.block{b}.conv{1,2}"``
    (``pre`` = BN(conv(input)), plus the shortcut for ``conv2``), ``"pool"`` (the 64-d features,
    ``part="features"``, no weight), ``"head.layer{l}"``. Convolution weights are reported
    flattened (out, in*3*3); BatchNorm affine parameters are not weight matrices.
    """

    def __init__(self, in_channels: int = 3, head: MLP | None = None, *, num_classes: int = 10):
        super().__init__()
        if in_channels < 1:
            raise ValueError(f"in_channels must be >= 1, got {in_channels}")
        if head is None:
            head = MLP(STAGE_CHANNELS[-1], [num_classes], n_linear=1)
        if not isinstance(head, MLP) or head.in_features != STAGE_CHANNELS[-1]:
            raise ValueError(f"head must be an MLP with in_features={STAGE_CHANNELS[-1]}")
        self.in_channels = int(in_channels)
        self.stem = nn.Conv2d(in_channels, STAGE_CHANNELS[0], 3, padding=1, bias=False)
        self.stem_bn = nn.BatchNorm2d(STAGE_CHANNELS[0])
        blocks, c_in = [], STAGE_CHANNELS[0]
        for s, c in enumerate(STAGE_CHANNELS):
            for b in range(BLOCKS_PER_STAGE):
                stride = 2 if s > 0 and b == 0 else 1
                blocks.append(BasicBlock(c_in, c, stride))
                c_in = c
        self.blocks = nn.ModuleList(blocks)
        self.head = head

    @classmethod
    def with_head(
        cls,
        in_channels: int = 3,
        num_classes: int = 10,
        *,
        width: int = 64,
        n_nonlinear: int = 3,
        n_linear: int = 3,
        activation="relu",
        bias: bool = False,
    ) -> ResNet20:
        """ResNet20 + ``n_nonlinear`` activated and ``n_linear`` linear head layers of ``width``.

        Defaults: Jacot et al. Fig. 1 (3 ReLU + 3 linear, width 64, no biases). Súkeník et al.'s
        "L-layer MLP head" is ``n_nonlinear = L - 1, n_linear = 1``.
        """
        head = MLP.with_linear_head(
            STAGE_CHANNELS[-1], width, num_classes, n_nonlinear, n_linear, activation, bias=bias
        )
        return cls(in_channels, head)

    def _block_name(self, i: int) -> str:
        return f"stage{i // BLOCKS_PER_STAGE + 1}.block{i % BLOCKS_PER_STAGE + 1}"

    def _backbone(self, x: torch.Tensor, rec: Recorder | None) -> torch.Tensor:
        x = as_images(x, self.in_channels)
        if rec is not None:
            rec.add("input", x, x, part="input", kind="input", has_weight=False)
        pre = self.stem_bn(self.stem(x))
        h = F.relu(pre)
        if rec is not None:
            rec.add("stem", pre, h, part="backbone", kind="conv")
        for i, block in enumerate(self.blocks):
            h = block.run(h, rec, self._block_name(i))
        h = h.mean(dim=(2, 3))
        if rec is not None:
            rec.add("pool", h, h, part="features", kind="pool", has_weight=False)
        return h

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Backbone output: pooled last-stage features (N, 64), the head's input."""
        return self._backbone(x, None)

    def _run(self, x: torch.Tensor, rec: Recorder | None) -> torch.Tensor:
        h = self._backbone(x, rec)
        return self.head._run(h, rec, prefix="head.", record_input=False)

    def _named_weights(self):
        out = [("stem", "backbone", self.stem.weight)]
        for i, block in enumerate(self.blocks):
            name = self._block_name(i)
            out.append((f"{name}.conv1", "backbone", block.conv1.weight))
            out.append((f"{name}.conv2", "backbone", block.conv2.weight))
        return out + self.head._named_weights(prefix="head.")
