"""Jacot et al. Fig 3 (§6): the balancedness and the negativity of the nonlinear head layers
against the depth of the nonlinear part."""

from __future__ import annotations

from nclab.experiments import checks as C
from nclab.experiments.common import CPU, SMOKE, scales, vs_param
from nclab.experiments.measures import class_fit, nonlinear_head_stats
from nclab.experiments.spec import Claim, Experiment, Scale

from .shared import COLLAPSE, CPU_DATA, PAPER, SRC, mlp_config


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
_CPU3 = (*CPU_DATA, "model.arch=mlp", "model.widths=[64]", "model.n_backbone=2",
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
    base=mlp_config("mnist", 4, 2, 256, 0.001, 0.001, 10000), derive=nonlinear_depth,
    scales=scales(
        paper=Scale(grid={"nonlinear_depth": list(range(4, 13)), "optim.lr": [0.001, 0.002]},
                    seeds=5, note="GPU: MLP on MNIST ([choice]), 2 linear layers [choice], "
                                  "wd = 0.016 / #layers, 5 runs per lr"),
        cpu=Scale(grid={"nonlinear_depth": [4, 8, 12], "optim.lr": [0.05, 0.1]},
                  seeds=1, overrides=_CPU3, est_cpu_minutes=13,
                  note="digits, width 64, full-batch GD lr in {0.05, 0.1} (x2 as in the paper),"
                       " 50k steps, depths 4, 8, 12 and 1 seed ([cost]: 6 runs, 2 per depth; "
                       "the 2-seed grid 4..12 step 2 cost 43 CPU-min)"),
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
    requires=COLLAPSE,
    description="Depth of the nonlinear part 4..12 (the first two layers are the backbone, not "
                "measured) with 2 linear layers on top; pairs (W_l, W_l+1) belong to layer l "
                "(Part D #11).",
    source=f"{SRC} §6, Fig 3; experiments.md C.1",
)
