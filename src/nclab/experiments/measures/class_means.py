"""Measures of the class means of each layer: singular values, Gram matrices, the matrix itself,
the average numerical rank and the match with the SRG solution's Gram pattern (Súkeník et al.,
Jacot et al.)."""

from __future__ import annotations

import math

import numpy as np

from nclab.experiments.spec import Measure
from nclab.metrics import class_means, gram, numerical_rank, singular_values

from .context import Context, matrix_rows, row, select_layers, vector_rows


def means_spectrum(layers=None, *, kinds=("pre", "post"), metric: str = "means_sv",
                   at=(1.0,)) -> Measure:
    """Singular values of the (uncentred) class-mean matrix of each layer (Súkeník et al.
    Figs 2, 4, 6, 7: "singular value distribution at convergence"), descending."""

    def fn(ctx: Context):
        rows = []
        for name, H in select_layers(ctx.features(kinds), layers, ctx).items():
            M = class_means(H, ctx.train.y, ctx.K)
            rows += vector_rows(name, metric, singular_values(M))
        return rows

    return Measure(f"{metric}", fn, tuple(at))


def means_gram(layers=None, *, normalize: bool = False, kinds=("pre", "post"),
               metric: str = "means_gram", at=(1.0,), tag_step: bool = False) -> Measure:
    """The K x K Gram matrix ``MᵀM`` of the class means of each layer (cosines when
    ``normalize``); Jacot et al. Figs 1/4 bottom, Súkeník et al. Figs 1, 4, 5, 7, 8."""

    def fn(ctx: Context):
        rows = []
        for name, H in select_layers(ctx.features(kinds), layers, ctx).items():
            rows += matrix_rows(name, metric, gram(class_means(H, ctx.train.y, ctx.K), normalize))
        return rows

    return Measure(metric, fn, tuple(at), tag_step)


def means_matrix(layers=None, *, kinds=("pre", "post"), metric: str = "means",
                 at=(1.0,)) -> Measure:
    """The class-mean matrix ``M`` itself, features x classes (``metric[i,c]``), as the
    papers' heat maps (Súkeník et al. Figs 1, 5-8)."""

    def fn(ctx: Context):
        rows = []
        for name, H in select_layers(ctx.features(kinds), layers, ctx).items():
            rows += matrix_rows(name, metric, class_means(H, ctx.train.y, ctx.K).T)
        return rows

    return Measure(metric, fn, tuple(at))


def average_rank(layers, *, rtol: float = 1e-3, metric: str = "avg_rank") -> Measure:
    """Mean numerical rank (``s_i > rtol s_1``) of the class means of ``layers`` (Súkeník et
    al. Figs 3 middle, 9, 10: "average rank"; experiments.md A.7 #26), on layer ``model``, with
    the tolerance sweep 1e-2, 1e-4, 1e-6 as ``avg_rank@<tol>``."""

    def fn(ctx: Context):
        feats = select_layers(ctx.features(), layers, ctx)
        rows = []
        for tol, name in ((rtol, metric), (1e-2, f"{metric}@1e-2"), (1e-4, f"{metric}@1e-4"),
                          (1e-6, f"{metric}@1e-6")):
            ranks = [numerical_rank(class_means(H, ctx.train.y, ctx.K), tol)
                     for H in feats.values()]
            rows.append(row("model", name, float(np.mean(ranks))))
        return rows

    return Measure(metric, fn)


def srg_gram_deviation(G: np.ndarray, r: int) -> float:
    """How far a cosine Gram matrix of K = C(r, 2) class means is from the SRG one up to a
    relabelling of the classes: the SRG intermediate Gram ``(2α/(r-1)) I + (α/(r-1)) G_r``
    (Súkeník et al. Lemma 15) has cosine 1/2 between classes whose edges share a vertex of
    K_r and 0 otherwise. The adjacency is read off by thresholding at 1/4 and must be strongly
    regular with the parameters of the triangular graph T_r, (C(r,2), 2(r-2), r-2, 4);
    returns the largest |cos - target| (inf when the pattern is not T_r's)."""
    K = G.shape[0]
    if K != r * (r - 1) // 2:
        return math.inf
    off = ~np.eye(K, dtype=bool)
    A = (G > 0.25) & off
    deg = A.sum(1)
    if not np.all(deg == 2 * (r - 2)):
        return math.inf
    common = A.astype(int) @ A.astype(int)
    if not (np.all(common[A] == r - 2) and np.all(common[~A & off] == 4)):
        return math.inf
    target = np.where(A, 0.5, 0.0)
    return float(np.abs(G - target)[off].max())


def srg_match(layers, r: int, *, tol: float = 0.05) -> Measure:
    """Whether the class-mean Gram matrices of ``layers`` reproduce the SRG solution's
    (Súkeník et al. §6.1: "for a few runs, the Gram matrices of the intermediate class means
    coincide with those of an SRG solution"): ``srg_gram_dev`` per layer (see
    :func:`srg_gram_deviation`) and ``srg_match`` = 1 on ``model`` when every layer is within
    ``tol`` of the pattern."""

    def fn(ctx: Context):
        feats = select_layers(ctx.features(), layers, ctx)
        rows, devs = [], []
        for name, H in feats.items():
            dev = srg_gram_deviation(gram(class_means(H, ctx.train.y, ctx.K), True), r)
            rows.append(row(name, "srg_gram_dev", dev))
            devs.append(dev)
        rows.append(row("model", "srg_match", float(max(devs) < tol)))
        return rows

    return Measure("srg_match", fn)
