"""Jacot et al. Figs 2 and 5 (§6, App. A): NC1 and NC2 at the input and the output of the linear
head against its depth L2 (MLP on MNIST, ResNet20 on CIFAR-10 and MNIST)."""

from __future__ import annotations

from nclab.experiments import checks as C
from nclab.experiments.common import CPU, SMOKE, scales, vs_param
from nclab.experiments.measures import class_fit, head_io
from nclab.experiments.spec import Claim, Experiment, Scale

from .shared import COLLAPSE, CPU_DATA, PAPER, SRC, mlp_config, resnet_config


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


# one tuple for every depth experiment: Fig 5's cpu runs are Fig 2 lower row's (C.1), trained
# once
_MEASURES = (head_io(), class_fit())


def _depth(fig: str, part: str, *, paper_base, depths, cpu_relu: int, seeds: int,
           cpu_minutes: float, paper_note: str, title: str, description: str) -> Experiment:
    cpu_layers = 2 + cpu_relu + 1
    widths = "[" + ",".join(["64"] * (cpu_layers - 1)) + "]"
    cpu = (*CPU_DATA, "model.arch=mlp", f"model.widths={widths}", "model.n_linear=1",
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
                      seeds=1, overrides=cpu, est_cpu_minutes=cpu_minutes,
                      note=f"digits MLP: 2 backbone + {cpu_relu} ReLU + L2 linear layers "
                           "(width 64), full-batch GD lr 0.05, 20k steps, 2 wd x 1 seed "
                           "([cost]: the points pool both weight decays, 2 runs per depth)"),
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
        measures=_MEASURES,
        requires=COLLAPSE,
        description=description + " Layers Z_L1 (input of the linear head) and Z_L-1 (input "
                    "of the last layer) are named independently of the depth; the points pool "
                    "both weight decays as in the paper.",
        source=f"{SRC} §6, {figure}; experiments.md C.1, Part D #5",
    )


FIG2_MLP = _depth(
    "fig2", "mlp", paper_base=mlp_config("mnist", 5, 1, 256, 0.001, 0.001, 10000),
    depths=[1, 2, 3, 4, 5], cpu_relu=3, seeds=5, cpu_minutes=7,
    paper_note="GPU: MLP (5 nonlinear + L2 linear, width 256 [choice]) on MNIST, lr 0.001, "
               "wd in {0.001, 0.004}, 10000 epochs [choice], 5 runs each",
    title="MLP with a deep linear head: NC1 / NC2 vs the number of linear layers",
    description="Jacot et al. Fig 2 upper row.",
)
FIG2_RESNET = _depth(
    "fig2", "resnet", paper_base=resnet_config("cifar10", 1, 1, 64, 0.001, 0.001, 5000),
    depths=[1, 2, 3, 4, 5, 6], cpu_relu=1, seeds=5, cpu_minutes=4.75,
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
    "fig5", "", paper_base=resnet_config("mnist", 1, 1, 64, 0.001, 0.001, 5000),
    depths=[1, 2, 3, 4, 5, 6], cpu_relu=1, seeds=5, cpu_minutes=4.75,
    paper_note="GPU: ResNet20 + 1 ReLU head layer + L2 linear layers on MNIST, 50 runs (5 x 10 "
               "setups, Part D #5: 2 wd here)",
    title="ResNet20 on MNIST with a deep linear head: NC1 / NC2 vs linear depth",
    description="Jacot et al. App. A, Fig 5 (CPU stand-in identical to Fig 2 lower row, C.1).",
)
