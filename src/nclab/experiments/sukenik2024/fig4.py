"""Súkeník et al. Fig 4 (§6.3): ResNet20 + a 5-layer head under standard regularisation (weight
decay on every parameter): DNC1, the class-mean spectra and ranks (CPU: an MLP backbone on
digits)."""

from __future__ import annotations

from nclab.experiments import checks as C
from nclab.experiments.common import (
    SMOKE,
    curve,
    grams,
    p2_head,
    p2_intermediate,
    p2_names,
    scales,
    spectrum,
)
from nclab.experiments.measures import average_rank, class_fit, means_gram, means_spectrum
from nclab.experiments.spec import Claim, Experiment, Scale

from .shared import E2E_NOTE, PAPER, REGIME, SRC, avg_rank_below, end_to_end

# measured 2026-12-02 on the 3-seed runs of both rows: seed 0 alone gives the 3-seed outcomes
# (top: DNC1 PASS, bottom: DNC1 FAIL at H~3, H~4); seeds 0-1 make top's DNC1 FAIL too
_ONE_SEED = ("; 1 seed [cost]. Measured on 3-seed runs: seed 0 alone gives the 3-seed outcomes "
             "(top: NC1 falls in every head layer; bottom: it rises at H~3); the mean over "
             "seeds 0-1 rises at H~2 and H~5 of the top row: the per-layer NC1 trend of this "
             "stand-in is noisy across seeds")


def _fig4_part(row: str, data: str, wd: float, lr: float, gram_layer: str,
               rank_range: tuple[int, int], cpu_wd: float):
    paper, cpu = end_to_end("resnet20", data, 5, scheme="standard", wd=wd, feature_decay=0.0,
                            lr=lr, epochs=300, cpu_n=50, cpu_steps=30000, cpu_lr=lr * 5)
    cpu = (*cpu, f"reg.weight_decay={cpu_wd}")
    feats, inter = p2_head(5), p2_intermediate(5)
    return Experiment(
        id=f"{PAPER}-fig4-{row}", paper=PAPER, figure=f"Fig 4 ({row})",
        title=f"ResNet20 + 5-layer head on {data}, standard regularisation",
        base=paper, layer_names=p2_names,
        scales=scales(
            paper=Scale(seeds=5, note=f"GPU: wd {wd}, lr {lr}, SGD batch 128, 300 epochs "
                                      "([choice])"),
            cpu=Scale(overrides=cpu, seeds=1, est_cpu_minutes=1.9,
                      note=E2E_NOTE + f"; wd {cpu_wd} on every parameter, GD lr {lr * 5:g}"
                           + _ONE_SEED),
            smoke=Scale(overrides=(*cpu, "optim.steps=200", "data.n_per_class=10", *SMOKE),
                        seeds=1),
        ),
        panels=(
            curve("DNC1 (NC1 pinv) per head layer", "nc1_pinv", feats),
            spectrum("singular values of the class means at convergence", feats),
            grams(f"Gram matrix of M_{gram_layer[1:]}", (gram_layer,)),
        ),
        claims=(
            Claim("DNC1 in every head layer: NC1 (pinv) decreases during training",
                  C.decreases("nc1_pinv", feats), source=f"{SRC} §6.3", requires=REGIME),
            Claim(f"the rank of layer 3 (M_3) ranges between {rank_range[0]} and "
                  f"{rank_range[1]} (vs K = 10 for DNC)",
                  C.in_range("means_rank", ("H3",), *rank_range), scales=("paper",),
                  why="the exact rank range is that of the paper's widths and 100k+ GD steps",
                  source=f"{SRC} §6.3", requires=REGIME),
            Claim("DNC2 is not attained: the average intermediate class-mean rank is below K",
                  avg_rank_below(10), source=f"{SRC} §6.3", requires=REGIME),
        ),
        measures=(class_fit(), means_spectrum(feats), means_gram((gram_layer,)),
                  average_rank(inter)),
        description=f"Súkeník et al. §6.3: weight decay {wd} on every parameter, lr {lr}, 5 "
                    "runs; loss eq (1)'s (1/2N)||·||^2 ([choice]). Layers as in Fig 2 bottom.",
        source=f"{SRC} §6.3, Fig 4; experiments.md C.3",
    )


FIG4_TOP = _fig4_part("top", "cifar10", 0.08, 0.005, "H3",
                      (8, 9), cpu_wd=0.01)
FIG4_BOTTOM = _fig4_part("bottom", "mnist", 0.04, 0.01, "H5",
                         (5, 7), cpu_wd=0.01)
FIG4 = Experiment(
    id=f"{PAPER}-fig4", paper=PAPER, figure="Fig 4", title="standard regularisation end to end",
    base=None, scales={}, parts=(FIG4_TOP, FIG4_BOTTOM), source=f"{SRC} §6.3",
)
