"""Every training setup of experiments.md Part C can be written as a config; the built model,
objective and batches have the structure the paper describes. Datasets that are not on this
machine (MNIST, CIFAR-10) are replaced by empty stand-ins of the same shape."""

import math

import pytest
import torch

from nclab.data import Dataset
from nclab.models import DUFM, MLP, ResNet20, WeightNormNet
from nclab.train import TrainConfig, apply_overrides, build_data, build_model, build_regularizer
from nclab.train.losses import fit_scale

P0_CPU = ["data.name=digits", "data.split=all", "data.n_per_class=50", "model.widths=[32]*7",
          "model.n_linear=3", "model.n_backbone=2", "loss.preset=torch_mse", "reg.weight_decay=2e-3",
          "optim.lr=0.05", "optim.steps=40000", "schedule.name=step", "dtype=float64"]
DUFM4 = ["data.name=labels", "data.K=10", "data.n_per_class=50", "model.arch=dufm",
         "model.widths=[30,30,30,30]", "loss.preset=p2_dufm", "reg.scheme=dufm",
         "reg.weight_decay=0.004", "reg.feature_decay=0.004", "optim.lr=0.5", "optim.steps=100000",
         "dtype=float64"]
RESNET = ["data.name=cifar10", "model.arch=resnet20", "optim.name=sgd", "optim.batch_size=128"]
XU = ["data.name=cifar10", "data.classes=[1,2]", "data.n_per_class=5000", "data.test_split=test",
      "data.test_n_per_class=1000", "model.arch=weightnorm", "model.widths=[1024]",
      "model.conv_channels=[32,64,128,128]", "model.strides=[1,2,1,2]", "loss.preset=p3",
      "reg.scheme=rho", "reg.factor=1.0", "reg.weight_decay=1e-3", "optim.name=sgd",
      "optim.lr=0.03", "optim.momentum=0.9", "optim.batch_size=128", "schedule.name=cosine"]

SETUPS = {
    # P0 -- Jacot et al.
    "P0-F1": RESNET + ["model.widths=[64]*5", "model.n_linear=3", "loss.preset=torch_mse",
                       "reg.weight_decay=1e-3", "optim.lr=1e-3", "optim.epochs=5000",
                       "schedule.name=step"],
    "P0-F1-cpu": P0_CPU,
    "P0-F4": ["data.name=mnist", "model.widths=[256]*8", "model.n_linear=4", "model.n_backbone=2",
              "reg.weight_decay=0.0018", "optim.name=sgd", "optim.lr=1e-3", "optim.batch_size=128",
              "optim.epochs=10000", "schedule.name=step"],
    "P0-F2-mlp": P0_CPU + ["model.widths=[64]*6", "model.n_linear=2", "reg.weight_decay=4e-3"],
    "P0-F2-resnet": RESNET + ["model.widths=[64]*4", "model.n_linear=4", "reg.weight_decay=4e-3",
                              "optim.lr=1e-3", "optim.epochs=5000", "schedule.name=step"],
    "P0-F3": P0_CPU + ["model.widths=[64]*11", "model.n_linear=2", f"reg.weight_decay={0.016/12}",
                       "optim.lr=2e-3", "optim.steps=20000"],
    # P1 -- Zangrando et al.
    "P1-F1": ["data.name=gaussian-mixture", "data.n_per_class=50", "data.options.dim=32",
              "data.options.sigma=0.1", "model.widths=[64]*3", "model.activation=tanh",
              "model.bias=true", "loss.preset=p1_eq3", "reg.factor=1.0", "reg.weight_decay=1e-3",
              "optim.name=adam", "optim.lr=1e-3", "optim.steps=5000"],
    "P1-F2": ["data.name=digits", "data.n_per_class=20", "model.widths=[200]*4",
              "model.activation=tanh", "model.n_linear=0", "loss.preset=p0_theory",
              "reg.weight_decay=1e-5", "reg.first_layer_factor=2", "reg.activation_decay=1e-5",
              "optim.name=adam", "optim.lr=1e-3", "dtype=float64"],
    "P1-F3": ["data.name=digits", "data.n_per_class=20", "model.widths=[200]*9",
              "model.activation=tanh", "model.n_linear=0", "model.init=orthogonal",
              "loss.preset=p0_theory", "reg.weight_decay=1e-5", "reg.first_layer_factor=0",
              "reg.activation_decay=1e-5", "optim.name=adam", "optim.lr=1e-3", "dtype=float64"],
    "P1-F5": ["data.name=digits", "data.n_per_class=20", "model.widths=[64]*5",
              "model.activation=tanh", "model.n_linear=0",
              "model.residual=[false,true,true,true,true,false]", "loss.preset=p0_theory",
              "reg.weight_decay=1e-5", "reg.first_layer_factor=0.1", "reg.activation_decay=1e-5"],
    # P2 -- Súkeník et al.
    "P2-F2-top": DUFM4,
    "P2-F2-bottom": RESNET + ["model.widths=[64]*3", "loss.preset=p2_dufm",
                              "reg.scheme=dufm_like", "reg.weight_decay=0.005",
                              "reg.feature_decay=5e-6", "optim.lr=0.05", "optim.epochs=300"],
    "P2-F2-bottom-cpu": ["data.name=digits", "data.split=all", "model.widths=[64]*5",
                         "model.n_backbone=2", "loss.preset=p2_dufm", "reg.scheme=dufm_like",
                         "reg.weight_decay=0.005", "reg.feature_decay=5e-6", "optim.lr=0.05"],
    "P2-F3-middle": DUFM4 + ["data.K=15", f"reg.weight_decay={2**-8}",
                             f"reg.feature_decay={2**-8}", "optim.steps=50000"],
    "P2-F3-right": DUFM4 + ["model.widths=[128]*4"],
    "P2-F4": RESNET + ["model.widths=[64]*4", "loss.preset=p2_dufm", "reg.weight_decay=0.08",
                       "optim.lr=0.005", "optim.epochs=300"],
    "P2-F5": DUFM4 + ["data.K=4"],
    "P2-F6": DUFM4 + ["data.K=15", "model.widths=[30]*7", "reg.weight_decay=0.0025",
                      "reg.feature_decay=0.0025", "optim.steps=200000"],
    # P3 -- Xu et al.
    "P3-F3": XU + ["model.init_scale=0.9", "optim.epochs=1000"],
    "P3-F4": XU + ["data.label_noise=0.4", "optim.epochs=1000"],
    "P3-F6": XU + ["model.init_scale=0.1", "data.n_per_class=500", "optim.epochs=300"],
    "P3-F7": XU + ["model.widths=[]", "model.conv_channels=[32,64]", "model.strides=[3]",
                   "optim.batch_size=32"],
    "P3-F9": XU + ["reg.weight_decay=5e-4", "optim.lr=0.067", "optim.epochs=750",
                   "schedule.name=step", "schedule.milestones=[0.5,0.75]"],
    "P3-F10": XU + ["reg.weight_decay=0", "model.init_scale=1.5"],
    "P3-cpu": ["data.name=digits", "data.split=all", "data.classes=[0,1]", "data.unit_ball=true",
               "model.arch=weightnorm", "model.widths=[128]*3", "loss.preset=p3",
               "loss.targets=signed", "reg.scheme=rho", "reg.factor=1.0", "reg.weight_decay=1e-3",
               "optim.name=sgd", "optim.batch_size=32", "optim.sampler=class_balanced",
               "optim.lr=0.03", "optim.epochs=300", "model.init_scale=1.5"],
}


def _expand(overrides):
    """``[32]*7`` shorthand in the table above -> an explicit list."""
    out = []
    for item in overrides:
        key, value = item.split("=", 1)
        if value.startswith("[") and "]*" in value:
            inner, times = value[1:].split("]*")
            value = "[" + ",".join([inner] * int(times)) + "]"
        out.append(f"{key}={value}")
    return out


def config(name: str) -> TrainConfig:
    return apply_overrides(TrainConfig(), _expand(SETUPS[name]))


def stand_in(cfg: TrainConfig) -> Dataset:
    """Empty data of the right shape for datasets that are not installed."""
    shape = {"cifar10": (3, 32, 32), "mnist": (1, 28, 28)}[cfg.data.name]
    K = len(cfg.data.classes) if cfg.data.classes else 10
    y = torch.arange(K).repeat(2)
    return Dataset(torch.zeros(2 * K, math.prod(shape)), y, K, cfg.data.name, image_shape=shape)


def model_for(name: str):
    cfg = config(name)
    if cfg.data.name in ("cifar10", "mnist"):
        return cfg, build_model(cfg, stand_in(cfg))
    return cfg, build_model(cfg)


@pytest.mark.parametrize("name", sorted(SETUPS))
def test_every_part_c_setup_is_a_valid_config(name):
    cfg = config(name)
    assert cfg.optim.lr > 0


def test_p0_heads():
    _, net = model_for("P0-F1")
    assert isinstance(net, ResNet20)
    assert net.head.is_linear == (False, False, False, True, True, True)
    _, mlp = model_for("P0-F4")
    assert mlp.depth == 9 and mlp.is_linear == (False,) * 5 + (True,) * 4
    assert [o.part for o in mlp.layer_outputs(torch.zeros(2, 784))][1:4] == [
        "backbone", "backbone", "head"]
    cfg, cpu = model_for("P0-F1-cpu")
    assert cpu.is_linear == (False,) * 5 + (True,) * 3 and cpu.widths[-1] == 10
    assert cfg.schedule.milestones == (0.8,) and cfg.schedule.gamma == 0.1
    _, f3 = model_for("P0-F3")
    assert f3.depth == 12
    reg = build_regularizer(f3, config("P0-F3").reg)
    assert {c for _, c, _ in reg.terms} == {0.5 * 0.016 / 12}  # (λ/2)||W||², λ = 0.016 / L


def test_p1_objectives():
    cfg, net = model_for("P1-F1")
    assert isinstance(net, MLP) and net.layers[0].bias is not None
    terms = build_regularizer(net, cfg.reg).terms
    assert any(name == "reg/other" for name, _, _ in terms)  # λ||Θ||² includes the biases
    assert {c for _, c, _ in terms} == {1e-3}  # factor 1: λ||Θ||², Zangrando et al. eq. (3)
    cfg, net = model_for("P1-F2")
    coef = {name: c for name, c, _ in build_regularizer(net, cfg.reg).terms}
    assert coef["reg/layer1"] == pytest.approx(1e-5 * 2 / 2) and coef["reg/layer2"] == 1e-5 / 2
    assert net.is_linear == (False,) * 5  # all tanh, Part D #17
    cfg, net = model_for("P1-F3")
    assert "reg/layer1" not in {n for n, _, _ in build_regularizer(net, cfg.reg).terms}  # δ = 0
    s = torch.linalg.svdvals(net.layers[1].weight.double())
    assert torch.allclose(s, torch.ones_like(s))  # random orthogonal ("unitary") init
    _, net = model_for("P1-F5")
    assert net.residual == (False, True, True, True, True, False)


def test_p2_dufm_and_dufm_like():
    cfg, net = model_for("P2-F2-top")
    assert isinstance(net, DUFM) and net.H1.shape == (30, 500) and net.L == 4
    assert net.H1.dtype == torch.float64
    reg = build_regularizer(net, cfg.reg)
    assert len(reg.terms) == 4 and reg.feature_coef == 0.002  # λ_W/2 per layer, λ_H1/2
    assert fit_scale(cfg.loss.preset, 500, 10) == 1 / 1000  # 1/(2N)
    cfg, net = model_for("P2-F2-bottom")
    names = {n for n, _, _ in build_regularizer(net, cfg.reg).terms}
    assert names == {"reg/head.layer1", "reg/head.layer2", "reg/head.layer3", "reg/head.layer4"}
    assert build_regularizer(net, cfg.reg).feature_coef == 0.5 * 5e-6
    cfg, net = model_for("P2-F2-bottom-cpu")
    assert [o.part for o in net.layer_outputs(torch.zeros(2, 64))][1:4] == [
        "backbone", "backbone", "head"]
    cfg, net = model_for("P2-F4")
    names = {n for n, _, _ in build_regularizer(net, cfg.reg).terms}
    assert "reg/stem" in names and "reg/other" in names  # BatchNorm affine too (Part D #36)
    _, net = model_for("P2-F6")
    assert net.L == 7 and net.n_classes == 15


def test_p3_weight_normalised_nets():
    cfg, net = model_for("P3-F3")
    assert isinstance(net, WeightNormNet)
    n_weights = sum(p.numel() for n, p in net.named_parameters() if n != "rho")
    assert n_weights == 3_519_328  # Part C.4 [checked]: + 6 frozen gains + ρ = 3 519 335
    reg = build_regularizer(net, cfg.reg)
    assert [(n, c) for n, c, _ in reg.terms] == [("reg/rho", 1e-3)]  # λρ², only ρ
    rho = float(net.rho.detach())
    assert rho == pytest.approx(math.prod(net.layer_norms()), rel=1e-5)  # ρ₀ = Π ||U_k||
    cfg, net = model_for("P3-F7")
    assert 15_000 < sum(p.numel() for p in net.parameters()) < 25_000  # "≈ 20K parameters"
    cfg = config("P3-F9")
    assert cfg.schedule.milestones == (0.5, 0.75)
    cfg, net = model_for("P3-cpu")
    assert net.fcs[-1].out_features == 1 and cfg.loss.target_kind == "signed"
    data = build_data(cfg).train
    assert data.K == 2 and float(data.X.norm(dim=1).max()) == pytest.approx(1.0)
