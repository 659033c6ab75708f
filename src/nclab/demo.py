"""``make demo``: NC metrics on a synthetic collapsed network vs a random one, in-memory and streamed.

Later issues turn this into the main job (training the papers' setups); for now it shows the
metrics library end to end on data that needs no files.
"""

from __future__ import annotations

import time

import torch

from nclab.metrics import ClassStats, layer_report, nc2_cond


def synthetic_layers(K: int, n: int, D: int, noise: float, seed: int = 0):
    """Features of a 3-layer bias-free head: collapsed (``noise`` small) or random (``noise`` large).

    Class means are orthogonal with equal norms (the bias-free collapse target); each layer is a
    fixed rotation of the previous one, with the classifier rows equal to the last class means.
    """
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(K).repeat_interleave(n)
    Q, _ = torch.linalg.qr(torch.randn(D, D, generator=g, dtype=torch.float64))
    M = Q[:K] * 3.0
    H = M[y] + noise * torch.randn(K * n, D, generator=g, dtype=torch.float64)
    feats, weights = {}, {}
    for layer in range(3):
        R, _ = torch.linalg.qr(torch.randn(D, D, generator=g, dtype=torch.float64))
        H, M = H @ R.T, M @ R.T
        weights[f"W{layer + 1}"] = R
        feats[f"layer{layer + 1}"] = H
    weights["W_out"] = M / M.norm(dim=1, keepdim=True)
    return feats, y, weights


def main() -> None:
    torch.manual_seed(0)
    K, n, D = 10, 50, 32
    for title, noise in (("near-collapsed features (noise 1e-3)", 1e-3), ("random features", 10.0)):
        feats, y, weights = synthetic_layers(K, n, D, noise)
        report = layer_report(feats, y, weights)
        print(f"\n=== {title}: N={K * n}, D={D}, K={K} ===")
        cols = ("nc1_trace", "nc1_pinv", "nc2_cond", "nc2_equiangularity", "nc3_cos", "nc4_ncc",
                "means_rank", "w_balancedness")
        print(f"{'layer':<8}" + "".join(f"{c:>20}" for c in cols))
        for row in report.rows:
            print(f"{row['layer']:<8}" + "".join(
                f"{row[c]:>20.4g}" if c in row else f"{'':>20}" for c in cols))
    print("\nUnder collapse: NC1 -> 0, kappa -> 1, NC3 cosine -> 1, NC4 agreement -> 1; the random"
          "\nfeatures have NC1 >> 1. The orthogonal weights are balanced pairs (balancedness 0).")

    # The same metrics streamed in mini-batches (for feature sets that do not fit in memory).
    feats, y, weights = synthetic_layers(K, 2000, 256, 1.0, seed=1)
    H, W = feats["layer3"] + 1e4, weights["W_out"]  # a large common offset costs no accuracy
    perm = torch.randperm(H.shape[0])
    t = time.perf_counter()
    stats = ClassStats(K)
    for idx in perm.split(1024):
        stats.update(H[idx], y[idx])
    second = stats.second_pass(W)
    for idx in perm.split(1024):
        second.update(H[idx], y[idx])
    dt = time.perf_counter() - t
    full = layer_report({"layer3": H}, y, classifier=W).rows[0]
    print(f"\nStreaming {H.shape[0]} x {H.shape[1]} features (offset +1e4) in batches of 1024 "
          f"({dt * 1e3:.0f} ms):")
    pairs = (("nc1_trace", stats.nc1_trace(), full["nc1_trace"]),
             ("nc1_pinv", second.nc1_pinv(), full["nc1_pinv"]),
             ("cdnv", stats.cdnv(), full["cdnv"]),
             ("nc2_cond centred", stats.nc2_cond(centered=True), nc2_cond(H, y, centered=True)),
             ("nc4_ncc", second.nc4_ncc(), full["nc4_ncc"]))
    for name, streamed, exact in pairs:
        rel = abs(streamed - exact) / abs(exact)
        print(f"  {name:<17} streamed {streamed:<18.12g} in-memory {exact:<18.12g} "
              f"rel. diff {rel:.1e}")


if __name__ == "__main__":
    main()
