"""The objective and its decomposition match hand computations of the papers' formulas."""

import pytest
import torch
from torch.nn import functional as F

from nclab.train import (
    FIT_SCALES,
    Objective,
    TrainConfig,
    apply_overrides,
    build_data,
    build_model,
    build_regularizer,
    make_targets,
    run,
)
from nclab.train.build import output_dim


def cfg_of(*overrides):
    return apply_overrides(TrainConfig(), ["dtype=float64", "optim.steps=1", "probe.points=1",
                                           *overrides])


def step0_parts(result):
    return {r["metric"]: r["value"] for r in result.records
            if r["step"] == 0 and r["layer"] == "model" and r["split"] == "train"}


def check_sums(parts, hand):
    """Every hand-computed part matches, the reg parts add up to reg, fit + reg = loss."""
    for key, value in hand.items():
        assert parts[key] == pytest.approx(value, rel=1e-12), key
    reg_terms = sum(v for k, v in parts.items() if k.startswith("reg/"))
    assert parts["reg"] == pytest.approx(reg_terms, rel=1e-12)
    assert parts["loss"] == pytest.approx(parts["fit"] + parts["reg"], rel=1e-12)


@torch.no_grad()
def test_zangrando_l_lambda_delta():
    """½||f(X)−Y||² + (λ/2)Σ_{l≥2}||W_l||² + (λδ/2)||W_1||² + (λ'/2)Σ_l ||Z^l||² (P1 §5.2)."""
    lam, delta, lam_z = 1e-2, 0.3, 2e-3
    cfg = cfg_of("data.n_per_class=6", "model.widths=[7,5]", "model.activation=tanh",
                 "model.n_linear=0", "loss.preset=p0_theory", f"reg.weight_decay={lam}",
                 f"reg.first_layer_factor={delta}", f"reg.activation_decay={lam_z}")
    with torch.enable_grad():
        result = run(cfg)
    data = build_data(cfg).train
    net = build_model(cfg, data)  # same seed: the initial weights of the run
    X, Y = data.X, F.one_hot(data.y, 10).double()
    W1, W2, W3 = (layer.weight for layer in net.layers)
    Z1 = torch.tanh(X @ W1.T)
    Z2 = torch.tanh(Z1 @ W2.T)
    Z3 = torch.tanh(Z2 @ W3.T)
    hand = {
        "fit": 0.5 * float(((Z3 - Y) ** 2).sum()),
        "reg/layer1": lam * delta / 2 * float(W1.square().sum()),
        "reg/layer2": lam / 2 * float(W2.square().sum()),
        "reg/layer3": lam / 2 * float(W3.square().sum()),
        "reg/activations": lam_z / 2 * float(sum(Z.square().sum() for Z in (Z1, Z2, Z3))),
    }
    parts = step0_parts(result)
    check_sums(parts, hand)
    assert result.loss_trace[0] == pytest.approx(parts["loss"], rel=1e-12)


@torch.no_grad()
def test_sukenik_dufm_objective():
    """(1/2N)||W_L σ(… σ(W_1 H_1)) − Y||² + Σ_l (λ_{W_l}/2)||W_l||² + (λ_{H1}/2)||H_1||² (eq. 1)."""
    lams, lam_h = (1e-3, 2e-3, 3e-3), 4e-3
    cfg = cfg_of("data.name=labels", "data.K=3", "data.n_per_class=5", "model.arch=dufm",
                 "model.widths=[6,4,4]", "loss.preset=p2_dufm", "reg.scheme=dufm",
                 f"reg.layer_decays={list(lams)}", f"reg.feature_decay={lam_h}")
    with torch.enable_grad():
        result = run(cfg)
    net = build_model(cfg)
    H1 = net.H1
    Ws = [layer.weight for layer in net.layers]
    Y = F.one_hot(torch.arange(3).repeat_interleave(5), 3).double().T  # K x N, class-sorted
    out = Ws[2] @ torch.relu(Ws[1] @ torch.relu(Ws[0] @ H1))
    hand = {"fit": float(((out - Y) ** 2).sum()) / (2 * 15),
            "reg/features": lam_h / 2 * float(H1.square().sum())}
    hand.update({f"reg/layer{i + 1}": lam / 2 * float(W.square().sum())
                 for i, (lam, W) in enumerate(zip(lams, Ws, strict=True))})
    check_sums(step0_parts(result), hand)


@torch.no_grad()
def test_minibatch_dufm_like_penalty_is_the_unbiased_batch_form():
    """Batch loss = (1/(BK))Σ_batch||·||² + Σ_head (λ/2)||W||² + (Nλ_H1/(2B))Σ_batch||h_i||²."""
    lam, lam_h = 1e-2, 3e-3
    cfg = cfg_of("data.n_per_class=4", "model.widths=[6,5,5]", "model.n_backbone=1",
                 "reg.scheme=dufm_like", f"reg.weight_decay={lam}", f"reg.feature_decay={lam_h}",
                 "optim.name=sgd", "optim.batch_size=8")
    data = build_data(cfg).train
    net = build_model(cfg, data)
    targets = make_targets(data.y, 10, cfg.loss, torch.float64)
    obj = Objective(net, cfg.loss, build_regularizer(net, cfg.reg), data.N, 10)
    idx = torch.tensor([3, 1, 4, 15, 9, 26, 5, 35])
    W = [layer.weight for layer in net.layers]
    h = torch.relu(data.X[idx] @ W[0].T)  # backbone output = features entering the head
    out = torch.relu(torch.relu(h @ W[1].T) @ W[2].T) @ W[3].T
    N, B = data.N, 8
    hand = (((out - targets[idx]) ** 2).sum() / (B * 10)
            + lam / 2 * sum(w.square().sum() for w in W[1:])
            + N * lam_h / (2 * B) * h.square().sum())
    assert float(obj(data.X[idx], targets[idx])) == pytest.approx(float(hand), rel=1e-12)
    # equal-size batches that partition the data average to the full-batch objective
    perm = torch.randperm(N, generator=torch.Generator().manual_seed(0))
    batches = [float(obj(data.X[b], targets[b])) for b in perm.split(B)]
    assert sum(batches) / len(batches) == pytest.approx(float(obj(data.X, targets)), rel=1e-12)


@torch.no_grad()
def test_xu_rho_objective_binary():
    """(1/N)Σ(ρ f_V(x_n) − y_n)² + λρ² with only ρ penalised (Xu et al. eq. 1)."""
    lam = 1e-3
    cfg = cfg_of("data.classes=[0,1]", "data.n_per_class=5", "model.arch=weightnorm",
                 "model.widths=[8,8]", "loss.preset=p3", "loss.targets=signed", "reg.scheme=rho",
                 f"reg.weight_decay={lam}", "reg.factor=1")
    with torch.enable_grad():
        result = run(cfg)
    data = build_data(cfg).train
    net = build_model(cfg, data)
    y = (2 * data.y - 1).double()
    V = [fc.normalized_weight() for fc in net.fcs]
    f_v = (torch.relu(torch.relu(data.X @ V[0].T) @ V[1].T) @ V[2].T)[:, 0]
    rho = net.rho
    hand = {"fit": float(((rho * f_v - y) ** 2).mean()), "reg/rho": lam * float(rho**2)}
    parts = step0_parts(result)
    check_sums(parts, hand)
    margins = (y * f_v).mean()
    assert parts["margin_mean"] == pytest.approx(float(margins), rel=1e-10)
    assert parts["rho"] == pytest.approx(float(rho), rel=1e-12)


@torch.no_grad()
def test_standard_decay_covers_every_parameter_with_the_half_convention():
    lam = 0.1
    cfg = cfg_of("data.n_per_class=3", "model.widths=[4]", "model.bias=true",
                 f"reg.weight_decay={lam}")
    net = build_model(cfg)
    reg = build_regularizer(net, cfg.reg)
    expected = lam / 2 * sum(float(p.square().sum()) for p in net.parameters())
    assert float(reg.penalty()) == pytest.approx(expected, rel=1e-12)
    assert sum(reg.parts().values()) == pytest.approx(expected, rel=1e-12)
    assert {name for name, _, _ in reg.terms} == {"reg/layer1", "reg/layer2", "reg/other"}


@pytest.mark.parametrize("preset", sorted(FIT_SCALES))
@torch.no_grad()
def test_presets_match_torch_and_the_papers(preset):
    cfg = cfg_of("data.n_per_class=3", "model.widths=[4]", f"loss.preset={preset}")
    data = build_data(cfg).train
    net = build_model(cfg, data)
    K = output_dim(cfg, data.K)
    targets = make_targets(data.y, K, cfg.loss, torch.float64)
    obj = Objective(net, cfg.loss, build_regularizer(net, cfg.reg), data.N, K)
    out = net(data.X)
    N = data.N
    expected = {
        "p0_theory": lambda: 0.5 * ((out - targets) ** 2).sum(),
        "torch_mse": lambda: F.mse_loss(out, targets),
        "p2_dufm": lambda: ((out - targets) ** 2).sum() / (2 * N),
        "p3": lambda: ((out - targets) ** 2).sum() / N,
        "p1_eq3": lambda: ((out - targets) ** 2).sum(1).mean(),
        "cross_entropy": lambda: F.cross_entropy(out, data.y),
    }[preset]()
    assert float(obj(data.X, targets)) == pytest.approx(float(expected), rel=1e-12)
    if preset == "p3":  # centred labels ẽ_c by default (Xu et al. §5.2)
        assert float(targets[0].sum()) == pytest.approx(0.0, abs=1e-12)


def test_run_records_the_preset():
    result = run(cfg_of("data.n_per_class=2", "model.widths=[3]", "loss.preset=p2_dufm"))
    assert result.loss_preset.startswith("p2_dufm") and "2N" in result.loss_preset
