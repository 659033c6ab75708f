"""Training throughput: ``nclab.train.run`` vs a minimal hand-written PyTorch loop.

Two workloads, each trained three ways with the same seed (and checked to end on the same
parameters, so the same work is timed: ``run`` is the engine's group of one, whose batched
arithmetic is torch.optim's update in another order of operations, so agreement is to rounding:
the largest relative difference of the final parameters is printed):

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

import nclab  # noqa: E402
import workloads  # noqa: E402
from nclab.train import TrainConfig, run  # noqa: E402
from workloads import FMNIST, hand_dufm, hand_mlp  # noqa: E402


def dufm_config(steps: int, probes: bool) -> TrainConfig:
    return workloads.dufm_config(steps, probes=probes, points=ARGS.points)


def mlp_config(steps: int, probes: bool) -> TrainConfig:
    return workloads.mlp_config(steps, probes=probes, points=ARGS.points)


# ---------------------------------------------------------------------------- measurement
def timed_run(cfg: TrainConfig):
    t0 = time.perf_counter()
    result = run(cfg)
    return time.perf_counter() - t0, result


def rel_diff(a, b) -> float:
    """Largest relative difference of the parameters of two models."""
    with torch.no_grad():
        return max(float((p - q).abs().max() / p.abs().max().clamp_min(1e-300))
                   for p, q in zip(a.parameters(), b.parameters(), strict=True))


def bench(name: str, steps: int, hand, config) -> dict:
    times = {"hand": [], "run": [], "run+probes": []}
    diff = 0.0
    n_probes = 0
    for _ in range(ARGS.repeats):
        t, net = hand()
        times["hand"].append(t)
        t, off = timed_run(config(steps, False))
        times["run"].append(t)
        diff = max(diff, rel_diff(net, off.model))
        t, on = timed_run(config(steps, True))
        times["run+probes"].append(t)
        diff = max(diff, rel_diff(net, on.model))
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
    print(f"  final parameters vs the hand loop: max relative difference {diff:.2e}")
    return {"off": r_off, "on": r_on, "rel_diff": diff}


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
    ok = all(r["off"] < 1.10 and r["on"] < 1.25 for r in results.values())
    print("\nall targets met" if ok else "\nsome targets missed")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
