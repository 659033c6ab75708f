"""Vocabulary-scale collapse metrics (issue 16): K = 32 768 classes on one machine.

Default run (``make bench`` runs it with 2 threads):
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
so not run by this script): ``pip install git+https://github.com/rhubarbwu/neural-collapse``,
then feed the same generated batches to its ``neural_collapse.accumulate.MeanAccumulator`` /
``VarNormAccumulator`` (pass 1 and 2) and call ``neural_collapse.measure.variability_cdnv`` on
the means and variances; at K = 8 192 and above its CDNV materialises the K x K x D difference
tensor and runs out of memory (issue 16).

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
        print(f"{K:>7} {dt:>11.2f}  {nc1}", flush=True)
        del Hk
    print(f"peak RSS {peak_gib():.2f} GiB")


if __name__ == "__main__" and ARGS.table:
    torch.set_num_threads(ARGS.threads)
    print(f"threads: torch={torch.get_num_threads()} | python {sys.version.split()[0]} "
          f"torch {torch.__version__} numpy {np.__version__}")
    table()
    sys.exit(0)
