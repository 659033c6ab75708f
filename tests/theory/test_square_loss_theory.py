"""P3 eqs (7), (8), (16) and Lemmas 1, 4, 6, 7."""

import math

import numpy as np
import pytest
import torch

from nclab.theory import (
    equilibrium_loss,
    interpolation_gap,
    norm_generalization_bound,
    rho_equilibrium,
    square_loss_equilibrium,
)

rng = np.random.default_rng(0)


def test_closed_forms():
    mu, sigma2, lam = 0.3, 0.02, 0.01
    M = sigma2 + mu**2
    rho = rho_equilibrium(mu, M, lam)
    assert rho == pytest.approx(mu / (M + lam))
    assert interpolation_gap(mu, lam, sigma2) == pytest.approx(1 - rho * mu, rel=1e-14)
    assert interpolation_gap(mu, lam) == pytest.approx(lam / (mu**2 + lam))  # Lemma 6
    loss = 1 - 2 * rho * mu + rho**2 * (M + lam)
    assert equilibrium_loss(mu, sigma2, lam) == pytest.approx(loss, rel=1e-14)
    assert equilibrium_loss(mu, 0.0, lam, label_sq_norm=4 / 3) == pytest.approx(
        4 / 3 - mu**2 / (mu**2 + lam)
    )
    assert interpolation_gap(mu, 0.0) == 0.0  # lambda = 0 and equal margins interpolate


def test_binary_outputs_rho_is_stationary():
    f = rng.uniform(0.001, 0.004, 50) * rng.choice([-1, 1], 50)
    yb = np.sign(f)
    yb[:5] *= -1  # a few misclassified points
    lam = 1e-5
    out = square_loss_equilibrium(f, yb, lam)
    margins = yb * f
    assert out["mu"] == pytest.approx(margins.mean()) and out["sigma2"] > 0
    loss = lambda r: np.mean((r * f - yb) ** 2) + lam * r**2  # noqa: E731
    r0, h = out["rho_eq"], 1e-3 * out["rho_eq"]
    assert loss(r0) < loss(r0 + h) and loss(r0) < loss(r0 - h)
    assert out["loss_eq"] == pytest.approx(loss(r0), rel=1e-12)
    assert out["gap_eq"] == pytest.approx(1 - r0 * out["mu"], rel=1e-12)
    # Lemma 4 at equilibrium (rho_dot = 0): loss = 1 - rho mu
    assert square_loss_equilibrium(f, yb, lam, r0)["loss"] == pytest.approx(1 - r0 * out["mu"])


def test_multiclass_centred_labels_reduce_to_binary_formulas():
    C, n = 4, 6
    e = np.full((C, C), -1 / (C - 1)) + np.eye(C) * (1 + 1 / (C - 1))  # the labels ẽ_c
    y = np.repeat(np.arange(C), n)
    f = 0.002 * e[y] + 1e-4 * rng.standard_normal((C * n, C))
    lam = 1e-6
    out = square_loss_equilibrium(f, e[y], lam)
    loss = lambda r: np.mean(np.sum((r * f - e[y]) ** 2, axis=1)) + lam * r**2  # noqa: E731
    grid = np.linspace(0.5, 1.5, 20001) * out["rho_eq"]
    best = grid[np.argmin([loss(g) for g in grid])]
    assert best == pytest.approx(out["rho_eq"], rel=1e-4)
    assert out["loss_eq"] == pytest.approx(loss(out["rho_eq"]), rel=1e-12)
    exact = square_loss_equilibrium(0.002 * e[y], e[y], lam)  # Property 2: f ∝ ẽ_c
    assert exact["sigma2"] == pytest.approx(0.0, abs=1e-18)
    assert exact["gap_eq"] == pytest.approx(exact["gap_equal_margins"], rel=1e-12)


def test_trained_rho_matches_equilibrium():
    """Weight-normalised linear classifier f = rho <v/||v||, x>, ||x|| <= 1, GD on (rho, v)."""
    torch.manual_seed(0)
    X = torch.randn(40, 5, dtype=torch.float64)
    X = X / X.norm(dim=1, keepdim=True)
    yb = torch.sign(X @ torch.randn(5, dtype=torch.float64))
    v = torch.randn(5, dtype=torch.float64, requires_grad=True)
    rho = torch.tensor(1.0, dtype=torch.float64, requires_grad=True)
    lam = 1e-2
    for _ in range(3000):
        f = X @ (v / v.norm())
        loss = ((rho * f - yb) ** 2).mean() + lam * rho**2
        gv, gr = torch.autograd.grad(loss, (v, rho))
        with torch.no_grad():
            v -= 0.5 * gv
            rho -= 0.1 * gr
    f = (X @ (v / v.norm())).detach()
    out = square_loss_equilibrium(f, yb, lam, float(rho.detach()))
    assert out["rho_rel_error"] < 1e-3
    assert out["gap"] == pytest.approx(out["gap_eq"], abs=1e-3)
    assert out["loss"] == pytest.approx(float(loss.detach()), rel=1e-6)


def test_generalization_bound_eq16():
    rho, L, N, delta = 50.0, 4, 10000, 0.05
    value = 2 * (rho + 1) * (math.sqrt(2 * math.log(2) * L) + 1) / math.sqrt(N) + 3 * math.sqrt(
        math.log(2 * (rho + 1) ** 2 / delta) / (2 * N)
    )
    assert norm_generalization_bound(rho, L, N, delta) == pytest.approx(value, rel=1e-15)
    printed = norm_generalization_bound(rho, L, N, delta, printed=True)
    assert printed < value  # log(rho) + 1 < rho + 1
    vals = [norm_generalization_bound(r, L, N) for r in (1, 10, 100)]
    assert np.all(np.diff(vals) > 0)
    assert norm_generalization_bound(rho, L, 4 * N) < norm_generalization_bound(rho, L, N)
    with pytest.raises(ValueError, match="delta"):
        norm_generalization_bound(rho, L, N, 1.5)
    with pytest.raises(ValueError, match="printed"):
        norm_generalization_bound(math.exp(-1), L, N, printed=True)


def test_bad_inputs():
    with pytest.raises(ValueError, match="same non-zero norm"):
        square_loss_equilibrium(np.ones((3, 2)), np.array([[1.0, 0], [0, 2], [1, 0]]), 0.1)
    with pytest.raises(ValueError, match="outputs and targets"):
        square_loss_equilibrium(np.ones(3), np.ones(4), 0.1)
    with pytest.raises(ValueError, match="lam"):
        square_loss_equilibrium(np.ones(3), np.ones(3), -0.1)
