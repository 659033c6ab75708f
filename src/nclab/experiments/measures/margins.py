"""Measures of the weight-normalised network of Xu et al.: the per-sample margins of the
normalised outputs, the norm-based generalisation bound (16) with ρ's equilibrium (7), and the
classifier's equinorm / equiangularity."""

from __future__ import annotations

import math

import torch

from nclab.experiments.spec import Measure
from nclab.metrics import margin_values
from nclab.models import WeightNormNet
from nclab.theory import norm_generalization_bound, rho_equilibrium

from .context import Context, row, vector_rows


def _normalised_outputs(ctx: Context, data) -> torch.Tensor:
    model = ctx.model
    was = model.training
    model.eval()
    try:
        with torch.no_grad():
            out = model(data.X)
    finally:
        model.train(was)
    rho = float(model.rho.detach()) if isinstance(model, WeightNormNet) else 1.0
    return out.double() / rho


def margin_samples(at=(1.0,), *, tag_step: bool = False, metric: str = "margin") -> Measure:
    """Per-sample margins of the normalised network ``y_n f_V(x_n)`` (Xu et al. §3.2, Figs 8,
    10) as ``margin[i]`` on layer ``output``."""

    def fn(ctx: Context):
        out = _normalised_outputs(ctx, ctx.train)
        labels = ctx.train.y if out.shape[1] > 1 else 2 * ctx.train.y - 1
        return vector_rows("output", metric, margin_values(out, labels))

    return Measure(metric, fn, tuple(at), tag_step)


def rho_bound(delta: float = 0.05) -> Measure:
    """Xu et al. eq (16) generalisation bound from the run's ρ, depth and N (``bound``), the
    equilibrium ``ρ_eq = μ/(M + λ)`` of eq (7) from the final margins (``rho_eq``), test and
    train error and their gap (``gen_gap``), all on layer ``model``."""

    def fn(ctx: Context):
        cfg, model = ctx.config, ctx.model
        rho = float(model.rho.detach())
        L = len(model.weight_matrices())
        N = ctx.train.N
        out = _normalised_outputs(ctx, ctx.train)
        labels = ctx.train.y if out.shape[1] > 1 else 2 * ctx.train.y - 1
        m = margin_values(out, labels)
        lam = cfg.reg.weight_decay
        rows = [row("model", "bound", norm_generalization_bound(rho, L, N, delta)),
                row("model", "rho_over_sqrtN", rho / math.sqrt(N)),
                row("model", "rho_inv", 1.0 / rho)]
        if lam > 0:
            rows.append(row("model", "rho_eq", rho_equilibrium(float(m.mean()),
                                                               float((m**2).mean()), lam)))
        train_err = 1.0 - ctx.final_metrics.get(("train", "model", "accuracy"), math.nan)
        rows.append(row("model", "train_error", train_err))
        test_acc = ctx.final_metrics.get(("test", "model", "accuracy"))
        if test_acc is not None:
            rows += [row("model", "test_error", 1.0 - test_acc),
                     row("model", "gen_gap", (1.0 - test_acc) - train_err)]
        return rows

    return Measure("rho_bound", fn)


def classifier_etf(at=(1.0,)) -> Measure:
    """Equinorm ``std_c ||w_c|| / mean_c ||w_c||`` and the mean pairwise cosine of the rows of
    the last weight matrix (the classifier; Xu et al. Fig 9, experiments.md A.2 #11), on layer
    ``model`` as ``classifier_equinorm`` / ``classifier_cos_mean``, at fractions ``at``."""

    def fn(ctx: Context):
        with torch.no_grad():
            W = ctx.model.weight_matrices()[-1][1].double()
        if W.shape[0] < 2:
            return []
        norms = W.norm(dim=1)
        Wn = W / norms[:, None]
        cos = Wn @ Wn.T
        off = cos[~torch.eye(W.shape[0], dtype=torch.bool)]
        return [row("model", "classifier_equinorm", float(norms.std(unbiased=False) /
                                                          norms.mean())),
                row("model", "classifier_cos_mean", float(off.mean()))]

    return Measure("classifier_etf", fn, tuple(at))
