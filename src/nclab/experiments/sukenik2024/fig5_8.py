"""Súkeník et al. Figs 5-8 (App. B.1): the solutions gradient descent finds on the DUFM --
low-rank solutions below L_DNC for K in {3, 4, 5} (Fig 5), the 7-DUFM with K = 15 (Fig 6) and
SRG-like solutions slightly below L_SRG for K = 6 and 15 (Figs 7, 8)."""

from __future__ import annotations

import math

import numpy as np

from nclab.experiments import checks as C
from nclab.experiments.common import (
    CPU,
    SMOKE,
    dufm,
    grams,
    loss_panel,
    p2_head,
    p2_intermediate,
    p2_names,
    scales,
    spectrum,
)
from nclab.experiments.measures import (
    average_rank,
    class_fit,
    dufm_references,
    means_gram,
    means_matrix,
    means_spectrum,
    objective_parts,
)
from nclab.experiments.spec import Claim, Experiment, Panel, Scale
from nclab.theory import srg_loss

from .shared import LAM, PAPER, REGIME, SRC, reference_lines


def _square_graph(results):
    """K = 4: each column has positive inner product with exactly two others and is orthogonal
    to the fourth (Súkeník et al. App. B.1)."""
    found = []
    for G in C.matrices(results, "means_cos", "H3", **{"data.K": 4}).values():
        off = G[~np.eye(4, dtype=bool)].reshape(4, 3)
        found.append(all(np.sum(row > 0.25) == 2 and np.sum(np.abs(row) < 0.05) == 1
                         for row in off))
    return any(found), f"{sum(found)}/{len(found)} K=4 runs with the square-graph pattern", \
        "some run: 2 positive (> 0.25) and 1 orthogonal (< 0.05) column per column of M_3"


def _below_dnc_some(results):
    out, ok = [], True
    for K in C.points(results, "data.K"):
        loss = C.final(results, "loss", "model", **{"data.K": K})
        ref = C.final(results, "ref/dnc_loss", "model", **{"data.K": K})
        rank = C.final(results, "avg_rank", "model", **{"data.K": K})
        hit = bool(np.any((loss < ref) & (rank < K)))
        ok &= hit
        out.append(f"K={K}: loss {np.round(loss, 4).tolist()} vs L_DNC {ref[0]:.4f}, "
                   f"avg rank {np.round(rank, 2).tolist()}")
    return ok, "; ".join(out), "for every K some run has loss < L_DNC and average rank < K"


# measured on this experiment's runs (30k steps, seeds 0-2, H1 ~ N(0, 1), W ~ N(0, 1/width));
# the references are nclab.theory's L_DNC for each run's K, n = 50, λ = 0.004
_FIG5_NOTE = (
    ". The paper gives no width ([choice]: as Fig 2 top, 30) and says small widths favour "
    "low rank (Fig 3 right). At width 30 every run ends at DNC (loss = L_DNC to 1e-4, ranks K, "
    "every K and seed); at width 20 one seed of three finds rank < K below L_DNC for K = 4 "
    "(loss 0.0844 vs L_DNC 0.0868) and K = 5 (0.1057 vs 0.1084) but none for K = 3 (DNC in all "
    "three); at width 10 one seed per K does: K = 3 loss 0.0639 vs L_DNC 0.0653 (rank 2.17), "
    "K = 4 0.0854 vs 0.0868 (rank 3.17), K = 5 0.1046 vs 0.1084 (rank 3); the other width-10 "
    "runs stop above L_DNC at rank K or a little below K, every class learned in all nine. The "
    "cpu scale takes width 10 (9 runs: 107 s CPU, 1 thread). A "
    "smaller init (H1 ~ N(0, 0.01)) at width 10 finds rank 2 for K = 3 in two seeds but drops "
    "classes for K = 4, 5 (loss 0.19-0.34)")


FIG5 = Experiment(
    id=f"{PAPER}-fig5", paper=PAPER, figure="Fig 5",
    title="4-DUFM for K in {3, 4, 5}: low-rank solutions beat DNC",
    base=dufm(3, 4), layer_names=p2_names,
    scales=scales(
        paper=Scale(grid={"data.K": [3, 4, 5]}, seeds=5, est_cpu_minutes=15,
                    note="hyper-parameters as Fig 2 top ([choice]); 100k steps"),
        cpu=Scale(grid={"data.K": [3, 4, 5]}, seeds=3,
                  overrides=(*CPU, "optim.steps=30000", "model.widths=[10,10,10,10]"),
                  est_cpu_minutes=3.4, note="3 runs per K, 30k steps, width 10" + _FIG5_NOTE),
        smoke=Scale(grid={"data.K": [3, 4]}, seeds=1, overrides=(*SMOKE, "optim.steps=200")),
    ),
    panels=(
        Panel("loss and its fit / regularisation parts", "curve", "objective",
              layers=("loss", "fit", "reg"), logx=True, logy=True),
        grams("M_3 (features x classes)", ("H3",), metric="means"),
        grams("M̃_4 (features x classes)", ("H~4",), metric="means"),
        grams("M_3ᵀM_3", ("H3",)),
    ),
    claims=(
        Claim("already for L = 4 gradient descent finds low-rank solutions for all K >= 3: for "
              "each K some run ends below L_DNC with average intermediate rank < K",
              C.custom(_below_dnc_some), source=f"{SRC} App. B.1, Fig 5", requires=REGIME),
        Claim("K = 4 shows the square-graph structure (each column has positive inner product "
              "with exactly two others and is orthogonal to the fourth)",
              C.custom(_square_graph), scales=("paper",),
                  why="the square-graph pattern needs the paper's long training at K = 4",
                  source=f"{SRC} App. B.1", requires=REGIME),
    ),
    measures=(dufm_references(), class_fit(), average_rank(p2_intermediate(4)),
              means_matrix(("H3", "H~4")),
              means_gram(("H3",)),
              means_gram(("H3",), normalize=True, metric="means_cos"),
              objective_parts()),
    description="4-DUFM with K = 3, 4, 5 classes, n = 50, λ = 0.004, lr 0.5, width 30.",
    source=f"{SRC} App. B.1, Fig 5",
)


_K15_NOTE = (
    ". The papers give no n for K = 15 ([choice]: n = 50 as Fig 2). At n = 50 GD fits one "
    "class from this initialisation (loss 0.488 ≈ 14/30 unfit, ranks 1, every seed; H1 std 2 "
    "or 3: the same or divergence at lr 0.5, measured); a smaller n escapes the trap. "
    "Measured on Fig 8's 4-DUFM (λ = 0.004, 40k steps, one seed): n = 10 ends at loss 0.1861 "
    "with every class learned (L_DNC 0.2329, L_SRG 0.1819 for n = 10), n = 5 at 0.1713 "
    "(L_DNC 0.2033); n = 10 is kept, the closest to the paper's. The references come from "
    "nclab.theory for each run's own n and λ")


def _three_dominant(results):
    s = {}
    for i in range(4):
        v = C.final(results, f"means_sv[{i}]", "H6")
        s[i] = v
    ratio = s[3] / s[2]
    return bool(np.all(ratio < 0.1) and np.all(s[3] > 0)), \
        f"s_4/s_3 per run {np.round(ratio, 4).tolist()}", "s_4/s_3 < 0.1, s_4 > 0"


FIG6 = Experiment(
    id=f"{PAPER}-fig6", paper=PAPER, figure="Fig 6",
    title="7-DUFM, K = 15, λ = 0.0025: rank 3 early, ReLU active only late",
    base=dufm(15, 7, lam=0.0025, steps=200_000), layer_names=p2_names,
    scales=scales(
        paper=Scale(seeds=1, est_cpu_minutes=10, note="200k GD steps at lr 0.5 (paper)"),
        cpu=Scale(seeds=1, overrides=(*CPU, "optim.steps=100000", "data.n_per_class=10"),
                  est_cpu_minutes=3.8, note="100k steps, n = 10" + _K15_NOTE + (
                      ". Measured here (n = 10, 100k steps): loss 0.1132 < L_DNC 0.1987 (and "
                      "< L_SRG 0.1211) with every class learned; ranks of M̃_2, M_2 5 (not 3), "
                      "negativity of H̃_6 0.0035, s_4/s_3 of M_6 0.96 (at n = 50: loss 0.483, "
                      "rank 1)")),
        smoke=Scale(seeds=1, overrides=(*SMOKE, "optim.steps=200")),
    ),
    panels=(
        spectrum("singular values of M̃_2, M̃_6, M_6", ("H~2", "H~6", "H6")),
        grams("M̃_2, M̃_6, M_6 (features x classes)", ("H~2", "H~6", "H6"),
              metric="means"),
        loss_panel("training loss", reference_lines(15, 7, 0.0025)),
    ),
    claims=(
        Claim("the rank of the early layers is 3 (M̃_2, rank_rel 1e-3), below the SRG rank "
              "r = 6", C.in_range("means_rank", ("H~2", "H2"), 3, 3),
              source=f"{SRC} App. B.1, Fig 6", requires=REGIME),
        Claim("M̃_6 ≠ M_6: the last ReLU is active (negativity of H̃_6 > 0.01)",
              C.in_range("negativity", ("H~6",), 0.01, 1.0),
              source=f"{SRC} App. B.1", requires=REGIME),
        Claim("M_6 has 3 dominant singular values followed by small non-zero ones "
              "(s_4 / s_3 < 0.1 and s_4 > 0)", C.custom(_three_dominant),
              source=f"{SRC} App. B.1", requires=REGIME),
        Claim("the final loss is below L_DNC", C.compare("loss", "model", "<", "ref/dnc_loss"),
              source=f"{SRC} §6.1"),
    ),
    measures=(dufm_references(), class_fit(), means_spectrum(p2_head(7)),
              means_matrix(("H~2", "H~6", "H6"))),
    description="7-DUFM with K = 15, n = 50, λ = 0.0025 everywhere, width 30, lr 0.5.",
    source=f"{SRC} App. B.1, Fig 6",
)


def _srg_like(K: int, fig: str, cpu_steps: int, cpu_minutes: float, cpu_n: int = 50,
              cpu_note: str = "") -> Experiment:
    r = int(round((1 + math.sqrt(1 + 8 * K)) / 2))
    srg_value = round(srg_loss(r, 4, LAM, LAM, n=50), 5)  # the paper's n = 50
    return Experiment(
        id=f"{PAPER}-{fig}", paper=PAPER, figure=fig.replace("fig", "Fig "),
        title=f"4-DUFM, K = {K}: SRG-like solution slightly below L_SRG",
        base=dufm(K, 4), layer_names=p2_names,
        scales=scales(
            paper=Scale(seeds=5, est_cpu_minutes=10 if K == 6 else 20,
                        note="hyper-parameters as Fig 2 top ([choice]); 100k steps"),
            cpu=Scale(seeds=3, overrides=(*CPU, f"optim.steps={cpu_steps}",
                                          f"data.n_per_class={cpu_n}"),
                      est_cpu_minutes=cpu_minutes,
                      note=f"3 runs, {cpu_steps // 1000}k steps, n = {cpu_n}" + cpu_note),
            smoke=Scale(seeds=1, overrides=(*SMOKE, "optim.steps=200")),
        ),
        panels=(
            grams("M̃_3ᵀM̃_3", ("H~3",)),
            grams("M̃_3 and M̃_4 (features x classes)", ("H~3", "H~4"),
                  metric="means"),
            spectrum("singular values of H_3", ("H3",)),
            Panel("loss and its fit / regularisation parts", "curve", "objective",
                  layers=("loss", "fit", "reg"), logx=True, logy=True,
                  reference=(("L_SRG (n = 50)", srg_value),)),
        ),
        claims=(
            Claim(f"SRG-like intermediate layers: the class means of H̃_3 have rank r = {r} "
                  "in some run", C.custom(lambda res: _some_rank(res, "H~3", r)),
                  source=f"{SRC} App. B.1, Fig {fig[3:]}", requires=REGIME),
            Claim(f"the loss of the solution found is slightly below L_SRG ({srg_value} at "
                  "n = 50; each run's own from nclab.theory) (SRG is not globally optimal): the "
                  "best run's final loss < L_SRG",
                  C.custom(_best_below_srg), source=f"{SRC} App. B.1"),
            Claim("the final loss is below L_DNC (mean over runs)",
                  C.compare("loss", "model", "<", "ref/dnc_loss"), source=f"{SRC} §6.1"),
        ),
        measures=(dufm_references(), class_fit(), means_spectrum(p2_head(4)),
                  means_gram(("H~3",)), means_matrix(("H~3", "H~4")),
                  average_rank(p2_intermediate(4)), objective_parts()),
        description=f"4-DUFM, K = {K}, n = 50, λ = 0.004, lr 0.5, width 30 ([choice]: as Fig 2).",
        source=f"{SRC} App. B.1, Fig {fig[3:]}; experiments.md C.3 (L_SRG {srg_value})",
    )


def _some_rank(results, layer, r):
    v = C.final(results, "means_rank", layer)
    return bool(np.any(v == r)), f"ranks per run {v.tolist()}", f"some run has rank {r}"


def _best_below_srg(results):
    loss = C.final(results, "loss", "model")
    ref = C.final(results, "ref/srg_loss", "model")
    return bool(loss.min() < ref.min()), f"best loss {loss.min():.5f} vs L_SRG {ref.min():.5f}", \
        "min over runs of the final loss < L_SRG"


# K = 6 at 40k steps: ranks 5-6 and best loss 0.12697 > L_SRG (measured); at the [choice] 100k
# of the paper's protocol, rank 4 and 0.12173 < L_SRG.
FIG7 = _srg_like(6, "fig7", 100_000, 5.7)
FIG8 = _srg_like(15, "fig8", 100_000, 4.2, cpu_n=10, cpu_note=_K15_NOTE + (
    ". At 100k steps (3 seeds, measured): loss 0.1876 ± 0.0012 < L_DNC 0.2329 with every "
    "class learned, but rank 7 of H̃_3 in every run and a best loss of 0.18587, just above "
    "L_SRG 0.18186: GD settles on a rank-7 solution (at n = 50, 0.488 and rank 1)"))
