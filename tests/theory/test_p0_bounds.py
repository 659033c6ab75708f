"""P0 bound calculators: (14), (15), (17)–(21), (23), Lemma C.2, Proposition 5.3."""

import math

import numpy as np
import pytest
import torch

from nclab.metrics import balancedness
from nclab.theory import (
    feature_distance_bound,
    kappa_bounds,
    kappa_global_min_bound,
    kappa_norm_bound,
    lemma_c2_bound,
    nc1_bound,
    nc2_bound,
    nc3_bound,
    ntk_conditioning_bound,
    ntk_lower_bound,
)

# eps1, eps2, r, N, K, n_prev, sK_Y
BASE = (0.05, 1e-4, 2.0, 60, 3, 8, math.sqrt(20))


def test_nc1_bound_by_hand():
    eps1, eps2, r, N, K, n_prev, s = BASE
    psi = r * (eps1 / (s - eps1) + math.sqrt(n_prev * eps2))
    assert feature_distance_bound(eps1, eps2, r, n_prev, s) == pytest.approx(psi, rel=1e-15)
    expected = r**2 / N * psi**2 / (math.sqrt((K - 1) / K) - 2 * eps1 / math.sqrt(N)) ** 2
    assert nc1_bound(*BASE) == pytest.approx(expected, rel=1e-15)
    assert nc1_bound(0.0, 0.0, r, N, K, n_prev, s) == 0.0


def test_nc1_bound_increases_with_eps1_and_eps2():
    """The bound shrinks as the network interpolates (eps1 -> 0) and balances (eps2 -> 0)."""
    eps1, eps2, *rest = BASE
    e1 = np.linspace(0, 2.0, 50)
    vals = [nc1_bound(x, eps2, *rest) for x in e1]
    assert np.all(np.diff(vals) > 0)
    e2 = np.logspace(-10, 0, 50)
    vals = [nc1_bound(eps1, x, *rest) for x in e2]
    assert np.all(np.diff(vals) > 0)
    # eq (2): O((eps1 + sqrt eps2)^2) near zero
    small = [nc1_bound(t, t**2, *rest) / t**2 for t in (1e-4, 1e-5, 1e-6)]
    assert np.ptp(small) / small[0] < 1e-3


def test_nc1_preconditions_give_inf():
    eps1, eps2, r, N, K, n_prev, s = BASE
    limit = math.sqrt((K - 1) * N / (4 * K))  # = sqrt(10) < s_K(Y) here
    assert math.isfinite(nc1_bound(0.99 * limit, eps2, r, N, K, n_prev, s))
    assert nc1_bound(1.01 * limit, eps2, r, N, K, n_prev, s) == math.inf
    assert feature_distance_bound(s, eps2, r, n_prev, s) == math.inf


def test_kappa_bounds_formulas_and_ordering():
    eps1, eps2, r, N, K, n_prev, s = BASE
    c3, L1, L2, X_op = 4.0, 2, 3, 1.5
    out = kappa_bounds(*BASE, c3, L1, L2, X_op)
    delta = L2**2 / 2 * r ** (2 * (L2 - 1)) * eps2
    m2 = (s - eps1) ** 2 / (X_op**2 * r ** (2 * L1))
    eps = delta / (m2 - delta)
    assert out["epsilon"] == pytest.approx(eps, rel=1e-14)
    stated = c3 ** (1 / L2) * (1 + eps) ** (1 / L2) + c3 ** (1 / L2 - 1) * eps
    assert out["kappa_WL"] == pytest.approx(stated, rel=1e-14)
    assert out["kappa_WL_sharp"] <= out["kappa_WL_proof"] <= out["kappa_WL"]
    assert out["kappa_WL_limit"] == pytest.approx(c3 ** (1 / 3))
    assert out["kappa_WL_limit"] < out["kappa_WL"]
    assert out["nc2"] == nc2_bound(eps1, eps2, r, n_prev, s, out["kappa_WL"])
    assert out["nc3"] == nc3_bound(*BASE, out["kappa_WL"]) and out["kappa_used"] == "bound (19)"
    measured = kappa_bounds(*BASE, c3, L1, L2, X_op, kappa_WL=1.2)
    assert measured["kappa_used"] == "measured" and measured["nc2"] < out["nc2"]
    # a vacuous (19): m^2 <= delta
    assert kappa_bounds(eps1, 10.0, r, N, K, n_prev, s, c3, L1, L2, X_op)["kappa_WL"] == math.inf


def test_nc2_nc3_limits():
    # eps1 = eps2 = 0: (20) is kappa(W_L) itself and (21) depends on kappa only
    r, N, K, n_prev, s = 2.0, 60, 3, 8, math.sqrt(20)
    assert nc2_bound(0.0, 0.0, r, n_prev, s, 1.3) == pytest.approx(1.3)
    assert nc3_bound(0.0, 0.0, r, N, K, n_prev, s, 1.0) == pytest.approx(1.0)
    k = 1.3
    expected = (N + N / k**2 - K * (k**2 - 1) ** 2) / (2 * N * k)
    assert nc3_bound(0.0, 0.0, r, N, K, n_prev, s, k) == pytest.approx(expected, rel=1e-14)
    vals = [nc3_bound(0.01, 1e-6, r, N, K, n_prev, s, k) for k in (1.0, 1.05, 1.1, 1.2)]
    assert np.all(np.diff(vals) < 0)
    assert nc2_bound(0.01, 1.0, r, n_prev, s, 1.1) == math.inf  # e >= 1
    with pytest.raises(ValueError, match="kappa_WL"):
        nc2_bound(0.0, 0.0, r, n_prev, s, 0.5)


def _balanced_chain(rng, dims, scale=1.0):
    """W_1..W_m with W_{l+1}^T W_{l+1} = W_l W_l^T (shared singular values)."""
    k = min(dims)
    s = np.sort(rng.uniform(0.5, 1.5, k))[::-1] * scale
    Rs = [np.linalg.qr(rng.standard_normal((d, k)))[0] for d in dims]
    return [Rs[i + 1] @ np.diag(s) @ Rs[i].T for i in range(len(dims) - 1)]


def test_lemma_c2_property():
    rng = np.random.default_rng(3)
    worst = 0.0
    for _ in range(100):
        L2 = int(rng.integers(2, 5))
        dims = [int(d) for d in rng.integers(3, 7, size=L2 + 1)]
        Ws = [W + 0.05 * rng.standard_normal(W.shape) for W in _balanced_chain(rng, dims)]
        eps2 = max(balancedness(Ws[i], Ws[i + 1], relative=False) for i in range(L2 - 1))
        r = max(np.linalg.norm(W, 2) for W in Ws)
        prod = Ws[0]
        for W in Ws[1:]:
            prod = W @ prod
        lhs = np.linalg.norm(np.linalg.matrix_power(Ws[-1] @ Ws[-1].T, L2) - prod @ prod.T, 2)
        ratio = lhs / lemma_c2_bound(eps2, r, L2)
        assert ratio <= 1
        worst = max(worst, ratio)
    assert worst > 0.05  # the bound is not absurdly loose on these chains


def _near_interpolating_net(rng, K=3, n=4, d=5, h=12, L2=2, noise=0.0):
    N = K * n
    X = rng.standard_normal((d, N))
    y = np.repeat(np.arange(K), n)
    Y = np.eye(K)[:, y]
    W1 = rng.standard_normal((h, d)) / math.sqrt(d)
    Z1 = np.tanh(W1 @ X)
    U, S, Vt = np.linalg.svd(Y @ np.linalg.pinv(Z1), full_matrices=False)
    R = [np.linalg.qr(rng.standard_normal((K, K)))[0] for _ in range(L2 - 1)]
    root = np.diag(S ** (1 / L2))
    head = [R[0] @ root @ Vt] + [R[i + 1] @ root @ R[i].T for i in range(L2 - 2)]
    head.append(U @ root @ R[-1].T)
    head = [W + noise * rng.standard_normal(W.shape) for W in head]
    return X, Y, [W1] + head


def test_proposition_5_1_property_and_monotone():
    rng = np.random.default_rng(5)
    for _ in range(40):
        L2 = int(rng.integers(2, 4))
        X, Y, Ws = _near_interpolating_net(rng, L2=L2, noise=0.01)
        Z = np.tanh(Ws[0] @ X)
        head = Ws[1]
        for W in Ws[2:]:
            head = W @ head
        eps1 = np.linalg.norm(head @ Z - Y)
        K, sK = Y.shape[0], np.linalg.svd(Y, compute_uv=False)[-1]
        s = np.linalg.svd(head, compute_uv=False)
        theta = sum(np.sum(W**2) for W in Ws)
        bound = kappa_norm_bound(theta, len(Ws), 1, K, sK, eps1, np.linalg.norm(X, 2))
        assert s[0] / s[K - 1] <= bound
    args = (1, 3, math.sqrt(4), 0.1, 2.0)
    assert kappa_norm_bound(10.0, 3, *args) < kappa_norm_bound(12.0, 3, *args)


def test_theorem_5_2_formulas():
    out = kappa_global_min_bound(X_op=3.0, sK_Y=2.0, eps1=0.1, K=3, L1=2, L2=4, c=5.0)
    head = (3.0 / 1.9) ** 3 * math.exp(0.5 * (5.0 - 6 + 6 * math.log(3)))
    assert out["kappa_head"] == pytest.approx(head, rel=1e-13)
    assert out["kappa_WL"] == pytest.approx(head ** (1 / 4), rel=1e-13)
    assert out["lambda_max"] == pytest.approx(0.01 / (3 * 6 + 5.0))


def test_ntk_bounds_on_tiny_network():
    """(17) and the proof's key inequality against the exact NTK (full Jacobian)."""
    rng = np.random.default_rng(7)
    for _ in range(5):
        X, Y, Ws = _near_interpolating_net(rng, K=2, n=3, d=3, h=8, L2=3, noise=0.02)
        params = [torch.tensor(W, requires_grad=True) for W in Ws]
        Xt = torch.tensor(X)

        def out(*ps, Xt=Xt):
            Z = torch.tanh(ps[0] @ Xt)
            for W in ps[1:]:
                Z = W @ Z
            return Z.reshape(-1)

        J = torch.cat(
            [
                j.reshape(j.shape[0], -1)
                for j in torch.autograd.functional.jacobian(out, tuple(params))
            ],
            dim=1,
        )
        ntk_op = float(torch.linalg.matrix_norm(J, 2)) ** 2
        ZL = out(*params).detach().numpy().reshape(Y.shape)
        eps1 = float(np.linalg.norm(ZL - Y))
        K, sK = Y.shape[0], float(np.linalg.svd(Y, compute_uv=False)[-1])
        r = max(np.linalg.norm(W, 2) for W in Ws[1:])
        kappas = []
        for l in range(1, 4):
            P = Ws[l]
            for W in Ws[l + 1 :]:
                P = W @ P
            s = np.linalg.svd(P, compute_uv=False)
            kappas.append(s[0] / s[K - 1])
        key = ntk_lower_bound(sK, eps1, K, r, 3, kappas)
        assert ntk_lower_bound(sK, eps1, K, r, 3) <= key <= ntk_op
        assert min(kappas) <= ntk_conditioning_bound(ntk_op, 3, K, r, 3, sK, eps1)


def test_ntk_conditioning_variants_differ():
    args = (12.0, 4, 3, 2.0, 2, 3.0, 0.1)
    vals = {v: ntk_conditioning_bound(*args, variant=v) for v in ("proof", "main", "appendix")}
    assert vals["proof"] == pytest.approx(math.sqrt(12.0) * 3 * 2.0 / (math.sqrt(2) * 2.9))
    assert len(set(np.round(list(vals.values()), 12))) == 3
    with pytest.raises(ValueError, match="M must"):
        ntk_conditioning_bound(12.0, 4, 3, 2.0, 5, 3.0, 0.1)


@pytest.mark.parametrize(
    "bad, match",
    [
        ((-0.1,) + BASE[1:], "eps1"),
        (BASE[:2] + (0.0,) + BASE[3:], "r"),
        (BASE[:4] + (1,) + BASE[5:], "K"),
    ],
)
def test_bad_arguments(bad, match):
    with pytest.raises(ValueError, match=match):
        nc1_bound(*bad)
