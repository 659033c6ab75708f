"""P2 eq (1) and the conditionally optimal weights (Lemmas 12–14, 17, 18)."""

import numpy as np
import pytest
import torch

from nclab.theory import (
    balanced_factorisation,
    dufm_forward,
    dufm_loss,
    min_norm_map,
    ridge_last_layer,
)

rng = np.random.default_rng(0)


def _random_net(dims, N):
    H1 = rng.standard_normal((dims[0], N))
    Ws = [rng.standard_normal((dims[i + 1], dims[i])) for i in range(len(dims) - 1)]
    return H1, Ws


def test_loss_by_hand():
    H1, Ws = _random_net([4, 5, 3, 2], 6)
    y = np.array([0, 1, 0, 1, 1, 0])
    Y = np.eye(2)[:, y]
    out = Ws[2] @ np.maximum(Ws[1] @ np.maximum(Ws[0] @ H1, 0), 0)
    lam = (0.1, [0.2, 0.3, 0.4])
    fit = np.sum((out - Y) ** 2) / 12
    reg = 0.05 * np.sum(H1**2) + sum(v / 2 * np.sum(W**2) for v, W in zip(lam[1], Ws, strict=True))
    res = dufm_loss(H1, Ws, Y, lam)
    assert res["fit"] == pytest.approx(fit, rel=1e-14)
    assert res["loss"] == pytest.approx(fit + reg, rel=1e-14)
    assert res["reg"] == pytest.approx(res["reg_H1"] + sum(res["reg_W"]), rel=1e-14)
    assert dufm_loss(H1, Ws, y, lam)["loss"] == pytest.approx(res["loss"], rel=1e-14)
    torch_Ws = [torch.from_numpy(W) for W in Ws]
    assert dufm_loss(torch.from_numpy(H1), torch_Ws, Y, lam)["loss"] == pytest.approx(res["loss"])


def test_zero_network_has_loss_half():
    K, n = 5, 3
    Ws = [np.zeros((4, 4)), np.zeros((4, 4)), np.zeros((K, 4))]
    Y = np.repeat(np.eye(K), n, axis=1)
    assert dufm_loss(np.zeros((4, K * n)), Ws, Y, 1e-3)["loss"] == 0.5


def test_forward_shapes_and_relu():
    H1, Ws = _random_net([3, 4, 2], 5)
    out = dufm_forward(H1, Ws)
    assert len(out["post"]) == 2 and len(out["pre"]) == 1
    assert np.all(out["post"][1] >= 0)
    np.testing.assert_allclose(out["post"][1], np.maximum(out["pre"][0], 0))


def test_ridge_last_layer_is_optimal_and_matches_lemma17():
    M = rng.standard_normal((6, 4))
    lam, K = 0.05, 4
    W = ridge_last_layer(M, lam)

    def obj(V):
        return np.sum((V @ M - np.eye(K)) ** 2) / (2 * K) + lam / 2 * np.sum(V**2)

    s = np.linalg.svd(M, compute_uv=False)
    assert obj(W) == pytest.approx(lam / 2 * np.sum(1 / (s**2 + K * lam)), rel=1e-12)
    for _ in range(5):
        assert obj(W + 1e-3 * rng.standard_normal(W.shape)) > obj(W)


def test_balanced_factorisation_lemma18():
    C = rng.standard_normal((5, 3)) @ rng.standard_normal((3, 7))
    lam_A, lam_B = 0.3, 0.02
    A, B = balanced_factorisation(C, lam_A, lam_B, rows_B=6)
    assert A.shape == (5, 6) and B.shape == (6, 7)
    np.testing.assert_allclose(A @ B, C, atol=1e-12)
    value = lam_A / 2 * np.sum(A**2) + lam_B / 2 * np.sum(B**2)
    nuclear = np.linalg.svd(C, compute_uv=False).sum()
    assert value == pytest.approx(np.sqrt(lam_A * lam_B) * nuclear, rel=1e-12)
    # the two regularisation terms are equal at the optimum (balanced)
    assert lam_A * np.sum(A**2) == pytest.approx(lam_B * np.sum(B**2), rel=1e-12)
    G = rng.standard_normal((6, 6)) + 3 * np.eye(6)  # any other factorisation costs more
    A2, B2 = A @ G, np.linalg.solve(G, B)
    assert lam_A / 2 * np.sum(A2**2) + lam_B / 2 * np.sum(B2**2) > value


def test_min_norm_map():
    S = rng.standard_normal((4, 3)) @ rng.standard_normal((3, 8))
    T = rng.standard_normal((2, 4)) @ S
    W = min_norm_map(T, S)
    np.testing.assert_allclose(W @ S, T, atol=1e-10)
    null = np.linalg.svd(S.T)[2][-1]  # a direction with null @ S = 0
    assert np.sum((W + np.outer(np.ones(2), null)) ** 2) > np.sum(W**2)
    with pytest.raises(ValueError, match="row space"):
        min_norm_map(rng.standard_normal((2, 8)), S)


def test_bad_inputs():
    H1, Ws = _random_net([3, 4, 2], 5)
    with pytest.raises(ValueError, match="lambdas"):
        dufm_loss(H1, Ws, np.zeros(5, dtype=int), (1e-3, [1e-3]))
    with pytest.raises(ValueError, match="lam_H1"):
        dufm_loss(H1, Ws, np.zeros(5, dtype=int), (-1.0, 1e-3))
    with pytest.raises(ValueError, match="Y must be"):
        dufm_loss(H1, Ws, np.zeros((5, 2)), 1e-3)
    with pytest.raises(ValueError, match="columns"):
        dufm_forward(H1, [Ws[1], Ws[0]])
    with pytest.raises(ValueError, match="NaN"):
        dufm_forward(np.full((3, 5), np.nan), Ws)
