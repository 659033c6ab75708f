"""Training throughput: ``nclab.train.run`` vs a minimal hand-written PyTorch loop.

Two workloads, each trained three ways with the same seed (and checked to end on the same
parameters, bit for bit, so the same work is timed):

* **DUFM** -- 4-layer DUFM, K = 10, n = 50, width 30, float64, full-batch GD at lr 0.5, all
  λ = 0.004 on Súkeník et al.'s eq. (1) (their Fig. 2 top);
* **MLP** -- 9-layer MLP (2 backbone + 3 ReLU + 4 linear, width 128, no biases; Jacot et al.
  Fig. 4 shape) on 1 000 Fashion-MNIST training images (100 per class, Debian package files read
  through ``nclab.data``), float32, mini-batch SGD (batch 100, momentum 0.9), mean MSE + standard
  weight decay 0.0018.

Ways: the hand-written script, ``run`` with probes off, and ``run`` with probes at
``--points`` log-spaced steps (plus the first and the last). All three are timed end to end
(loading the data, building the model, the loop; ``run`` also its final loss decomposition).
Ratios use the fastest of ``--repeats`` interleaved repetitions (the median is printed too);
the targets are ``run``/hand < 1.10 with probes off and < 1.25 with probes on.

The probe cost is fixed per probe (the full layer report of every layer; ~0.15 s for the MLP
on a 2-core box), and log-spaced probes grow only with log(steps); the default lengths are
short runs by the papers' standards (Part C: 20k-200k steps). About 5 minutes in all.

Usage: python benchmarks/bench_train.py [--threads 1] [--dufm-steps 10000] [--mlp-steps 8000]
       [--points 20] [--repeats 3] [--only dufm|mlp]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time


def parse():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=1,
                    help="torch threads (default 1: small models are faster single-threaded)")
    ap.add_argument("--dufm-steps", type=int, default=10_000)
    ap.add_argument("--mlp-steps", type=int, default=8_000)
    ap.add_argument("--points", type=int, default=20, help="log-spaced probe steps")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--only", choices=["dufm", "mlp"])
    return ap.parse_args()


ARGS = parse()
os.environ.setdefault("OMP_NUM_THREADS", str(ARGS.threads))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch.nn import functional as F  # noqa: E402

import nclab  # noqa: E402
from nclab.data import load_dataset  # noqa: E402
from nclab.models import DUFM, MLP, init_weights  # noqa: E402
from nclab.train import TrainConfig, apply_overrides, run  # noqa: E402
from nclab.train.batches import batch_seed  # noqa: E402

FMNIST = "/usr/share/datasets/fashion-mnist"
LAM_DUFM, WD_MLP = 0.004, 0.0018


# ---------------------------------------------------------------------------- configs
def dufm_config(steps: int, probes: bool) -> TrainConfig:
    return apply_overrides(TrainConfig(), [
        "data.name=labels", "data.K=10", "data.n_per_class=50", "model.arch=dufm",
        "model.widths=[30,30,30,30]", "loss.preset=p2_dufm", "reg.scheme=dufm",
        f"reg.weight_decay={LAM_DUFM}", f"reg.feature_decay={LAM_DUFM}", "optim.lr=0.5",
        f"optim.steps={steps}", "dtype=float64", f"probe.enabled={probes}",
        f"probe.points={ARGS.points}",
    ])


def mlp_config(steps: int, probes: bool) -> TrainConfig:
    return apply_overrides(TrainConfig(), [
        "data.name=fashion-mnist", "data.n_per_class=100", f"data.data_dir={FMNIST}",
        "model.widths=[128,128,128,128,128,128,128,128]", "model.n_linear=4",
        "model.n_backbone=2", "loss.preset=torch_mse", f"reg.weight_decay={WD_MLP}",
        "optim.name=sgd", "optim.batch_size=100", "optim.momentum=0.9", "optim.lr=0.05",
        f"optim.steps={steps}", "dtype=float32", f"probe.enabled={probes}",
        f"probe.points={ARGS.points}",
    ])


# ---------------------------------------------------------------------------- hand loops
def hand_dufm(steps: int):
    """Plain PyTorch: (1/2N)||W4 σ(W3 σ(W2 σ(W1 H1))) − Y||² + (λ/2)(Σ||W_l||² + ||H1||²)."""
    t0 = time.perf_counter()
    K, n, N = 10, 50, 500
    net = DUFM(N, [30, 30, 30, 30], K).double()
    init_weights(net, "lecun_normal", seed=0)
    Y = F.one_hot(torch.arange(K).repeat_interleave(n), K).double()
    weights = [layer.weight for layer in net.layers]
    opt = torch.optim.SGD(net.parameters(), lr=0.5)
    for _ in range(steps):
        loss = F.mse_loss(net(), Y, reduction="sum") * (1 / (2 * N))
        loss = loss + sum(LAM_DUFM / 2 * w.square().sum() for w in weights)
        loss = loss + LAM_DUFM / 2 * net.H1.square().sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return time.perf_counter() - t0, net


def hand_mlp(steps: int):
    """Plain PyTorch: shuffled batches of 100, mean MSE + (λ/2)||θ||², SGD momentum 0.9."""
    t0 = time.perf_counter()
    data = load_dataset("fashion-mnist", n_per_class=100, data_dir=FMNIST)
    X, y = data.X, data.y
    net = MLP(784, [128] * 8 + [10], ["relu"] * 5 + [None] * 4, n_backbone=2)
    init_weights(net, "default", seed=0)
    Y = F.one_hot(y, 10).float()
    params = list(net.parameters())
    opt = torch.optim.SGD(params, lr=0.05, momentum=0.9)
    g = torch.Generator().manual_seed(batch_seed(0))
    done = 0
    while done < steps:
        for idx in torch.randperm(len(y), generator=g).split(100):
            if done == steps:
                break
            loss = F.mse_loss(net(X[idx]), Y[idx], reduction="sum") * (1 / (len(idx) * 10))
            loss = loss + WD_MLP / 2 * sum(p.square().sum() for p in params)
            opt.zero_grad()
            loss.backward()
            opt.step()
            done += 1
    return time.perf_counter() - t0, net


# ---------------------------------------------------------------------------- measurement
def timed_run(cfg: TrainConfig):
    t0 = time.perf_counter()
    result = run(cfg)
    return time.perf_counter() - t0, result


def same(a, b) -> bool:
    return all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))


def bench(name: str, steps: int, hand, config) -> dict:
    times = {"hand": [], "run": [], "run+probes": []}
    identical = True
    n_probes = 0
    for _ in range(ARGS.repeats):
        t, net = hand()
        times["hand"].append(t)
        t, off = timed_run(config(steps, False))
        times["run"].append(t)
        identical &= same(net, off.model)
        t, on = timed_run(config(steps, True))
        times["run+probes"].append(t)
        identical &= same(net, on.model)
        n_probes = len({r["step"] for r in on.records})
    best = {k: min(v) for k, v in times.items()}
    print(f"\n{name}: {steps} steps, best of {ARGS.repeats} (median in brackets)")
    for k, v in best.items():
        med = statistics.median(times[k])
        print(f"  {k:<11} {v:8.3f} s ({med:.3f} s)   {steps / v:9.1f} steps/s")
    r_off, r_on = best["run"] / best["hand"], best["run+probes"] / best["hand"]
    print(f"  ratio run/hand            {r_off:.3f}  (target < 1.10)  "
          f"{'ok' if r_off < 1.10 else 'OVER'}")
    print(f"  ratio run+probes/hand     {r_on:.3f}  (target < 1.25, {n_probes} probe steps)  "
          f"{'ok' if r_on < 1.25 else 'OVER'}")
    per_probe = (best["run+probes"] - best["run"]) / max(n_probes, 1)
    print(f"  cost per probe            {1e3 * per_probe:.1f} ms")
    print(f"  same final parameters as the hand loop (bit for bit): {identical}")
    return {"off": r_off, "on": r_on, "identical": identical}


def main() -> int:
    torch.set_num_threads(ARGS.threads)
    print(f"nclab {nclab.__version__}, torch {torch.__version__}, numpy {np.__version__}, "
          f"python {platform.python_version()} on {platform.machine()} "
          f"({os.cpu_count()} CPUs)")
    print(f"torch threads: {torch.get_num_threads()} (OMP_NUM_THREADS="
          f"{os.environ.get('OMP_NUM_THREADS')})")
    results = {}
    if ARGS.only in (None, "dufm"):
        results["dufm"] = bench("DUFM (4 layers, K=10, n=50, width 30, float64, GD lr 0.5)",
                                ARGS.dufm_steps, lambda: hand_dufm(ARGS.dufm_steps), dufm_config)
    if ARGS.only in (None, "mlp"):
        if not os.path.isfile(os.path.join(FMNIST, "train-images-idx3-ubyte.gz")):
            print(f"\nMLP: skipped, Fashion-MNIST not found in {FMNIST} "
                  "(apt-get install dataset-fashion-mnist)")
        else:
            results["mlp"] = bench(
                "MLP (9 layers, width 128, 1000 Fashion-MNIST images, SGD batch 100, float32)",
                ARGS.mlp_steps, lambda: hand_mlp(ARGS.mlp_steps), mlp_config,
            )
    ok = all(r["off"] < 1.10 and r["on"] < 1.25 and r["identical"] for r in results.values())
    print("\nall targets met" if ok else "\nsome targets missed")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
