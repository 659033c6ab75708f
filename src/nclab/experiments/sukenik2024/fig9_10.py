"""Súkeník et al. Figs 9 and 10 (App. B.2): the average class-mean rank of ResNet20 + an MLP head
vs the weight decay and the learning rate, end to end (CPU: an MLP backbone on digits)."""

from __future__ import annotations

from nclab.experiments import checks as C
from nclab.experiments.common import SMOKE, p2_intermediate, p2_names, scales, vs_param
from nclab.experiments.measures import average_rank, class_fit
from nclab.experiments.spec import Claim, Experiment, Scale

from .shared import E2E_NOTE, PAPER, REGIME, SRC, backbone_skip, end_to_end

# measured 2026-12-02 on complete 2-seed stores of the current protocols: seed 0 alone gives
# the same claim outcome as seeds 0-1 (cost halved)
_ONE_SEED = (". One seed [cost]: on 2-seed runs seed 0 alone gave the same outcome (PASS; mean "
             "avg rank at the largest value: fig9-left 9.33, fig9-right 9.83, fig10 8.63)")


def _rank_sweep(fig: str, key: str, values, cpu_values, data: str, head: int, scheme: str,
                wd: float, lr: float, feature_decay: float, seeds: int, cpu_wd: float,
                cpu_lr: float, label: str, claim_text: str, cpu_minutes: float,
                trend_dir: str = "decreasing", cpu_steps: int = 20000, skip: bool = False,
                note: str = ""):
    paper, cpu = end_to_end("resnet20", data, head, scheme=scheme, wd=wd,
                            feature_decay=feature_decay, lr=lr, epochs=300, cpu_n=50,
                            cpu_steps=cpu_steps, cpu_lr=cpu_lr)
    cpu = (*cpu, f"reg.weight_decay={cpu_wd}")
    if skip:
        cpu = (*cpu, backbone_skip(head))
    if scheme == "dufm_like":
        cpu = (*cpu, "reg.feature_decay=0.0005")  # n λ_H1 = 0.025 with n = 50
    inter = p2_intermediate(head)
    return Experiment(
        id=f"{PAPER}-{fig}", paper=PAPER, figure=label,
        title=f"ResNet20 + {head}-layer head on {data}: average rank vs log2 {key}",
        base=paper, layer_names=p2_names,
        scales=scales(
            paper=Scale(grid={key: values}, seeds=seeds,
                        note=f"GPU: ResNet20 on {data}, {seeds} runs per value"),
            cpu=Scale(grid={key: cpu_values}, seeds=1, overrides=cpu, est_cpu_minutes=cpu_minutes,
                      note=E2E_NOTE + f", 1 run per value, {cpu_steps // 1000}k steps" + note
                      + _ONE_SEED),
            smoke=Scale(grid={key: cpu_values[:2]}, seeds=1,
                        overrides=(*cpu, "optim.steps=100", "data.n_per_class=10", *SMOKE)),
        ),
        panels=(vs_param(f"average rank vs {key} (log2 axis)", "avg_rank", key, logx=True),),
        claims=(
            Claim(claim_text + " (paper layers)",
                  C.trend("avg_rank", "model", key, trend_dir), scales=("paper",),
                  why="the CPU stand-in trains other layer sizes; its own trend is the cpu claim",
                  source=f"{SRC} App. B, Fig {fig[3:]}", requires=REGIME),
            Claim(claim_text + " (CPU stand-in)", C.trend("avg_rank", "model", key, trend_dir),
                  scales=("cpu",), source=f"{SRC} App. B, Fig {fig[3:]}", requires=REGIME),
        ),
        measures=(class_fit(), average_rank(inter)),
        description=f"Average numerical rank (rank_rel 1e-3) of the class means of "
                    f"{', '.join(inter)}, {scheme} regularisation.",
        source=f"{SRC} App. B, Fig {fig[3:]}",
    )


_FIG9_NOTE = (
    ". Backbone layer 2 with an identity skip (as Fig 2 bottom's stand-in, where the plain one "
    "dropped whole classes under the feature penalty), the paper's λ = 0.005 head decay")

FIG9_WD = _rank_sweep(
    "fig9-left", "reg.weight_decay", [2.0 ** k for k in range(-10, -4)],
    [2.0 ** k for k in range(-10, -5)], "cifar10", 4, "dufm_like", 0.005, 0.05, 5e-6, 3,
    0.005, 0.05, "Fig 9 (left)", "the average rank decreases with the weight decay", 2.5,
    cpu_steps=10000, skip=True, note=_FIG9_NOTE + (
        "; 10k steps ([choice]: in the plain-backbone runs the ranks at 10k steps were those "
        "at 20k); λ in 2^-10..2^-6 (measured: at 2^-5 both runs end at loss 0.521 > 0.5, the zero "
        "solution's; the other 10 learn every class and the mean average rank is 10, 10, 10, "
        "10, 9.17: the claim passes, weakly). Before (plain backbone, λ 2^-9..2^-4, 20k steps): "
        "4 of 12 runs at the zero solution, NOT-RUN"))
FIG9_LR = _rank_sweep(
    "fig9-right", "optim.lr", [2.0 ** k for k in range(-8, -2)],
    [2.0 ** k for k in range(-7, -2)], "cifar10", 4, "dufm_like", 0.005, 0.05, 5e-6, 2,
    0.005, 0.05, "Fig 9 (right)",
    "general downward trend of the average rank with the learning rate", 6,
    cpu_steps=20000, skip=True, note=_FIG9_NOTE + (
        ". Measured: at 10k steps NOT-RUN, at lr 2^-7 both runs end at loss 0.52 > 0.5, the "
        "zero solution's (not converged at that lr), and the 8 runs at lr >= 2^-6 learn every "
        "class with average rank 10 each; at 20k steps every run is below the zero solution "
        "with every class learned and the claim passes, weakly: mean average rank 10, 10, 10, "
        "9.92, 9.75 (Spearman -0.89; 1077 s for the 10 runs on a loaded machine). "
        "Before (plain backbone, 20k steps): all 10 runs dropped a class (min recall 0, "
        "8-9 classes predicted), NOT-RUN; their ranks 8.5-10 "
        "fell with the dropped classes"))
FIG9 = Experiment(
    id=f"{PAPER}-fig9", paper=PAPER, figure="Fig 9", title="average rank vs wd and lr (CIFAR-10)",
    base=None, scales={}, parts=(FIG9_WD, FIG9_LR), source=f"{SRC} App. B.2",
)
FIG10 = _rank_sweep(
    "fig10", "reg.weight_decay", [2.0 ** k for k in range(-8, -3)],
    [2.0 ** k for k in range(-10, -5)], "mnist", 5, "standard", 0.04, 0.01, 0.0, 4, 0.01,
    0.05, "Fig 10", "the average rank decreases with the weight decay", 7,
    note=". λ in 2^-10..2^-6: at 2^-5 the stand-in ends above the zero solution's loss (0.632, "
         "0.598 vs 0.5; measured, 2026-12-02), outside the claim's regime; on the other 10 "
         "runs every class is learned and the mean average rank falls 10, 10, 10, 9.06, 8.56 "
         "(Spearman -0.89)")
