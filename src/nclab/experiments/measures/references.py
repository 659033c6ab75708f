"""The run's loss and fit against references: the DUFM theory losses L_DNC / L_SRG for the run's
own hyper-parameters (Súkeník et al.), the zero solution and the per-class fit the claims'
preconditions read (:func:`class_fit`), whether DNC was found, and the objective's parts."""

from __future__ import annotations

import math

import numpy as np
import torch

from nclab.experiments.spec import Measure
from nclab.metrics import class_means, numerical_rank
from nclab.theory import dnc_loss, srg_loss, srg_loss_general
from nclab.train import zero_solution_loss
from nclab.train.losses import predictions

from .context import Context, row, select_layers

_LOG25 = tuple(float(a) for a in np.round(np.geomspace(1e-4, 1.0, 25), 6))


def _dufm_setting(ctx: Context):
    """(K, L, λ_H1, λ_W, n) of a DUFM or of a network's head under DUFM-like regularisation
    (L = number of head weight matrices, n = samples per class)."""
    cfg = ctx.config
    m = cfg.model
    if m.arch == "dufm":
        L = len(m.widths)
    elif m.arch == "mlp":
        L = len(m.widths) + 1 - m.n_backbone
    else:
        L = len(m.widths) + 1
    n = cfg.data.n_per_class
    if n is None:
        counts = torch.bincount(ctx.train.y, minlength=ctx.K)
        if int(counts.min()) != int(counts.max()):
            raise ValueError("the DUFM references need balanced classes")
        n = int(counts[0])
    lam = cfg.reg.weight_decay
    lam_W = list(cfg.reg.layer_decays) if cfg.reg.layer_decays else lam
    lam_H = cfg.reg.feature_decay
    return ctx.K, L, lam_H, lam_W, int(n)


def _srg_r(K: int) -> int | None:
    r = int(round((1 + math.sqrt(1 + 8 * K)) / 2))
    return r if r * (r - 1) // 2 == K and r >= 4 else None


def dufm_references() -> Measure:
    """Theory losses for the run's own K, L, n and λ's (Súkeník et al. Defs 9-11, experiments.md
    B.3.3-B.3.5): ``ref/dnc_loss``; ``ref/srg_loss`` (K = C(r, 2), r >= 4) or the general-K
    block construction (K >= 6). The zero solution's loss comes from :func:`class_fit`."""

    def fn(ctx: Context):
        K, L, lam_H, lam_W, n = _dufm_setting(ctx)
        if lam_H <= 0:
            return []  # no feature penalty: the DUFM closed forms do not apply
        rows = [row("model", "ref/dnc_loss", dnc_loss(K, L, lam_H, lam_W, n=n))]
        r = _srg_r(K)
        if r is not None:
            rows.append(row("model", "ref/srg_loss", srg_loss(r, L, lam_H, lam_W, n=n)))
        elif K >= 6:
            rows.append(row("model", "ref/srg_loss", srg_loss_general(K, L, lam_H, lam_W, n=n)))
        return rows

    return Measure("dufm_references", fn)


def class_fit() -> Measure:
    """What the claims' preconditions (:mod:`nclab.experiments.preconditions`) read, on layer
    ``model`` at the end of a run: ``ref/zero_loss`` (the objective at all-zero parameters, from
    the run's loss preset and targets: 1/2 for ``p2_dufm``), ``class_recall_min`` (the smallest
    per-class training recall: 0 when a class is dropped) and ``classes_predicted`` (how many
    classes are the prediction of some training sample)."""

    def fn(ctx: Context):
        y = ctx.train.y
        pred = predictions(ctx.outputs()[-1].post.detach())
        recall = [float((pred[y == c] == c).double().mean()) for c in range(ctx.K)
                  if bool((y == c).any())]
        return [row("model", "ref/zero_loss", zero_solution_loss(y, ctx.K, ctx.config.loss)),
                row("model", "class_recall_min", min(recall)),
                row("model", "classes_predicted", len(torch.unique(pred)))]

    return Measure("class_fit", fn)


def dnc_found(layers, *, rtol: float = 1e-3) -> Measure:
    """1 when the run found a DNC solution, else 0 (Súkeník et al. Fig 3 right: "a strong
    implicit bias towards DNC and, thus, rank K solutions"): every class-mean rank of ``layers``
    equals K (``rtol``). Also ``dnc_rel_gap`` = (loss - L_DNC) / L_DNC, on layer ``model``
    (experiments.md C.3 suggests adding |gap| < 1e-3, which needs ~100k steps to settle)."""

    def fn(ctx: Context):
        K, L, lam_H, lam_W, n = _dufm_setting(ctx)
        ref = dnc_loss(K, L, lam_H, lam_W, n=n)
        feats = select_layers(ctx.features(), layers, ctx)
        full = all(numerical_rank(class_means(H, ctx.train.y, K), rtol) == K
                   for H in feats.values())
        return [row("model", "dnc_found", float(full)),
                row("model", "dnc_rel_gap", (ctx.loss_parts["loss"] - ref) / ref)]

    return Measure("dnc_found", fn)


def objective_parts(at=_LOG25) -> Measure:
    """The objective and its parts as one metric ``objective`` on layers ``loss``, ``fit``,
    ``reg`` (Súkeník et al. Figs 5, 7, 8: "loss progression decomposed into the fit and
    regularisation terms"), at fractions ``at`` of training (a curve over steps)."""

    def fn(ctx: Context):
        return [row(k, "objective", ctx.loss_parts[k]) for k in ("loss", "fit", "reg")
                if k in ctx.loss_parts]

    return Measure("objective_parts", fn, (0.0, *at))
