"""Súkeník et al. Fig 1: the SRG solution for L = 4, K = 10, r = 5 (Defs 4, 9) next to the DNC
solution (Def 10), built in closed form (no training)."""

from __future__ import annotations

import numpy as np

from nclab.experiments import checks as C
from nclab.experiments.common import grams
from nclab.experiments.spec import Claim, Experiment, Scale
from nclab.theory import dnc_solution, srg_solution

from .shared import LAM, PAPER, SRC


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
