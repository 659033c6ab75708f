"""Súkeník, Mondelli, Lampert -- Neural collapse versus low-rank bias: is deep neural collapse
really optimal? (seed 002; experiments.md C.3, B.3).

Layer names (probe) vs the paper's: ``H1`` = H_1, ``layer{l-1}/pre`` = H̃_l, ``layer{l-1}/post`` =
H_l (l = 2..L), ``layerL`` = the output. Class-mean matrices M_l / M̃_l are the class means of
those layers; "intermediate" layers are H_1 .. H̃_L (rank r in the SRG solution), H_L is the
last hidden layer after the final ReLU (rank K).
"""

from __future__ import annotations

import math

import numpy as np

from nclab.theory import (
    dnc_loss,
    dnc_solution,
    srg_dnc_ratio,
    srg_loss,
    srg_solution,
    theorem5_condition,
)

from . import checks as C
from . import preconditions as P
from .common import (
    CPU,
    SMOKE,
    config,
    curve,
    dufm,
    grams,
    loss_panel,
    p2_head,
    p2_intermediate,
    p2_names,
    scales,
    spectrum,
    vs_param,
)
from .measures import (
    average_rank,
    class_fit,
    dnc_found,
    dufm_references,
    means_gram,
    means_matrix,
    means_spectrum,
    objective_parts,
    srg_match,
)
from .spec import Claim, Experiment, Panel, Scale

PAPER = "sukenik2024"
SRC = "002"
LAM = 0.004  # Fig 2 top: λ = 0.004 for every term, n = 50, width 30, lr 0.5

# the regime of the rank / collapse claims: a non-trivial solution (not the zero one, the global
# optimum when λ is large) with every class learned (a dropped class is not a low-rank bias);
# the loss comparisons (e.g. loss < L_DNC) are scored whatever solution GD found
_REGIME = (P.below_zero_solution(), P.every_class_learned())


def _ref(K: int, L: int, lam: float = LAM, n: int = 50) -> tuple[tuple[str, float], ...]:
    refs = [("L_DNC", dnc_loss(K, L, lam, lam, n=n))]
    r = int(round((1 + math.sqrt(1 + 8 * K)) / 2))
    if r * (r - 1) // 2 == K and r >= 4:
        refs.append(("L_SRG", srg_loss(r, L, lam, lam, n=n)))
    return tuple(refs)


def _dufm_panels(L: int, K: int, lam: float = LAM, n: int = 50) -> tuple[Panel, ...]:
    feats = p2_head(L)
    return (
        loss_panel("training loss vs L_DNC and L_SRG", _ref(K, L, lam, n)),
        curve("DNC1 (NC1 pinv) per layer", "nc1_pinv", feats),
        spectrum("singular values of the class means at convergence", feats),
    )


def _low_rank_claims(L: int, K: int, rank_range: tuple[int, int] | None, scale_note: str):
    inter = p2_intermediate(L)
    last = f"H{L}"
    out = [
        Claim("the final training loss is below the DNC loss L_DNC (mean over runs)",
              C.compare("loss", "model", "<", "ref/dnc_loss"), source=f"{SRC} §6.1, Fig 2"),
        Claim("DNC1 in every layer: NC1 (pinv) decreases during training in every layer",
              C.decreases("nc1_pinv", p2_head(L)), source=f"{SRC} §6.1, Fig 2", requires=_REGIME),
        Claim(f"rank K = {K} after the last ReLU (H_{L}, rank_rel 1e-3) in every run",
              C.in_range("means_rank", (last,), K, K), source=f"{SRC} §6.1", requires=_REGIME),
    ]
    if rank_range is not None:
        lo, hi = rank_range
        out.append(Claim(
            f"low-rank bias: intermediate class-mean ranks lie in [{lo}, {hi}] (< K) in every "
            "run (rank_rel 1e-3)", C.in_range("means_rank", inter, lo, hi),
            source=f"{SRC} §6.1, Fig 2", requires=_REGIME))
    out.append(Claim(
        "intermediate ranks are the same in all intermediate layers within one run"
        + scale_note, _same_rank(inter), scales=("paper",),
                  why="rank equality across layers emerges only after the paper's long training",
                  source=f"{SRC} §6.1", requires=_REGIME))
    return out


def _same_rank(layers):
    def fn(results):
        bad = []
        for run in results.runs():
            ranks = {lyr: [r["value"] for r in results.select("means_rank", lyr)
                           if r["run_id"] == run] for lyr in layers}
            finals = {lyr: v[-1] for lyr, v in ranks.items() if v}
            if not finals:
                raise C.Missing("no means_rank rows")
            if len(set(finals.values())) != 1:
                bad.append(f"{run}: {sorted(set(finals.values()))}")
        return (not bad, f"{len(results.runs()) - len(bad)}/{len(results.runs())} runs "
                         f"with one rank" + (f"; differing: {bad[:3]}" if bad else ""),
                "one rank across H_1..H~_L in every run")

    return C.custom(fn)


def _closer_to_srg(results):
    loss = C.final(results, "loss", "model").mean()
    srg = C.final(results, "ref/srg_loss", "model").mean()
    dnc = C.final(results, "ref/dnc_loss", "model").mean()
    return (loss - srg < dnc - loss,
            f"loss {loss:.4f}: {loss - srg:.4f} above L_SRG {srg:.4f}, {dnc - loss:.4f} below "
            f"L_DNC {dnc:.4f}", "loss - L_SRG < L_DNC - loss (\"rather close to SRG\")")


def _some_run(metric: str, text: str):
    def fn(results):
        v = C.final(results, metric, "model")
        return (bool(np.any(v > 0.5)), f"{int(np.sum(v > 0.5))}/{v.size} runs", text)

    return C.custom(fn)


# ---- Fig 1: the SRG construction (no training) -------------------------------------------------
def _fig1_compute(params, seed):
    r, L, lam, n = params["r"], params["L"], params["lam"], 1
    K = r * (r - 1) // 2
    srg = srg_solution(r, L, n, lam)
    dnc = dnc_solution(K, L, n, lam)
    M3, Mt4 = srg["means"][2], srg["pre_means"][L - 2]
    mats = {
        "SRG M_3": M3,
        "SRG M~_4": Mt4,
        "SRG M~_4^T M~_4": Mt4.T @ Mt4,
        "DNC M~_4^T M~_4": dnc["pre_means"][L - 2].T @ dnc["pre_means"][L - 2],
    }
    rows = []
    for layer, M in mats.items():
        rows += [{"layer": layer, "metric": f"matrix[{i},{j}]", "value": float(M[i, j])}
                 for i in range(M.shape[0]) for j in range(M.shape[1])]

    def rank(A):
        s = np.linalg.svd(A, compute_uv=False)
        return int(np.sum(s > 1e-9 * s[0]))

    rows += [
        {"layer": "SRG M~_4", "metric": "rank", "value": rank(Mt4)},
        {"layer": "SRG M_4", "metric": "rank", "value": rank(np.maximum(Mt4, 0))},
        {"layer": "DNC M~_4", "metric": "rank", "value": rank(dnc["pre_means"][L - 2])},
        {"layer": "SRG M_3", "metric": "row_nonzeros_max",
         "value": max(int(np.sum(np.abs(row) > 1e-12)) for row in M3 if np.abs(row).max() > 0)},
        {"layer": "SRG M_3", "metric": "row_nonzeros_min",
         "value": min(int(np.sum(np.abs(row) > 1e-12)) for row in M3 if np.abs(row).max() > 0)},
        {"layer": "SRG M_3", "metric": "row_value_spread",
         "value": max(float(np.ptp(row[np.abs(row) > 1e-12])) for row in M3
                      if np.abs(row).max() > 0)},
    ]
    G = mats["DNC M~_4^T M~_4"]
    rows.append({"layer": "DNC M~_4^T M~_4", "metric": "offdiag_rel",
                 "value": float(np.abs(G - np.diag(np.diag(G))).max() / np.abs(G).max())})
    return [dict(r, step=0) for r in rows]


def _fig1_claims():
    def exact(metric, layer, value, text):
        return Claim(text, C.in_range(metric, (layer,), value, value),
                     scales=("smoke", "cpu", "paper"), source=f"{SRC} Fig 1")

    return (
        exact("rank", "SRG M~_4", 5, "rank(M̃_4) = r = 5 (SRG, very low rank before the ReLU)"),
        exact("rank", "SRG M_4", 10, "rank(σ(M̃_4)) = K = 10 after the ReLU"),
        exact("rank", "DNC M~_4", 10, "the DNC solution has rank K = 10"),
        exact("row_nonzeros_max", "SRG M_3", 4,
              "every non-zero row of M_3 has r - 1 = 4 non-zero entries (max)"),
        exact("row_nonzeros_min", "SRG M_3", 4,
              "every non-zero row of M_3 has r - 1 = 4 non-zero entries (min)"),
        Claim("the non-zero entries of each row of M_3 are equal",
              C.in_range("row_value_spread", ("SRG M_3",), 0.0, 1e-12),
              scales=("smoke", "cpu", "paper"), source=f"{SRC} Fig 1"),
        Claim("the DNC Gram matrix M̃_4ᵀM̃_4 is proportional to the identity",
              C.in_range("offdiag_rel", ("DNC M~_4^T M~_4",), 0.0, 1e-12),
              scales=("smoke", "cpu", "paper"), source=f"{SRC} Fig 1"),
    )


_THEORY = Scale(grid={"r": [5], "L": [4], "lam": [LAM]}, est_cpu_minutes=0.01,
                note="closed-form construction (nclab.theory.srg_solution), no training")

FIG1 = Experiment(
    id=f"{PAPER}-fig1", paper=PAPER, figure="Fig 1",
    title="SRG solution for L = 4, K = 10, r = 5 (construction, no training)",
    base=None, compute=_fig1_compute,
    scales={"smoke": _THEORY, "cpu": _THEORY, "paper": _THEORY},
    panels=(
        grams("M_3 and M̃_4 of the SRG solution", ("SRG M_3", "SRG M~_4"), metric="matrix"),
        grams("Gram matrices M̃_4ᵀM̃_4: SRG vs DNC", ("SRG M~_4^T M~_4", "DNC M~_4^T M~_4"),
              metric="matrix"),
    ),
    claims=_fig1_claims(),
    description="Explicit SRG construction (Defs 4, 9) with λ = 0.004 for M_3, M̃_4 and the "
                "Gram matrices, next to the DNC solution (Def 10).",
    source=f"{SRC} Fig 1, Defs 3-4, 9-10; experiments.md B.3.2",
)


# ---- Fig 2: 4-DUFM (top) and the DUFM-like end-to-end run (bottom) -----------------------------
def _dufm_measures(L: int, K: int, srg_r: int | None = None):
    ms = [dufm_references(), class_fit(), means_spectrum(p2_head(L)),
          means_gram(p2_head(L), normalize=True, metric="means_cos"),
          average_rank(p2_intermediate(L))]
    if srg_r is not None:
        ms.append(srg_match(p2_intermediate(L)[1:], srg_r))
    return tuple(ms)


FIG2_TOP = Experiment(
    id=f"{PAPER}-fig2-top", paper=PAPER, figure="Fig 2 (top)",
    title="4-DUFM, K = 10: loss vs L_DNC/L_SRG, DNC1, singular values",
    base=dufm(10, 4), layer_names=p2_names,
    scales=scales(
        paper=Scale(seeds=10, est_cpu_minutes=20,
                    note="10 runs x 100k GD steps ([choice]: steps unspecified)"),
        cpu=Scale(overrides=(*CPU, "optim.steps=30000"), seeds=3, est_cpu_minutes=1.8,
                  note="3 runs x 30k steps: the loss is below L_DNC after ~7k steps; the small "
                       "singular values need ~100k steps to settle (paper scale)"),
        smoke=Scale(overrides=(*SMOKE, "optim.steps=300"), seeds=1),
    ),
    panels=_dufm_panels(4, 10) + (
        grams("cosine Gram of the class means (H_2, H_3)", ("H2", "H3"),
              metric="means_cos"),
    ),
    claims=tuple(_low_rank_claims(
        4, 10, (5, 8),
        " (paper scale: needs ~100k steps for the small singular values to fall below 1e-3 s_1)"))
    + (
        Claim("the loss is rather close to L_SRG: closer to L_SRG than to L_DNC",
              C.custom(_closer_to_srg), source=f"{SRC} §6.1"),
        Claim("for a few runs the Gram matrices of the intermediate class means coincide with "
              "the SRG ones (some run within 0.05 of the SRG cosine pattern)",
              _some_run("srg_match", "at least one run matches the SRG Gram pattern"),
              scales=("paper",),
                  why="matching the SRG Gram pattern needs the paper's ~100k GD steps",
                  source=f"{SRC} §6.1", requires=_REGIME),
    ),
    measures=_dufm_measures(4, 10, srg_r=5),
    description="Súkeník et al. §6.1: L-DUFM (1) with K = 10, n = 50, all λ = 0.004, lr 0.5, "
                "width 30, full-batch GD in float64. Reference losses from nclab.theory for "
                "each run's own hyper-parameters.",
    source=f"{SRC} §6.1, Fig 2 top; experiments.md C.3",
)


def _end_to_end(backbone: str, K_data: str, head_layers: int, *, scheme: str, wd: float,
                feature_decay: float, lr: float, epochs: int, cpu_n: int, cpu_steps: int,
                cpu_lr: float, extra=()):
    """Paper: ResNet20 on CIFAR-10 / MNIST with an MLP head of ``head_layers`` layers (width
    64); CPU: a 2-layer MLP backbone (width 64) on digits with the same head and scheme."""
    widths = "[" + ",".join(["64"] * (head_layers - 1)) + "]"
    paper = config(
        f"data.name={K_data}", "model.arch=resnet20", f"model.widths={widths}",
        "loss.preset=p2_dufm", f"reg.scheme={scheme}", f"reg.weight_decay={wd}",
        f"reg.feature_decay={feature_decay}", "optim.name=sgd", f"optim.lr={lr}",
        "optim.batch_size=128", f"optim.epochs={epochs}", "probe.points=30",
        "probe.batch_size=1000", *extra,
    )
    cpu_widths = "[" + ",".join(["64"] * (head_layers + 1)) + "]"
    cpu = (
        "data.name=digits", f"data.n_per_class={cpu_n}", "data.standardize=true",
        "model.arch=mlp", f"model.widths={cpu_widths}", "model.n_linear=1",
        "model.n_backbone=2", "model.init=lecun_normal", "model.init_scale=1.2",
        "optim.name=gd", f"optim.lr={cpu_lr}", f"optim.steps={cpu_steps}",
        "optim.epochs=none", "optim.batch_size=none", "probe.batch_size=none", *CPU,
    )
    return paper, cpu


_E2E_NOTE = ("CPU stand-in (experiments.md C.3): 2-layer ReLU MLP backbone (width 64) on "
             "scikit-learn digits (N = 10 x n_per_class, standardised), the same head and "
             "regularisation scheme, full-batch GD, float32")


def _avg_rank_below(K: int):
    def fn(results):
        v = C.final(results, "avg_rank", "model")
        return bool(v.mean() < K), f"average rank per run {np.round(v, 2).tolist()}", \
            f"mean over runs < K = {K}"

    return C.custom(fn)


def _fig2_bottom():
    paper, cpu = _end_to_end("resnet20", "cifar10", 4, scheme="dufm_like", wd=0.005,
                             feature_decay=5e-6, lr=0.05, epochs=300, cpu_n=100,
                             cpu_steps=30000, cpu_lr=0.05)
    # n λ_H1 = 5000 x 5e-6 = 0.025 on CIFAR-10: keep n λ_H1 = 0.025 with n = 100 on digits
    cpu = (*cpu, "reg.feature_decay=0.00025")
    feats, inter = p2_head(4), p2_intermediate(4)
    return Experiment(
        id=f"{PAPER}-fig2-bottom", paper=PAPER, figure="Fig 2 (bottom)",
        title="ResNet20 + 4-layer head, DUFM-like regularisation: loss vs L_DNC, DNC1, ranks",
        base=paper, layer_names=p2_names,
        scales=scales(
            paper=Scale(seeds=5, note="GPU: ResNet20 on CIFAR-10, SGD batch 128, 300 epochs "
                                      "([choice])"),
            cpu=Scale(overrides=cpu, seeds=3, est_cpu_minutes=3.0, note=_E2E_NOTE),
            smoke=Scale(overrides=(*cpu, "optim.steps=200", "data.n_per_class=10", *SMOKE),
                        seeds=1),
        ),
        panels=(
            loss_panel("training loss (reference lines: the CIFAR-10 setting, n λ_H1 = 0.025)",
                       (("L_DNC", 0.1700), ("L_SRG", 0.1385))),
            curve("DNC1 (NC1 pinv) per head layer", "nc1_pinv", feats),
            spectrum("singular values of the class means at convergence", feats),
        ),
        claims=(
            Claim("the networks consistently outperform the DNC loss: every run's final loss "
                  "< L_DNC", C.compare("loss", "model", "<", "ref/dnc_loss", agg="all"),
                  source=f"{SRC} §6.2"),
            Claim("DNC1 in every head layer: NC1 (pinv) decreases during training",
                  C.decreases("nc1_pinv", feats), source=f"{SRC} §6.2", requires=_REGIME),
            Claim("the class-mean ranks range from 5 to 6 in the intermediate layers",
                  C.in_range("means_rank", inter, 5, 6), scales=("paper",),
                  why="the exact rank range is that of the paper's widths and step count",
                  source=f"{SRC} §6.2", requires=_REGIME),
            Claim("the ranks are the same in all intermediate layers within one run",
                  _same_rank(inter), scales=("paper",),
                  why="rank equality across layers emerges only after the paper's long training",
                  source=f"{SRC} §6.2", requires=_REGIME),
            Claim("low-rank bias: the average intermediate class-mean rank is below K = 10",
                  _avg_rank_below(10), source=f"{SRC} §6.2", requires=_REGIME),
        ),
        measures=(dufm_references(), class_fit(), means_spectrum(feats),
                  average_rank(inter)),
        description="Súkeník et al. §6.2: DUFM-like regularisation (only the head weights with "
                    "λ = 0.005 and the backbone output with λ_H1 = 5e-6; backbone "
                    "unregularised), lr 0.05, head width 64, 5 runs. The fit is eq (1)'s "
                    "(1/2N)||·||_F^2. Layers in the paper's indexing: H1 = backbone output, "
                    "H~l / Hl = pre/post-activations of head layer l - 1.",
        source=f"{SRC} §6.2, Fig 2 bottom; experiments.md C.3, Part D #30",
    )


FIG2_BOTTOM = _fig2_bottom()

FIG2 = Experiment(
    id=f"{PAPER}-fig2", paper=PAPER, figure="Fig 2", title="DUFM and DUFM-like training",
    base=None, scales={}, parts=(FIG2_TOP, FIG2_BOTTOM),
    description="Top row: 4-DUFM; bottom row: ResNet20 + 4-layer head with DUFM-like "
                "regularisation (CPU: MLP backbone on digits).",
    source=f"{SRC} §6.1-6.2",
)


# ---- Fig 3 ----------------------------------------------------------------------------------
def _ratio_compute(params, seed):
    r, L, lam = params["r"], params["L"], params["lam"]
    K = r * (r - 1) // 2
    srg, dnc = srg_loss(r, L, lam, lam, n=1), dnc_loss(K, L, lam, lam, n=1)
    return [
        {"step": 0, "layer": "model", "metric": "ratio", "value": srg_dnc_ratio(r, L, lam, lam)},
        {"step": 0, "layer": "model", "metric": "srg_loss", "value": srg},
        {"step": 0, "layer": "model", "metric": "dnc_loss", "value": dnc},
        {"step": 0, "layer": "model", "metric": "theorem5", "value": float(theorem5_condition(r, L))},
    ]


def _ratio_claims():
    def below_one(L, rs):
        def fn(results):
            vals = {r: C.final(results, "ratio", "model", r=r, L=L).mean() for r in rs}
            return (all(v < 1 for v in vals.values()),
                    ", ".join(f"r={r}: {v:.4f}" for r, v in vals.items()), f"ratio < 1 for L={L}")
        return C.custom(fn)

    def l3_r4(results):
        v = C.final(results, "ratio", "model", r=4, L=3).mean()
        return v > 1, f"L=3, r=4: {v:.4f}", "ratio > 1 (SRG beats DNC for L = 3 only from K = 10)"

    def deeper(results):
        rs = [r for r in C.points(results, "r") if r >= 5]
        bad = []
        for r in rs:
            v = [C.final(results, "ratio", "model", r=r, L=L).mean() for L in (3, 4, 5)]
            if not (v[0] > v[1] > v[2]):
                bad.append(f"r={r}: {np.round(v, 4).tolist()}")
        return not bad, (f"{len(rs) - len(bad)}/{len(rs)} values of r decreasing in L"
                         + (f"; not: {bad}" if bad else "")), "ratio(L=3) > ratio(4) > ratio(5)"

    def dnc_valid(results):
        v = C.final(results, "dnc_loss", "model")
        return bool(np.all(v < 0.499)), f"max L_DNC {v.max():.4f}", \
            "L_DNC < 0.499 (not the zero solution; Part D #29)"

    s = ("smoke", "cpu", "paper")
    return (
        Claim("SRG beats DNC (ratio < 1) for every r >= 4 when L = 4 and L = 5 (Theorem 5)",
              C.all_of(below_one(4, range(4, 11)), below_one(5, range(4, 11))), scales=s,
              source=f"{SRC} Thm 5, Fig 3 left"),
        Claim("for L = 3, SRG beats DNC from K = 10 (r = 5) on, not at r = 4",
              C.all_of(C.custom(l3_r4), below_one(3, range(5, 11))), scales=s,
              source=f"{SRC} §6.1"),
        Claim("the gap to DNC grows with depth: the ratio decreases from L = 3 to 4 to 5 "
              "(r >= 5)", C.custom(deeper), scales=s, source=f"{SRC} §6.1"),
        Claim("the hyper-parameters keep the DNC optimum away from the zero solution",
              C.custom(dnc_valid), scales=s, source="experiments.md Part D #29"),
    )


_RATIO = Scale(grid={"L": [3, 4, 5], "r": list(range(4, 11)), "lam": [1e-3]},
               est_cpu_minutes=0.05, note="closed forms; λ = 1e-3, n = 1 ([choice], B.3.6)")

FIG3_LEFT = Experiment(
    id=f"{PAPER}-fig3-left", paper=PAPER, figure="Fig 3 (left)",
    title="L_SRG / L_DNC vs r for L in {3, 4, 5} (closed forms)",
    base=None, compute=_ratio_compute,
    scales={"smoke": _RATIO, "cpu": _RATIO, "paper": _RATIO},
    panels=(vs_param("L_SRG / L_DNC vs r (one line per L)", "ratio", "r"),),
    claims=_ratio_claims(),
    description="Closed-form optima of the SRG and DNC losses (experiments.md B.3.3-B.3.6), "
                "K = C(r, 2), all λ = 1e-3, n = 1 (the paper gives no hyper-parameters).",
    source=f"{SRC} Fig 3 left, Theorem 5",
)

_LAMS = [2.0 ** k for k in range(-11, -5)]
_CPU_N = 10
_CPU_LAMS = [2.0 ** k for k in range(-11, -7)]


def _fig3_middle_note() -> str:
    dnc = ", ".join(f"{dnc_loss(15, 4, lam, lam, n=_CPU_N):.3f}" for lam in _CPU_LAMS)
    return (f"2 runs per λ in 2^-11..2^-8, n = {_CPU_N} per class, 40k steps. The grid must stay "
            "below the λ at which the zero solution wins (L_DNC = 1/2; nλ enters L_DNC): at "
            "n = 50 λ = 2^-7, 2^-6 are past it, so the cpu scale takes "
            f"n = {_CPU_N}, where L_DNC = {dnc} (nclab.theory.dnc_loss) over the grid. "
            "Measured (2 seeds): mean average rank 13.8, 10.5, 9.0, 9.5 for λ = 2^-11..2^-8, "
            "every run below L_DNC from 2^-10 on and every class learned; at 2^-7 "
            "(L_DNC 0.445) both runs dropped classes (min recall 0, loss 0.46-0.48), outside "
            "the claims' regime, so the grid stops at 2^-8")


FIG3_MIDDLE = Experiment(
    id=f"{PAPER}-fig3-middle", paper=PAPER, figure="Fig 3 (middle)",
    title="4-DUFM, K = 15: average rank vs log2 weight decay",
    base=dufm(15, 4), layer_names=p2_names,
    derive=lambda p, cfg: (f"reg.feature_decay={p['reg.weight_decay']}",),
    scales=scales(
        paper=Scale(grid={"reg.weight_decay": _LAMS}, seeds=5, est_cpu_minutes=60,
                    note="5 runs per λ in 2^-11..2^-6 ([choice]), 100k steps"),
        cpu=Scale(grid={"reg.weight_decay": _CPU_LAMS}, seeds=2,
                  overrides=(*CPU, f"data.n_per_class={_CPU_N}", "optim.steps=40000"),
                  est_cpu_minutes=4.5, note=_fig3_middle_note()),
        smoke=Scale(grid={"reg.weight_decay": [2.0 ** -8, 2.0 ** -6]}, seeds=1,
                    overrides=(*SMOKE, "optim.steps=200")),
    ),
    panels=(vs_param("average rank vs weight decay (log2 axis)", "avg_rank", "reg.weight_decay",
                     logx=True),
            vs_param("final loss / L_DNC vs weight decay", "dnc_rel_gap", "reg.weight_decay",
                     logx=True)),
    claims=(
        Claim("the stronger the weight decay, the lower the rank (average rank decreases with "
              "λ)", C.trend("avg_rank", "model", "reg.weight_decay", "decreasing"),
              source=f"{SRC} §6.1, Fig 3 middle", requires=_REGIME),
        Claim("for very high weight decay DNC is never recovered (no run at the largest λ has "
              "average rank K = 15)",
              C.custom(lambda res: _never_full(res, 15)), source=f"{SRC} §6.1", requires=_REGIME),
        Claim("for very small weight decay DNC is sometimes recovered (some run at the "
              "smallest λ has average rank 15)", C.custom(lambda res: _some_full(res, 15)),
              scales=("paper",),
                  why="DNC recovery at tiny weight decay needs the paper's step count",
                  source=f"{SRC} §6.1", requires=_REGIME),
    ),
    measures=(dufm_references(), class_fit(), average_rank(p2_intermediate(4)),
              dnc_found(p2_intermediate(4))),
    description="Equal λ for every term, swept on a log2 grid; average numerical rank "
                "(rank_rel 1e-3) of the class means H_1..H̃_4.",
    source=f"{SRC} §6.1, Fig 3 middle; experiments.md C.3",
)


def _never_full(results, K):
    lam = C.points(results, "reg.weight_decay")[-1]
    v = C.final(results, "avg_rank", "model", **{"reg.weight_decay": lam})
    return bool(np.all(v < K)), f"λ={lam:g}: average ranks {np.round(v, 2).tolist()}", \
        f"every run < {K}"


def _some_full(results, K):
    lam = C.points(results, "reg.weight_decay")[0]
    v = C.final(results, "avg_rank", "model", **{"reg.weight_decay": lam})
    return bool(np.any(v >= K)), f"λ={lam:g}: average ranks {np.round(v, 2).tolist()}", \
        f"some run = {K}"


_WIDTHS = [10, 20, 30, 64, 128, 256]


def _width_derive(p, cfg):
    w = p["width"]
    return (f"model.widths=[{w},{w},{w},{w}]",)


def _no_dnc_smallest(results):
    w = C.points(results, "width")[0]
    v = C.final(results, "dnc_found", "model", width=w)
    return bool(np.all(v == 0)), f"width {w}: {int(v.sum())}/{v.size} runs found DNC", \
        "no run finds DNC"


FIG3_RIGHT = Experiment(
    id=f"{PAPER}-fig3-right", paper=PAPER, figure="Fig 3 (right)",
    title="4-DUFM, K = 10: probability of finding DNC vs width",
    base=dufm(10, 4, extra=("model.init=default",)), layer_names=p2_names,
    derive=_width_derive,
    scales=scales(
        paper=Scale(grid={"width": _WIDTHS}, seeds=5, est_cpu_minutes=90,
                    note="5 runs per width ([choice] grid), 100k steps"),
        cpu=Scale(grid={"width": [10, 30, 64, 128]}, seeds=3,
                  overrides=(*CPU, "optim.steps=30000"), est_cpu_minutes=12,
                  note="3 runs per width in {10, 30, 64, 128}, 30k steps"),
        smoke=Scale(grid={"width": [10, 30]}, seeds=1, overrides=(*SMOKE, "optim.steps=200")),
    ),
    panels=(vs_param("P(DNC found) vs width", "dnc_found", "width", logx=True),
            vs_param("average intermediate rank vs width", "avg_rank", "width", logx=True)),
    claims=(
        Claim("the probability of finding a DNC solution increases with the width",
              C.trend("dnc_found", "model", "width", "increasing"),
              source=f"{SRC} §6.1, Fig 3 right", requires=_REGIME),
        Claim("small widths find low-rank solutions: no DNC at the smallest width",
              C.custom(_no_dnc_smallest), source=f"{SRC} §6.1", requires=_REGIME),
    ),
    measures=(dufm_references(), class_fit(), average_rank(p2_intermediate(4)),
              dnc_found(p2_intermediate(4))),
    description="DNC found = every class-mean rank of H1..H~4 equals K (rank_rel 1e-3); the "
                "relative gap to L_DNC is recorded too (dnc_rel_gap). PyTorch's default "
                "initialisation (W ~ U(±1/sqrt(fan_in)), H1 ~ N(0, 1)) [choice, checked]: with "
                "LeCun-normal weights lr 0.5 diverges at width >= 128; with the default one "
                "widths 128 and 256 converge to DNC and width 30 to a low-rank solution.",
    source=f"{SRC} §6.1, Fig 3 right",
)


FIG3 = Experiment(
    id=f"{PAPER}-fig3", paper=PAPER, figure="Fig 3", title="SRG/DNC ratio, rank vs λ, DNC vs width",
    base=None, scales={}, parts=(FIG3_LEFT, FIG3_MIDDLE, FIG3_RIGHT),
    source=f"{SRC} §6.1",
)


# ---- Fig 4: standard regularisation, ResNet20 + 5-layer head ------------------------------------
def _fig4_part(row: str, data: str, wd: float, lr: float, gram_layer: str,
               rank_range: tuple[int, int], cpu_wd: float):
    paper, cpu = _end_to_end("resnet20", data, 5, scheme="standard", wd=wd, feature_decay=0.0,
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
            cpu=Scale(overrides=cpu, seeds=3, est_cpu_minutes=3.0,
                      note=_E2E_NOTE + f"; wd {cpu_wd} on every parameter, GD lr {lr * 5:g}"),
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
                  C.decreases("nc1_pinv", feats), source=f"{SRC} §6.3", requires=_REGIME),
            Claim(f"the rank of layer 3 (M_3) ranges between {rank_range[0]} and "
                  f"{rank_range[1]} (vs K = 10 for DNC)",
                  C.in_range("means_rank", ("H3",), *rank_range), scales=("paper",),
                  why="the exact rank range is that of the paper's widths and 100k+ GD steps",
                  source=f"{SRC} §6.3", requires=_REGIME),
            Claim("DNC2 is not attained: the average intermediate class-mean rank is below K",
                  _avg_rank_below(10), source=f"{SRC} §6.3", requires=_REGIME),
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


# ---- Figs 5-8: DUFM solutions -------------------------------------------------------------------
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


FIG5 = Experiment(
    id=f"{PAPER}-fig5", paper=PAPER, figure="Fig 5",
    title="4-DUFM for K in {3, 4, 5}: low-rank solutions beat DNC",
    base=dufm(3, 4), layer_names=p2_names,
    scales=scales(
        paper=Scale(grid={"data.K": [3, 4, 5]}, seeds=5, est_cpu_minutes=15,
                    note="hyper-parameters as Fig 2 top ([choice]); 100k steps"),
        cpu=Scale(grid={"data.K": [3, 4, 5]}, seeds=3, overrides=(*CPU, "optim.steps=30000"),
                  est_cpu_minutes=4, note="3 runs per K, 30k steps"),
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
              C.custom(_below_dnc_some), source=f"{SRC} App. B.1, Fig 5", requires=_REGIME),
        Claim("K = 4 shows the square-graph structure (each column has positive inner product "
              "with exactly two others and is orthogonal to the fourth)",
              C.custom(_square_graph), scales=("paper",),
                  why="the square-graph pattern needs the paper's long training at K = 4",
                  source=f"{SRC} App. B.1", requires=_REGIME),
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
                  est_cpu_minutes=2.5, note="100k steps, n = 10" + _K15_NOTE + (
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
        loss_panel("training loss", _ref(15, 7, 0.0025)),
    ),
    claims=(
        Claim("the rank of the early layers is 3 (M̃_2, rank_rel 1e-3), below the SRG rank "
              "r = 6", C.in_range("means_rank", ("H~2", "H2"), 3, 3),
              source=f"{SRC} App. B.1, Fig 6", requires=_REGIME),
        Claim("M̃_6 ≠ M_6: the last ReLU is active (negativity of H̃_6 > 0.01)",
              C.in_range("negativity", ("H~6",), 0.01, 1.0),
              source=f"{SRC} App. B.1", requires=_REGIME),
        Claim("M_6 has 3 dominant singular values followed by small non-zero ones "
              "(s_4 / s_3 < 0.1 and s_4 > 0)", C.custom(_three_dominant),
              source=f"{SRC} App. B.1", requires=_REGIME),
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
                  source=f"{SRC} App. B.1, Fig {fig[3:]}", requires=_REGIME),
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
FIG7 = _srg_like(6, "fig7", 100_000, 1.6)
# Fig 8 at n = 10: a GD step costs half that at n = 50 (process time, measured), so 3 x 100k
# steps ≈ 2.5 x 0.5 x the 103 s of 3 x 40k at n = 50
FIG8 = _srg_like(15, "fig8", 100_000, 2.2, cpu_n=10, cpu_note=_K15_NOTE + (
    ". At 100k steps (3 seeds, measured): loss 0.1876 ± 0.0012 < L_DNC 0.2329 with every "
    "class learned, but rank 7 of H̃_3 in every run and a best loss of 0.18587, just above "
    "L_SRG 0.18186: GD settles on a rank-7 solution (at n = 50, 0.488 and rank 1)"))


# ---- Figs 9, 10: average rank vs hyper-parameters end to end ------------------------------------
def _rank_sweep(fig: str, key: str, values, cpu_values, data: str, head: int, scheme: str,
                wd: float, lr: float, feature_decay: float, seeds: int, cpu_wd: float,
                cpu_lr: float, label: str, claim_text: str, trend_dir: str = "decreasing"):
    paper, cpu = _end_to_end("resnet20", data, head, scheme=scheme, wd=wd,
                             feature_decay=feature_decay, lr=lr, epochs=300, cpu_n=50,
                             cpu_steps=20000, cpu_lr=cpu_lr)
    cpu = (*cpu, f"reg.weight_decay={cpu_wd}")
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
            cpu=Scale(grid={key: cpu_values}, seeds=2, overrides=cpu, est_cpu_minutes=6,
                      note=_E2E_NOTE + ", 2 runs per value, 20k steps"),
            smoke=Scale(grid={key: cpu_values[:2]}, seeds=1,
                        overrides=(*cpu, "optim.steps=100", "data.n_per_class=10", *SMOKE)),
        ),
        panels=(vs_param(f"average rank vs {key} (log2 axis)", "avg_rank", key, logx=True),),
        claims=(
            Claim(claim_text + " (paper layers)",
                  C.trend("avg_rank", "model", key, trend_dir), scales=("paper",),
                  why="the CPU stand-in trains other layer sizes; its own trend is the cpu claim",
                  source=f"{SRC} App. B, Fig {fig[3:]}", requires=_REGIME),
            Claim(claim_text + " (CPU stand-in)", C.trend("avg_rank", "model", key, trend_dir),
                  scales=("cpu",), source=f"{SRC} App. B, Fig {fig[3:]}", requires=_REGIME),
        ),
        measures=(class_fit(), average_rank(inter)),
        description=f"Average numerical rank (rank_rel 1e-3) of the class means of "
                    f"{', '.join(inter)}, {scheme} regularisation.",
        source=f"{SRC} App. B, Fig {fig[3:]}",
    )


FIG9_WD = _rank_sweep(
    "fig9-left", "reg.weight_decay", [2.0 ** k for k in range(-10, -4)],
    [2.0 ** k for k in range(-9, -3, 1)], "cifar10", 4, "dufm_like", 0.005, 0.05, 5e-6, 3,
    0.005, 0.05, "Fig 9 (left)", "the average rank decreases with the weight decay")
FIG9_LR = _rank_sweep(
    "fig9-right", "optim.lr", [2.0 ** k for k in range(-8, -2)],
    [2.0 ** k for k in range(-7, -2)], "cifar10", 4, "dufm_like", 0.005, 0.05, 5e-6, 2,
    0.005, 0.05, "Fig 9 (right)",
    "general downward trend of the average rank with the learning rate")
FIG9 = Experiment(
    id=f"{PAPER}-fig9", paper=PAPER, figure="Fig 9", title="average rank vs wd and lr (CIFAR-10)",
    base=None, scales={}, parts=(FIG9_WD, FIG9_LR), source=f"{SRC} App. B.2",
)
FIG10 = _rank_sweep(
    "fig10", "reg.weight_decay", [2.0 ** k for k in range(-8, -3)],
    [2.0 ** k for k in range(-10, -4)], "mnist", 5, "standard", 0.04, 0.01, 0.0, 4, 0.01,
    0.05, "Fig 10", "the average rank decreases with the weight decay")

EXPERIMENTS = (FIG1, FIG2, FIG3, FIG4, FIG5, FIG6, FIG7, FIG8, FIG9, FIG10)
