"""Xu et al. Figs 6 and 7 (§4): ρ, the train and test errors and the norm-based generalisation
bound (16) against the number of training samples N."""

from __future__ import annotations

import numpy as np

from nclab.experiments import checks as C
from nclab.experiments.common import CPU, SMOKE, scales, vs_param
from nclab.experiments.measures import rho_bound
from nclab.experiments.spec import Claim, Experiment, Panel, Scale

from .shared import CPU_STANDIN, PAPER, SRC, TRAINED, cpu_note, paper_config

# measured 2026-12-03 on the 2-seed runs of 32b4933: seed 0 alone gives the same verdicts
_ONE_SEED = ("; 1 seed, as the paper ([cost]: 2 before; seed 0 alone gives the 2-seed verdicts "
             "on the stored runs: Fig 6 bound 10.95 -> 4.52 vs 10.99 -> 4.535, Fig 7 5.78 -> "
             "2.94 vs 6.03 -> 2.97, the gaps as with 2)")


def _bound_vs_n(fig: str, paper_base, cpu, title: str, description: str,
                claims, cpu_note: str = "", est: float = 1.2) -> Experiment:
    return Experiment(
        id=f"{PAPER}-{fig}", paper=PAPER, figure=fig.replace("fig", "Fig "), title=title,
        base=paper_base,
        scales=scales(
            paper=Scale(grid={"data.n_per_class": [500, 1000, 2500, 5000]}, seeds=1,
                        note="GPU: N in {1000, 2000, 5000, 10000} ([choice])"),
            cpu=Scale(grid={"data.n_per_class": [25, 50, 100, 140]}, seeds=1, overrides=cpu,
                      est_cpu_minutes=est, note=(cpu_note or description) + _ONE_SEED),
            smoke=Scale(grid={"data.n_per_class": [10]}, seeds=1,
                        overrides=(*cpu, "optim.epochs=2", *SMOKE)),
        ),
        panels=(
            vs_param("ρ vs samples per class", "rho", "data.n_per_class", logy=True),
            vs_param("train and test error vs samples per class", "test_error",
                     "data.n_per_class"),
            Panel("generalisation gap (test - train error)", "bar", "gen_gap",
                  layers=("model",)),
            vs_param("bound (16) vs samples per class", "bound", "data.n_per_class", logy=True),
            vs_param("ρ / sqrt(N)", "rho_over_sqrtN", "data.n_per_class", logy=True),
        ),
        claims=claims,
        measures=(rho_bound(),),
        description=description,
        source=f"{SRC} §4, {fig.replace('fig', 'Fig ')}; experiments.md C.4, B.4.3",
    )


def _vacuous_by_order(results):
    b = C.final(results, "bound", "model")
    err = C.final(results, "test_error", "model")
    return bool(np.all(b > 1) and np.all(b < 10 * np.maximum(1.0, 10 * err))), \
        f"bound per run {np.round(b, 3).tolist()}", \
        "bound > 1 (vacuous) but within about an order of magnitude"


FIG6 = _bound_vs_n(
    "fig6", paper_config(300, lam=0.001, init=0.1),
    (*CPU_STANDIN, "model.init_scale=0.5", "reg.weight_decay=0.001"),
    "six-layer WN network: ρ, errors and the norm bound vs N",
    "init 0.1, λ = 1e-3, SGD momentum 0.9, lr 0.03 cosine; " + cpu_note(),
    (
        Claim("the generalisation gap decreases with N",
              C.trend("gen_gap", "model", "data.n_per_class", "decreasing"),
              source=f"{SRC} §4, Fig 6(b)", requires=(TRAINED,)),
        Claim("the bound (16) is vacuous, but only by about an order of magnitude",
              C.custom(_vacuous_by_order), scales=("paper",), requires=(TRAINED,),
                  why="the bound's size depends on the paper's network and N",
                  source=f"{SRC} Fig 6"),
        Claim("the bound decreases with N (∝ ρ/√N)",
              C.trend("bound", "model", "data.n_per_class", "decreasing"),
              source=f"{SRC} Fig 6(c)", requires=(TRAINED,)),
    ),
    cpu_note=cpu_note("λ = 1e-3; init scale 0.5, the smallest of the CPU grid {0.5, 1, 1.5} "
                       "(experiments.md C.4) at which the stand-in trains: the paper's 0.1 "
                       "(a small init, hence a small ρ) leaves it untrained (training error "
                       "0.5 / 0.42 / 0.25 / 0.19 for 25..140 per class, measured), 0.5 reaches "
                       "training error 0 at 25 per class (measured)"),
)

FIG7 = _bound_vs_n(
    "fig7",
    paper_config(300, lam=0.001, init=0.1, batch=32,
                 extra=("model.conv_channels=[32,64]", "model.widths=[]", "model.strides=[3,3]")),
    ("data.name=fashion-mnist", "data.n_per_class=none", "data.test_n_per_class=500",
     "model.conv_channels=[16,32]", "model.widths=[]", "model.strides=[3,3]",
     "model.init_scale=1.0", "optim.batch_size=32", "optim.epochs=100",
     "probe.batch_size=none", "probe.points=10", *CPU),
    "three-layer convolutional net (non-overlapping 3x3 patches): ρ, errors and the bound vs N",
    "Fashion-MNIST classes 1/2 (CPU stand-in with image inputs), conv 16 and 32 channels, "
    "3x3 stride 3, linear output; init 0.1, λ = 1e-3, batch 32",
    (
        Claim("the generalisation gap decreases with N",
              C.trend("gen_gap", "model", "data.n_per_class", "decreasing"),
              source=f"{SRC} §4, Fig 7(b)", requires=(TRAINED,)),
        Claim("the bound decreases with N (∝ ρ/√N)",
              C.trend("bound", "model", "data.n_per_class", "decreasing"),
              source=f"{SRC} Fig 7(c)", requires=(TRAINED,)),
    ),
    est=1.5,
    cpu_note="Fashion-MNIST classes 1/2, conv 16 and 32 channels, 3x3 stride 3, linear output; "
             "λ = 1e-3, SGD batch 32, lr 0.03, momentum 0.9, cosine; init 1.0, 100 epochs "
             "(the paper averages errors over the last 100 epochs, so it trains more). "
             "Measured: at init 0.1 and 30 epochs training accuracy 0.6-0.98 (NOT-RUN); init "
             "0.5 at 100 epochs leaves 25 per class at training error 0.08 (its 2 steps per "
             "epoch are too few); init 1.0 at 100 epochs interpolates in every run (training "
             "error <= 0.01), gap 0.023 -> 0.019 and bound 6.03 -> 2.97 from 25 to 140 per class. "
             "10 probes, not 40: a probe of this conv net costs ~1.8 s (the operator norms of "
             "the 1000 held-out images' pre-activations, for the negativity), 72 of a run's 80 "
             "CPU-s at 40 probes (measured); the claims read the final measures, and probes "
             "do not change training",
)
