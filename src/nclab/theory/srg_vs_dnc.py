r"""SRG versus DNC: the loss ratio of P2 Fig 3 (left), Theorem 5's conditions and asymptotics,
and the SRG solution for K not of the form C(r, 2) (P2 Definition 11).
"""

from __future__ import annotations

import math

import numpy as np

from ._checks import dufm_lambdas, integer, layer_lambdas, positive
from .dnc import dnc_loss, dnc_solution
from .dufm import dufm_loss
from .srg import srg_loss, srg_solution


def srg_dnc_ratio(r: int, L: int, lam_H1: float, lam_W, n: int = 1) -> float:
    r"""``min L_SRG / min L_DNC`` for ``K = C(r, 2)`` classes (P2 Fig 3 left, Theorem 5).

    Below 1 means the low-rank SRG solution beats deep neural collapse. Nearly independent of
    the λ's while L_DNC << 1/2; tends to 1 when both optima are the zero network (loss 1/2).
    """
    r = integer(r, "r", minimum=4)
    return srg_loss(r, L, lam_H1, lam_W, n) / dnc_loss(r * (r - 1) // 2, L, lam_H1, lam_W, n)


def theorem5_condition(r: int, L: int) -> bool:
    r"""The inequality that drives P2 Theorem 5 (proof in A.1), for ``K = C(r, 2)``:

    - ``L >= 4``: ``r (r-1)^{L-2} > 2^{L-3} (sqrt(2) + sqrt((r-1)(r-2)))^2`` (true for all r >= 4);
    - ``L = 3``: ``r (r-1)^2 > (sqrt(2) + sqrt((r-1)(r-2)))^2 (r-2)`` and ``r >= 5`` (inequality
      (9) of the proof needs r >= 5, i.e. K >= 10).

    When it holds (and d_l >= K), ``L_SRG < L_DNC`` unless both optima are the zero network.
    """
    r = integer(r, "r", minimum=4)
    L = integer(L, "L", minimum=3)
    c = (math.sqrt(2) + math.sqrt((r - 1) * (r - 2))) ** 2
    if L == 3:
        return r >= 5 and r * (r - 1) ** 2 > c * (r - 2)
    return r * (r - 1) ** (L - 2) > 2 ** (L - 3) * c


def theorem5_psi(r: int, L: int) -> float:
    r"""``Ψ(K) = (2^{L-3} (sqrt(2) + sqrt((r-1)(r-2)))^2 / (r (r-1)^{L-2}))^{1/L}`` of the proof of
    P2 Theorem 5 (= Θ(K^{(3-L)/(2L)})); the ratio bound is ``O(Ψ^{L/(L+1)}) =
    O(K^{(3-L)/(2(L+1)))}`` (eq (3))."""
    r = integer(r, "r", minimum=4)
    L = integer(L, "L", minimum=3)
    c = (math.sqrt(2) + math.sqrt((r - 1) * (r - 2))) ** 2
    return (2 ** (L - 3) * c / (r * (r - 1) ** (L - 2))) ** (1 / L)


def _block_split(K: int) -> tuple[int, int, int]:
    """Largest r with C(r, 2) <= K, the SRG block size C(r, 2) and the DNC block size."""
    r = int((1 + math.isqrt(1 + 8 * K)) // 2)
    while r * (r - 1) // 2 > K:
        r -= 1
    return r, r * (r - 1) // 2, K - r * (r - 1) // 2


def _smallest_cover(K: int) -> int:
    r = 4
    while r * (r - 1) // 2 < K:
        r += 1
    return r


def _scaled(lam_H1: float, lam_W: tuple, factor: float) -> tuple[float, tuple]:
    return lam_H1 * factor, tuple(v * factor for v in lam_W)


def srg_loss_general(K: int, L: int, lam_H1: float, lam_W, n: int = 1, *, construction="block"):
    r"""Minimal loss of the SRG solution for any ``K >= 6`` (P2 Definition 11).

    ``construction="block"`` (Def 11(i)): SRG for ``K̄ = C(r, 2)``, r the largest with
    ``K̄ <= K``, block-diagonal with a DNC solution for ``K' = K - K̄`` classes. The blocks
    decouple, but the fit term of eq (1) is normalised by the total N = Kn, so each block is a
    standalone DUFM with every λ multiplied by ``K/K_block`` and weight ``K_block/K``:
    ``(K̄/K) L_SRG(r; λK/K̄) + (K'/K) L_DNC(K'; λK/K')``.

    ``construction="prune"`` (Def 11(ii)): the optimal SRG solution for the smallest r with
    ``C(r, 2) >= K`` (same λ's) with the ``C(r, 2) - K`` classes of highest fit loss removed,
    evaluated directly with ``dufm_loss``. The paper only says "remove columns of H_1"; the
    matching rows of W_L must go too for the output to be K-dimensional (no re-optimisation).
    """
    K = integer(K, "K", minimum=6)
    L = integer(L, "L", minimum=3)
    lam_H1, lam_W = positive(lam_H1, "lam_H1"), layer_lambdas(lam_W, L)
    if construction == "prune":
        sol = srg_solution_general(K, L, n, (lam_H1, lam_W), construction="prune")
        return dufm_loss(sol["H1"], sol["Ws"], sol["Y"], (lam_H1, lam_W))["loss"]
    if construction != "block":
        raise ValueError(f"construction must be 'block' or 'prune', got {construction!r}")
    r, Kb, Kd = _block_split(K)
    value = Kb / K * srg_loss(r, L, *_scaled(lam_H1, lam_W, K / Kb), n)
    if Kd:
        value += Kd / K * dnc_loss(Kd, L, *_scaled(lam_H1, lam_W, K / Kd), n)
    return value


def srg_dnc_ratio_general(K: int, L: int, lam_H1: float, lam_W, n: int = 1) -> float:
    """``srg_loss_general(K, ..., construction="block") / dnc_loss(K, ...)`` (Theorem 5, any K)."""
    return srg_loss_general(K, L, lam_H1, lam_W, n) / dnc_loss(K, L, lam_H1, lam_W, n)


def _block_diag(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    out = np.zeros((a.shape[0] + b.shape[0], a.shape[1] + b.shape[1]))
    out[: a.shape[0], : a.shape[1]] = a
    out[a.shape[0] :, a.shape[1] :] = b
    return out


def srg_solution_general(K: int, L: int, n: int, lambdas, *, construction: str = "block") -> dict:
    r"""Explicit SRG solution for any ``K >= 6`` (P2 Definition 11); see ``srg_loss_general``.

    Returns ``{"H1", "Ws", "Y" (K, N), "labels", "construction", "r", "K", "L", "n"}`` plus
    ``"removed"`` (prune) or ``"blocks"`` (block sizes).
    """
    K = integer(K, "K", minimum=6)
    L = integer(L, "L", minimum=3)
    n = integer(n, "n", minimum=1)
    lam_H1, lam_W = dufm_lambdas(lambdas, L)
    Y = np.repeat(np.eye(K), n, axis=1)
    base = {"Y": Y, "labels": np.repeat(np.arange(K), n), "K": K, "L": L, "n": n}
    if construction == "prune":
        r = _smallest_cover(K)
        sol = srg_solution(r, L, n, (lam_H1, lam_W))
        Kb = sol["K"]
        W_L = sol["Ws"][-1]
        fit = np.sum((W_L @ sol["means"][-1] - np.eye(Kb)) ** 2, axis=0)
        # all classes tie by symmetry; a stable sort removes the highest indices among equals
        removed = np.sort(np.argsort(-np.round(fit, 12), kind="stable")[: Kb - K])
        keep = np.setdiff1d(np.arange(Kb), removed)
        cols = (keep[:, None] * n + np.arange(n)).ravel()
        Ws = sol["Ws"][:-1] + [W_L[keep]]
        return base | {
            "H1": sol["H1"][:, cols],
            "Ws": Ws,
            "construction": "prune",
            "r": r,
            "removed": removed.tolist(),
        }
    if construction != "block":
        raise ValueError(f"construction must be 'block' or 'prune', got {construction!r}")
    r, Kb, Kd = _block_split(K)
    srg = srg_solution(r, L, n, _scaled(lam_H1, lam_W, K / Kb))
    if Kd == 0:
        return base | {
            "H1": srg["H1"],
            "Ws": srg["Ws"],
            "construction": "block",
            "r": r,
            "blocks": (Kb, 0),
        }
    dnc = dnc_solution(Kd, L, n, _scaled(lam_H1, lam_W, K / Kd))
    H1 = _block_diag(srg["H1"], dnc["H1"])
    Ws = [_block_diag(a, b) for a, b in zip(srg["Ws"], dnc["Ws"], strict=True)]
    return base | {"H1": H1, "Ws": Ws, "construction": "block", "r": r, "blocks": (Kb, Kd)}
