r"""Square-loss dynamics of weight-normalised networks (Xu, Rangamani, Liao, Galanti & Poggio,
P3): the ρ equilibrium and the interpolation gap (eqs (7)–(8), Lemmas 1, 6, 7) and the
norm-based generalisation bound (eq (16), from Theorem 3 eq (12)).

Setting: ``f(x) = ρ f_V(x)`` with normalised weights V and one learnable scale ρ, objective
``(1/N) Σ_n ||ρ f_V(x_n) - y_n||^2 + λ ρ^2`` (no ½; weight decay on ρ only, Part D #49). For scalar
binary outputs the margins are ``f̄_n = y_n f_V(x_n)`` with ``μ = mean f̄``, ``M = mean f̄^2``,
``σ^2 = M - μ^2``, and the loss is ``1 - 2ρμ + ρ^2 (M + λ)``.
"""

from __future__ import annotations

import math

import numpy as np

from ._checks import as_array, integer, positive


def rho_equilibrium(mu, M, lam) -> float:
    r"""``ρ_eq = μ/(M + λ)`` (P3 eq (7)): the only stationary ρ of the loss for fixed V."""
    return float(mu) / (positive(M, "M", allow_zero=True) + positive(lam, "lam", allow_zero=True))


def interpolation_gap(mu, lam, sigma2=0.0) -> float:
    r"""``ε = 1 - ρ_eq μ = (σ^2 + λ)/(μ^2 + σ^2 + λ)`` (P3 eq (8)); with equal margins (σ = 0)
    this is Lemma 6's ``λ/(μ^2 + λ)``. 0 means interpolation (λ = 0 and equal margins)."""
    lam, sigma2 = positive(lam, "lam", allow_zero=True), positive(sigma2, "sigma2", allow_zero=True)
    denom = float(mu) ** 2 + sigma2 + lam
    if denom == 0:
        raise ValueError("mu, sigma2 and lam are all zero: the gap is undefined")
    return (sigma2 + lam) / denom


def equilibrium_loss(mu, sigma2, lam, *, label_sq_norm: float = 1.0) -> float:
    r"""Loss at ``ρ = ρ_eq`` (P3 eqs (29), (34)): ``ȳ^2 - μ^2/(μ^2 + σ^2 + λ)`` with ``ȳ^2`` the
    mean squared label norm (1 for ±1 labels, ``C/(C-1)`` for the centred labels ẽ_c of Lemma 7).
    """
    lam, sigma2 = positive(lam, "lam", allow_zero=True), positive(sigma2, "sigma2", allow_zero=True)
    denom = float(mu) ** 2 + sigma2 + lam
    if denom == 0:
        raise ValueError("mu, sigma2 and lam are all zero: the loss minimum is undefined")
    return positive(label_sq_norm, "label_sq_norm") - float(mu) ** 2 / denom


def square_loss_equilibrium(outputs, targets, lam, rho=None) -> dict:
    r"""Evaluate P3's equilibrium quantities from the normalised outputs ``f_V(x_n)`` (without ρ).

    ``outputs``: ``(N,)`` scalar outputs with ``targets`` ±1 (binary, Lemma 6), or ``(N, C)``
    with ``targets`` ``(N, C)`` of equal norms (e.g. the centred labels ẽ_c, Lemma 7). With
    ``ȳ^2 = ||y_n||^2`` the multiclass loss divided by ȳ^2 is the binary one in the normalised
    margins ``f̄_n = <f_V(x_n), y_n>/ȳ^2``, ``M = mean ||f_V||^2/ȳ^2`` and ``λ/ȳ^2``, so one set of
    formulas covers both (for binary, ȳ^2 = 1 and this is exactly eqs (7)–(8)).

    Returns ``{"mu", "M", "sigma2", "rho_eq", "gap_eq" (eq (8)), "gap_equal_margins"
    (Lemma 6, σ = 0), "loss_eq"}`` and, when the trained ``rho`` is given, ``"rho"``,
    ``"rho_rel_error" = |ρ - ρ_eq|/ρ_eq``, ``"gap" = 1 - ρ μ`` and ``"loss"`` at that ρ.
    """
    f = as_array(outputs, "outputs")
    y = as_array(targets, "targets")
    lam = positive(lam, "lam", allow_zero=True)
    if f.shape != y.shape or f.ndim not in (1, 2):
        raise ValueError(
            f"outputs and targets must both be (N,) or (N, C), got {f.shape}, {y.shape}"
        )
    f2, y2 = (f[:, None], y[:, None]) if f.ndim == 1 else (f, y)
    norms = np.sum(y2**2, axis=1)
    if not np.allclose(norms, norms[0], rtol=1e-10) or norms[0] == 0:
        raise ValueError("targets must all have the same non-zero norm (±1 or centred labels)")
    ybar2 = float(norms[0])
    margins = np.sum(f2 * y2, axis=1) / ybar2
    mu, M = float(margins.mean()), float(np.mean(np.sum(f2**2, axis=1))) / ybar2
    lam_n = lam / ybar2
    sigma2 = max(M - mu**2, 0.0)
    rho_eq = rho_equilibrium(mu, M, lam_n)
    out = {
        "mu": mu,
        "M": M,
        "sigma2": sigma2,
        "rho_eq": rho_eq,
        "gap_eq": interpolation_gap(mu, lam_n, sigma2),
        "gap_equal_margins": interpolation_gap(mu, lam_n),
        "loss_eq": ybar2 * equilibrium_loss(mu, sigma2, lam_n),
    }
    if rho is not None:
        rho = float(rho)
        out |= {
            "rho": rho,
            "rho_rel_error": abs(rho - rho_eq) / abs(rho_eq) if rho_eq else math.inf,
            "gap": 1 - rho * mu,
            "loss": ybar2 * (1 - 2 * rho * mu + rho**2 * (M + lam_n)),
        }
    return out


def norm_generalization_bound(rho, L, N, delta: float = 0.05, *, printed: bool = False) -> float:
    r"""P3 eq (16): test error bound for a network with product of Frobenius norms ρ that fits the
    N training points (inputs in the unit ball), with probability 1 - δ:

    ``2(ρ+1)(sqrt(2 log(2) L) + 1)/sqrt(N) + 3 sqrt(log(2(ρ+1)^2/δ)/(2N))``

    (Theorem 3 eq (12) with ``R_S(F) <= (sqrt(2 log(2) L) + 1)/sqrt(N)``). ``printed=True`` uses
    (16) as printed, ``log(2(log(ρ)+1)^2/δ)`` inside the root — inconsistent with (12)/(15). δ is
    not given in P3 (default 0.05). Increasing in ρ and L, decreasing in N and δ.
    """
    rho, delta = positive(rho, "rho", allow_zero=True), positive(delta, "delta")
    L, N = integer(L, "L", minimum=1), integer(N, "N", minimum=1)
    if delta >= 1:
        raise ValueError(f"delta must be in (0, 1), got {delta}")
    first = 2 * (rho + 1) * (math.sqrt(2 * math.log(2) * L) + 1) / math.sqrt(N)
    if printed:
        if rho <= 0:
            raise ValueError("rho must be > 0 for the printed form (it takes log(rho))")
        inner = 2 * (math.log(rho) + 1) ** 2 / delta
        if inner <= 1:
            raise ValueError(f"the printed form of (16) is undefined at rho = {rho} (log <= 0)")
    else:
        inner = 2 * (rho + 1) ** 2 / delta
    return first + 3 * math.sqrt(math.log(inner) / (2 * N))
