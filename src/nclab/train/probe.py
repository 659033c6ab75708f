"""Probes: every layer's metrics, the loss decomposition and accuracy at chosen steps.

At each probe step, for the training set (and the held-out set when there is one) the probe
records, as long rows ``{"step", "split", "layer", "metric", "value"}``:

- layer ``"model"``: ``loss``, ``fit``, ``reg`` and every ``reg/<term>`` (training set),
  ``fit`` (held-out), ``accuracy``, ``lr``; for the weight-normalised net ``rho`` and the
  margins of the normalised outputs ``f_V = f/ρ`` (Xu et al. §3.2, §5.2);
- every layer of ``model.layer_outputs`` in ``probe.parts``: the full
  :func:`nclab.metrics.layer_report` (pre- and post-activation rows ``layer/pre``,
  ``layer/post``; NC3/NC4 on the classifier's input), and the weight rows (``w_fro``, ranks,
  balancedness) on the training split.

With ``probe.batch_size`` smaller than the set, features are streamed chunk by chunk through
:class:`nclab.metrics.ClassStats` (two passes: first-pass statistics, then the residual pass
for ``nc1_pinv``/``nc4_ncc``) and never held for the whole set; ``negativity`` then comes from
accumulated Gram matrices (for widths up to ``probe.max_gram_dim``).
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import torch
from torch import nn

from nclab.metrics import ClassStats, LayerReport, layer_report, margins
from nclab.metrics.report import stats_row, try_metric, weight_rows
from nclab.models import WeightNormNet

from .batches import TrainSet
from .config import ProbeConfig
from .divergence import Diverged
from .losses import Objective, layer_outputs, predictions


def probe_steps(total: int, cfg: ProbeConfig) -> list[int]:
    """Steps to probe: ``cfg.steps`` if given, else ``cfg.points`` log- or linearly spaced
    steps in [1, total]; always including the first (0) and the last (``total``)."""
    if cfg.steps:
        chosen = {s for s in cfg.steps if s <= total}
    elif cfg.spacing == "log":
        chosen = set(np.unique(np.rint(np.geomspace(1, max(total, 1), cfg.points))).astype(int))
    else:
        chosen = set(np.unique(np.rint(np.linspace(0, total, cfg.points))).astype(int))
    return sorted({0, total} | {int(s) for s in chosen if 0 <= s <= total})


def _row(step: int, split: str, layer: str, metric: str, value) -> dict:
    return {"step": int(step), "split": split, "layer": layer, "metric": metric,
            "value": float(value)}


def _rows(report: LayerReport, step: int, split: str) -> list[dict]:
    return [_row(step, split, r["layer"], r["metric"], r["value"]) for r in report.long(step)]


class Probe:
    """Records metrics of ``model`` on ``train`` (and ``test``) when called with a step."""

    def __init__(
        self, model: nn.Module, objective: Objective, train: TrainSet, test: TrainSet | None,
        K: int, cfg: ProbeConfig,
    ):
        self.model, self.objective, self.K, self.cfg = model, objective, K, cfg
        self.sets = [("train", train)] + ([("test", test)] if test is not None else [])

    def __call__(self, step: int, lr: float) -> tuple[list[dict], list[dict]]:
        """``(rows, skipped)`` for this step; ``skipped`` lists undefined metrics with reasons."""
        was_training = self.model.training
        if self.cfg.mode == "eval":
            self.model.eval()
        rows: list[dict] = []
        skipped: list[dict] = []
        try:
            with torch.no_grad():
                for split, data in self.sets:
                    r, s = self._split(step, split, data)
                    rows += r
                    skipped += s
        finally:
            self.model.train(was_training)
        rows.append(_row(step, "train", "model", "lr", lr))
        return rows, skipped

    # ---- one split ------------------------------------------------------------------------
    def _split(self, step: int, split: str, data: TrainSet):
        train = split == "train"
        weights = [(n, w.detach()) for n, w in self.model.weight_matrices()]
        W = weights[-1][1] if weights and weights[-1][1].shape[0] == self.K else None
        chunks = data.chunks(self.cfg.batch_size)
        if len(chunks) == 1:
            inputs, y, targets = chunks[0]
            outs = self._outputs(step, inputs)
            sums = self.objective.sums(outs, targets)
            out = outs[-1].post
            feats = self._features(outs)
            cls_in = outs[-1].input if outs[-1].input in feats else None
            report = layer_report(
                feats, y, weights if train else None, K=self.K, classifier=W,
                classifier_input=cls_in, rank_rtol=self.cfg.rank_rtol,
            )
        else:
            report, sums, out = self._stream(step, chunks, W, weights if train else [])
        rows = _rows(report, step, split)
        skipped = [{"step": step, "split": split, "layer": layer, "kind": kind, "metric": metric,
                    "reason": reason} for (layer, kind, metric), reason in report.skipped.items()]
        model_rows = self._model_metrics(split, data, sums, out)
        rows = [_row(step, split, "model", k, v) for k, v in model_rows.items()] + rows
        return rows, skipped

    def _model_metrics(self, split, data: TrainSet, sums, out) -> dict[str, float]:
        sums = {k: float(v) for k, v in sums.items()}
        if split == "train":
            values = self.objective.parts(sums)
        else:
            values = {"fit": self.objective.fit_of(sums["fit"], data.N)}
        values["accuracy"] = float((predictions(out) == data.y).double().mean())
        if isinstance(self.model, WeightNormNet):
            rho = float(self.model.rho)
            values["rho"] = rho
            labels = data.y if out.shape[1] > 1 else (2 * data.y - 1)
            for k, v in margins(out / rho, labels).items():
                values[f"margin_{k}"] = v
        return values

    def _outputs(self, step: int, inputs):
        outs = layer_outputs(self.model, inputs, self.cfg.conv_features)
        for o in outs:
            pre_bad = o.pre is not o.post and not bool(torch.isfinite(o.pre).all())
            if pre_bad or not bool(torch.isfinite(o.post).all()):
                raise Diverged(f"diverged at step {step}: layer {o.name!r} has non-finite features")
        return outs

    def _features(self, outs) -> dict:
        return {
            o.name: (o.post if o.is_linear else {"pre": o.pre, "post": o.post})
            for o in outs
            if o.part in self.cfg.parts
        }

    # ---- streaming ------------------------------------------------------------------------
    def _entries(self, outs):
        for o in outs:
            if o.part not in self.cfg.parts:
                continue
            if o.is_linear:
                yield o.name, "features", o.post
            else:
                yield o.name, "pre", o.pre
                yield o.name, "post", o.post

    def _stream(self, step, chunks, W, weights):
        """Two passes over the chunks: ClassStats, then the residual pass (see module doc)."""
        K, cfg = self.K, self.cfg
        stats: dict[tuple[str, str], ClassStats] = {}
        grams: dict[str, list[torch.Tensor]] = {}
        sums: dict[str, float] = defaultdict(float)
        outputs, cls_in = [], None
        for inputs, y, targets in chunks:
            outs = self._outputs(step, inputs)
            cls_in = outs[-1].input
            for k, v in self.objective.sums(outs, targets).items():
                sums[k] += float(v)
            outputs.append(outs[-1].post)
            for name, kind, H in self._entries(outs):
                stats.setdefault((name, kind), ClassStats(K)).update(H, y)
                if kind == "pre" and H.shape[1] <= cfg.max_gram_dim:
                    Z = H.double()
                    if name not in grams:
                        zero = Z.new_zeros(Z.shape[1], Z.shape[1])
                        grams[name] = [zero, zero.clone()]
                    neg = Z - torch.relu(Z)
                    grams[name][0].addmm_(Z.T, Z)
                    grams[name][1].addmm_(neg.T, neg)
        report = LayerReport()
        nc3 = {key: W is not None and key[0] == cls_in and s.D == W.shape[1]
               for key, s in stats.items()}
        second = {}
        for key, s in stats.items():
            try:
                second[key] = s.second_pass(W if nc3[key] else None)
            except ValueError as err:
                report.skipped[(key[0], key[1], "nc1_pinv")] = str(err)
        for inputs, y, _ in chunks:
            outs = layer_outputs(self.model, inputs, cfg.conv_features)
            for name, kind, H in self._entries(outs):
                if (name, kind) in second:
                    second[(name, kind)].update(H, y)
        for (name, kind), s in stats.items():
            report.rows.append(
                _stream_row(report, name, kind, s, second.get((name, kind)), W if nc3[(name, kind)]
                            else None, grams.get(name) if kind == "pre" else None, cfg)
            )
            if kind == "pre" and name not in grams:
                report.skipped[(name, kind, "negativity")] = (
                    f"width {s.D} > probe.max_gram_dim={cfg.max_gram_dim}: not streamed"
                )
        weight_rows(report, [(n, W.double()) for n, W in weights], K, cfg.rank_rtol)
        return report, sums, torch.cat(outputs)


def _stream_row(report, name, kind, stats: ClassStats, second, W, grams, cfg) -> dict:
    """The metrics of :func:`nclab.metrics.layer_report` for one layer, from streamed
    statistics (same names)."""
    row = stats_row(report, name, kind, stats, second, W, rank_rtol=cfg.rank_rtol)
    if grams is not None:
        try_metric(report, row, kind, "negativity", lambda: _gram_negativity(*grams))
    return row


def _gram_negativity(G: torch.Tensor, G_neg: torch.Tensor) -> float:
    """``||Z − relu(Z)||_op / ||Z||_op`` from ``ZᵀZ`` and ``(Z − relu Z)ᵀ(Z − relu Z)``."""
    top = float(torch.linalg.eigvalsh(G)[-1])
    if not top > 0:
        raise ValueError("Z_pre has zero norm")
    return (max(float(torch.linalg.eigvalsh(G_neg)[-1]), 0.0) / top) ** 0.5


