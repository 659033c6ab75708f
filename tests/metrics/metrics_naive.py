"""Deliberately naive float64 reference implementations of the quantities in ``nclab.metrics``,
written from the formulas (docstrings and experiments.md Part A), plus shared data generators.

Nothing here is clever: explicit loops, explicit D x D covariance matrices, ``np.linalg.pinv``.
Imported by the ``test_metrics_*.py`` files of this folder (pytest puts this folder on sys.path).
"""

from __future__ import annotations

import itertools
import os

import numpy as np
import torch
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

# Modest hypothesis settings shared by every property test of the folder; set
# NCLAB_HYPOTHESIS_EXAMPLES=500 for a deeper (slower) search.
PROPS = settings(
    max_examples=int(os.environ.get("NCLAB_HYPOTHESIS_EXAMPLES", "30")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


# --------------------------------------------------------------------------------------------
# conversions
# --------------------------------------------------------------------------------------------
def f64(A) -> np.ndarray:
    if isinstance(A, torch.Tensor):
        A = A.detach().cpu().numpy()
    return np.array(A, dtype=np.float64)


def labels(y) -> np.ndarray:
    if isinstance(y, torch.Tensor):
        y = y.cpu().numpy()
    return np.array(y, dtype=np.int64)


def rel_err(a, b) -> float:
    a, b = float(a), float(b)
    return abs(a - b) / max(abs(b), 1e-300)


# --------------------------------------------------------------------------------------------
# class statistics
# --------------------------------------------------------------------------------------------
def present_classes(y) -> list[int]:
    return sorted(set(labels(y).tolist()))


def class_mean_dict(H, y) -> dict[int, np.ndarray]:
    H, y = f64(H), labels(y)
    out = {}
    for c in present_classes(y):
        rows = [H[i] for i in range(len(y)) if y[i] == c]
        acc = np.zeros(H.shape[1])
        for r in rows:
            acc = acc + r
        out[c] = acc / len(rows)
    return out


def means_matrix(H, y) -> np.ndarray:
    """Means of the present classes, in increasing label order, as rows."""
    mu = class_mean_dict(H, y)
    return np.array([mu[c] for c in sorted(mu)])


def global_mean(H, y, kind="sample") -> np.ndarray:
    H = f64(H)
    if kind == "sample":
        return H.sum(0) / H.shape[0]
    M = means_matrix(H, y)
    return M.sum(0) / M.shape[0]


def sigma_w(H, y) -> np.ndarray:
    H, y = f64(H), labels(y)
    mu = class_mean_dict(H, y)
    D = H.shape[1]
    S = np.zeros((D, D))
    for i in range(H.shape[0]):
        d = H[i] - mu[y[i]]
        S += np.outer(d, d)
    return S / H.shape[0]


def sigma_b(H, y, kind="sample") -> np.ndarray:
    mu = class_mean_dict(H, y)
    g = global_mean(H, y, kind)
    D = f64(H).shape[1]
    S = np.zeros((D, D))
    for c in mu:
        d = mu[c] - g
        S += np.outer(d, d)
    return S / len(mu)


def nc1_trace(H, y, kind="sample") -> float:
    return float(np.trace(sigma_w(H, y)) / np.trace(sigma_b(H, y, kind)))


def trace_sigma_w(H, y) -> float:
    return float(np.trace(sigma_w(H, y)))


def nc1_pinv(H, y, *, divide_by_K=True, kind="sample", rcond=1e-10) -> float:
    SB = sigma_b(H, y, kind)
    val = float(np.trace(sigma_w(H, y) @ np.linalg.pinv(SB, rcond=rcond, hermitian=True)))
    return val / len(present_classes(y)) if divide_by_K else val


def class_var(H, y, c) -> float:
    H, y = f64(H), labels(y)
    mu = class_mean_dict(H, y)[c]
    rows = [H[i] for i in range(len(y)) if y[i] == c]
    return sum(float(np.sum((r - mu) ** 2)) for r in rows) / len(rows)


def cdnv(H, y) -> float:
    mu = class_mean_dict(H, y)
    cls = sorted(mu)
    vals = []
    for a, b in itertools.combinations(cls, 2):
        num = class_var(H, y, a) + class_var(H, y, b)
        vals.append(num / (2.0 * float(np.sum((mu[a] - mu[b]) ** 2))))
    return float(np.mean(vals))


# --------------------------------------------------------------------------------------------
# NC2
# --------------------------------------------------------------------------------------------
def nc2_cond(H, y, *, centered=False, nonzero=True, rtol=None, kind="sample") -> float:
    M = means_matrix(H, y)
    if centered:
        M = M - global_mean(H, y, kind)
    s = np.linalg.svd(M, compute_uv=False)
    if nonzero:
        tol = max(M.shape) * np.finfo(np.float64).eps if rtol is None else rtol
        kept = [v for v in s if v > tol * s[0]]
        if centered:  # centred means have rank <= K-1 in exact arithmetic
            kept = kept[: M.shape[0] - 1]
        return float(s[0] / kept[-1])
    k = M.shape[0] - 1 if centered else M.shape[0]
    if k > len(s) or s[k - 1] == 0:
        return float("inf")
    return float(s[0] / s[k - 1])


def cosine(a, b) -> float:
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


def nc2_etf(H, y, kind="sample") -> dict:
    M = means_matrix(H, y)
    Mc = M - global_mean(H, y, kind)
    K = Mc.shape[0]
    norms = np.array([np.linalg.norm(r) for r in Mc])
    coss = [cosine(Mc[a], Mc[b]) for a in range(K) for b in range(K) if a != b]
    G = Mc @ Mc.T
    E = np.eye(K) - np.ones((K, K)) / K
    return {
        "equinorm": float(np.std(norms) / np.mean(norms)),
        "equiangularity": float(np.mean([abs(c + 1.0 / (K - 1)) for c in coss])),
        "etf_gram_dist": float(np.linalg.norm(G / np.linalg.norm(G) - E / np.linalg.norm(E))),
        "cos_mean": float(np.mean(coss)),
        "cos_std_over_mean": float(np.std(coss) / abs(np.mean(coss))),
    }


def gram(M, normalize=True) -> np.ndarray:
    M = f64(M)
    n = M.shape[0]
    G = np.zeros((n, n))
    for i in range(n):
        for j in range(n):
            G[i, j] = cosine(M[i], M[j]) if normalize else float(np.dot(M[i], M[j]))
    return G


# --------------------------------------------------------------------------------------------
# NC3 / NC4
# --------------------------------------------------------------------------------------------
def nc3_cos(H, y, W, *, means=False) -> float:
    H, y, W = f64(H), labels(y), f64(W)
    if means:
        mu = class_mean_dict(H, y)
        return float(np.mean([cosine(mu[c], W[c]) for c in sorted(mu)]))
    tot = 0.0
    for i in range(H.shape[0]):
        if np.linalg.norm(H[i]) > 0:
            tot += cosine(H[i], W[y[i]])
    return tot / H.shape[0]


def nc3_duality(H, y, W, *, centered=True, kind="sample") -> float:
    M = means_matrix(H, y)
    if centered:
        M = M - global_mean(H, y, kind)
    Wp = f64(W)[present_classes(y)]
    return float(np.linalg.norm(Wp / np.linalg.norm(Wp) - M / np.linalg.norm(M)))


def nc4_ncc(H, y, W, *, H_eval=None, b=None) -> float:
    H, W = f64(H), f64(W)
    mu = class_mean_dict(H, y)
    Z = H if H_eval is None else f64(H_eval)
    bb = np.zeros(W.shape[0]) if b is None else f64(b)
    agree = 0
    for z in Z:
        logits = [float(np.dot(W[c], z) + bb[c]) for c in range(W.shape[0])]
        pred = int(np.argmax(logits))
        dists = {c: float(np.sum((z - mu[c]) ** 2)) for c in mu}
        ncc = min(dists, key=dists.get)
        agree += int(pred == ncc)
    return agree / Z.shape[0]


# --------------------------------------------------------------------------------------------
# balancedness, negativity, spectra
# --------------------------------------------------------------------------------------------
def op_norm(A) -> float:
    return float(np.linalg.norm(f64(A), ord=2))


def balancedness(W_l, W_next, relative=True, norm="op") -> float:
    A, B = f64(W_l), f64(W_next)
    out_g, in_g = B.T @ B, A @ A.T
    nrm = op_norm if norm == "op" else (lambda X: float(np.linalg.norm(X, "fro")))
    val = nrm(out_g - in_g)
    if not relative:
        return val
    return val / min(nrm(out_g), nrm(in_g))


def negativity(Z, act=None) -> float:
    Z = f64(Z)
    sZ = np.maximum(Z, 0.0) if act is None else act(Z)
    return op_norm(Z - sZ) / op_norm(Z)


def singular_values(A) -> np.ndarray:
    A = f64(A)
    if A.ndim > 2:
        A = A.reshape(A.shape[0], -1)
    return np.linalg.svd(A, compute_uv=False)


def numerical_rank(A, rtol=None) -> int:
    s = singular_values(A)
    if s[0] == 0:
        return 0
    A = f64(A)
    if A.ndim > 2:
        A = A.reshape(A.shape[0], -1)
    tol = max(A.shape) * np.finfo(np.float64).eps if rtol is None else rtol
    return sum(1 for v in s if v > tol * s[0])


def energy_rank(A, tol=1e-5) -> int:
    s = singular_values(A)
    total = float(np.sum(s**2))
    if total == 0:
        return 0
    for r in range(len(s) + 1):
        if np.sqrt(float(np.sum(s[r:] ** 2)) / total) <= tol:
            return r
    raise AssertionError("unreachable")


def rel_dist_to_rank(A, k) -> float:
    s = singular_values(A)
    return float(np.sum(s[k:] ** 2) / np.sum(s**2))


def stable_rank(A) -> float:
    s = singular_values(A)
    return float(np.sum(s**2) / s[0] ** 2)


def matrix_with_singular_values(s, m, n, rng) -> np.ndarray:
    U, _ = np.linalg.qr(rng.normal(size=(m, m)))
    V, _ = np.linalg.qr(rng.normal(size=(n, n)))
    S = np.zeros((m, n))
    for i, v in enumerate(s):
        S[i, i] = v
    return U @ S @ V.T


# --------------------------------------------------------------------------------------------
# clustering
# --------------------------------------------------------------------------------------------
def wcss(X, part) -> float:
    X, part = f64(X), labels(part)
    tot = 0.0
    for c in sorted(set(part.tolist())):
        pts = X[part == c]
        cen = pts.mean(0)
        tot += float(np.sum((pts - cen) ** 2))
    return tot / X.shape[0]


def brute_force_tcv(X, k) -> float:
    X = f64(X)
    best = np.inf
    for rest in itertools.product(range(k), repeat=X.shape[0] - 1):
        best = min(best, wcss(X, np.array((0,) + rest)))
    return float(best)


def one_hot(y, K) -> np.ndarray:
    Y = np.zeros((len(y), K))
    Y[np.arange(len(y)), labels(y)] = 1.0
    return Y


# --------------------------------------------------------------------------------------------
# norms and margins
# --------------------------------------------------------------------------------------------
def product_norm(weights, log=False) -> float:
    norms = [float(np.sqrt(np.sum(f64(W) ** 2))) for W in weights]
    if log:
        return float(sum(np.log(n) for n in norms))
    p = 1.0
    for n in norms:
        p *= n
    return p


def margin_values(F, y) -> np.ndarray:
    F = f64(F)
    if F.ndim == 2 and F.shape[1] == 1:
        F = F[:, 0]
    if F.ndim == 1:
        return np.array([float(y[i]) * F[i] for i in range(len(F))])
    C = F.shape[1]
    out = []
    for i in range(F.shape[0]):
        e = np.full(C, -1.0 / (C - 1))
        e[int(y[i])] = 1.0
        out.append(float(np.dot(F[i], e)))
    return np.array(out)


def margins(F, y) -> dict:
    m = margin_values(F, y)
    F = f64(F)
    if F.ndim == 2 and F.shape[1] > 1:
        second = float(np.mean(np.sum(F**2, axis=1)))
    else:
        second = float(np.mean(m**2))
    mu = float(np.mean(m))
    return {
        "mean": mu,
        "second_moment": second,
        "sigma2": second - mu**2,
        "std": float(np.std(m)),
        "min": float(np.min(m)),
    }


# --------------------------------------------------------------------------------------------
# data generators
# --------------------------------------------------------------------------------------------
def random_orthogonal(D, rng) -> np.ndarray:
    Q, R = np.linalg.qr(rng.normal(size=(D, D)))
    return Q * np.sign(np.diag(R))


def make_labels(K, n_per_class, rng) -> np.ndarray:
    """Labels with n_per_class[c] samples of class c, shuffled."""
    y = np.concatenate([np.full(n, c, dtype=np.int64) for c, n in enumerate(n_per_class)])
    return y[rng.permutation(len(y))]


def make_data(seed, K=4, D=6, n=10, noise=0.5, offset=0.0, sizes=None):
    """Gaussian class means (scale 2) plus isotropic noise; returns (H, y, M) in float64."""
    rng = np.random.default_rng(seed)
    sizes = [n] * K if sizes is None else list(sizes)
    y = make_labels(K, sizes, rng)
    M = 2.0 * rng.normal(size=(K, D))
    H = M[y] + noise * rng.normal(size=(len(y), D)) + offset
    return H, y, M


def orthogonal_means(K, D, rng, radius=3.0) -> np.ndarray:
    return radius * random_orthogonal(D, rng)[:K]


def simplex_etf(K, D, rng, radius=1.0) -> np.ndarray:
    """K rows forming a centred simplex ETF in R^D (D >= K): unit norms, cosines -1/(K-1)."""
    E = np.sqrt(K / (K - 1)) * (np.eye(K) - np.ones((K, K)) / K)
    U = random_orthogonal(D, rng)[:, :K]
    return radius * E @ U.T


@st.composite
def datasets(draw, min_K=2, max_K=6, max_D=10, min_n=2, max_n=8, min_D=1):
    """(H, y, K, rng) with K classes each of min_n..max_n samples (unbalanced)."""
    seed = draw(st.integers(0, 2**32 - 1))
    K = draw(st.integers(min_K, max_K))
    D = draw(st.integers(min_D, max_D))
    sizes = draw(st.lists(st.integers(min_n, max_n), min_size=K, max_size=K))
    noise = draw(st.sampled_from([0.05, 0.3, 1.0]))
    rng = np.random.default_rng(seed)
    y = make_labels(K, sizes, rng)
    M = 2.0 * rng.normal(size=(K, D))
    H = M[y] + noise * rng.normal(size=(len(y), D))
    return H, y, K, rng
