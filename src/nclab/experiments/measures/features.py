"""Measures of every layer's features and weights during training (Zangrando et al.): sample
Gram matrices, 2-D projections, the total cluster variation, the Gram block residual, the
feature spectra of Theorem 4.2 and the weight norms."""

from __future__ import annotations

import numpy as np
import torch

from nclab.data import class_sorted_order
from nclab.experiments.spec import Measure
from nclab.metrics import energy_rank, tcv
from nclab.metrics.report import feature_layers
from nclab.theory import predicted_spectra_from_features

from .context import Context, matrix_rows, row, select_layers, vector_rows


def _subset(y: torch.Tensor, K: int, per_class: int | None) -> torch.Tensor:
    """Indices sorted by class, the first ``per_class`` of each class (all when None)."""
    order = torch.as_tensor(class_sorted_order(y.cpu().numpy()), device=y.device)
    if per_class is None:
        return order
    ys = y[order]
    keep = [order[ys == c][:per_class] for c in range(K)]
    return torch.cat(keep)


def sample_gram(layers=None, *, per_class: int = 5, at=(0.0, 0.1, 1.0),
                metric: str = "gram") -> Measure:
    """Uncentred sample Gram matrices ``G = Zᵀ Z`` (columns sorted by class, ``per_class``
    samples of each class) normalised by their largest entry (Zangrando et al. Fig 6, A.11
    #45), at fractions ``at`` of training; layer names tagged ``@<step>``."""

    def fn(ctx: Context):
        idx = _subset(ctx.train.y, ctx.K, per_class)
        rows = []
        for name, H in select_layers(ctx.features(("post",)), layers, ctx).items():
            Z = H[idx]
            G = (Z @ Z.T).cpu().numpy()
            scale = np.abs(G).max()
            rows += matrix_rows(name, metric, G / scale if scale > 0 else G)
        return rows

    return Measure(metric, fn, tuple(at), tag_step=True)


def projection_2d(layers=None, *, per_class: int | None = 20, at=(0.0, 0.1, 1.0),
                  metric: str = "proj") -> Measure:
    """Each layer's features projected on a fixed random 2-D subspace (Zangrando et al. Fig 7,
    A.11 #47): ``B = Qᵀ`` from ``qr(randn(n, 2))`` drawn once per layer from the run seed, so the
    projection is the same at every step; layer names tagged ``@<step>``."""

    def fn(ctx: Context):
        idx = _subset(ctx.train.y, ctx.K, per_class)
        y = ctx.train.y[idx].cpu().numpy()
        rows = []
        for li, (name, H) in enumerate(select_layers(ctx.features(("post",)), layers, ctx).items()):
            g = torch.Generator().manual_seed(10_000 * ctx.seed + li)
            Q, _ = torch.linalg.qr(torch.randn(H.shape[1], 2, generator=g, dtype=torch.float64))
            P = (H[idx].cpu() @ Q).numpy()
            for i in range(P.shape[0]):
                rows += [row(name, f"{metric}[{i},0]", P[i, 0]),
                         row(name, f"{metric}[{i},1]", P[i, 1]),
                         row(name, f"{metric}_class[{i}]", y[i])]
        return rows

    return Measure(metric, fn, tuple(at), tag_step=True)


def tcv_layers(layers=None, *, at=(0.0, 0.01, 0.03, 0.1, 0.3, 1.0), restarts: int = 5) -> Measure:
    """Total cluster variation ``TCV_K`` of every layer's post-activation features with the
    one-hot labels appended (Zangrando et al. Def 3.2, Fig 3; k-means upper bound), their
    layer average and the numerical ranks (``rank_energy`` at 1e-5, P1 §5.3) of the features,
    at fractions ``at`` of training (a curve over steps)."""

    def fn(ctx: Context):
        Y = torch.nn.functional.one_hot(ctx.train.y, ctx.K).double()
        rows, values, ranks = [], [], []
        for name, H in select_layers(ctx.features(("post",)), layers, ctx).items():
            v = tcv(H, ctx.K, Y, restarts=restarts, seed=ctx.seed)
            r = energy_rank(H, 1e-5)
            rows += [row(name, "tcv", v), row(name, "feat_rank", r)]
            values.append(v)
            ranks.append(r)
        rows += [row("model", "tcv_mean", float(np.mean(values))),
                 row("model", "tcv_min", float(np.min(values))),
                 row("model", "tcv_max", float(np.max(values))),
                 row("model", "feat_rank_mean", float(np.mean(ranks))),
                 row("model", "feat_rank_min", float(np.min(ranks))),
                 row("model", "feat_rank_max", float(np.max(ranks)))]
        return rows

    return Measure("tcv", fn, tuple(at))


def gram_block_residual(layers=None, *, at=(1.0,)) -> Measure:
    """``||G - B|| / ||G||`` with ``G = Z Zᵀ`` over all samples (uncentred) and ``B`` its
    class-block means (experiments.md A.1 #8; zero iff NC1, Zangrando et al. Prop D.1), as
    ``gram_block_res`` per layer at fractions ``at`` of training."""

    def fn(ctx: Context):
        y = ctx.train.y
        onehot = torch.nn.functional.one_hot(y, ctx.K).double()
        counts = onehot.sum(0)
        rows = []
        for name, H in select_layers(ctx.features(("post",)), layers, ctx).items():
            G = H @ H.T
            block = (onehot.T @ G @ onehot) / torch.outer(counts, counts)
            B = onehot @ block @ onehot.T
            denom = float(G.norm())
            rows.append(row(name, "gram_block_res",
                            float((G - B).norm()) / denom if denom > 0 else 0.0))
        return rows

    return Measure("gram_block_residual", fn, tuple(at))


# ---- Zangrando et al. Theorem 4.2 -------------------------------------------------------------
def feature_spectra(activation: str = "tanh", C: float = 1.0) -> Measure:
    """Singular values of every intermediate post-activation feature matrix ``Z^l`` (measured,
    ``feat_sv[i]`` on layer ``layerl``) and their Theorem 4.2 prediction
    ``ŝ(Z^l) = C s(σ^{-1}(Z^{l+1}))`` (``feat_sv[i]`` on ``layerl (predicted)``), with the
    relative error per layer (``sv_rel_error``) and its mean over layers on ``model``
    (Zangrando et al. Figs 2, 4; experiments.md B.2.6)."""

    def fn(ctx: Context):
        outs = [o for o in ctx.outputs() if o.has_weight]
        feats = [o.post.double() for o in outs]
        res = predicted_spectra_from_features(feats, activation, C)
        rows = []
        for i, o in enumerate(outs[:-1]):
            name = ctx.feature_name(feature_layers(o.name, o.is_linear)[-1])
            rows += vector_rows(name, "feat_sv", res["measured"][i])
            rows += vector_rows(f"{name} (predicted)", "feat_sv", res["predicted"][i])
            rows.append(row(name, "sv_rel_error", res["rel_error"][i]))
        rows.append(row("model", "sv_rel_error", res["mean_rel_error"]))
        return rows

    return Measure("feature_spectra", fn)


_TENTHS = tuple(float(a) for a in np.round(np.linspace(0.0, 1.0, 11), 2))


def weight_norms(at=_TENTHS) -> Measure:
    """Frobenius norm of every weight matrix (``w_norm``) at fractions ``at`` of training
    (Zangrando et al. Fig 5: residual weights -> 0)."""

    def fn(ctx: Context):
        with torch.no_grad():
            return [row(ctx.weight_name(name), "w_norm", float(W.double().norm()))
                    for name, W in ctx.model.weight_matrices()]

    return Measure("weight_norms", fn, tuple(float(a) for a in at))
