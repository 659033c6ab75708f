r"""Measure the hypotheses of P0 Theorem 3.1 / B.1 (Jacot, Súkeník, Wang & Mondelli, ICLR 2025)
on a network and compare its measured NC1/NC2/NC3 with the bounds (18)–(21).

The network is described by a :class:`HeadSnapshot` (or any object with the same attributes):
``weights`` W_1..W_L in PyTorch's (out, in) layout, ``num_nonlinear`` = L1 (the first L1 layers
are followed by ``activation``, the remaining L2 = L - L1 >= 2 are linear), bias-free.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from nclab.metrics import balancedness, nc1_trace, nc2_cond, nc3_cos, singular_values

from ._checks import as_array, integer, labels_from
from .bounds import feature_distance_bound, kappa_bounds, nc1_bound, nc2_bound, nc3_bound


@dataclass(frozen=True)
class HeadSnapshot:
    """Bias-free network ``Z_l = σ(W_l Z_{l-1})`` for l <= L1, ``Z_l = W_l Z_{l-1}`` after
    (P0 eq (1)).

    ``weights``: W_1..W_L as (out, in) matrices (numpy or torch). ``num_nonlinear``: L1.
    ``activation``: elementwise σ acting on torch tensors (default ReLU).
    """

    weights: Sequence
    num_nonlinear: int
    activation: Callable[[torch.Tensor], torch.Tensor] = field(default=torch.relu)


def _kappa(A: np.ndarray, K: int) -> float:
    """s_1/s_K (inf when s_K = 0)."""
    s = singular_values(A)
    if len(s) < K or s[K - 1] <= s[0] * 1e-15:
        return math.inf
    return float(s[0] / s[K - 1])


def _contractive(activation) -> bool:
    x = torch.linspace(-50, 50, 20001, dtype=torch.float64)
    return bool((activation(x).abs() <= x.abs() * (1 + 1e-12)).all())


def check_theorem31(model_snapshot, X, Y) -> dict:
    r"""Evaluate P0 Theorem B.1 on a network and training set.

    ``X``: inputs ``(N, d_0)``, rows = samples. ``Y``: one-hot ``(N, K)`` or integer labels
    ``(N,)``. Measures (column convention of P0 internally):

    - ``eps1 = ||Z_L - Y||_F``; ``eps2 = max_l ||W_{l+1}^T W_{l+1} - W_l W_l^T||_op`` over the
      linear head (l = L1+1..L-1);
    - ``r`` = max of ``||Z_{L-2}||_op, ||Z_{L-1}||_op`` and ``||W_l||_op`` (linear layers), the
      theorem's assumption; ``r_all`` additionally bounds the non-linear weights (needed by (19),
      whose proof uses ``||Z_{L1}||_op <= ||X||_op r^{L1}``);
    - ``c3 = κ(W_{L:L1+1})``, ``kappa_WL = κ(W_L)`` (s_1/s_K), and NC1 (trace ratio), NC2
      (s_1/s_K of the uncentred class means) and NC3 (per-sample cosine) of ``Z_{L-1}``.

    Returns ``{"measured": {...}, "bounds": {...}, "preconditions": {...},
    "preconditions_hold": bool, "holds": {...}}``. ``bounds`` holds (18) ``nc1``, (19)
    ``kappa_WL`` (+ the proof's tighter ``kappa_WL_proof``), (20) ``nc2`` and (21) ``nc3``, the
    last two evaluated at the measured κ(W_L) as in the theorem. ``preconditions_hold`` is the
    condition of (18): balanced classes and ``eps1 <= min(s_K(Y), sqrt((K-1)N/(4K)))``; (19)–(21)
    have extra conditions (``m2_gt_delta``, ``e_lt_1``, ``activation_contractive``) listed in
    ``preconditions``. ``holds[name]`` compares measurement and bound.
    """
    Ws = [as_array(W, f"weights[{i}]", ndim=2) for i, W in enumerate(model_snapshot.weights)]
    L1 = integer(model_snapshot.num_nonlinear, "num_nonlinear", minimum=0)
    act = getattr(model_snapshot, "activation", torch.relu)
    L = len(Ws)
    if L - L1 < 2:
        raise ValueError(f"Theorem 3.1 needs at least 2 linear layers, got L={L}, L1={L1}")
    Xa = as_array(X, "X", ndim=2)
    y, K = labels_from(Y, "Y", K=Ws[-1].shape[0])
    N = Xa.shape[0]
    if y.shape[0] != N:
        raise ValueError(f"Y has {y.shape[0]} samples but X has {N}")
    Z = [torch.from_numpy(Xa.T)]
    for i, W in enumerate(Ws):
        if W.shape[1] != Z[-1].shape[0]:
            raise ValueError(f"weights[{i}] has {W.shape[1]} columns, expected {Z[-1].shape[0]}")
        pre = torch.from_numpy(W) @ Z[-1]
        Z.append(act(pre) if i < L1 else pre)
    Z = [z.numpy() for z in Z]
    Yoh = np.zeros((K, N))
    Yoh[y, np.arange(N)] = 1.0
    op = lambda A: float(singular_values(A)[0])  # noqa: E731
    eps1 = float(np.linalg.norm(Z[-1] - Yoh))
    eps2 = max(balancedness(Ws[i], Ws[i + 1], relative=False) for i in range(L1, L - 1))
    r = max([op(Z[L - 2]), op(Z[L - 1])] + [op(W) for W in Ws[L1:]])
    r_all = max([r] + [op(W) for W in Ws[:L1]])
    sK_Y = float(singular_values(Yoh)[K - 1])
    head = Ws[L1]
    for W in Ws[L1 + 1 :]:
        head = W @ head
    H = Z[L - 1].T
    measured = {
        "eps1": eps1,
        "eps2": eps2,
        "r": r,
        "r_all": r_all,
        "sK_Y": sK_Y,
        "X_op": op(Xa),
        "c3": _kappa(head, K),
        "kappa_WL": _kappa(Ws[-1], K),
        "nc1": nc1_trace(H, y, K),
        "nc2": nc2_cond(H, y, K, nonzero=False),
        "nc3": nc3_cos(H, y, Ws[-1], K),
    }
    n_prev, L2, c3 = Ws[-1].shape[1], L - L1, measured["c3"]
    args = (eps1, eps2, r, N, K, n_prev, sK_Y)
    delta = L2**2 / 2 * r_all ** (2 * (L2 - 1)) * eps2
    m2 = max(sK_Y - eps1, 0.0) ** 2 / (measured["X_op"] ** 2 * r_all ** (2 * L1))
    kb = {"kappa_WL": math.inf, "kappa_WL_proof": math.inf}
    if c3 < math.inf:  # a rank-deficient head (c3 = inf) leaves (19) vacuous
        kb = kappa_bounds(eps1, eps2, r_all, N, K, n_prev, sK_Y, c3, L1, L2, measured["X_op"])
    bounds = {
        "nc1": nc1_bound(*args),
        "kappa_WL": kb["kappa_WL"],
        "kappa_WL_proof": kb["kappa_WL_proof"],
        "nc2": nc2_bound(eps1, eps2, r, n_prev, sK_Y, measured["kappa_WL"]),
        "nc3": nc3_bound(*args, measured["kappa_WL"]),
    }
    counts = np.bincount(y, minlength=K)
    e = r * feature_distance_bound(eps1, eps2, r, n_prev, sK_Y) / sK_Y
    pre = {
        "balanced_classes": bool(np.all(counts == counts[0])),
        "eps1_small": eps1 <= min(sK_Y, math.sqrt((K - 1) * N / (4 * K))),
        "activation_contractive": L1 == 0 or _contractive(act),
        "m2_gt_delta": bool(m2 > delta),
        "e_lt_1": bool(e < 1),
    }
    holds = {
        "nc1": measured["nc1"] <= bounds["nc1"] * (1 + 1e-9) + 1e-15,
        "kappa_WL": measured["kappa_WL"] <= bounds["kappa_WL"] * (1 + 1e-9),
        "nc2": measured["nc2"] <= bounds["nc2"] * (1 + 1e-9),
        "nc3": measured["nc3"] >= bounds["nc3"] - 1e-9,
    }
    return {
        "measured": measured,
        "bounds": bounds,
        "preconditions": pre,
        "preconditions_hold": pre["balanced_classes"] and pre["eps1_small"],
        "holds": holds,
    }
