"""``nclab.analyze`` on a CNN vs the plain forward passes it needs, in the same process.

A small CNN (3 conv blocks + MLP head, ~60k parameters) over N images of 28 x 28 (Fashion-MNIST's
test set when the Debian files are there, else Gaussian images of the same shape), 4 layers:
two conv feature maps (``pool="avg"``), the flattened map (width 1152) and the penultimate
layer (classifier input: NC3/NC4). ``analyze`` reads the data twice (exact NC1-pinv and NC4),
so the baseline is two plain ``model(x)`` passes over the same batches under ``no_grad`` in eval
mode. Reported: best-of-``--repeats`` wall times (cases interleaved) and their ratio (target <= 1.25), and the
``one_pass=True`` time against one plain pass.

Usage: python benchmarks/bench_analyze.py [--n 10000] [--batch 500] [--threads 2] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import time


def parse():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--batch", type=int, default=500)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    return ap.parse_args()


ARGS = parse()
os.environ.setdefault("OMP_NUM_THREADS", str(ARGS.threads))

import torch  # noqa: E402
from torch import nn  # noqa: E402

import nclab  # noqa: E402

LAYERS = ["block1", "block2", "flat", "act"]


class CNN(nn.Module):
    def __init__(self, K=10):
        super().__init__()
        self.block1 = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.block2 = nn.Sequential(nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.block3 = nn.Sequential(nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.flat = nn.Flatten()
        self.fc = nn.Linear(32 * 3 * 3, 64)
        self.act = nn.ReLU()
        self.head = nn.Linear(64, K)

    def forward(self, x):
        h = self.flat(self.block3(self.block2(self.block1(x))))
        return self.head(self.act(self.fc(h)))


def images(n):
    try:
        from nclab.data import load_dataset

        ds = load_dataset("fashion-mnist", split="test")
        X, y, src = ds.X.reshape(-1, 1, 28, 28), ds.y, "Fashion-MNIST test"
    except (ValueError, FileNotFoundError, OSError):
        g = torch.Generator().manual_seed(0)
        X, y, src = torch.randn(n, 1, 28, 28, generator=g), torch.randint(10, (n,), generator=g), "Gaussian"
    reps = -(-n // len(y))
    return X.repeat(reps, 1, 1, 1)[:n].contiguous(), y.repeat(reps)[:n].contiguous(), src


def best(fns, repeats):
    """Best-of-``repeats`` (wall, CPU) seconds of each function, the cases interleaved so that a
    busy machine's slow spells hit every case alike. CPU time (``time.process_time``) leaves out
    the time the process waits for a core on a shared machine."""
    times = [[] for _ in fns]
    for _ in range(repeats):
        for fn, ts in zip(fns, times, strict=True):
            t0, c0 = time.perf_counter(), time.process_time()
            fn()
            ts.append((time.perf_counter() - t0, time.process_time() - c0))
    return [(min(t[0] for t in ts), min(t[1] for t in ts)) for ts in times]


def main():
    torch.set_num_threads(ARGS.threads)
    torch.manual_seed(0)
    model = CNN().eval()
    X, y, src = images(ARGS.n)
    batches = [(X[i:i + ARGS.batch], y[i:i + ARGS.batch]) for i in range(0, len(y), ARGS.batch)]

    def plain(passes):
        with torch.no_grad():
            for _ in range(passes):
                for xb, _yb in batches:
                    model(xb)

    def run(one_pass=False):
        return nclab.analyze(model, batches, LAYERS, pool="avg", one_pass=one_pass)

    run()  # warm-up (allocator, kernels)
    plain(1)
    t_plain2, t_an, t_plain1, t_one = best(
        [lambda: plain(2), run, lambda: plain(1), lambda: run(True)], ARGS.repeats
    )
    rep = run()
    print(f"data: {src}, N = {len(y)}, batch {ARGS.batch}, threads {ARGS.threads}, "
          f"layers {LAYERS} (widths {[rep.info['layers'][n]['width'] for n in LAYERS]}), "
          f"classifier {rep.info['classifier']}")
    print(f"{'case':<30}{'wall s':>9}{'ratio':>7}{'CPU s':>9}{'ratio':>7}")
    for name, t, base in (("plain forward x2 (baseline)", t_plain2, t_plain2),
                          ("analyze (two passes)", t_an, t_plain2),
                          ("plain forward x1", t_plain1, t_plain1),
                          ("analyze one_pass=True", t_one, t_plain1)):
        print(f"{name:<30}{t[0]:>9.3f}{t[0] / base[0]:>7.2f}{t[1]:>9.3f}{t[1] / base[1]:>7.2f}")
    print(f"analyze / plain forwards = {t_an[0] / t_plain2[0]:.3f} wall, "
          f"{t_an[1] / t_plain2[1]:.3f} CPU (target <= 1.25)")


if __name__ == "__main__":
    main()
