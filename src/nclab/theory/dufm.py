r"""The L-layer deep unconstrained features model (L-DUFM) of Súkeník, Mondelli & Lampert (P2,
Definition 2, eq (1)) and its conditionally optimal weights.

Convention: as in the paper, features are **columns** — ``H1`` is ``(d_1, N)``, weights are
``(out, in)`` and ``Y`` is the ``(K, N)`` one-hot matrix (integer labels ``(N,)`` are also
accepted). The network is ``W_L σ(W_{L-1} σ(... σ(W_1 H_1)))`` with σ = ReLU: L weight matrices and
L - 1 ReLUs; ``H̃_{l+1} = W_l H_l`` and ``H_{l+1} = σ(H̃_{l+1})``.
"""

from __future__ import annotations

import numpy as np

from nclab.metrics import numerical_rank

from ._checks import as_array, dufm_lambdas, positive


def _weights(Ws) -> list[np.ndarray]:
    if not isinstance(Ws, (list, tuple)) or len(Ws) == 0:
        raise ValueError("Ws must be a non-empty list of weight matrices W_1..W_L")
    return [as_array(W, f"Ws[{i}]", ndim=2) for i, W in enumerate(Ws)]


def dufm_forward(H1, Ws) -> dict:
    r"""Forward pass of the L-DUFM (P2 eq (1)).

    Returns ``{"post": [H_1, ..., H_L], "pre": [H̃_2, ..., H̃_L], "output": W_L H_L}`` (numpy,
    columns = samples). ``pre[l-2]`` is the pre-ReLU feature of layer l.
    """
    H = as_array(H1, "H1", ndim=2)
    Ws = _weights(Ws)
    post, pre = [H], []
    for i, W in enumerate(Ws[:-1]):
        if W.shape[1] != H.shape[0]:
            raise ValueError(
                f"Ws[{i}] has {W.shape[1]} columns but its input has {H.shape[0]} rows"
            )
        Ht = W @ H
        pre.append(Ht)
        H = np.maximum(Ht, 0.0)
        post.append(H)
    if Ws[-1].shape[1] != H.shape[0]:
        raise ValueError(
            f"Ws[-1] has {Ws[-1].shape[1]} columns but its input has {H.shape[0]} rows"
        )
    return {"post": post, "pre": pre, "output": Ws[-1] @ H}


def _targets(Y, K: int, N: int) -> np.ndarray:
    Y_arr = np.asarray(Y.detach().cpu().numpy() if hasattr(Y, "detach") else Y)
    if Y_arr.ndim == 1:
        if not np.issubdtype(Y_arr.dtype, np.integer):
            raise ValueError(f"Y as a vector must hold integer labels, got dtype {Y_arr.dtype}")
        if Y_arr.shape[0] != N or Y_arr.min() < 0 or Y_arr.max() >= K:
            raise ValueError(f"Y must hold N = {N} labels in [0, {K}), got shape {Y_arr.shape}")
        T = np.zeros((K, N))
        T[Y_arr, np.arange(N)] = 1.0
        return T
    T = as_array(Y_arr, "Y", ndim=2)
    if T.shape != (K, N):
        raise ValueError(f"Y must be (K, N) = ({K}, {N}) like the output W_L H_L, got {T.shape}")
    return T


def dufm_loss(H1, Ws, Y, lambdas) -> dict:
    r"""The L-DUFM objective (P2 eq (1)):

    ``(1/2N) ||W_L σ(... σ(W_1 H_1)) - Y||_F^2 + Σ_l (λ_{W_l}/2) ||W_l||_F^2
    + (λ_{H_1}/2) ||H_1||_F^2``.

    ``lambdas``: one float for all L + 1 parameters, or ``(lam_H1, lam_W)`` with ``lam_W`` a
    float or a sequence of L floats. ``Y``: ``(K, N)`` one-hot (columns = samples) or integer
    labels ``(N,)``. Returns ``{"loss", "fit", "reg", "reg_H1", "reg_W": [per layer]}`` (floats);
    the all-zero network has loss 1/2 for one-hot targets.
    """
    Ws = _weights(Ws)
    lam_H1, lam_W = dufm_lambdas(lambdas, len(Ws))
    out = dufm_forward(H1, Ws)["output"]
    N = out.shape[1]
    T = _targets(Y, out.shape[0], N)
    fit = float(np.sum((out - T) ** 2)) / (2 * N)
    reg_W = [lam / 2 * float(np.sum(W**2)) for lam, W in zip(lam_W, Ws, strict=True)]
    reg_H1 = lam_H1 / 2 * float(np.sum(as_array(H1, "H1") ** 2))
    reg = reg_H1 + sum(reg_W)
    return {"loss": fit + reg, "fit": fit, "reg": reg, "reg_H1": reg_H1, "reg_W": reg_W}


def ridge_last_layer(M_L, lam_WL: float) -> np.ndarray:
    r"""Conditionally optimal last layer for collapsed features (P2 Lemma 17):
    ``argmin_W (1/2K)||W M_L - I_K||^2 + (λ/2)||W||^2 = M_L^T (M_L M_L^T + K λ I)^{-1}``.

    ``M_L`` is the ``(d_L, K)`` class-mean matrix. The attained minimum is
    ``(λ/2) Σ_{i=1}^K 1/(s_i(M_L)^2 + Kλ)`` (with s_i = 0 beyond the rank).
    """
    M = as_array(M_L, "M_L", ndim=2)
    lam = positive(lam_WL, "lam_WL")
    K = M.shape[1]
    return np.linalg.solve(M @ M.T + K * lam * np.eye(M.shape[0]), M).T


def min_norm_map(target, source) -> np.ndarray:
    r"""Minimum-Frobenius-norm W with ``W @ source = target`` (``target @ pinv(source)``), the
    conditionally optimal intermediate weight of the SRG/DNC solutions (P2 Lemmas 12–14).

    Raises ``ValueError`` when no exact W exists (rows of ``target`` outside the row space of
    ``source``).
    """
    S = as_array(source, "source", ndim=2)
    T = as_array(target, "target", ndim=2)
    if S.shape[1] != T.shape[1]:
        raise ValueError(f"source and target need the same number of columns: {S.shape}, {T.shape}")
    W = T @ np.linalg.pinv(S)
    scale = max(1.0, float(np.abs(T).max()))
    if np.abs(W @ S - T).max() > 1e-8 * scale:
        raise ValueError("target is not in the row space of source: no exact linear map exists")
    return W


def balanced_factorisation(C, lam_A: float, lam_B: float, *, rows_B: int | None = None) -> tuple:
    r"""Minimiser of ``(λ_A/2)||A||^2 + (λ_B/2)||B||^2`` subject to ``AB = C`` (P2 Lemma 18).

    With the thin SVD ``C = U Σ V^T``: ``A = γ U Σ^{1/2} R^T``, ``B = γ^{-1} R Σ^{1/2} V^T`` with
    ``γ = (λ_B/λ_A)^{1/4}`` and R = [I; 0] (``rows_B`` x rank, default ``rows_B`` = rank).
    The minimum is ``sqrt(λ_A λ_B) ||C||_*``. Returns ``(A, B)``.

    In the DUFM, ``A = W_1``, ``B = M_1`` (class means of H_1) and ``λ_B = n λ_{H_1}`` since
    ``||H_1||_F^2 = n ||M_1||_F^2``.
    """
    C = as_array(C, "C", ndim=2)
    lam_A, lam_B = positive(lam_A, "lam_A"), positive(lam_B, "lam_B")
    U, s, Vt = np.linalg.svd(C, full_matrices=False)
    k = max(int(np.sum(s > s[0] * 1e-12)) if s[0] > 0 else 0, 1)
    rows = k if rows_B is None else rows_B
    if rows < k:
        raise ValueError(f"rows_B must be >= rank(C) = {k}, got {rows}")
    gamma = (lam_B / lam_A) ** 0.25
    root = np.sqrt(s[:k])
    R = np.eye(rows, k)
    A = gamma * (U[:, :k] * root) @ R.T
    B = (R * root) @ Vt[:k] / gamma
    return A, B


def layer_ranks(H1, Ws, rtol: float = 1e-8) -> dict:
    r"""Numerical ranks (``s_i > rtol·s_1``) of every feature matrix of a DUFM network:
    ``{"post": [rank H_1, ..., rank H_L], "pre": [rank H̃_2, ..., rank H̃_L]}`` (P2 Fig 1: the
    SRG solution has rank r before the last ReLU and K after it)."""
    out = dufm_forward(H1, Ws)
    return {
        "post": [numerical_rank(H, rtol) for H in out["post"]],
        "pre": [numerical_rank(H, rtol) for H in out["pre"]],
    }


def solution_from_means(pre: list, post: list, n: int, lam_H1: float, lam_W, d: int) -> dict:
    """Complete a DUFM solution from its class-mean matrices (P2 Defs 9-10, Lemmas 12-18).

    ``pre[i]``/``post[i]``: the (d, K) class means before/after the activation of layer i + 2
    (``post`` = ``pre`` where no ReLU acts). W_1 and M_1 are the balanced factorisation of
    ``pre[0]`` (Lemma 18), the middle weights the minimum-norm maps ``pre[i+1] post[i]^+``, W_L the
    ridge solution (Lemma 17), and ``H_1 = M_1 ⊗ 1_n^T``. Returns H1, Ws, Y, labels, means
    (``[M_1] + post``) and pre_means.
    """
    K = pre[-1].shape[1]
    W1, M1 = balanced_factorisation(pre[0], lam_W[0], n * lam_H1, rows_B=d)
    Ws = [W1] + [min_norm_map(pre[i + 1], post[i]) for i in range(len(pre) - 1)]
    Ws.append(ridge_last_layer(post[-1], lam_W[-1]))
    return {
        "H1": np.repeat(M1, n, axis=1),
        "Ws": Ws,
        "Y": np.repeat(np.eye(K), n, axis=1),
        "labels": np.repeat(np.arange(K), n),
        "means": [M1] + list(post),
        "pre_means": list(pre),
    }
