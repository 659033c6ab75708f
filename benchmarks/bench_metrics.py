"""Streaming NC metrics (nclab.metrics.ClassStats) vs a plain two-pass numpy float64 baseline.

For each (N, D, K) the same float32 features (Gaussian class clusters) are streamed in
mini-batches of 4096 through
  * nclab, two-pass mode: ``ClassStats`` then ``second_pass(W)`` -> nc1_trace, nc1_pinv,
    nc2_cond, nc3_cos, nc4_ncc (O(K D) state, no D x D matrix);
  * nclab, one-pass mode (``scatter=True``, O(D^2) state) for nc1_pinv without a second pass;
  * a plain numpy float64 implementation: pass 1 class sums, pass 2 the D x D within-class scatter
    (R^T R), per-sample cosines and full distance matrices, then ``np.linalg.pinv(Sigma_B)``.
It prints wall times, ratios baseline/nclab, the largest relative disagreement with the float64
baseline, the accumulator state size and the process's peak RSS.

Usage: OMP_NUM_THREADS=2 python benchmarks/bench_metrics.py [--sizes small large] [--threads 2]
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time

SIZES = {"small": (50_000, 512, 10), "large": (200_000, 2048, 100)}
BATCH = 4096


def parse():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", nargs="+", choices=sorted(SIZES), default=["small", "large"])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--skip-one-pass", action="store_true", help="skip the O(N D^2) one-pass mode")
    ap.add_argument("--skip-baseline", action="store_true")
    return ap.parse_args()


ARGS = parse()
os.environ.setdefault("OMP_NUM_THREADS", str(ARGS.threads))
os.environ.setdefault("OPENBLAS_NUM_THREADS", str(ARGS.threads))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from nclab.metrics import ClassStats  # noqa: E402


def make_data(N, D, K, seed=0):
    g = torch.Generator().manual_seed(seed)
    means = 3.0 * torch.randn(K, D, generator=g)
    y = torch.randint(K, (N,), generator=g)
    H = torch.randn(N, D, generator=g).mul_(2.0).add_(means[y]).add_(1.0)  # offset: uncentred
    W = means + 4.0 * torch.randn(K, D, generator=g)  # imperfect classifier: NC4 < 1
    return H, y, W


def batches(H, y):
    for i in range(0, H.shape[0], BATCH):
        yield H[i : i + BATCH], y[i : i + BATCH]


def nclab_two_pass(H, y, W, K):
    stats = ClassStats(K)
    for hb, yb in batches(H, y):
        stats.update(hb, yb)
    second = stats.second_pass(W)
    for hb, yb in batches(H, y):
        second.update(hb, yb)
    out = {
        "nc1_trace": stats.nc1_trace(),
        "nc1_pinv": second.nc1_pinv(),
        "nc2_cond": stats.nc2_cond(),
        "nc3_cos": stats.nc3_cos(W),
        "nc4_ncc": second.nc4_ncc(),
    }
    state = sum(t.numel() * t.element_size() for t in stats.state_dict().values())
    state += (second._Vt.numel() + second._W.numel()) * 8
    return out, state


def nclab_one_pass(H, y, K):
    stats = ClassStats(K, scatter=True)
    for hb, yb in batches(H, y):
        stats.update(hb, yb)
    state = sum(t.numel() * t.element_size() for t in stats.state_dict().values())
    return {"nc1_pinv": stats.nc1_pinv(), "nc1_trace": stats.nc1_trace()}, state


def numpy_two_pass(H, y, W, K):
    """The straightforward float64 computation: explicit D x D matrices and pseudo-inverse."""
    D = H.shape[1]
    Wn = W.numpy().astype(np.float64)
    sums, counts = np.zeros((K, D)), np.zeros(K)
    for hb, yb in batches(H, y):
        h, lab = hb.numpy().astype(np.float64), yb.numpy()
        np.add.at(counts, lab, 1)
        for c in np.unique(lab):
            sums[c] += h[lab == c].sum(0)
    mu = sums / counts[:, None]
    mu_g = sums.sum(0) / counts.sum()
    sigma_w = np.zeros((D, D))
    cos_sum, agree, n = 0.0, 0, 0
    for hb, yb in batches(H, y):
        h, lab = hb.numpy().astype(np.float64), yb.numpy()
        r = h - mu[lab]
        sigma_w += r.T @ r
        w = Wn[lab]
        cos_sum += np.sum(np.sum(h * w, 1) / np.linalg.norm(h, axis=1) / np.linalg.norm(w, axis=1))
        dist = ((h[:, None, :] - mu[None]) ** 2).sum(-1) if K * D <= 5120 else (
            (h**2).sum(1)[:, None] - 2 * h @ mu.T + (mu**2).sum(1)[None]
        )
        agree += int(np.sum(np.argmax(h @ Wn.T, 1) == np.argmin(dist, 1)))
        n += h.shape[0]
    sigma_w /= n
    mc = mu - mu_g
    sigma_b = mc.T @ mc / K
    s = np.linalg.svd(mu, compute_uv=False)
    return {
        "nc1_trace": np.trace(sigma_w) / np.trace(sigma_b),
        "nc1_pinv": np.trace(sigma_w @ np.linalg.pinv(sigma_b, hermitian=True)) / K,
        "nc2_cond": s[0] / s[-1],
        "nc3_cos": cos_sum / n,
        "nc4_ncc": agree / n,
    }


def timed(fn, *args):
    t = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - t


def rel_err(a, b):
    return max(abs(a[k] - b[k]) / max(abs(b[k]), 1e-300) for k in a if k in b)


def main():
    torch.set_num_threads(ARGS.threads)
    print(f"threads: torch={torch.get_num_threads()} OMP_NUM_THREADS={os.environ['OMP_NUM_THREADS']}"
          f" | python {sys.version.split()[0]} torch {torch.__version__} numpy {np.__version__}")
    for size in ARGS.sizes:
        N, D, K = SIZES[size]
        H, y, W = make_data(N, D, K)
        print(f"\n== N={N} D={D} K={K} (features float32, {H.numel() * 4 / 2**30:.2f} GiB, "
              f"batches of {BATCH}) ==")
        (two, state2), t2 = timed(nclab_two_pass, H, y, W, K)
        print(f"nclab two-pass   {t2:8.2f} s   state {state2 / 2**20:8.1f} MiB  {two}")
        if not ARGS.skip_one_pass:
            (one, state1), t1 = timed(nclab_one_pass, H, y, K)
            print(f"nclab one-pass   {t1:8.2f} s   state {state1 / 2**20:8.1f} MiB  "
                  f"nc1_pinv={one['nc1_pinv']:.15g}  (rel. diff to two-pass "
                  f"{abs(one['nc1_pinv'] - two['nc1_pinv']) / two['nc1_pinv']:.1e})")
        if not ARGS.skip_baseline:
            base, tb = timed(numpy_two_pass, H, y, W, K)
            print(f"numpy f64 plain  {tb:8.2f} s   {base}")
            print(f"ratio plain/nclab two-pass: {tb / t2:.1f}x"
                  + (f"   plain/nclab one-pass: {tb / t1:.1f}x" if not ARGS.skip_one_pass else ""))
            print(f"max rel. disagreement nclab two-pass vs numpy float64: {rel_err(two, base):.1e}")
        del H
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(f"\npeak RSS of the process (data included): {peak:.2f} GiB")


if __name__ == "__main__":
    main()
