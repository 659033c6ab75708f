r"""Neural-collapse bounds of Jacot, Súkeník, Wang & Mondelli (P0, ICLR 2025): Theorem 3.1 /
B.1 (eqs (18)–(21)), Proposition 5.1 (14), Theorem 5.2 (15), Proposition 5.3 (17), Lemma C.2.

Network: L1 non-linear layers followed by L2 linear layers (L = L1 + L2), bias-free, labels
one-hot ``Y`` (K x N) with balanced classes. Symbols: ``eps1 = ||Z_L - Y||_F``; ``eps2`` = the
largest op-norm imbalance ``||W_{l+1}^T W_{l+1} - W_l W_l^T||_op`` over the linear head;
``r`` bounds ``||Z_{L-2}||_op, ||Z_{L-1}||_op`` and every ``||W_l||_op`` (P0 assumes it on the
linear layers only, but (19) also uses ``||Z_{L1}||_op <= ||X||_op r^{L1}``, which needs r to bound
the non-linear weights and ``|σ(x)| <= |x|``, true for ReLU, leaky ReLU and tanh); ``sK_Y``
is ``s_K(Y)`` (``sqrt(N/K)`` for balanced one-hot labels); ``n_prev = n_{L-1}``.

Every bound increases with ``eps1`` and ``eps2`` (it tightens as the network interpolates and
balances). A failed precondition gives ``inf`` (upper bounds) or ``-inf`` (lower bounds).
"""

from __future__ import annotations

import math

from ._checks import integer, positive


def _common(eps1, eps2, r, N, K, n_prev, sK_Y):
    return (
        positive(eps1, "eps1", allow_zero=True),
        positive(eps2, "eps2", allow_zero=True),
        positive(r, "r"),
        integer(N, "N", minimum=2),
        integer(K, "K", minimum=2),
        integer(n_prev, "n_prev", minimum=1),
        positive(sK_Y, "sK_Y"),
    )


def feature_distance_bound(eps1, eps2, r, n_prev, sK_Y) -> float:
    r"""``Ψ(ε1, ε2, r) = r (ε1/(s_K(Y) - ε1) + sqrt(n_{L-1} ε2))`` (P0 Theorem B.1, eq (23)): an
    upper bound on ``||Z_{L-1} - W_L^+ Y||_F``, the distance of the penultimate features to a
    perfectly collapsed configuration. ``inf`` if ``ε1 >= s_K(Y)``."""
    eps1, eps2 = positive(eps1, "eps1", allow_zero=True), positive(eps2, "eps2", allow_zero=True)
    r, sK_Y = positive(r, "r"), positive(sK_Y, "sK_Y")
    n_prev = integer(n_prev, "n_prev", minimum=1)
    if eps1 >= sK_Y:
        return math.inf
    return r * (eps1 / (sK_Y - eps1) + math.sqrt(n_prev * eps2))


def nc1_bound(eps1, eps2, r, N, K, n_prev, sK_Y) -> float:
    r"""Upper bound on ``NC1(Z_{L-1}) = tr(Σ_W)/tr(Σ_B)`` (P0 Theorem B.1, eq (18)):

    ``(r^2/N) Ψ(ε1, ε2, r)^2 / (sqrt((K-1)/K) - 2 ε1/sqrt(N))^2``.

    Valid for balanced classes when ``ε1 <= min(s_K(Y), sqrt((K-1)N/(4K)))``; otherwise ``inf``.
    Increasing in ε1 and ε2; ``O((ε1 + sqrt(ε2))^2)`` (eq (2)); 0 at ε1 = ε2 = 0.
    """
    eps1, eps2, r, N, K, n_prev, sK_Y = _common(eps1, eps2, r, N, K, n_prev, sK_Y)
    if eps1 > min(sK_Y, math.sqrt((K - 1) * N / (4 * K))) or eps1 >= sK_Y:
        return math.inf
    psi = feature_distance_bound(eps1, eps2, r, n_prev, sK_Y)
    denom = math.sqrt((K - 1) / K) - 2 * eps1 / math.sqrt(N)
    if denom <= 0:
        return math.inf
    return r**2 / N * psi**2 / denom**2


def kappa_bounds(eps1, eps2, r, N, K, n_prev, sK_Y, c3, L1, L2, X_op, *, kappa_WL=None) -> dict:
    r"""Bounds (19)–(21) of P0 Theorem B.1 given ``κ(W_{L:L1+1}) <= c3``.

    With ``δ = (L2^2/2) r^{2(L2-1)} ε2`` (Lemma C.2),
    ``m^2 = (s_K(Y) - ε1)^2/(||X||_op^2 r^{2 L1})``
    and ``ε = δ/(m^2 - δ)`` (needs ``m^2 > δ``):

    - ``"kappa_WL"`` (19 as stated): ``c3^{1/L2} (1+ε)^{1/L2} + c3^{1/L2-1} ε``;
    - ``"kappa_WL_proof"``: the tighter ``c3^{1/L2} (1+ε)^{1/(2L2)} + c3^{1/L2-1} ε`` the proof
      derives (the statement is looser, hence still valid);
    - ``"kappa_WL_sharp"``: ``(c3^2 (1+ε) + ε)^{1/(2 L2)}``, the first line of the proof's chain;
    - ``"nc2"`` (20): ``(κ + e)/(1 - e)`` with ``e = r Ψ/s_K(Y)`` (needs e < 1);
    - ``"nc3"`` (21): ``[(√N - ε1)^2 + N κ^{-2} - (rΨ + √K(κ^2 - 1))^2] / (2Nκ(1 + ε1))``, a
      lower bound on the per-sample cosine NC3;
    - ``"kappa_WL_limit"`` ``c3^{1/L2}`` and ``"nc3_limit"`` ``(c3^{-1/L2} + c3^{-3/L2})/2``, the
      leading terms of (3) and (5).

    (20) and (21) use ``kappa_WL`` when given (the measured κ(W_L), as in the theorem), else the
    stated bound (19) (valid because (20) increases with κ and (21) decreases with it where
    positive). ``"kappa_used"`` reports which. ``||X||_op`` is printed ``||X||_{2p}`` in P0.
    """
    eps1, eps2, r, N, K, n_prev, sK_Y = _common(eps1, eps2, r, N, K, n_prev, sK_Y)
    c3 = positive(c3, "c3")
    if c3 < 1:
        raise ValueError(f"c3 bounds a condition number and must be >= 1, got {c3}")
    L1 = integer(L1, "L1", minimum=0)
    L2 = integer(L2, "L2", minimum=1)
    X_op = positive(X_op, "X_op")
    delta = L2**2 / 2 * r ** (2 * (L2 - 1)) * eps2
    m2 = max(sK_Y - eps1, 0.0) ** 2 / (X_op**2 * r ** (2 * L1))
    out = {
        "delta": delta,
        "m2": m2,
        "epsilon": math.nan,
        "kappa_WL": math.inf,
        "kappa_WL_proof": math.inf,
        "kappa_WL_sharp": math.inf,
    }
    if m2 > delta and eps1 < sK_Y:
        eps = delta / (m2 - delta)
        out["epsilon"] = eps
        out["kappa_WL"] = c3 ** (1 / L2) * (1 + eps) ** (1 / L2) + c3 ** (1 / L2 - 1) * eps
        out["kappa_WL_proof"] = (
            c3 ** (1 / L2) * (1 + eps) ** (1 / (2 * L2)) + c3 ** (1 / L2 - 1) * eps
        )
        out["kappa_WL_sharp"] = (c3**2 * (1 + eps) + eps) ** (1 / (2 * L2))
    if kappa_WL is None:
        kappa, out["kappa_used"] = out["kappa_WL"], "bound (19)"
    else:
        kappa, out["kappa_used"] = _kappa(kappa_WL), "measured"
    out["nc2"] = nc2_bound(eps1, eps2, r, n_prev, sK_Y, kappa)
    out["nc3"] = nc3_bound(eps1, eps2, r, N, K, n_prev, sK_Y, kappa)
    out["kappa_WL_limit"] = c3 ** (1 / L2)
    out["nc3_limit"] = (c3 ** (-1 / L2) + c3 ** (-3 / L2)) / 2
    return out


def _kappa(value) -> float:
    """A condition number: >= 1, ``inf`` allowed (an infinite bound propagates)."""
    if value == math.inf:
        return math.inf
    kappa = positive(value, "kappa_WL")
    if kappa < 1:
        raise ValueError(f"kappa_WL is a condition number and must be >= 1, got {kappa}")
    return kappa


def nc2_bound(eps1, eps2, r, n_prev, sK_Y, kappa_WL) -> float:
    r"""Upper bound (20) of P0 Theorem B.1 on ``NC2(Z_{L-1}) = κ(Z̄_{L-1})`` (s_1/s_K of the class
    means): ``(κ(W_L) + e)/(1 - e)``, ``e = r Ψ(ε1, ε2, r)/s_K(Y)``; ``inf`` if ``e >= 1``."""
    psi = feature_distance_bound(eps1, eps2, r, n_prev, sK_Y)
    kappa = _kappa(kappa_WL)
    e = positive(r, "r") * psi / positive(sK_Y, "sK_Y")
    if kappa == math.inf or e >= 1:
        return math.inf
    return (kappa + e) / (1 - e)


def nc3_bound(eps1, eps2, r, N, K, n_prev, sK_Y, kappa_WL) -> float:
    r"""Lower bound (21) of P0 Theorem B.1 on the per-sample NC3 ``(1/N) Σ cos(z_ci, (W_L)_c)``:

    ``[(√N - ε1)^2 + N κ^{-2} - (rΨ + √K (κ^2 - 1))^2] / (2 N κ (1 + ε1))`` with ``κ = κ(W_L)``;
    ``-inf`` when Ψ or κ is infinite. Tends to ``(κ^{-1} + κ^{-3})/2`` as ε1, ε2 → 0.
    """
    eps1, eps2, r, N, K, n_prev, sK_Y = _common(eps1, eps2, r, N, K, n_prev, sK_Y)
    psi = feature_distance_bound(eps1, eps2, r, n_prev, sK_Y)
    kappa = _kappa(kappa_WL)
    if not (psi < math.inf and kappa < math.inf):
        return -math.inf
    num = (math.sqrt(N) - eps1) ** 2 + N / kappa**2 - (r * psi + math.sqrt(K) * (kappa**2 - 1)) ** 2
    return num / (2 * N * kappa * (1 + eps1))


def kappa_norm_bound(theta_sq_norm, L, L1, K, sK_Y, eps1, X_op) -> float:
    r"""Upper bound (14) of P0 Proposition 5.1 on ``κ(W_{L:L1+1})`` for any bias-free network with
    ``|σ(x)| <= |x|``, ``||Z_L - Y||_F <= ε1 < s_K(Y)`` and ``||θ||^2 = LK + c``:

    ``exp(½ (c + L1 K log K - 2K log((s_K(Y) - ε1)/||X||_op)))``. Increasing in ``||θ||^2``.
    Returned as ``inf`` when ``ε1 >= s_K(Y)`` or the value overflows.
    """
    theta_sq_norm = positive(theta_sq_norm, "theta_sq_norm")
    L, L1 = integer(L, "L", minimum=1), integer(L1, "L1", minimum=0)
    if L1 >= L:
        raise ValueError(f"L1 must be < L (at least one linear layer), got L1={L1}, L={L}")
    K = integer(K, "K", minimum=2)
    sK_Y, eps1 = positive(sK_Y, "sK_Y"), positive(eps1, "eps1", allow_zero=True)
    X_op = positive(X_op, "X_op")
    if eps1 >= sK_Y:
        return math.inf
    c = theta_sq_norm - L * K
    exponent = 0.5 * (c + L1 * K * math.log(K) - 2 * K * math.log((sK_Y - eps1) / X_op))
    return math.exp(exponent) if exponent < 700 else math.inf


def kappa_global_min_bound(X_op, sK_Y, eps1, K, L1, L2, c) -> dict:
    r"""Bounds (15) of P0 Theorem 5.2 at any global minimiser of
    ``½||Y - Z_L||_F^2 + (λ/2)||θ||^2`` with ``λ <= ε1^2/(KL + c)``, when the non-linear part can
    interpolate Y with ``||θ_nonlin||^2 = c``:

    - ``"kappa_head"``: ``κ(W_{L:L1+1}) <= (||X||_op/(s_K(Y)-ε1))^K exp(½(c - L1 K + L1 K log K))``;
    - ``"kappa_WL"``: ``κ(W_L) <= (||X||_op/(s_K(Y)-ε1))^{K/L2} exp((c - L1K + L1K log K)/(2 L2))``
      (linear layers are exactly balanced at critical points, so κ(W_L) = κ(W_{L:L1+1})^{1/L2};
      the proof sketch's exponent ``1/L1`` is a typo);
    - ``"lambda_max"``: ``ε1^2/(K L + c)`` (the statement; the proof only needs ``K L2 + c``).
    """
    X_op, sK_Y = positive(X_op, "X_op"), positive(sK_Y, "sK_Y")
    eps1, c = positive(eps1, "eps1"), positive(c, "c", allow_zero=True)
    K = integer(K, "K", minimum=2)
    L1, L2 = integer(L1, "L1", minimum=0), integer(L2, "L2", minimum=1)
    if eps1 >= sK_Y:
        return {
            "kappa_head": math.inf,
            "kappa_WL": math.inf,
            "lambda_max": eps1**2 / (K * (L1 + L2) + c),
        }
    log_head = K * math.log(X_op / (sK_Y - eps1)) + 0.5 * (c - L1 * K + L1 * K * math.log(K))
    return {
        "kappa_head": math.exp(log_head) if log_head < 700 else math.inf,
        "kappa_WL": math.exp(log_head / L2) if log_head / L2 < 700 else math.inf,
        "lambda_max": eps1**2 / (K * (L1 + L2) + c),
    }


def ntk_lower_bound(sK_Y, eps1, K, r, L2, kappas=None) -> float:
    r"""Lower bound on the NTK operator norm ``||Θ||_op`` (P0 Proposition 5.3).

    Without ``kappas``: eq (17), ``(s_K(Y) - ε1)^2 L2/(K^2 r^2)``. With
    ``kappas = [κ(W_{L:l}) for l = L1+1..L]`` (``W_{L:L} = W_L``): the proof's sharper
    ``(s_K(Y) - ε1)^2/(K^2 r^2) Σ_l κ(W_{L:l})^2``. Needs ``ε1 < s_K(Y)`` (else 0) and
    ``||W_l||_op <= r`` on the linear layers. ``Θ`` is the NTK of the raw outputs.
    """
    sK_Y, eps1 = positive(sK_Y, "sK_Y"), positive(eps1, "eps1", allow_zero=True)
    K, r, L2 = integer(K, "K", minimum=1), positive(r, "r"), integer(L2, "L2", minimum=1)
    if eps1 >= sK_Y:
        return 0.0
    scale = (sK_Y - eps1) ** 2 / (K**2 * r**2)
    if kappas is None:
        return scale * L2
    ks = [positive(k, f"kappas[{i}]") for i, k in enumerate(kappas)]
    if len(ks) != L2:
        raise ValueError(f"kappas must hold L2 = {L2} values, got {len(ks)}")
    return scale * sum(k**2 for k in ks)


def ntk_conditioning_bound(ntk_op, L2, K, r, M, sK_Y, eps1, *, variant: str = "proof") -> float:
    r"""P0 Proposition 5.3: some ``l ∈ {L1+1, ..., L1+M}`` has ``κ(W_{L:l})`` at most this value,
    with ``C = ||Θ||_op / L2``.

    ``variant="proof"`` (what the proof shows): ``sqrt(C L2) K r/(sqrt(M) (s_K(Y) - ε1))``.
    The statement is printed twice differently: ``"main"`` (§5.2)
    ``sqrt(C L2 K r)/sqrt(M (s_K(Y) - ε1))`` and ``"appendix"``
    ``sqrt(C L2) K r/sqrt(M (s_K(Y) - ε1))``; only the proof's version follows from the argument.
    """
    ntk_op, r = positive(ntk_op, "ntk_op"), positive(r, "r")
    L2, K = integer(L2, "L2", minimum=1), integer(K, "K", minimum=1)
    M = integer(M, "M", minimum=1)
    if M > L2:
        raise ValueError(f"M must be <= L2 = {L2}, got {M}")
    sK_Y, eps1 = positive(sK_Y, "sK_Y"), positive(eps1, "eps1", allow_zero=True)
    if eps1 >= sK_Y:
        return math.inf
    CL2, gap = ntk_op, sK_Y - eps1
    if variant == "proof":
        return math.sqrt(CL2) * K * r / (math.sqrt(M) * gap)
    if variant == "main":
        return math.sqrt(CL2 * K * r) / math.sqrt(M * gap)
    if variant == "appendix":
        return math.sqrt(CL2) * K * r / math.sqrt(M * gap)
    raise ValueError(f"variant must be 'proof', 'main' or 'appendix', got {variant!r}")


def lemma_c2_bound(eps2, r, L2) -> float:
    r"""P0 Lemma C.2:
    ``||(W_L W_L^T)^{L2} - W_{L:L1+1} W_{L:L1+1}^T||_op <= (L2^2/2) ε2 r^{2(L2-1)}``
    for any chain of L2 matrices with consecutive op-imbalance <= ε2 and op-norms <= r."""
    return (
        integer(L2, "L2", minimum=1) ** 2
        / 2
        * positive(eps2, "eps2", allow_zero=True)
        * positive(r, "r") ** (2 * (L2 - 1))
    )
