"""What a measure reads and the rows it writes: :class:`Context` (one run at one step), the
papers' layer sets (:func:`head_layers`, :func:`hidden_layers`, :func:`select_layers`) and the
long-row builders (:func:`row`, :func:`vector_rows`, :func:`matrix_rows`).

Layer names are the probe's: a linear layer (and the DUFM's ``H1``) is ``"layer3"``, a nonlinear
one ``"layer3/pre"`` and ``"layer3/post"``; ``"model"`` holds whole-network quantities.
Indexed quantities follow the report's conventions: vectors ``name[i]``, matrices ``name[i,j]``,
2-D points ``name[i,0|1]`` with classes ``name_class[i]``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from nclab.metrics.report import feature_layer, feature_layers
from nclab.models import DUFM
from nclab.train import make_targets
from nclab.train.losses import layer_outputs


@dataclass
class Context:
    """One run at one step: what a measure may read.

    ``model`` (trained up to ``step`` of ``total``), ``config`` (the run's ``TrainConfig``),
    ``train`` (the training :class:`nclab.data.Dataset`), ``test`` (held-out or None),
    ``params`` (the grid point), ``seed``, ``final_metrics`` (the probe's last values,
    ``{(split, layer, metric): value}``) and ``loss_parts`` (the objective's decomposition).
    """

    model: Any
    config: Any
    train: Any
    test: Any
    step: int
    total: int
    params: dict
    seed: int
    final_metrics: dict = field(default_factory=dict)
    loss_parts: dict = field(default_factory=dict)
    names: dict = field(default_factory=dict)  # Experiment.layer_names of the config
    _outputs: list | None = field(default=None, repr=False)

    def feature_name(self, raw: str) -> str:
        """The experiment's name of a probe feature layer (``"layer3/pre"`` -> ``"H~4"``)."""
        return self.names.get(raw, raw)

    def weight_name(self, raw: str) -> str:
        """The experiment's name of a weight matrix (``"layer3"`` -> ``"W3"``)."""
        return self.names.get(f"w:{raw}", raw)

    @property
    def K(self) -> int:
        return int(self.train.K)

    def inputs(self):
        """What ``layer_outputs`` takes for the whole training set (None for the DUFM)."""
        return None if isinstance(self.model, DUFM) else self.train.X

    def outputs(self) -> list:
        """``layer_outputs`` of the model on the training set (computed once, no grad)."""
        if self._outputs is None:
            was = self.model.training
            self.model.eval()
            try:
                with torch.no_grad():
                    self._outputs = layer_outputs(self.model, self.inputs(),
                                                  self.config.probe.conv_features)
            finally:
                self.model.train(was)
        return self._outputs

    def features(self, kinds=("pre", "post"), parts=("features", "head", "backbone")) -> dict:
        """``{layer name: (N, n) float64 tensor}`` in depth order (the experiment's names,
        else the probe's)."""
        out = {}
        for o in self.outputs():
            if o.part not in parts:
                continue
            if o.is_linear:
                out[self.feature_name(o.name)] = o.post.detach().double()
            else:
                if "pre" in kinds:
                    out[self.feature_name(feature_layer(o.name, "pre"))] = o.pre.detach().double()
                if "post" in kinds:
                    out[self.feature_name(feature_layer(o.name, "post"))] = o.post.detach().double()
        return out


def row(layer: str, metric: str, value) -> dict:
    """One long row ``{"layer", "metric", "value"}`` (the value as a float)."""
    return {"layer": layer, "metric": metric, "value": float(value)}


def head_layers(ctx: Context, intermediate: bool = False) -> list[str]:
    """The head's feature matrices in the papers' DUFM indexing: ``H_1`` (the head's input:
    the DUFM's ``H1``, the pooled ResNet features or the backbone's last output), then
    ``H̃_l`` / ``H_l`` of every hidden head layer (the output layer excluded). ``intermediate``:
    without the last ``H_L`` (the layers of rank r in the SRG solution)."""
    outs = ctx.outputs()
    head = [o for o in outs if o.part == "head" and o.has_weight]
    if not head:
        raise ValueError("the model has no head layers")
    by_name = {o.name: o for o in outs}
    src = by_name[head[0].input]
    names = [feature_layers(src.name, src.is_linear)[-1]]
    for o in head[:-1]:
        names += feature_layers(o.name, o.is_linear)
    names = [ctx.feature_name(n) for n in names]
    return names[:-1] if intermediate else names


def hidden_layers(ctx: Context) -> list[str]:
    """The post-activation features of every weighted layer but the last (Z^1 .. Z^{L-1})."""
    outs = [o for o in ctx.outputs() if o.has_weight][:-1]
    return [ctx.feature_name(feature_layers(o.name, o.is_linear)[-1]) for o in outs]


def select_layers(feats: dict, layers, ctx: Context | None = None) -> dict:
    """``layers``: None (all), ``"head"`` / ``"head-intermediate"`` (see :func:`head_layers`),
    ``"hidden"`` (:func:`hidden_layers`) or explicit names."""
    if layers is None:
        return feats
    if isinstance(layers, str):
        if layers == "hidden":
            return {k: v for k, v in feats.items() if k in hidden_layers(ctx)}
        if layers not in ("head", "head-intermediate"):
            raise ValueError(f"layers must be None, 'head', 'head-intermediate', 'hidden' or "
                             f"names, got {layers!r}")
        layers = head_layers(ctx, intermediate=layers == "head-intermediate")
    missing = [name for name in layers if name not in feats]
    if missing:
        raise ValueError(f"no layers {missing}; the model has {list(feats)}")
    return {name: feats[name] for name in layers}


def vector_rows(layer: str, metric: str, values) -> list[dict]:
    """One row ``metric[i]`` per entry of ``values``."""
    return [row(layer, f"{metric}[{i}]", v) for i, v in enumerate(values)]


def matrix_rows(layer: str, metric: str, mat) -> list[dict]:
    """One row ``metric[i,j]`` per entry of the matrix ``mat``."""
    mat = np.asarray(mat, dtype=float)
    return [row(layer, f"{metric}[{i},{j}]", mat[i, j])
            for i in range(mat.shape[0]) for j in range(mat.shape[1])]


def targets_of(ctx: Context) -> torch.Tensor:
    """The run's regression targets (helper for custom measures)."""
    return make_targets(ctx.train.y, ctx.K, ctx.config.loss, torch.float64)
