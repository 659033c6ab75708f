"""Vocabulary-scale collapse metrics (issue 16): K = 32 768 classes on one machine.

Default run (2 threads; not part of ``make bench``: about 10 minutes on the 2-core machine):
  * pass 1 of ``ClassStats`` over N = 1 048 576 tokens, D = 768, float32 features, Zipf(1.1)
    labels over K = 32 768 classes, streamed in batches of 4096 generated on the fly from a fixed
    seed (the 3 GiB of features never exist at once), timed against the *same* features with the
    labels folded to K = 10 (``y % 10``): the throughput ratio (target <= 1.5x);
  * after the pass, with ``min_count=2`` (classes with fewer than 2 tokens excluded, the number
    and their share of tokens printed): nc1_trace, trace_sigma_w, CDNV over all kept pairs
    (tiled, with std and a histogram), the ETF statistics (tiled), nc2_cond, and nc1_pinv through
    the second pass (O(N D^2) since K - 1 >= D); their times (target < 60 s) and the process's
    peak RSS (target < 8 GiB, data included);
  * agreement of the streamed metrics with a float64 numpy reference (explicit D x D Sigma_W,
    ``np.linalg.pinv``, pairwise loops over class means) at a small K with rare classes.

``--table`` reproduces the issue's before/after table instead (N = 262 144, D = 512, uniform
labels, batches of 4096): pass-1 time for K = 10, 1 000, 8 192, 32 768 and whether nc1_trace is
defined. It only uses ``ClassStats(K).update`` and ``nc1_trace``, so it also runs on older nclab
trees (``PYTHONPATH=<old tree>/src``) for the "before" numbers.

Side by side with rhubarbwu/neural-collapse (Wu & Papyan's tool; not a dependency, not on PyPI,
so not run by this script; this machine reaches only package registries): on a machine with
network access, ``pip install git+https://github.com/rhubarbwu/neural-collapse``, feed the same
batches (``zipf_labels`` and ``batches`` below, same seeds) to its mean and variance accumulators
(its passes 1 and 2) and time its CDNV on the resulting means and variances in the same process;
issue 16 reports that from K = 8 192 on its CDNV materialises the K x K x D difference tensor and
runs out of memory.

Usage: OMP_NUM_THREADS=2 python benchmarks/bench_vocab.py [--threads 2] [--table] [--N 1048576]
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time


def parse():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--table", action="store_true", help="the issue's K = 10 ... 32 768 table")
    ap.add_argument("--N", type=int, default=1 << 20)
    ap.add_argument("--D", type=int, default=768)
    ap.add_argument("--K", type=int, default=32768)
    return ap.parse_args()


ARGS = parse()
os.environ.setdefault("OMP_NUM_THREADS", str(ARGS.threads))
os.environ.setdefault("OPENBLAS_NUM_THREADS", str(ARGS.threads))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from nclab.metrics import ClassStats  # noqa: E402

BATCH = 4096


def peak_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


# ---- the table ------------------------------------------------------------------------
def table():
    N, D = 262_144, 512
    g = torch.Generator().manual_seed(0)
    H = torch.randn(N, D, generator=g)
    print(f"N={N} D={D} float32, uniform labels, batches of {BATCH}")
    print(f"{'K':>7} {'pass 1 (s)':>11}  nc1_trace")
    for K in (10, 1000, 8192, 32768):
        y = torch.randint(K, (N,), generator=torch.Generator().manual_seed(K))
        Hk = H + torch.randn(K, D, generator=torch.Generator().manual_seed(1))[y]
        stats = ClassStats(K)
        t = time.perf_counter()
        for i in range(0, N, BATCH):
            stats.update(Hk[i : i + BATCH], y[i : i + BATCH])
        dt = time.perf_counter() - t
        try:
            nc1 = f"ok ({stats.nc1_trace():.4g})"
        except ValueError as err:
            nc1 = f"ValueError: {str(err)[:60]}"
            try:  # trees with min_count (issue 16)
                nc1 += f"; min_count=2: ok ({stats.nc1_trace(min_count=2):.4g})"
            except TypeError:
                pass
        print(f"{K:>7} {dt:>11.2f}  {nc1}", flush=True)
        del Hk
    print(f"peak RSS {peak_gib():.2f} GiB")


# ---- vocabulary-scale run ----------------------------------------------------------------------
def zipf_labels(N: int, K: int, s: float = 1.1, seed: int = 0) -> torch.Tensor:
    """N labels with P(rank r) ~ r^-s over K classes, ranks shuffled onto class ids."""
    g = torch.Generator().manual_seed(seed)
    p = torch.arange(1, K + 1, dtype=torch.float64).pow_(-s)
    ranks = torch.multinomial(p / p.sum(), N, replacement=True, generator=g)
    return torch.randperm(K, generator=g)[ranks]


def batches(y: torch.Tensor, means: torch.Tensor, seed: int = 1):
    """Features ``means[y] + N(0, I)`` (float32) generated batch by batch from a fixed seed."""
    g = torch.Generator().manual_seed(seed)
    for i in range(0, y.shape[0], BATCH):
        yb = y[i : i + BATCH]
        yield torch.randn(yb.shape[0], means.shape[1], generator=g).add_(means[yb]), yb


def first_passes(K: int, y: torch.Tensor, means: torch.Tensor):
    """Stream the same features into ClassStats(K) with labels y and ClassStats(10) with y % 10,
    batch by batch in alternation (so a change of machine load hits both alike); time update()."""
    stats, stats10, spent, spent10 = ClassStats(K), ClassStats(10), 0.0, 0.0
    for Hb, yb in batches(y, means):
        t = time.perf_counter()
        stats10.update(Hb, yb % 10)
        t1 = time.perf_counter()
        stats.update(Hb, yb)
        spent += time.perf_counter() - t1
        spent10 += t1 - t
    return stats, spent, spent10


def timed(label: str, fn):
    t = time.perf_counter()
    out = fn()
    dt = time.perf_counter() - t
    print(f"  {label:<44} {dt:8.2f} s   {out if not isinstance(out, dict) else ''}", flush=True)
    return out, dt


def vocab():
    N, D, K = ARGS.N, ARGS.D, ARGS.K
    y = zipf_labels(N, K)
    means = 2.0 * torch.randn(K, D, generator=torch.Generator().manual_seed(2))
    print(f"N={N} D={D} K={K}, Zipf(1.1) labels, float32 features generated in batches of "
          f"{BATCH} ({N * D * 4 / 2**30:.2f} GiB in all, never at once)")
    stats, tK, t10 = first_passes(K, y, means)
    print(f"pass 1 (update() only, interleaved): K=10 {t10:.2f} s ({N / t10:,.0f} tokens/s), "
          f"K={K} {tK:.2f} s ({N / tK:,.0f} tokens/s): ratio {tK / t10:.2f}x (target <= 1.5x)")
    sel = stats.selection(2)
    print(f"min_count=2: {sel.kept} classes kept, {len(sel.excluded)} excluded "
          f"({100 * sel.excluded_share:.3f}% of tokens), {sel.empty} never seen")
    print("after the pass (min_count=2):")
    target = 0.0  # the budget: every trace-based metric + CDNV over all kept pairs
    for label, fn in [
        ("nc1_trace", lambda: stats.nc1_trace(min_count=2)),
        ("trace_sigma_w", lambda: stats.trace_sigma_w(min_count=2)),
    ]:
        target += timed(label, fn)[1]
    edges = np.geomspace(1e-3, 1e3, 13)
    cd, dt = timed(f"CDNV over all {sel.kept * (sel.kept - 1) // 2:,} kept pairs (+hist)",
                   lambda: stats.cdnv_stats(min_count=2, bins=edges))
    target += dt
    print(f"    mean {cd['mean']:.6g} std {cd['std']:.4g} min {cd['min']:.4g} max {cd['max']:.4g}; "
          f"histogram over {edges[0]:g}..{edges[-1]:g} (log bins): {cd['histogram']['counts'].tolist()}")
    # plain baseline: the float64 GEMM the tiled CDNV cannot avoid (K^2 D / 2 multiply-adds),
    # timed on 1024 rows of the kept means and scaled to K/2 rows
    X = torch.from_numpy(stats.class_means(min_count=2)).double()
    X = X[X.abs().sum(1) > 0]
    t = time.perf_counter()
    X[:1024] @ X.T
    gemm = (time.perf_counter() - t) * X.shape[0] / 2 / 1024
    print(f"    plain float64 GEMM floor for these pairs (extrapolated): {gemm:.1f} s; "
          f"CDNV / GEMM floor {dt / gemm:.2f}x")
    del X
    second = stats.second_pass(min_count=2)
    spent = 0.0
    for Hb, yb in batches(y, means):
        t = time.perf_counter()
        second.update(Hb, yb)
        spent += time.perf_counter() - t
    target += spent
    print(f"  {'nc1_pinv: second pass (update() only)':<44} {spent:8.2f} s   {second.nc1_pinv()}")
    print(f"trace-based metrics + CDNV after pass 1: {target:.1f} s (target < 60 s)")
    print("other metrics:")
    timed("nc2_cond (SVD of the K x D means)", lambda: stats.nc2_cond(min_count=2))
    etf, dt = timed("nc2_etf (tiled angles)", lambda: stats.nc2_etf(min_count=2))
    print(f"    {etf}")
    print(f"peak RSS {peak_gib():.2f} GiB (target < 8 GiB)")


def reference(K: int = 1024, D: int = 48, N: int = 16_000):
    """Streamed float32 metrics with min_count=2 vs a plain float64 numpy computation."""
    y = zipf_labels(N, K, seed=3)
    means = 2.0 * torch.randn(K, D, generator=torch.Generator().manual_seed(4))
    H = torch.cat([Hb for Hb, _ in batches(y, means, seed=5)])
    stats = ClassStats(K, scatter=True)
    for i in range(0, N, BATCH):
        stats.update(H[i : i + BATCH], y[i : i + BATCH])
    got = {"nc1_trace": stats.nc1_trace(min_count=2), "cdnv": stats.cdnv(min_count=2),
           "nc1_pinv": stats.nc1_pinv(min_count=2),
           "equiangularity": stats.nc2_etf(min_count=2)["equiangularity"]}
    h, lab = H.double().numpy(), y.numpy()
    counts = np.bincount(lab, minlength=K)
    keep = counts[lab] >= 2
    h, lab = h[keep], lab[keep]
    cls = np.flatnonzero(counts >= 2)
    mu = np.stack([h[lab == c].mean(0) for c in cls])
    var = np.array([((h[lab == c] - mu[i]) ** 2).sum(1).mean() for i, c in enumerate(cls)])
    pos = np.searchsorted(cls, lab)
    r = h - mu[pos]
    sw = r.T @ r / len(lab)
    mc = mu - h.mean(0)
    sb = mc.T @ mc / len(cls)
    pairs = np.concatenate([(var[i] + var[i + 1 :]) / (2 * ((mu[i + 1 :] - mu[i]) ** 2).sum(1))
                            for i in range(len(cls) - 1)])
    u = mc / np.linalg.norm(mc, axis=1, keepdims=True)
    cos = (u @ u.T)[~np.eye(len(cls), dtype=bool)]
    want = {"nc1_trace": np.trace(sw) / np.trace(sb), "cdnv": np.mean(pairs),
            "nc1_pinv": np.trace(sw @ np.linalg.pinv(sb, hermitian=True)) / len(cls),
            "equiangularity": np.abs(cos + 1 / (len(cls) - 1)).mean()}
    err = max(abs(got[k] - want[k]) / abs(want[k]) for k in want)
    print(f"float64 reference at K={K} (min_count=2 keeps {len(cls)}), D={D}, N={N}: max rel. diff. "
          f"{err:.1e} over {sorted(want)}")


if __name__ == "__main__":
    torch.set_num_threads(ARGS.threads)
    print(f"threads: torch={torch.get_num_threads()} | load average {os.getloadavg()} | python "
          f"{sys.version.split()[0]} torch {torch.__version__} numpy {np.__version__}")
    if ARGS.table:
        table()
    else:
        reference()
        vocab()
    print(f"load average at the end {os.getloadavg()}")
