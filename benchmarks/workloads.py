"""The training workloads shared by ``bench_train.py`` and ``bench_sweep.py``: nclab configs and
the plain hand-written PyTorch loops they are compared with.

* DUFM (Súkeník et al. Fig 2): 4 layers of width 30, K = 10, n samples per class, float64,
  full-batch GD lr 0.5, λ = 0.004 on every W_l and on H_1, loss ``p2_dufm`` = ||Z − Y||² / 2N.
* MLP: 2 backbone + 3 ReLU + 4 linear layers of width 128 on 1 000 Fashion-MNIST images,
  float32, SGD batch 100, momentum 0.9, lr 0.05, weight decay 0.0018, mean MSE.
* the torch.func path (no hand loop): the weight-normalised MLP of Xu et al.'s CPU stand-in and
  ResNet20 + MLP head on digits.
"""

from __future__ import annotations

import time

import torch
import torch.nn.functional as F

from nclab.data import load_dataset
from nclab.models import DUFM, MLP, init_weights
from nclab.train import TrainConfig, apply_overrides
from nclab.train.batches import batch_seed

FMNIST = "/usr/share/datasets/fashion-mnist"
LAM_DUFM, WD_MLP = 0.004, 0.0018


def dufm_config(steps: int, *, n: int = 50, seed: int = 0, probes: bool = False,
                points: int = 20) -> TrainConfig:
    return apply_overrides(TrainConfig(), [
        "data.name=labels", "data.K=10", f"data.n_per_class={n}", "model.arch=dufm",
        "model.widths=[30,30,30,30]", "loss.preset=p2_dufm", "reg.scheme=dufm",
        f"reg.weight_decay={LAM_DUFM}", f"reg.feature_decay={LAM_DUFM}", "optim.lr=0.5",
        f"optim.steps={steps}", "dtype=float64", f"probe.enabled={probes}",
        f"probe.points={points}", f"seed={seed}",
    ])


def mlp_config(steps: int, *, seed: int = 0, probes: bool = False,
               points: int = 20) -> TrainConfig:
    return apply_overrides(TrainConfig(), [
        "data.name=fashion-mnist", "data.n_per_class=100", f"data.data_dir={FMNIST}",
        "model.widths=[128,128,128,128,128,128,128,128]", "model.n_linear=4",
        "model.n_backbone=2", "loss.preset=torch_mse", f"reg.weight_decay={WD_MLP}",
        "optim.name=sgd", "optim.batch_size=100", "optim.momentum=0.9", "optim.lr=0.05",
        f"optim.steps={steps}", "dtype=float32", f"probe.enabled={probes}",
        f"probe.points={points}", f"seed={seed}",
    ])


def weightnorm_config(steps: int, *, seed: int = 0) -> TrainConfig:
    """Xu et al.'s CPU stand-in (xu2023 cpu scale): weight-normalised 4-layer ReLU MLP, width
    128, digits classes 1/2, SGD batch 32, momentum 0.9, ρ decay 1e-3 (the torch.func path)."""
    return apply_overrides(TrainConfig(), [
        "data.name=digits", "data.classes=[1,2]", "model.arch=weightnorm",
        "model.widths=[128,128,128]", "loss.preset=p3", "loss.targets=signed",
        "reg.scheme=rho", "reg.factor=1.0", "reg.weight_decay=0.001", "optim.name=sgd",
        "optim.lr=0.03", "optim.momentum=0.9", "optim.batch_size=32", f"optim.steps={steps}",
        "probe.enabled=false", f"seed={seed}",
    ])


def resnet_config(steps: int, *, seed: int = 0) -> TrainConfig:
    """ResNet20 + a 2-layer head (width 64) on 100 digits (8 x 8), float32, SGD batch 50,
    momentum 0.9, weight decay 5e-4 (the torch.func path, BatchNorm buffers stacked)."""
    return apply_overrides(TrainConfig(), [
        "data.name=digits", "data.n_per_class=10", "model.arch=resnet20", "model.widths=[64]",
        "model.n_linear=1", "loss.preset=torch_mse", "reg.weight_decay=5e-4", "optim.name=sgd",
        "optim.lr=0.05", "optim.momentum=0.9", "optim.batch_size=50", f"optim.steps={steps}",
        "probe.enabled=false", f"seed={seed}",
    ])


def hand_dufm(steps: int, *, n: int = 50, seed: int = 0):
    """Plain PyTorch: (1/2N)||W4 σ(W3 σ(W2 σ(W1 H1))) − Y||² + (λ/2)(Σ||W_l||² + ||H1||²),
    ``torch.optim.SGD``. Returns (seconds, model)."""
    t0 = time.perf_counter()
    K, N = 10, 10 * n
    net = DUFM(N, [30, 30, 30, 30], K).double()
    init_weights(net, "lecun_normal", seed=seed)
    Y = F.one_hot(torch.arange(K).repeat_interleave(n), K).double()
    params = list(net.parameters())
    opt = torch.optim.SGD(params, lr=0.5)
    for _ in range(steps):
        loss = F.mse_loss(net(), Y, reduction="sum") * (1 / (2 * N))
        loss = loss + LAM_DUFM / 2 * sum(p.square().sum() for p in params)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return time.perf_counter() - t0, net


def hand_mlp(steps: int, *, seed: int = 0):
    """Plain PyTorch: shuffled batches of 100, mean MSE + (λ/2)||θ||², SGD momentum 0.9.
    Returns (seconds, model)."""
    t0 = time.perf_counter()
    data = load_dataset("fashion-mnist", n_per_class=100, data_dir=FMNIST)
    X, y = data.X, data.y
    net = MLP(784, [128] * 8 + [10], ["relu"] * 5 + [None] * 4, n_backbone=2)
    init_weights(net, "default", seed=seed)
    Y = F.one_hot(y, 10).float()
    params = list(net.parameters())
    opt = torch.optim.SGD(params, lr=0.05, momentum=0.9)
    g = torch.Generator().manual_seed(batch_seed(seed))
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
