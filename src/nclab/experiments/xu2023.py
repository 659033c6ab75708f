"""Xu, Rangamani, Liao, Galanti, Poggio -- Dynamics in deep classifiers trained with the square
loss: normalization, low rank, neural collapse and generalization bounds (seed 003;
experiments.md C.4, B.4).

Common setting: binary CIFAR-10 (classes 1 and 2, 0-indexed, Part D #41; 10 000 train / 2 000
test images, inputs scaled to the unit ball, Part D #42), the six-layer bias-free ReLU network
(4 valid 3x3 convolutions with 32, 64, 128, 128 channels and strides 1, 2, 1, 2, FC 3200 -> 1024
-> 1), every layer Frobenius weight-normalised with a frozen gain and one learnable scale ρ,
the only regularised parameter (λρ²). Loss (1/N) Σ (ρ f_n - y_n)^2 with y = ±1 and a scalar
output (Part D #43). SGD with momentum 0.9 and a cosine schedule ([choice] where unspecified).

CPU stand-in (C.4): classes 1 and 2 of scikit-learn digits (286 train / 73 test samples, unit
ball), a 4-layer bias-free ReLU MLP of width 128 with the same normalisation and ρ, SGD batch 32,
lr 0.03, momentum 0.9, cosine, 300 epochs.
"""

from __future__ import annotations

import numpy as np

from . import checks as C
from . import preconditions as P
from .common import CPU, SMOKE, config, curve, p3_names, scales, vs_param
from .measures import classifier_etf, margin_samples, rho_bound
from .spec import Claim, Experiment, Panel, Scale

PAPER = "xu2023"
SRC = "003"


def _paper(epochs: int, *, lam: float, init: float, lr: float = 0.03, batch: int = 128,
           n: int = 5000, extra=()) -> object:
    return config(
        "data.name=cifar10", "data.classes=[1,2]", f"data.n_per_class={n}",
        "data.test_split=test", "data.test_n_per_class=1000", "data.unit_ball=true",
        "model.arch=weightnorm", "model.widths=[1024]", "model.conv_channels=[32,64,128,128]",
        "model.kernel_size=3", "model.strides=[1,2,1,2]", f"model.init_scale={init}",
        "loss.preset=p3", "loss.targets=signed", "reg.scheme=rho", "reg.factor=1.0",
        f"reg.weight_decay={lam}", "optim.name=sgd", f"optim.lr={lr}", "optim.momentum=0.9",
        f"optim.batch_size={batch}", f"optim.epochs={epochs}", "schedule.name=cosine",
        "probe.points=40", "probe.batch_size=2000", *extra,
    )


_CPU = ("data.name=digits", "data.n_per_class=none", "data.test_n_per_class=none",
        "model.conv_channels=[]", "model.widths=[128,128,128]", "optim.batch_size=32",
        "optim.epochs=300", "probe.batch_size=none", *CPU)
_SMOKE = (*_CPU, "optim.epochs=3", "data.n_per_class=10", "data.test_n_per_class=5", *SMOKE)


def _cpu_note(extra: str = "", epochs: int = 300) -> str:
    return ("digits classes 1/2, 4-layer WN ReLU MLP width 128, SGD batch 32, lr 0.03, "
            f"momentum 0.9, cosine, {epochs} epochs" + (f"; {extra}" if extra else ""))


def _inv_rho(v):
    return 1.0 / v


# the norm-based bounds, ρ's equilibrium and the collapse of the margins are statements about
# trained networks: training error ≈ 0 (at most 1 %, a few samples of the CPU sets) in every run
_TRAINED = P.interpolates(0.01)


# ---- Fig 3: dynamics of ρ, loss and test error -------------------------------------------------
def _rho_smaller_with_wd(results):
    parts, ok = [], True
    for init in C.points(results, "model.init_scale"):
        a = C.final(results, "rho", "model", **{"model.init_scale": init,
                                                "reg.weight_decay": 0.001}).mean()
        b = C.final(results, "rho", "model", **{"model.init_scale": init,
                                                "reg.weight_decay": 0.0}).mean()
        ok &= bool(a < b)
        parts.append(f"init {init}: ρ {a:.4g} (λ=1e-3) vs {b:.4g} (λ=0)")
    return ok, "; ".join(parts), "final ρ with λ > 0 < final ρ without, for every init"


def _less_init_dependence(results):
    spread = {}
    for lam in (0.001, 0.0):
        v = [C.final(results, "rho", "model", **{"model.init_scale": i,
                                                 "reg.weight_decay": lam}).mean()
             for i in C.points(results, "model.init_scale")]
        spread[lam] = (max(v) - min(v)) / np.mean(v)
    return spread[0.001] < spread[0.0], \
        f"relative spread of ρ over inits: λ=1e-3 {spread[0.001]:.3g}, λ=0 {spread[0.0]:.3g}", \
        "spread(λ > 0) < spread(λ = 0)"


def _rho_at_equilibrium(results):
    rho = C.final(results, "rho", "model", **{"reg.weight_decay": 0.001})
    eq = C.final(results, "rho_eq", "model", **{"reg.weight_decay": 0.001})
    rel = np.abs(rho - eq) / eq
    return float(rel.max()) < 1e-2, f"|ρ - ρ_eq| / ρ_eq per run {np.round(rel, 5).tolist()}", \
        "< 1e-2 in every run with λ > 0 (eq (7))"


# "ρ depends less on the initialisation with λ > 0" is a statement about the equilibrium of
# eq (7): before it, ρ has only been shrunk by the weight-decay factor from its initial value
_AT_EQUILIBRIUM = P.requirement(
    "the λ > 0 runs reached the equilibrium ρ_eq of eq (7) (|ρ - ρ_eq| / ρ_eq < 1e-2)",
    lambda res: _rho_at_equilibrium(res)[:2])


FIG3 = Experiment(
    id=f"{PAPER}-fig3", paper=PAPER, figure="Fig 3",
    title="dynamics of ρ, training loss and test error, with and without weight decay",
    base=_paper(1000, lam=0.001, init=0.9),
    scales=scales(
        paper=Scale(grid={"model.init_scale": [0.9, 1.3], "reg.weight_decay": [0.001, 0.0]},
                    seeds=1, note="GPU: 1000 epochs; rows λ in {1e-3, 0} (Part D #40)"),
        cpu=Scale(grid={"model.init_scale": [0.9, 1.3], "reg.weight_decay": [0.001, 0.0]},
                  seeds=2, overrides=(*_CPU, "optim.epochs=3000"), est_cpu_minutes=4.5,
                  note=_cpu_note("2 seeds. 3000 epochs, measured: after 300 the λ > 0 runs "
                                 "were at |ρ - ρ_eq| / ρ_eq = 2.4 (init 0.9) and 45 (init 1.3), "
                                 "ρ only shrunk by the weight-decay factor; after 3000, "
                                 "1.6e-4 at most, and the spread of ρ over inits 0.005 "
                                 "(λ = 1e-3) vs 1.25 (λ = 0)", epochs=3000)),
        smoke=Scale(grid={"model.init_scale": [0.9], "reg.weight_decay": [0.001, 0.0]},
                    seeds=1, overrides=_SMOKE),
    ),
    panels=(
        curve("ρ during training", "rho", ("model",)),
        curve("training loss", "loss", ("model",)),
        curve("test accuracy", "test/accuracy", ("model",), logy=False),
    ),
    claims=(
        Claim("weight decay gives a smaller ρ: final ρ with λ = 1e-3 below λ = 0 at every init",
              C.custom(_rho_smaller_with_wd), source=f"{SRC} §3.3, Fig 3",
              requires=(_TRAINED,)),
        Claim("with λ > 0 the final ρ depends less on the initialisation",
              C.custom(_less_init_dependence), source=f"{SRC} §3.3, Fig 3",
              requires=(_TRAINED, _AT_EQUILIBRIUM)),
        Claim("ρ reaches the equilibrium ρ_eq = μ / (M + λ) of eq (7) (λ > 0)",
              C.custom(_rho_at_equilibrium), source=f"{SRC} eq (7), Fig 3"),
        Claim("the training loss decreases", C.decreases("loss", ("model",)),
              source=f"{SRC} Fig 3"),
        Claim("ρ grows to an equilibrium of order hundreds", C.in_range(
            "rho", ("model",), 100, 1000, agg="mean"), scales=("paper",),
                  why="ρ's equilibrium value depends on the paper's network size and epochs",
            source=f"{SRC} §3.3"),
    ),
    measures=(rho_bound(),),
    description="ρ, loss and test error over training for init scales 0.9 and 1.3, with and "
                "without weight decay on ρ (lr 0.03, momentum 0.9, batch 128, cosine: "
                "[choice], the caption is garbled, Part D #40).",
    source=f"{SRC} §3.3, Fig 3; experiments.md C.4",
)


# ---- Fig 4: random labels -------------------------------------------------------------------
FIG4 = Experiment(
    id=f"{PAPER}-fig4", paper=PAPER, figure="Fig 4",
    title="random labels: 1/ρ and test error vs the fraction of random labels",
    base=_paper(1000, lam=0.001, init=1.0),
    scales=scales(
        paper=Scale(grid={"data.label_noise": [0.2, 0.4, 0.6, 0.8]}, seeds=10,
                    note="GPU: 10 runs per fraction, init 1, λ = 1e-3"),
        cpu=Scale(grid={"data.label_noise": [0.0, 0.2, 0.4, 0.6, 0.8]}, seeds=2, overrides=_CPU,
                  est_cpu_minutes=3, note=_cpu_note("2 seeds; 0 % added as reference")),
        smoke=Scale(grid={"data.label_noise": [0.2, 0.8]}, seeds=1, overrides=_SMOKE),
    ),
    panels=(
        vs_param("mean 1/ρ vs fraction of random labels", "rho_inv", "data.label_noise"),
        vs_param("test error vs fraction of random labels", "test_error", "data.label_noise"),
    ),
    claims=(
        Claim("1/ρ (the margin) decreases as the fraction of random labels grows",
              C.trend("rho", "model", "data.label_noise", "decreasing", transform=_inv_rho),
              source=f"{SRC} §3.4, Fig 4"),
        Claim("the test error increases with the fraction of random labels",
              C.trend("test_error", "model", "data.label_noise", "increasing"),
              source=f"{SRC} §3.4, Fig 4"),
    ),
    measures=(rho_bound(),),
    description="Training labels corrupted at random (data.label_noise), init scale 1, λ = "
                "1e-3, 10 runs.",
    source=f"{SRC} §3.4, Fig 4; experiments.md C.4",
)


# ---- Fig 5: 1/ρ vs test accuracy across initialisations ----------------------------------------
def _regression(results):
    from scipy.stats import linregress

    inits = C.points(results, "model.init_scale")
    x = [float(np.mean(1.0 / C.final(results, "rho", "model", **{"model.init_scale": i})))
         for i in inits]
    y = [float(np.mean(1.0 - C.final(results, "test_error", "model",
                                     **{"model.init_scale": i}))) for i in inits]
    if len(inits) < 3:
        raise C.Missing("fewer than 3 initialisation scales")
    return linregress(x, y)


def _fig5_part(side: str, lam: float, inits, cpu_inits, claim: Claim) -> Experiment:
    return Experiment(
        id=f"{PAPER}-fig5-{side}", paper=PAPER, figure=f"Fig 5 ({side})",
        title=f"1/ρ vs mean test accuracy across init scales, λ = {lam:g}",
        base=_paper(1000, lam=lam, init=1.0),
        scales=scales(
            paper=Scale(grid={"model.init_scale": inits}, seeds=10,
                        note="GPU: 10 runs per init scale"),
            cpu=Scale(grid={"model.init_scale": cpu_inits}, seeds=3,
                      overrides=(*_CPU, "data.classes=[3,8]", "data.n_per_class=20"),
                      est_cpu_minutes=0.5,
                      note=_cpu_note("3 seeds per init; digits 3 vs 8, 20 per class: on 1 vs "
                                     "2 every run reaches 100 % test accuracy and the "
                                     "regression is degenerate (measured); inits 0.7, 0.9, "
                                     "1.3, 1.7: at 0.5 two of three runs leave one of the 40 "
                                     "samples misfit (training error 0.025, measured), outside "
                                     "the interpolation regime of the claims; with 0.7 every "
                                     "run fits (measured: λ = 1e-3 slope +0.16, p 0.19; "
                                     "λ = 0 slope +0.19, p 0.19)")),
            smoke=Scale(grid={"model.init_scale": cpu_inits[:2]}, seeds=1, overrides=_SMOKE),
        ),
        panels=(vs_param("1/ρ vs init scale", "rho_inv", "model.init_scale"),
                vs_param("test accuracy vs init scale", "test/accuracy", "model.init_scale")),
        claims=(claim,),
        measures=(rho_bound(),),
        description="Linear regression of the per-init mean test accuracy on the mean 1/ρ "
                    "(scipy.stats.linregress), as in the caption.",
        source=f"{SRC} §3.4, Fig 5",
    )


def _slope_negative(results):
    r = _regression(results)
    return r.slope < 0, f"slope {r.slope:.4g}, R² {r.rvalue ** 2:.3f}, p {r.pvalue:.3g}", \
        "slope < 0 (paper: -18.968, R² 0.94, p 0.031)"


def _insignificant(results):
    r = _regression(results)
    return r.pvalue > 0.05, f"slope {r.slope:.4g}, R² {r.rvalue ** 2:.3f}, p {r.pvalue:.3g}", \
        "p > 0.05 (paper: R² 0.004, p 0.92)"


FIG5 = Experiment(
    id=f"{PAPER}-fig5", paper=PAPER, figure="Fig 5", title="1/ρ vs test accuracy",
    base=None, scales={}, parts=(
        _fig5_part("left", 0.001, [0.9, 1.0, 1.2, 1.3], [0.7, 0.9, 1.3, 1.7],
                   Claim("with weight decay, 1/ρ and the mean test accuracy are anti-correlated "
                         "across init scales (negative regression slope)",
                         C.custom(_slope_negative), source=f"{SRC} Fig 5 caption",
                         requires=(_TRAINED,))),
        _fig5_part("right", 0.0, [0.8, 0.9, 1.0, 1.3, 1.5], [0.7, 0.9, 1.3, 1.7],
                   Claim("without weight decay there is no significant linear relation between "
                         "1/ρ and the test accuracy", C.custom(_insignificant),
                         source=f"{SRC} Fig 5 caption", requires=(_TRAINED,))),
    ),
    source=f"{SRC} §3.4, Fig 5",
)


# ---- Figs 6 and 7: ρ, errors and the bound vs N ----------------------------------------------
def _bound_vs_n(fig: str, paper_base, cpu, title: str, description: str,
                claims, cpu_note: str = "", est: float = 3) -> Experiment:
    return Experiment(
        id=f"{PAPER}-{fig}", paper=PAPER, figure=fig.replace("fig", "Fig "), title=title,
        base=paper_base,
        scales=scales(
            paper=Scale(grid={"data.n_per_class": [500, 1000, 2500, 5000]}, seeds=1,
                        note="GPU: N in {1000, 2000, 5000, 10000} ([choice])"),
            cpu=Scale(grid={"data.n_per_class": [25, 50, 100, 140]}, seeds=2, overrides=cpu,
                      est_cpu_minutes=est, note=cpu_note or description),
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
    "fig6", _paper(300, lam=0.001, init=0.1),
    (*_CPU, "model.init_scale=0.5", "reg.weight_decay=0.001"),
    "six-layer WN network: ρ, errors and the norm bound vs N",
    "init 0.1, λ = 1e-3, SGD momentum 0.9, lr 0.03 cosine; " + _cpu_note(),
    (
        Claim("the generalisation gap decreases with N",
              C.trend("gen_gap", "model", "data.n_per_class", "decreasing"),
              source=f"{SRC} §4, Fig 6(b)", requires=(_TRAINED,)),
        Claim("the bound (16) is vacuous, but only by about an order of magnitude",
              C.custom(_vacuous_by_order), scales=("paper",), requires=(_TRAINED,),
                  why="the bound's size depends on the paper's network and N",
                  source=f"{SRC} Fig 6"),
        Claim("the bound decreases with N (∝ ρ/√N)",
              C.trend("bound", "model", "data.n_per_class", "decreasing"),
              source=f"{SRC} Fig 6(c)", requires=(_TRAINED,)),
    ),
    cpu_note=_cpu_note("λ = 1e-3; init scale 0.5, the smallest of the CPU grid {0.5, 1, 1.5} "
                       "(experiments.md C.4) at which the stand-in trains: the paper's 0.1 "
                       "(a small init, hence a small ρ) leaves it untrained (training error "
                       "0.5 / 0.42 / 0.25 / 0.19 for 25..140 per class, measured), 0.5 reaches "
                       "training error 0 at 25 per class (measured)"),
)

FIG7 = _bound_vs_n(
    "fig7",
    _paper(300, lam=0.001, init=0.1, batch=32,
           extra=("model.conv_channels=[32,64]", "model.widths=[]", "model.strides=[3,3]")),
    ("data.name=fashion-mnist", "data.n_per_class=none", "data.test_n_per_class=500",
     "model.conv_channels=[16,32]", "model.widths=[]", "model.strides=[3,3]",
     "model.init_scale=1.0", "optim.batch_size=32", "optim.epochs=100",
     "probe.batch_size=none", *CPU),
    "three-layer convolutional net (non-overlapping 3x3 patches): ρ, errors and the bound vs N",
    "Fashion-MNIST classes 1/2 (CPU stand-in with image inputs), conv 16 and 32 channels, "
    "3x3 stride 3, linear output; init 0.1, λ = 1e-3, batch 32",
    (
        Claim("the generalisation gap decreases with N",
              C.trend("gen_gap", "model", "data.n_per_class", "decreasing"),
              source=f"{SRC} §4, Fig 7(b)", requires=(_TRAINED,)),
        Claim("the bound decreases with N (∝ ρ/√N)",
              C.trend("bound", "model", "data.n_per_class", "decreasing"),
              source=f"{SRC} Fig 7(c)", requires=(_TRAINED,)),
    ),
    est=6.5,
    cpu_note="Fashion-MNIST classes 1/2, conv 16 and 32 channels, 3x3 stride 3, linear output; "
             "λ = 1e-3, SGD batch 32, lr 0.03, momentum 0.9, cosine; init 1.0, 100 epochs "
             "(the paper averages errors over the last 100 epochs, so it trains more). "
             "Measured: at init 0.1 and 30 epochs training accuracy 0.6-0.98 (NOT-RUN); init "
             "0.5 at 100 epochs leaves 25 per class at training error 0.08 (its 2 steps per "
             "epoch are too few); init 1.0 at 100 epochs interpolates in every run (training "
             "error <= 0.01), gap 0.023 -> 0.019 and bound 6.03 -> 2.97 from 25 to 140 per class",
)


# ---- Fig 8: margin histograms over training ----------------------------------------------------
def _narrows(results):
    curves_std = results.curve("margin_std", "model")
    curves_mean = results.curve("margin_mean", "model")
    if not curves_std:
        raise C.Missing("no margin_std")
    parts, ok = [], True
    for run, (steps, std) in curves_std.items():
        _, mean = curves_mean[run]
        cv = std / np.abs(mean)
        early = cv[np.searchsorted(steps, 0.1 * steps[-1])]
        ok &= bool(cv[-1] < early)
        parts.append(f"{early:.3g} -> {cv[-1]:.3g}")
    return ok, "margin std / mean at 10 % of training -> end: " + ", ".join(parts), \
        "the relative spread of the margins shrinks (every run)"


FIG8 = Experiment(
    id=f"{PAPER}-fig8", paper=PAPER, figure="Fig 8",
    title="histograms of the margins y_n f_n over training, and ρ",
    base=_paper(1000, lam=0.001, init=0.9),
    scales=scales(
        paper=Scale(seeds=1, note="GPU: 1000 epochs, λ = 1e-3, lr 0.03, init 0.9"),
        cpu=Scale(seeds=1, overrides=(*_CPU, "model.init_scale=0.9"), est_cpu_minutes=0.7,
                  note=_cpu_note()),
        smoke=Scale(seeds=1, overrides=_SMOKE),
    ),
    panels=(
        Panel("margin histograms at 1 %, 10 %, 30 %, 100 % of training", "histogram", "margin",
              aggregate="none"),
        curve("ρ during training", "rho", ("model",)),
        curve("margin std / mean during training", "margin_std", ("model",)),
    ),
    claims=(
        Claim("the histogram of y_n f_n narrows as training progresses (NC1)",
              C.custom(_narrows), source=f"{SRC} §5, Fig 8"),
    ),
    measures=(margin_samples(at=(0.01, 0.1, 0.3, 1.0), tag_step=True),),
    requires=(_TRAINED,),
    description="Per-sample normalised margins y_n f_V(x_n) at four points of training.",
    source=f"{SRC} §5, Fig 8; experiments.md C.4",
)


# ---- Fig 9: NC metrics during training ---------------------------------------------------------

FIG9 = Experiment(
    id=f"{PAPER}-fig9", paper=PAPER, figure="Fig 9",
    title="neural collapse during training (binary): NC1, equinorm, equiangularity, NC3",
    base=_paper(750, lam=0.0005, init=1.0, lr=0.067,
                extra=("loss.targets=centred", "schedule.name=step",
                       "schedule.milestones=[0.5,0.75]")), layer_names=p3_names,
    scales=scales(
        paper=Scale(seeds=1, note="GPU: WN + wd 5e-4 on ρ, lr 0.067, 750 epochs, ×0.1 at 50 % "
                                  "and 75 % ([choice])"),
        cpu=Scale(seeds=2, overrides=(*_CPU, "optim.lr=0.067"), est_cpu_minutes=1.2,
                  note=_cpu_note("lr 0.067, ×0.1 at 50 % / 75 %")),
        smoke=Scale(seeds=1, overrides=_SMOKE),
    ),
    panels=(
        curve("NC1: Tr(Σ_W Σ_B^†)", "nc1_pinv", ("h",)),
        curve("NC2: equinorm of the class means", "nc2_equinorm", ("h",)),
        curve("NC2: equinorm of the classifiers", "classifier_equinorm", ("model",)),
        curve("NC3: self-duality ||W/||W|| - M/||M|| ||", "nc3_duality", ("h",)),
    ),
    claims=(
        Claim("NC1 decreases during training", C.decreases("nc1_pinv", ("h",)),
              source=f"{SRC} §5, Fig 9"),
        Claim("NC2: the equinorm of the class means decreases during training",
              C.decreases("nc2_equinorm", ("h",)), source=f"{SRC} §5, Fig 9"),
        Claim("NC3: the self-duality distance decreases during training",
              C.decreases("nc3_duality", ("h",)), source=f"{SRC} §5, Fig 9"),
    ),
    measures=(classifier_etf(at=tuple(float(a) for a in np.round(np.geomspace(1e-3, 1, 15),
                                                                   6))),),
    requires=(_TRAINED,),
    description="Two outputs trained on the centred labels ẽ_c (§5.2) so that the classifier "
                "has one row per class; NC metrics of the classifier's input (centred means, "
                "Part A #11, #15). Equiangularity is trivial for two classes (one pair).",
    source=f"{SRC} §5, Fig 9; experiments.md C.4, Part D #48",
)


# ---- Fig 10: margin distributions with and without weight decay -------------------------------
def _smaller_margins_without_wd(results):
    a = C.final(results, "margin_mean", "model", **{"reg.weight_decay": 0.001})
    b = C.final(results, "margin_mean", "model", **{"reg.weight_decay": 0.0})
    return b.mean() < a.mean(), f"mean margin λ=1e-3 {a.mean():.4g}, λ=0 {b.mean():.4g}", \
        "runs without weight decay end at smaller margins"


def _spread_with_wd(results):
    def cv(lam):
        s = C.final(results, "margin_std", "model", **{"reg.weight_decay": lam})
        m = C.final(results, "margin_mean", "model", **{"reg.weight_decay": lam})
        return float(np.mean(s / np.abs(m)))

    a, b = cv(0.001), cv(0.0)
    return a > b, f"within-run std/mean: λ=1e-3 {a:.3g}, λ=0 {b:.3g}", \
        "with λ > 0 the margins keep a spread (SGD noise); without, essentially none"


def _std_1e4(results):
    s = C.final(results, "margin_std", "model", **{"reg.weight_decay": 0.001})
    return bool(3e-5 < s.mean() < 3e-4), f"mean margin std {s.mean():.3g}", \
        "≈ 1e-4 (N = 1e4): between 3e-5 and 3e-4"


_INITS = [0.8, 0.9, 1.0, 1.2, 1.3, 1.5]
FIG10 = Experiment(
    id=f"{PAPER}-fig10", paper=PAPER, figure="Fig 10",
    title="margin distributions over runs with and without weight decay",
    base=_paper(1000, lam=0.001, init=1.0),
    scales=scales(
        paper=Scale(grid={"reg.weight_decay": [0.001, 0.0], "model.init_scale": _INITS},
                    seeds=10, note="GPU: 10 runs per (λ, init), SGD batch 128"),
        cpu=Scale(grid={"reg.weight_decay": [0.001, 0.0], "model.init_scale": [0.5, 1.0, 1.5]},
                  seeds=2, overrides=_CPU, est_cpu_minutes=4, note=_cpu_note("2 seeds")),
        smoke=Scale(grid={"reg.weight_decay": [0.001, 0.0], "model.init_scale": [1.0]},
                    seeds=1, overrides=_SMOKE),
    ),
    panels=(
        Panel("final margins y_n f_n, pooled over runs", "histogram", "margin",
              aggregate="none"),
        vs_param("within-run margin std vs init", "margin_std", "model.init_scale", logy=True),
        vs_param("mean margin vs init", "margin_mean", "model.init_scale"),
    ),
    claims=(
        Claim("without weight decay the runs end at smaller margins",
              C.custom(_smaller_margins_without_wd), source=f"{SRC} Fig 10"),
        Claim("with weight decay the margins keep a Gaussian-like spread (SGD noise); without "
              "it each run has essentially zero spread: relative spread larger with λ > 0",
              C.custom(_spread_with_wd), source=f"{SRC} Fig 10, §3.5"),
        Claim("with weight decay the margin std is ≈ 1e-4 over the training set (N = 1e4)",
              C.custom(_std_1e4), scales=("paper",),
                  why="the 1e-4 level is for N = 1e4 CIFAR-10 samples; the CPU set is far smaller",
                  source=f"{SRC} Fig 10 caption"),
    ),
    measures=(margin_samples(),),
    requires=(_TRAINED,),
    description="Final per-sample margins for λ in {1e-3, 0} and init scales 0.8-1.5.",
    source=f"{SRC} Fig 10; experiments.md C.4",
)


FIG1 = Experiment(
    id=f"{PAPER}-fig1", paper=PAPER, figure="Fig 1", title="two parametrisations of f_W",
    base=None, scales={}, skipped="an architecture sketch (weight normalisation of each layer "
    "vs a global ρ): no numbers to reproduce", source=f"{SRC} Fig 1",
)
FIG2 = Experiment(
    id=f"{PAPER}-fig2", paper=PAPER, figure="Fig 2", title="landscape of the unregularised loss",
    base=None, scales={}, skipped="a speculative drawing of the loss landscape: no numbers to "
    "reproduce", source=f"{SRC} Fig 2",
)

EXPERIMENTS = (FIG1, FIG2, FIG3, FIG4, FIG5, FIG6, FIG7, FIG8, FIG9, FIG10)
