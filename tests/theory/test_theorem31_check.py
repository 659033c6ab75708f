"""P0 Theorem 3.1 / B.1 measured on synthetic heads and on a small GD-trained network."""

import math

import numpy as np
import pytest
import torch

from nclab.theory import HeadSnapshot, check_theorem31

K, n, d, h = 3, 10, 8, 40
N = K * n


def _balanced_interpolating_head(seed=0, L2=3, width=6):
    """experiments.md B.1.1(a): P = Y Z^+ = U S V^T split into L2 balanced factors."""
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(K), n)
    X = rng.standard_normal((N, d))
    W1 = rng.standard_normal((h, d)) / math.sqrt(d)
    Z1 = np.maximum(W1 @ X.T, 0)
    U, S, Vt = np.linalg.svd(np.eye(K)[:, y] @ np.linalg.pinv(Z1), full_matrices=False)
    R = [np.linalg.qr(rng.standard_normal((width, K)))[0] for _ in range(L2 - 1)]
    root = np.diag(S ** (1 / L2))
    head = [R[0] @ root @ Vt] + [R[i + 1] @ root @ R[i].T for i in range(L2 - 2)]
    head.append(U @ root @ R[-1].T)
    return X, y, W1, head, (U @ np.diag(S) @ Vt)


def test_balanced_interpolating_head_satisfies_every_bound():
    X, y, W1, head, P = _balanced_interpolating_head()
    res = check_theorem31(HeadSnapshot([W1] + head, 1), X, y)
    m, b = res["measured"], res["bounds"]
    assert m["eps1"] < 1e-12 and m["eps2"] < 1e-12
    assert m["nc1"] < 1e-20  # although NC1 of Z_1 itself is large
    s = np.linalg.svd(P, compute_uv=False)
    assert m["kappa_WL"] == pytest.approx((s[0] / s[-1]) ** (1 / 3), rel=1e-10)
    assert res["preconditions_hold"] and all(res["preconditions"].values())
    assert all(res["holds"].values())
    assert b["nc1"] < 1e-10 and b["kappa_WL"] == pytest.approx(m["kappa_WL"], rel=1e-8)
    assert b["nc2"] == pytest.approx(m["nc2"], rel=1e-5)  # (20) is tight here


def test_unbalanced_head_is_detected_and_bound_still_holds():
    """Same function, but W_{L-1} writes within-class noise into ker(W_L) (imbalance > 0)."""
    X, y, W1, head, _ = _balanced_interpolating_head()
    rng = np.random.default_rng(1)
    Wa, Wb, Wc = head
    ker_c = np.eye(Wb.shape[0]) - np.linalg.pinv(Wc) @ Wc
    ker_b = np.eye(Wa.shape[0]) - np.linalg.pinv(Wb) @ Wb
    base = check_theorem31(HeadSnapshot([W1] + head, 1), X, y)
    previous = base["bounds"]["nc1"]
    for scale in (1e-3, 1e-2, 1e-1):
        Wa2 = Wa + scale * ker_b @ rng.standard_normal(Wa.shape)
        Wb2 = Wb + scale * ker_c @ rng.standard_normal(Wb.shape) @ ker_b
        res = check_theorem31(HeadSnapshot([W1, Wa2, Wb2, Wc], 1), X, y)
        m, b = res["measured"], res["bounds"]
        assert m["eps1"] < 1e-12 and m["eps2"] > 1e-4
        assert m["nc1"] > 1e-12  # the kernel noise is within-class variability
        assert res["preconditions_hold"] and res["holds"]["nc1"]
        assert b["nc1"] > previous
        previous = b["nc1"]
    assert not res["preconditions"]["m2_gt_delta"]  # (19) becomes vacuous
    assert res["bounds"]["kappa_WL"] == math.inf


def test_small_trained_network():
    """Bias-free MLP (1 ReLU layer + 3 linear), full-batch GD with weight decay."""
    torch.manual_seed(0)
    X = torch.randn(N, d, dtype=torch.float64)
    X = X / X.norm(dim=1, keepdim=True)
    y = torch.arange(K).repeat_interleave(n)
    Y = torch.nn.functional.one_hot(y, K).double()
    W1 = torch.randn(32, d, dtype=torch.float64) * math.sqrt(2 / d)
    W2 = torch.linalg.qr(torch.randn(32, K, dtype=torch.float64))[0].T  # balanced start
    W3, W4 = (torch.linalg.qr(torch.randn(K, K, dtype=torch.float64))[0] for _ in range(2))
    params = [p.clone().requires_grad_() for p in (W1, W2, W3, W4)]
    lam, eta = 1e-3, 2e-3
    for _ in range(5000):
        out = torch.relu(X @ params[0].T) @ params[1].T @ params[2].T @ params[3].T
        loss = 0.5 * ((out - Y) ** 2).sum() + lam / 2 * sum((p**2).sum() for p in params)
        grads = torch.autograd.grad(loss, params)
        with torch.no_grad():
            for p, g in zip(params, grads, strict=True):
                p -= eta * g
    res = check_theorem31(HeadSnapshot([p.detach() for p in params], 1), X, y)
    m, b = res["measured"], res["bounds"]
    assert m["eps1"] < 0.2 and m["eps2"] < 0.05
    assert res["preconditions_hold"]
    assert m["nc1"] <= b["nc1"] < 1.0  # finite and informative
    assert m["nc2"] <= b["nc2"] < math.inf and m["nc3"] >= b["nc3"]
    assert all(res["holds"].values())


def test_imbalanced_classes_and_errors():
    X, y, W1, head, _ = _balanced_interpolating_head()
    res = check_theorem31(HeadSnapshot([W1] + head, 1), X[:-1], y[:-1])
    assert not res["preconditions"]["balanced_classes"] and not res["preconditions_hold"]
    onehot = np.eye(K)[y]
    assert check_theorem31(HeadSnapshot([W1] + head, 1), X, onehot)["measured"]["eps1"] < 1e-12
    with pytest.raises(ValueError, match="2 linear layers"):
        check_theorem31(HeadSnapshot([W1] + head, 3), X, y)
    with pytest.raises(ValueError, match="samples"):
        check_theorem31(HeadSnapshot([W1] + head, 1), X, y[:-1])
    with pytest.raises(ValueError, match="columns"):
        check_theorem31(HeadSnapshot([W1] + head, 1), X[:, :-1], y)
