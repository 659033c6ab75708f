"""Zangrando et al. Figs 6 and 7 (L = 15): block structure of the Gram matrices, 2-D
projections of every layer."""

from __future__ import annotations

from nclab.experiments import checks as C
from nclab.experiments.common import SMOKE, curve, scales
from nclab.experiments.measures import (
    class_fit,
    gram_block_residual,
    projection_2d,
    sample_gram,
)
from nclab.experiments.spec import Claim, Experiment, Panel, Scale

from .shared import FITTED, PAPER, SRC, TCV_AT, digits_net, fmnist_net, tanh_net

_L15_NOTE = (
    "Fashion-MNIST N = 100 (10 per class, standardised), widths 100 = N, 10k Adam steps, λ = λ' "
    "= 1e-5 as in the paper. Why Fashion-MNIST: on digits (64 pixels < N) X has no full column "
    "rank, the first layer is not free (Thm 4.2's setting) and NC1 of layers 1-2 rose "
    "(1.44 -> 1.70, 1.44 -> 1.64) while the deep layers collapsed. Measured on Fashion-MNIST "
    "(same cost: 1k steps 25 vs 24 CPU-s on digits): NC1 (trace) falls in every layer, layer 1 "
    "1.66 -> 0.52, layer 14 1.78 -> 0.0020; data loss 0.009, every class fitted; Gram block "
    "residual layer 1 0.72 -> 0.65 (digits: 0.74 -> 0.78), layer 14 0.68 -> 0.035")
_MID = tuple(f"layer{i}/post" for i in range(1, 15))
_SNAP = (0.0, 0.01, 0.1, 1.0)
# Figs 6 and 7 are two views of one network (App. D.3): one measure tuple, so that their
# identical runs are trained once
_MEASURES = (sample_gram("hidden", at=_SNAP), gram_block_residual("hidden", at=TCV_AT),
             projection_2d("hidden", at=_SNAP), class_fit())


def _l15(fig: str, title: str, panels, claims, description) -> Experiment:
    return Experiment(
        id=f"{PAPER}-{fig}", paper=PAPER, figure=fig.replace("fig", "Fig "), title=title,
        base=tanh_net(15, 200, 20, 50000, delta=0.0, init="orthogonal"),
        scales=scales(
            paper=Scale(seeds=1, est_cpu_minutes=60, note="setting of §5, L = 15, δ = 0"),
            cpu=Scale(seeds=1, overrides=fmnist_net(10, 100, 10000, 15), est_cpu_minutes=3,
                      note=_L15_NOTE),
            smoke=Scale(seeds=1, overrides=(*digits_net(3, 8, 60, 15), *SMOKE),
                        note="widths 8, 60 steps (seconds, for the tests)"),
        ),
        panels=panels, claims=claims, measures=_MEASURES, requires=FITTED,
        description=description,
        source=f"{SRC} App. D.3, {fig.replace('fig', 'Fig ')}; experiments.md C.2",
    )


FIG6 = _l15(
    "fig6", "L = 15: emergence of the block structure of Z^lᵀZ^l",
    panels=(
        Panel("sample Gram matrices Z^lᵀZ^l (5 samples per class) at 0, 1 %, 10 %, 100 % of "
              "training", "gram", "gram", aggregate="none"),
        curve("block residual ||G - block means|| / ||G|| per layer", "gram_block_res", _MID),
    ),
    claims=(
        Claim("the block structure (DNC1) emerges in every intermediate layer: the Gram "
              "block residual decreases during training",
              C.decreases("gram_block_res", _MID), source=f"{SRC} App. D.3, Fig 6"),
    ),
    description="G_l = Z^lᵀZ^l (uncentred, columns sorted by class) for every layer; the block "
                "residual (experiments.md A.1 #8) is zero iff NC1 (Prop D.1).",
)

FIG7 = _l15(
    "fig7", "L = 15: random 2-D projections of every layer collapse to K points",
    panels=(
        Panel("random 2-D projections of Z^l at 0, 1 %, 10 %, 100 % of training", "projection",
              "proj", aggregate="none"),
        curve("NC1 (tr Σ_W / tr Σ_B) per layer", "nc1_trace", _MID),
    ),
    claims=(
        Claim("each class shrinks to a point in every intermediate layer: NC1 decreases in "
              "every layer", C.decreases("nc1_trace", _MID), source=f"{SRC} App. D.3, Fig 7"),
    ),
    description="B^l Z^l with B^l a fixed random 2 x n_l matrix with orthonormal rows (A.11 #47).",
)

