"""Jacot, Súkeník, Wang, Mondelli -- Wide networks trained with weight decay provably exhibit
neural collapse (ICLR 2025; seed 000; experiments.md C.1, B.1).

MLP layer names: ``layer{l}`` is W_l; nonlinear layers have ``/pre`` (W_l Z_{l-1}) and ``/post``
features, linear ones a single ``layer{l}``. The first two layers are the backbone; metrics are
shown from the backbone output on ("we measure such metrics starting from the output of the
backbone"). Balancedness of the pair (W_l, W_{l+1}) is recorded on layer ``layer{l}``.

CPU stand-in (experiments.md C.1): scikit-learn digits (20 samples per class, standardised),
width 64, full-batch GD with lr 0.05 on the mean-reduced MSE, ×0.1 at 80 %, float32. The
initialisation is LeCun normal ×1.2 ([choice]): with PyTorch's default init a 9-layer MLP at this
learning rate stays at the zero output under λ = 2e-3 ([checked]: accuracy 0.11 after 20k steps).
"""

from __future__ import annotations

import numpy as np

from . import checks as C
from . import preconditions as P
from .common import (
    CPU,
    SMOKE,
    config,
    curve,
    grams,
    p0_head,
    p0_names,
    probe_steps,
    scales,
    vs_param,
)
from .measures import class_fit, head_io, means_gram, nonlinear_head_stats, theorem31
from .spec import Claim, Experiment, Scale

PAPER = "jacot2025"
SRC = "000"

_CPU_DATA = ("data.name=digits", "data.n_per_class=20", "data.standardize=true",
             "model.init=lecun_normal", "model.init_scale=1.2", "optim.name=gd",
             "optim.lr=0.05", "optim.epochs=none", "optim.batch_size=none", "dtype=float32")


# collapse, balancedness and the use of the ReLU are properties of a network that learned every
# class (the regime of Theorems 3.1 and 4.x: a small fit error)
_COLLAPSE = (P.every_class_learned(),)


def _mlp(data: str, n_nonlinear: int, n_linear: int, width: int, wd: float, lr: float,
         epochs: int, n_backbone: int = 2) -> object:
    n_layers = n_nonlinear + n_linear
    widths = "[" + ",".join([str(width)] * (n_layers - 1)) + "]"
    return config(
        f"data.name={data}", "model.arch=mlp", f"model.widths={widths}",
        f"model.n_linear={n_linear}", f"model.n_backbone={n_backbone}", "loss.preset=torch_mse",
        "reg.scheme=standard", f"reg.weight_decay={wd}", "optim.name=sgd", f"optim.lr={lr}",
        "optim.batch_size=128", f"optim.epochs={epochs}", "schedule.name=step",
        "probe.points=40", "probe.batch_size=2000",
    )


def _resnet(data: str, n_relu_head: int, n_linear: int, width: int, wd: float, lr: float,
            epochs: int) -> object:
    widths = "[" + ",".join([str(width)] * (n_relu_head + n_linear - 1)) + "]"
    return config(
        f"data.name={data}", "model.arch=resnet20", f"model.widths={widths}",
        f"model.n_linear={n_linear}", "loss.preset=torch_mse", "reg.scheme=standard",
        f"reg.weight_decay={wd}", "optim.name=sgd", f"optim.lr={lr}", "optim.batch_size=128",
        f"optim.epochs={epochs}", "schedule.name=step", "probe.points=40",
        "probe.batch_size=1000",
    )


# ---- Figs 1 and 4: NC metrics through training ---------------------------------------------
def _balanced_decay(linear_pairs, drop: float = 0.8):
    """Balancedness of linear pairs: decays by >= 10x before the LR drop and decreases again
    after it; nonlinear pairs end higher than every linear pair."""

    def fn(results):
        parts, ok = [], True
        for layer in linear_pairs:
            curves = results.curve("w_balancedness", layer)
            if not curves:
                raise C.Missing(f"no w_balancedness of {layer}")
            first, before, last = [], [], []
            for steps, values in curves.values():
                cut = drop * steps[-1]
                pre = values[steps < cut]
                first.append(values[0])
                before.append(pre[-1])
                last.append(values[-1])
            f, b, la = np.mean(first), np.mean(before), np.mean(last)
            ok &= bool(b < 0.1 * f and la < b)
            parts.append(f"{layer}: {f:.3g} -> {b:.3g} (before drop) -> {la:.3g}")
        return ok, "; ".join(parts), \
            "linear pairs: value before the LR drop < 0.1 x initial, final < value before drop"

    return C.custom(fn)


def _nonlinear_higher(linear_pairs, nonlinear_pairs):
    def fn(results):
        lin = [C.final(results, "w_balancedness", lyr).mean() for lyr in linear_pairs]
        nl = [C.final(results, "w_balancedness", lyr).mean() for lyr in nonlinear_pairs]
        return min(nl) > max(lin), \
            f"nonlinear pairs {np.round(nl, 4).tolist()} vs linear pairs {np.round(lin, 5).tolist()}", \
            "min over nonlinear pairs > max over linear pairs (final, mean over runs)"

    return C.custom(fn)


def _gram_to_identity(layers):
    """Mean |off-diagonal cosine| of the class means decreases along the linear head."""

    def fn(results):
        vals = []
        for layer in layers:
            mats = C.matrices(results, "means_cos", layer)
            per_run = [np.abs(G[~np.eye(len(G), dtype=bool)]).mean() for G in mats.values()]
            vals.append(float(np.mean(per_run)))
        ok = all(b < a for a, b in zip(vals, vals[1:], strict=False))
        return ok, ", ".join(f"{lyr}: {v:.4f}" for lyr, v in zip(layers, vals, strict=True)), \
            "mean |off-diagonal cosine| decreases layer by layer (towards the identity)"

    return C.custom(fn)


def _thm31_holds(results):
    pre = C.final(results, "thm31/preconditions", "model") > 0.5
    nc1 = C.final(results, "thm31/nc1", "model")
    bound = C.final(results, "thm31/nc1_bound", "model")
    if not pre.any():
        eps1 = C.final(results, "thm31/eps1", "model")
        raise C.Missing(f"the preconditions of (18) hold in no run (eps1 = {C.fmt(eps1)} too "
                        "large: the fit is not close enough to interpolation)")
    ok = nc1[pre] <= bound[pre] * (1 + 1e-9)
    return (bool(ok.all()), f"NC1 {C.fmt(nc1[pre])} vs bound {C.fmt(bound[pre])} "
            f"({int(pre.sum())}/{pre.size} runs meet the preconditions)",
            "NC1 <= bound (18)")


def _nc_training(fig: str, *, n_linear: int, paper_base, paper_note: str, seeds: int,
                 cpu_width: int, cpu_steps: int, title: str, description: str,
                 source: str) -> Experiment:
    L = 2 + 3 + n_linear  # 2 backbone + 3 ReLU head layers + the linear head
    names = p0_head(3, n_linear)
    gram_layers = ("Z~3",) + names["linear_inputs"][1:]
    widths = "[" + ",".join([str(cpu_width)] * (L - 1)) + "]"
    cpu = (*_CPU_DATA, "model.arch=mlp", f"model.widths={widths}", f"model.n_linear={n_linear}",
           "model.n_backbone=2", "reg.weight_decay=0.002", f"optim.steps={cpu_steps}",
           probe_steps(cpu_steps), "probe.batch_size=none", *CPU)
    smoke = (*cpu, "optim.steps=200", probe_steps(200, 6, 5), "data.n_per_class=5")
    lin_pairs = names["linear_pairs"]
    feats = names["features"]
    return Experiment(
        id=f"{PAPER}-{fig}", paper=PAPER, figure=fig.replace("fig", "Fig "), title=title,
        base=paper_base, layer_names=p0_names,
        scales=scales(
            paper=Scale(seeds=seeds, note=paper_note),
            cpu=Scale(overrides=cpu, seeds=3, est_cpu_minutes=2.5,
                      note=f"digits, width {cpu_width}, full-batch GD lr 0.05, λ = 2e-3, "
                           f"{cpu_steps // 1000}k steps (ηλ·steps = {0.05 * 0.002 * cpu_steps:g})"
                           ", ×0.1 at 80 %, 3 seeds"),
            smoke=Scale(overrides=smoke, seeds=1),
        ),
        panels=(
            curve("NC1 (tr Σ_W / tr Σ_B) per layer", "nc1_trace", feats),
            curve("NC2 (κ of the class means) per layer", "nc2_cond", feats),
            curve("balancedness of (W_l, W_l+1), recorded on W_l", "w_balancedness",
                  names["nonlinear_pairs"] + lin_pairs),
            curve("negativity of the nonlinear head layers", "negativity", names["nonlinear"],
                  logy=False),
            grams("class-mean cosine Gram matrices of the linear head's inputs", gram_layers,
                  metric="means_cos"),
        ),
        claims=(
            Claim("collapse is reached throughout training: NC1 decreases in every measured "
                  "layer", C.decreases("nc1_trace", feats), source=f"{SRC} §6, {source}"),
            Claim("NC2 improves progressively with each layer of the linear head (κ decreases "
                  "layer by layer from the head's input to the last layer's input)",
                  C.ordered_layers("nc2_cond", names["linear_inputs"], "decreasing"),
                  source=f"{SRC} §6"),
            Claim("the class-mean Gram matrices approach the identity along the linear head",
                  _gram_to_identity(gram_layers), source=f"{SRC} §6, {source} bottom"),
            Claim("balancedness of the linear layers decreases exponentially, plateaus and "
                  "decreases again after the LR drop", _balanced_decay(lin_pairs),
                  source=f"{SRC} §6"),
            Claim("the balancedness of nonlinear layers plateaus at a significantly larger "
                  "value than that of the linear layers",
                  _nonlinear_higher(lin_pairs, names["relu_pairs"]), source=f"{SRC} §6"),
            Claim("Theorem 3.1: the NC1 of the last layer's input is below bound (18) in every "
                  "run where the bound's preconditions hold", C.custom(_thm31_holds),
                  source=f"{SRC} Thm 3.1 / B.1 eq (18)"),
        ),
        measures=(means_gram(gram_layers, normalize=True, metric="means_cos"), theorem31(),
                  class_fit()),
        requires=_COLLAPSE,
        description=description + " Layers in the paper's indexing from the backbone output: "
                    "Z0 = backbone output, Z~l / Zl = pre/post-activation of head layer l, "
                    "W_l its weight (balancedness of (W_l, W_l+1) recorded on W_l).",
        source=f"{SRC} §6, {source}; experiments.md C.1",
    )


FIG1 = _nc_training(
    "fig1", n_linear=3,
    paper_base=_resnet("cifar10", 3, 3, 64, 0.001, 0.001, 5000),
    paper_note="GPU: ResNet20 + 3 ReLU + 3 linear head (width 64 [choice]), CIFAR-10, SGD lr "
               "0.001 batch 128 [choice], wd 0.001, 5000 epochs, ×0.1 at 80 %",
    seeds=5, cpu_width=32, cpu_steps=40000,
    title="ResNet20 + 3 ReLU + 3 linear head: NC1, NC2, balancedness, negativity",
    description="Jacot et al. §6 (main text; the caption describes Fig 4's MLP, Part D #1): "
                "MSE + weight decay 0.001 on all parameters. CPU: digits MLP with 2 backbone "
                "layers + the same 3 + 3 head, width 32.",
    source="Fig 1",
)

FIG4 = _nc_training(
    "fig4", n_linear=4,
    paper_base=_mlp("mnist", 5, 4, 256, 0.0018, 0.001, 10000),
    paper_note="GPU (or many CPU hours): 9-layer MLP (width 256 [choice]) on MNIST, SGD lr "
               "0.001 batch 128 [choice], wd 0.0018, 10000 epochs, ×0.1 at 80 %",
    seeds=5, cpu_width=64, cpu_steps=40000,
    title="9-layer MLP (5 nonlinear + 4 linear): NC1, NC2, balancedness, negativity",
    description="Jacot et al. App. A: the last 7 layers of a 9-layer MLP (2 backbone, 3 ReLU, "
                "4 linear).",
    source="Fig 4",
)


# ---- Figs 2 and 5: dependence on the depth of the linear head --------------------------------
def linear_depth(point, cfg):
    """``linear_depth`` L2 -> the configured model with its nonlinear layers kept and L2 linear
    layers on top (same width)."""
    m = cfg.model
    n_nonlinear = len(m.widths) + 1 - m.n_linear
    L2 = int(point["linear_depth"])
    widths = ",".join([str(m.widths[0])] * (n_nonlinear + L2 - 1))
    return (f"model.widths=[{widths}]", f"model.n_linear={L2}")


def _nc1_flat(results):
    def spread(metric):
        means = [C.final(results, metric, "Z_L-1", linear_depth=d).mean()
                 for d in C.points(results, "linear_depth")]
        return max(means) / min(means)

    a, b = spread("nc1_trace"), spread("nc2_cond")
    return a < b, f"NC1 spread {a:.3g}, NC2 spread {b:.3g}", "spread(NC1) < spread(NC2)"


def _depth(fig: str, part: str, *, paper_base, depths, cpu_relu: int, seeds: int,
           paper_note: str, title: str, description: str) -> Experiment:
    cpu_layers = 2 + cpu_relu + 1
    widths = "[" + ",".join(["64"] * (cpu_layers - 1)) + "]"
    cpu = (*_CPU_DATA, "model.arch=mlp", f"model.widths={widths}", "model.n_linear=1",
           "model.n_backbone=2", "reg.weight_decay=0.001", "optim.steps=20000",
           "probe.points=10", "probe.batch_size=none", *CPU)
    figure = fig.replace("fig", "Fig ") + (f" ({part})" if part else "")
    return Experiment(
        id=f"{PAPER}-{fig}" + (f"-{part}" if part else ""), paper=PAPER, figure=figure,
        title=title, base=paper_base, derive=linear_depth,
        scales=scales(
            paper=Scale(grid={"linear_depth": depths, "reg.weight_decay": [0.001, 0.004]},
                        seeds=seeds, note=paper_note),
            cpu=Scale(grid={"linear_depth": [1, 2, 3, 4, 5],
                            "reg.weight_decay": [0.001, 0.004]},
                      seeds=2, overrides=cpu, est_cpu_minutes=9,
                      note=f"digits MLP: 2 backbone + {cpu_relu} ReLU + L2 linear layers "
                           "(width 64), full-batch GD lr 0.05, 20k steps, 2 wd x 2 seeds"),
            smoke=Scale(grid={"linear_depth": [1, 2], "reg.weight_decay": [0.004]}, seeds=1,
                        overrides=(*cpu, "optim.steps=100", "data.n_per_class=5", *SMOKE)),
        ),
        panels=(
            vs_param("NC1 in the last layer (input of W_L)", "nc1_trace", "linear_depth",
                     ("Z_L-1",), logy=True),
            vs_param("NC1 in the first layer of the linear head", "nc1_trace", "linear_depth",
                     ("Z_L1",), logy=True),
            vs_param("NC2 in the last layer", "nc2_cond", "linear_depth", ("Z_L-1",), logy=True),
            vs_param("NC2 in the first layer of the linear head", "nc2_cond", "linear_depth",
                     ("Z_L1",), logy=True),
            vs_param("κ(W_L) and κ(W_L:L1+1)^(1/L2)", "kappa_WL", "linear_depth", logy=True),
        ),
        claims=(
            Claim("NC2 significantly improves in the last layer as the depth of the linear head "
                  "increases", C.trend("nc2_cond", "Z_L-1", "linear_depth", "decreasing"),
                  source=f"{SRC} §6, {figure}"),
            Claim("NC2 gets slightly worse in the input layer of the linear head as the depth "
                  "increases", C.trend("nc2_cond", "Z_L1", "linear_depth", "increasing"),
                  source=f"{SRC} §6, {figure}"),
            Claim("NC1 does not depend strongly on the depth: the spread (max/min over depths) "
                  "of the mean NC1 in the last layer is smaller than that of NC2",
                  C.custom(_nc1_flat), source=f"{SRC} §6, {figure}"),
        ),
        measures=(head_io(), class_fit()),
        requires=_COLLAPSE,
        description=description + " Layers Z_L1 (input of the linear head) and Z_L-1 (input "
                    "of the last layer) are named independently of the depth; the points pool "
                    "both weight decays as in the paper.",
        source=f"{SRC} §6, {figure}; experiments.md C.1, Part D #5",
    )


FIG2_MLP = _depth(
    "fig2", "mlp", paper_base=_mlp("mnist", 5, 1, 256, 0.001, 0.001, 10000),
    depths=[1, 2, 3, 4, 5], cpu_relu=3, seeds=5,
    paper_note="GPU: MLP (5 nonlinear + L2 linear, width 256 [choice]) on MNIST, lr 0.001, "
               "wd in {0.001, 0.004}, 10000 epochs [choice], 5 runs each",
    title="MLP with a deep linear head: NC1 / NC2 vs the number of linear layers",
    description="Jacot et al. Fig 2 upper row.",
)
FIG2_RESNET = _depth(
    "fig2", "resnet", paper_base=_resnet("cifar10", 1, 1, 64, 0.001, 0.001, 5000),
    depths=[1, 2, 3, 4, 5, 6], cpu_relu=1, seeds=5,
    paper_note="GPU: ResNet20 + 1 ReLU head layer + L2 linear layers on CIFAR-10, lr 0.001, "
               "wd in {0.001, 0.004}, 5000 epochs [choice], 5 runs each",
    title="ResNet20 with a deep linear head: NC1 / NC2 vs the number of linear layers",
    description="Jacot et al. Fig 2 lower row (CPU: a 2-layer MLP backbone + 1 ReLU layer on "
                "digits).",
)
FIG2 = Experiment(
    id=f"{PAPER}-fig2", paper=PAPER, figure="Fig 2", title="NC vs depth of the linear head",
    base=None, scales={}, parts=(FIG2_MLP, FIG2_RESNET), source=f"{SRC} §6, Fig 2",
)
FIG5 = _depth(
    "fig5", "", paper_base=_resnet("mnist", 1, 1, 64, 0.001, 0.001, 5000),
    depths=[1, 2, 3, 4, 5, 6], cpu_relu=1, seeds=5,
    paper_note="GPU: ResNet20 + 1 ReLU head layer + L2 linear layers on MNIST, 50 runs (5 x 10 "
               "setups, Part D #5: 2 wd here)",
    title="ResNet20 on MNIST with a deep linear head: NC1 / NC2 vs linear depth",
    description="Jacot et al. App. A, Fig 5 (CPU stand-in identical to Fig 2 lower row, C.1).",
)


# ---- Fig 3: balancedness and negativity vs nonlinear depth ---------------------------------
def nonlinear_depth(point, cfg):
    """``nonlinear_depth`` D (including the 2 backbone layers) with 2 linear layers on top;
    weight decay 0.016 / (total number of layers)."""
    D = int(point["nonlinear_depth"])
    n_layers = D + 2
    widths = ",".join([str(cfg.model.widths[0])] * (n_layers - 1))
    return (f"model.widths=[{widths}]", "model.n_linear=2",
            f"reg.weight_decay={0.016 / n_layers:.10g}")


# 50k GD steps: ηλ·steps = 0.05 * 0.016 / 14 * 5e4 = 2.9 at depth 12. At 20k (1.1) the deep
# nets had not balanced yet and balancedness / negativity grew with depth (measured: 3 FAILs);
# at 50k all five trends are the paper's.
_CPU3 = (*_CPU_DATA, "model.arch=mlp", "model.widths=[64]", "model.n_backbone=2",
         "optim.steps=50000", "probe.points=10", "probe.batch_size=none", *CPU)

def _last_negative(results):
    bad, parts = [], []
    for d in C.points(results, "nonlinear_depth"):
        last = C.final(results, "neg_last", "model", nonlinear_depth=d).mean()
        mean = C.final(results, "neg_mean", "model", nonlinear_depth=d).mean()
        parts.append(f"D={d}: last {last:.3f} vs mean {mean:.3f}")
        if last < mean:
            bad.append(d)
    return not bad, "; ".join(parts), "negativity(last nonlinear layer) >= mean, every depth"


FIG3 = Experiment(
    id=f"{PAPER}-fig3", paper=PAPER, figure="Fig 3",
    title="balancedness and negativity of the nonlinear layers vs nonlinear depth",
    base=_mlp("mnist", 4, 2, 256, 0.001, 0.001, 10000), derive=nonlinear_depth,
    scales=scales(
        paper=Scale(grid={"nonlinear_depth": list(range(4, 13)), "optim.lr": [0.001, 0.002]},
                    seeds=5, note="GPU: MLP on MNIST ([choice]), 2 linear layers [choice], "
                                  "wd = 0.016 / #layers, 5 runs per lr"),
        cpu=Scale(grid={"nonlinear_depth": [4, 6, 8, 10, 12], "optim.lr": [0.05, 0.1]},
                  seeds=2, overrides=_CPU3, est_cpu_minutes=15,
                  note="digits, width 64, full-batch GD lr in {0.05, 0.1} (x2 as in the paper),"
                       " 50k steps, 2 seeds"),
        smoke=Scale(grid={"nonlinear_depth": [4, 6], "optim.lr": [0.05]}, seeds=1,
                    overrides=(*_CPU3, "optim.steps=100", "data.n_per_class=5", *SMOKE)),
    ),
    panels=(
        vs_param("minimum balancedness over nonlinear head layers", "bal_min",
                 "nonlinear_depth", logy=True),
        vs_param("mean balancedness over nonlinear head layers", "bal_mean", "nonlinear_depth",
                 logy=True),
        vs_param("minimum negativity", "neg_min", "nonlinear_depth"),
        vs_param("mean negativity", "neg_mean", "nonlinear_depth"),
    ),
    claims=(
        Claim("balancedness improves with depth in the most balanced layer (min decreases)",
              C.trend("bal_min", "model", "nonlinear_depth", "decreasing"),
              source=f"{SRC} §6, Fig 3"),
        Claim("balancedness improves with depth on average per layer (mean decreases)",
              C.trend("bal_mean", "model", "nonlinear_depth", "decreasing"),
              source=f"{SRC} §6, Fig 3"),
        Claim("the negativity of the layer that least uses the ReLU clearly decreases with "
              "depth", C.trend("neg_min", "model", "nonlinear_depth", "decreasing"),
              source=f"{SRC} §6, Fig 3"),
        Claim("the mean negativity also decreases with depth (less pronounced)",
              C.trend("neg_mean", "model", "nonlinear_depth", "decreasing"),
              source=f"{SRC} §6, Fig 3"),
        Claim("at every depth the last nonlinear layer relies on the ReLU: its negativity is "
              "at least the mean negativity of the nonlinear head layers",
              C.custom(_last_negative), source=f"{SRC} §6"),
    ),
    measures=(nonlinear_head_stats(), class_fit()),
    requires=_COLLAPSE,
    description="Depth of the nonlinear part 4..12 (the first two layers are the backbone, not "
                "measured) with 2 linear layers on top; pairs (W_l, W_l+1) belong to layer l "
                "(Part D #11).",
    source=f"{SRC} §6, Fig 3; experiments.md C.1",
)


EXPERIMENTS = (FIG1, FIG2, FIG3, FIG4, FIG5)
