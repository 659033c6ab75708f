"""The layer-exposure protocol shared by every nclab model (what training probes read).

Every model (:class:`~nclab.models.MLP`, :class:`~nclab.models.DUFM`,
:class:`~nclab.models.ResNet20`, :class:`~nclab.models.WeightNormNet`) subclasses
:class:`ExposedModel` and provides:

``model.layer_outputs(x=None, *, conv_features="flatten") -> list[LayerOutput]``
    One entry per layer in depth order, computed from the batch ``x`` (the DUFM takes no input:
    it computes from its free features ``H1``, optionally ``index=`` a subset of samples).

    - The first entry is the input (``"input"``, ``kind="input"``; ``"H1"`` for the DUFM), the
      last entry's ``post`` is exactly ``model(x)``. Every entry's ``input`` field names the
      entry before it.
    - ``has_weight`` entries are named like their weight in ``weight_matrices()``; that weight
      acts on the ``post`` of the ``input`` entry. For ``kind == "dense"`` exactly
      ``pre = layer_input @ W.T`` (+ bias); for ``kind == "conv"`` ``pre`` also includes
      BatchNorm and, for the second conv of a ResNet block, the shortcut.
    - ``is_linear`` entries have ``post is pre``; otherwise ``post = σ(pre)`` (plus the layer input
      for residual MLP layers).
    - All features are 2-d (N, n). Conv feature maps (N, C, H, W) are flattened to (N, C*H*W) in
      torch's C-major order (``conv_features="flatten"``, exact; what the next dense layer
      consumes) or averaged over space to (N, C) (``"pool"``); image inputs are always flattened.

``model.weight_matrices() -> list[tuple[str, Tensor]]``
    The weight matrices in depth order (one per ``has_weight`` entry, same names and order);
    conv kernels flattened to (out, in*kh*kw). Live tensors (not detached): wrap probes in
    ``torch.no_grad()``.

``model.head_weights() -> list[tuple[str, Tensor]]``
    The entries of ``weight_matrices()`` whose layer has ``part == "head"``.

Helpers: :func:`layer_input` (features a layer consumes), :func:`consumer_of` (the weighted
layer that consumes a given entry), :func:`outputs_by_name`.

``forward(x)`` never records anything (probes off = plain forward pass). ``layer_outputs``
restores BatchNorm running statistics, so probes may run in train mode without perturbing
training; it runs under the caller's grad mode.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass

import torch
from torch import nn

PARTS = ("input", "backbone", "features", "head")
KINDS = ("input", "dense", "conv", "pool")
CONV_FEATURE_MODES = ("flatten", "pool")


@dataclass(frozen=True, eq=False)
class LayerOutput:
    """Features of one layer for a batch (rows = samples).

    Attributes:
        name: layer name, e.g. ``"layer3"``, ``"head.layer1"``, ``"stage2.block1.conv2"``.
        pre: (N, n) pre-activation (what enters the activation; for the input entry, the input).
        post: (N, n) post-activation; the same tensor as ``pre`` when ``is_linear``.
        is_linear: True when the layer applies no activation (and has no skip connection).
        has_weight: True when ``name`` is a key of ``model.weight_matrices()``.
        input: name of the entry whose ``post`` this layer consumes (None for the first entry).
        part: ``"input"``, ``"backbone"``, ``"features"`` (the unconstrained features: DUFM ``H1``,
            pooled ResNet output) or ``"head"``.
        kind: the operator producing ``pre``: ``"input"`` (none: the data or the DUFM's ``H1``),
            ``"dense"``, ``"conv"`` or ``"pool"`` (global average pooling, no weight).
    """

    name: str
    pre: torch.Tensor
    post: torch.Tensor
    is_linear: bool
    has_weight: bool
    input: str | None
    part: str
    kind: str


class Recorder:
    """Collects :class:`LayerOutput` entries while a model runs its forward code path."""

    def __init__(self, conv_features: str = "flatten"):
        if conv_features not in CONV_FEATURE_MODES:
            raise ValueError(
                f"conv_features must be one of {CONV_FEATURE_MODES}, got {conv_features!r}"
            )
        self.conv_features = conv_features
        self.outputs: list[LayerOutput] = []

    def _flat(self, t: torch.Tensor, kind: str) -> torch.Tensor:
        if t.ndim == 2:
            return t
        if kind == "conv" and self.conv_features == "pool":
            return t.mean(dim=(2, 3))
        return t.reshape(t.shape[0], -1)

    def add(self, name, pre, post, *, part, kind, has_weight=True, is_linear=None, input=None):
        """Record one layer; ``input`` defaults to the previous entry."""
        if is_linear is None:
            is_linear = post is pre
        if input is None and self.outputs:
            input = self.outputs[-1].name
        flat_pre = self._flat(pre, kind)
        flat_post = flat_pre if post is pre else self._flat(post, kind)
        self.outputs.append(
            LayerOutput(name, flat_pre, flat_post, bool(is_linear), has_weight, input, part, kind)
        )


@contextlib.contextmanager
def preserved_batchnorm_stats(model: nn.Module):
    """Restore every BatchNorm running statistic of ``model`` on exit."""
    saved = []
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats:
            bufs = (m.running_mean, m.running_var, m.num_batches_tracked)
            saved.append((bufs, [None if b is None else b.clone() for b in bufs]))
    try:
        yield
    finally:
        with torch.no_grad():
            for bufs, copies in saved:
                for b, c in zip(bufs, copies, strict=True):
                    if b is not None:
                        b.copy_(c)


class ExposedModel(nn.Module):
    """Base class of nclab models: implements the protocol from ``_run`` and ``_named_weights``.

    Subclasses implement ``_run(x, rec)`` (the forward pass; records into ``rec`` when it is not
    None) and ``_named_weights()`` -> ``[(name, part, matrix), ...]`` in depth order.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._run(x, None)

    def _run(self, x, rec: Recorder | None):  # pragma: no cover - abstract
        raise NotImplementedError

    def _named_weights(self) -> list[tuple[str, str, torch.Tensor]]:  # pragma: no cover
        raise NotImplementedError

    def layer_outputs(self, x=None, *, conv_features: str = "flatten") -> list[LayerOutput]:
        """Per-layer pre/post features for the batch ``x`` (see the module docstring)."""
        if x is None:
            raise ValueError(f"{type(self).__name__}.layer_outputs needs an input batch x")
        rec = Recorder(conv_features)
        with preserved_batchnorm_stats(self):
            self._run(x, rec)
        return rec.outputs

    def weight_matrices(self) -> list[tuple[str, torch.Tensor]]:
        """``[(name, W), ...]`` in depth order; conv kernels flattened to (out, in*kh*kw)."""
        return [(name, _as_matrix(w)) for name, _, w in self._named_weights()]

    def head_weights(self) -> list[tuple[str, torch.Tensor]]:
        """The head's part of :meth:`weight_matrices` (layers with ``part == "head"``)."""
        return [(name, _as_matrix(w)) for name, part, w in self._named_weights() if part == "head"]


def _as_matrix(w: torch.Tensor) -> torch.Tensor:
    return w if w.ndim == 2 else w.reshape(w.shape[0], -1)


def as_images(x: torch.Tensor, channels: int, name: str = "x") -> torch.Tensor:
    """Accept (N, C, H, W) or flattened square images (N, C*H*H); return (N, C, H, W)."""
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.ndim == 4:
        if x.shape[1] != channels:
            raise ValueError(f"{name} must have {channels} channels, got shape {tuple(x.shape)}")
        return x
    if x.ndim == 2 and x.shape[1] % channels == 0:
        side = math.isqrt(x.shape[1] // channels)
        if side * side * channels == x.shape[1]:
            return x.reshape(x.shape[0], channels, side, side)
    raise ValueError(
        f"{name} must be (N, {channels}, H, W) or flattened square images (N, {channels}*H*H), "
        f"got shape {tuple(x.shape)}"
    )


def outputs_by_name(outputs: list[LayerOutput]) -> dict[str, LayerOutput]:
    """``{name: LayerOutput}`` for a list returned by ``layer_outputs``."""
    return {o.name: o for o in outputs}


def layer_input(outputs: list[LayerOutput], name: str) -> torch.Tensor:
    """The features consumed by layer ``name``: the ``post`` of the entry named by its input."""
    by_name = outputs_by_name(outputs)
    if name not in by_name:
        raise ValueError(f"no layer named {name!r}; layers: {list(by_name)}")
    source = by_name[name].input
    if source is None:
        raise ValueError(f"layer {name!r} is the first entry and has no input entry")
    return by_name[source].post


def consumer_of(outputs: list[LayerOutput], name: str) -> str | None:
    """Name of the weighted layer whose input is the ``post`` of ``name`` (None for the output)."""
    if name not in outputs_by_name(outputs):
        raise ValueError(f"no layer named {name!r}; layers: {[o.name for o in outputs]}")
    for o in outputs:
        if o.input == name and o.has_weight:
            return o.name
    return None
