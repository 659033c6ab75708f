"""Jacot et al. Figs 1 and 4 (§6, App. A): NC1, NC2, the balancedness of consecutive weights and
the negativity of the nonlinear layers through training, with Theorem 3.1's NC1 bound (18)."""

from __future__ import annotations

import numpy as np

from nclab.experiments import checks as C
from nclab.experiments.common import CPU, curve, grams, p0_head, p0_names, probe_steps, scales
from nclab.experiments.measures import class_fit, means_gram, theorem31
from nclab.experiments.spec import Claim, Experiment, Scale

from .shared import COLLAPSE, CPU_DATA, PAPER, SRC, mlp_config, resnet_config


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
                 cpu_width: int, cpu_steps: int, cpu_minutes: float, title: str,
                 description: str, source: str) -> Experiment:
    L = 2 + 3 + n_linear  # 2 backbone + 3 ReLU head layers + the linear head
    names = p0_head(3, n_linear)
    gram_layers = ("Z~3",) + names["linear_inputs"][1:]
    widths = "[" + ",".join([str(cpu_width)] * (L - 1)) + "]"
    cpu = (*CPU_DATA, "model.arch=mlp", f"model.widths={widths}", f"model.n_linear={n_linear}",
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
            cpu=Scale(overrides=cpu, seeds=3, est_cpu_minutes=cpu_minutes,
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
        requires=COLLAPSE,
        description=description + " Layers in the paper's indexing from the backbone output: "
                    "Z0 = backbone output, Z~l / Zl = pre/post-activation of head layer l, "
                    "W_l its weight (balancedness of (W_l, W_l+1) recorded on W_l).",
        source=f"{SRC} §6, {source}; experiments.md C.1",
    )


FIG1 = _nc_training(
    "fig1", n_linear=3,
    paper_base=resnet_config("cifar10", 3, 3, 64, 0.001, 0.001, 5000),
    paper_note="GPU: ResNet20 + 3 ReLU + 3 linear head (width 64 [choice]), CIFAR-10, SGD lr "
               "0.001 batch 128 [choice], wd 0.001, 5000 epochs, ×0.1 at 80 %",
    seeds=5, cpu_width=32, cpu_steps=40000, cpu_minutes=2.8,
    title="ResNet20 + 3 ReLU + 3 linear head: NC1, NC2, balancedness, negativity",
    description="Jacot et al. §6 (main text; the caption describes Fig 4's MLP, Part D #1): "
                "MSE + weight decay 0.001 on all parameters. CPU: digits MLP with 2 backbone "
                "layers + the same 3 + 3 head, width 32.",
    source="Fig 1",
)

FIG4 = _nc_training(
    "fig4", n_linear=4,
    paper_base=mlp_config("mnist", 5, 4, 256, 0.0018, 0.001, 10000),
    paper_note="GPU (or many CPU hours): 9-layer MLP (width 256 [choice]) on MNIST, SGD lr "
               "0.001 batch 128 [choice], wd 0.0018, 10000 epochs, ×0.1 at 80 %",
    seeds=5, cpu_width=64, cpu_steps=40000, cpu_minutes=5.7,
    title="9-layer MLP (5 nonlinear + 4 linear): NC1, NC2, balancedness, negativity",
    description="Jacot et al. App. A: the last 7 layers of a 9-layer MLP (2 backbone, 3 ReLU, "
                "4 linear).",
    source="Fig 4",
)
