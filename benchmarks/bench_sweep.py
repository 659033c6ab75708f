"""Grouped training (``nclab.train.run_group``) vs one run per seed, in one process.

Workloads (seed-steps/s = replicas × optimiser steps / wall time):

* **a** -- Súkeník et al. Fig. 2: 4-DUFM, K = 10, n = 50 (N = 500), width 30, float64,
  full-batch GD at lr 0.5, λ = 0.004 on every W_l and on H_1, loss ``p2_dufm``; 10 and 32
  replicas (seeds 0..S-1);
* **b** -- the same with n = 10 (N = 100);
* **c** -- 9-layer MLP (2 backbone + 3 ReLU + 4 linear, width 128) on 1 000 Fashion-MNIST
  images, float32, SGD batch 100, momentum 0.9, lr 0.05, weight decay 0.0018; 8 replicas.
* **d** -- Xu et al.'s weight-normalised 4-layer MLP (width 128) on digits 1/2, SGD batch 32;
  8 replicas (hand-batched like the MLP; no hand loop, no ceiling);
* **e** -- the general ``torch.func`` path, with BatchNorm buffers: ResNet20 + 2-layer head on
  100 digits, SGD batch 50; 4 replicas.

Ways, all with probes off and timed end to end (building the data and models included):

* ``run``      -- ``nclab.train.run`` once per seed (``--seq-replicas`` seeds are timed; a
  sequential run's speed does not depend on how many others follow it);
* ``hand``     -- a minimal hand-written PyTorch loop per seed (``torch.optim.SGD``);
* ``vec``      -- ``run_group`` of all S seeds, eager;
* ``vec+jit``  -- the same with ``compile=True``, after one warm-up run of the same shapes (the
  compiled step is cached per process); the compile time is printed separately;
* ``ceiling``  -- one batched matmul chain forward + backward written out by hand (no autograd,
  no update, no loss value, no data handling): what the batched arithmetic alone costs.

Ratios are against ``run`` (the ``--seq-replicas`` timing) and ``hand``; ``of ceiling`` is
``vec`` / ``ceiling``. Each timing is the fastest of ``--repeats`` interleaved repetitions.
Every vectorised replica is checked against its sequential run (max relative difference of the
final parameters). Targets (2 CPU cores): a ≥ 3× at 10 replicas eager, ≥ 4.5× compiled;
b ≥ 6× at 10 and ≥ 10× at 32 (vs ``run``).

Usage: python benchmarks/bench_sweep.py [--threads 1,2] [--repeats 3] [--only a,b,c,d,e]
       [--no-compile] [--steps-a 300] [--steps-b 1000] [--steps-c 300] [--steps-d 300]
       [--steps-e 30] [--seq-replicas 2]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time


def parse():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", default="1,2", help="torch thread counts to run (default 1,2)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--only", default="a,b,c,d,e")
    ap.add_argument("--no-compile", action="store_true")
    ap.add_argument("--steps-a", type=int, default=300)
    ap.add_argument("--steps-b", type=int, default=1000)
    ap.add_argument("--steps-c", type=int, default=300)
    ap.add_argument("--steps-d", type=int, default=300)
    ap.add_argument("--steps-e", type=int, default=30)
    ap.add_argument("--seq-replicas", type=int, default=2)
    return ap.parse_args()


ARGS = parse()
THREADS = [int(t) for t in ARGS.threads.split(",")]
os.environ.setdefault("OMP_NUM_THREADS", str(max(THREADS)))

import torch  # noqa: E402

import nclab  # noqa: E402
import workloads  # noqa: E402
from nclab.train import (  # noqa: E402
    TrainConfig,
    run,
    run_group,  # noqa: E402
)
from workloads import FMNIST  # noqa: E402

TARGETS = {("a", 10, "vec"): 3.0, ("a", 10, "vec+jit"): 4.5, ("b", 10, "vec"): 6.0,
           ("b", 32, "vec"): 10.0}


# ---------------------------------------------------------------------------- workloads
def dufm_config(n: int, steps: int, seed: int) -> TrainConfig:
    return workloads.dufm_config(steps, n=n, seed=seed)


def mlp_config(steps: int, seed: int) -> TrainConfig:
    return workloads.mlp_config(steps, seed=seed)


def hand_dufm(n: int, steps: int, seed: int) -> None:
    workloads.hand_dufm(steps, n=n, seed=seed)


def hand_mlp(steps: int, seed: int) -> None:
    workloads.hand_mlp(steps, seed=seed)


def ceiling(S: int, dims: list[int], relu: list[bool], B: int, steps: int, dtype,
            input_grad: bool) -> float:
    """Seconds for ``steps`` forward + backward passes of the bare batched chain
    ``Z_{l+1} = σ(W_l Z_l)`` on (S, d, B) features: gradients of every W_l (and of Z_1, the
    DUFM's H_1, with ``input_grad``)."""
    Z1 = torch.randn(S, dims[0], B, dtype=dtype)
    Ws = [torch.randn(S, dims[i + 1], dims[i], dtype=dtype) / dims[i] ** 0.5
          for i in range(len(dims) - 1)]
    T = torch.randn(S, dims[-1], B, dtype=dtype)

    def once():
        hs, h = [Z1], Z1
        for W, r in zip(Ws, relu, strict=True):
            h = torch.bmm(W, h)
            if r:
                h = h.relu_()
            hs.append(h)
        G = h - T
        for i in reversed(range(len(Ws))):
            torch.bmm(G, hs[i].transpose(1, 2))  # dW_i
            if i == 0 and not input_grad:
                break
            G = torch.bmm(Ws[i].transpose(1, 2), G)
            if i and relu[i - 1]:
                G = G.mul_(hs[i] > 0)

    once()
    t0 = time.perf_counter()
    for _ in range(steps):
        once()
    return time.perf_counter() - t0


# ---------------------------------------------------------------------------- measurement
def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def max_rel_diff(vec_results, seq_results) -> float:
    worst = 0.0
    with torch.no_grad():
        for v, s in zip(vec_results, seq_results, strict=False):
            for p, q in zip(s.model.parameters(), v.model.parameters(), strict=True):
                worst = max(worst, float((p - q).abs().max() / p.abs().max()))
    return worst


def bench_case(case: str, S: int, steps: int, config, hand, chain) -> dict:
    configs = [config(steps, s) for s in range(S)]
    seq_cfgs = configs[: ARGS.seq_replicas]
    R = len(seq_cfgs)
    compile_on = not ARGS.no_compile and config(5, 0).model.arch in ("dufm", "mlp")
    # warm-ups: first calls (lazy imports, allocator, compiled step of these shapes)
    run(config(5, 0))
    run_group([config(5, s) for s in range(S)])
    compile_s = None
    if compile_on:
        compile_s = timed(lambda: run_group([config(steps, s) for s in range(S)],
                                                 compile=True))
    times: dict[str, list[float]] = {"run": [], "vec": []}
    if hand is not None:
        times |= {"hand": [], "ceiling": []}
    if compile_on:
        times["vec+jit"] = []
    seq_results, vec_results = [], []
    for _ in range(ARGS.repeats):
        times["run"].append(timed(lambda: seq_results.__setitem__(
            slice(None), [run(c) for c in seq_cfgs])))
        if hand is not None:
            times["hand"].append(timed(lambda: [hand(steps, s) for s in range(R)]))
        times["vec"].append(timed(lambda: vec_results.__setitem__(
            slice(None), run_group(configs))))
        if compile_on:
            times["vec+jit"].append(timed(lambda: run_group(configs, compile=True)))
        if chain is not None:
            times["ceiling"].append(chain(S, steps))
    best = {k: min(v) for k, v in times.items()}
    rate = {k: (R if k in ("run", "hand") else S) * steps / t for k, t in best.items()}
    if compile_s is not None:
        compile_s -= best["vec+jit"]
    return {"case": case, "S": S, "steps": steps, "rate": rate, "compile_s": compile_s,
            "diff": max_rel_diff(vec_results, seq_results)}


def report(res: dict, threads: int) -> None:
    r = res["rate"]
    head = f"{res['case']}  S={res['S']:<3} {res['steps']} steps, {threads} thread(s)"
    print(f"\n{head}")
    for k in ("run", "hand", "vec", "vec+jit", "ceiling"):
        if k not in r:
            continue
        line = f"  {k:<8} {r[k]:10.0f} seed-steps/s"
        if k.startswith("vec"):
            line += f"   ×{r[k] / r['run']:5.2f} vs run"
            if "hand" in r:
                line += (f"   ×{r[k] / r['hand']:5.2f} vs hand   "
                         f"{100 * r[k] / r['ceiling']:5.1f}% of ceiling")
            target = TARGETS.get((res["case"], res["S"], k))
            if target is not None:
                ok = r[k] / r["run"] >= target
                line += f"   (target ×{target}: {'ok' if ok else 'MISSED'})"
        print(line)
    if res["compile_s"] is not None:
        print(f"  compile overhead of the first compiled run: {res['compile_s']:.1f} s")
    print(f"  replicas vs sequential runs, final parameters: max rel diff {res['diff']:.1e}")


def main() -> int:
    only = set(ARGS.only.split(","))
    print(f"nclab {nclab.__version__}, torch {torch.__version__}, python "
          f"{platform.python_version()} on {platform.machine()} ({os.cpu_count()} CPUs), "
          f"load average {os.getloadavg()[0]:.2f}")
    cases = []
    if "a" in only:
        for S in (10, 32):
            cases.append(("a", S, ARGS.steps_a, lambda st, s: dufm_config(50, st, s),
                          lambda st, s: hand_dufm(50, st, s),
                          lambda S_, st: ceiling(S_, [30] * 4 + [10], [True] * 3 + [False],
                                                 500, st, torch.float64, True)))
    if "b" in only:
        for S in (10, 32):
            cases.append(("b", S, ARGS.steps_b, lambda st, s: dufm_config(10, st, s),
                          lambda st, s: hand_dufm(10, st, s),
                          lambda S_, st: ceiling(S_, [30] * 4 + [10], [True] * 3 + [False],
                                                 100, st, torch.float64, True)))
    if "c" in only:
        if os.path.isfile(os.path.join(FMNIST, "train-images-idx3-ubyte.gz")):
            cases.append(("c", 8, ARGS.steps_c, mlp_config, hand_mlp,
                          lambda S_, st: ceiling(S_, [784] + [128] * 8 + [10],
                                                 [True] * 5 + [False] * 4, 100, st,
                                                 torch.float32, False)))
        else:
            print(f"\nc: skipped, Fashion-MNIST not found in {FMNIST}")
    if "d" in only:
        cases.append(("d", 8, ARGS.steps_d, lambda st, s: workloads.weightnorm_config(st, seed=s),
                      None, None))
    if "e" in only:
        cases.append(("e", 4, ARGS.steps_e, lambda st, s: workloads.resnet_config(st, seed=s),
                      None, None))
    missed = []
    for threads in THREADS:
        torch.set_num_threads(threads)
        print(f"\n=== torch threads: {torch.get_num_threads()} "
              f"(OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}) ===")
        for case, S, steps, config, hand, chain in cases:
            res = bench_case(case, S, steps, config, hand, chain)
            report(res, threads)
            for k, v in res["rate"].items():
                target = TARGETS.get((case, S, k))
                if target is not None and v / res["rate"]["run"] < target:
                    missed.append(f"{case} S={S} {k} {threads} thread(s)")
    print("\nall targets met" if not missed else f"\ntargets missed: {', '.join(missed)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
