import math

import pytest
import torch

from nclab.models import DUFM, MLP, SCHEMES, ResNet20, WeightNormNet, init_weights


def params(model):
    return [p.detach().clone() for p in model.parameters()]


@pytest.mark.parametrize("scheme", SCHEMES)
def test_same_seed_same_weights_across_models_and_dtypes(scheme):
    a = init_weights(MLP(6, [5, 7, 3], bias=True), scheme, 1.3, seed=11)
    b = init_weights(MLP(6, [5, 7, 3], bias=True), scheme, 1.3, seed=11)
    c = init_weights(MLP(6, [5, 7, 3], bias=True), scheme, 1.3, seed=12)
    assert all(torch.equal(p, q) for p, q in zip(params(a), params(b), strict=True))
    assert not all(torch.equal(p, q) for p, q in zip(params(a), params(c), strict=True))
    d = init_weights(MLP(6, [5, 7, 3], bias=True).double(), scheme, 1.3, seed=11)
    for p, q in zip(params(a), params(d), strict=True):
        torch.testing.assert_close(p.double(), q, atol=1e-7, rtol=0)
    g = torch.Generator().manual_seed(11)
    e = init_weights(MLP(6, [5, 7, 3], bias=True), scheme, 1.3, generator=g)
    assert all(torch.equal(p, q) for p, q in zip(params(a), params(e), strict=True))


def test_lecun_normal_variance_dense_and_conv():
    net = init_weights(MLP(400, [500, 10]), "lecun_normal", seed=0)
    w = net.layers[0].weight.detach()
    assert abs(float(w.mean())) < 3e-3
    assert float(w.var()) * 400 == pytest.approx(1.0, abs=0.02)  # 2e5 entries: sd ~ 0.003
    conv = torch.nn.Conv2d(20, 300, 5, bias=True)
    init_weights(conv, "lecun_normal", seed=1)
    assert float(conv.weight.detach().var()) * (20 * 25) == pytest.approx(1.0, abs=0.02)
    assert torch.all(conv.bias == 0)


def test_default_is_pytorch_uniform_and_scale_multiplies():
    net = init_weights(MLP(300, [400, 2], bias=True), "default", seed=0)
    w, b = net.layers[0].weight.detach(), net.layers[0].bias.detach()
    bound = 1 / math.sqrt(300)
    assert float(w.abs().max()) <= bound and float(w.abs().max()) > 0.99 * bound
    assert float(w.var()) * 3 * 300 == pytest.approx(1.0, abs=0.02)  # U(-b, b): var b^2/3
    assert float(b.abs().max()) <= bound
    torch_default = torch.nn.Linear(300, 400)  # PyTorch's own reset: same distribution
    assert float(torch_default.weight.detach().var()) * 900 == pytest.approx(1.0, abs=0.02)
    scaled = init_weights(MLP(300, [400, 2], bias=True), "scaled", 0.25, seed=0)
    for p, q in zip(params(net), params(scaled), strict=True):
        torch.testing.assert_close(0.25 * p, q)


@pytest.mark.parametrize("rows, cols", [(8, 20), (20, 8), (12, 12)])
def test_orthogonal_is_semi_orthogonal_times_scale(rows, cols):
    lin = torch.nn.Linear(cols, rows, bias=False).double()
    init_weights(lin, "orthogonal", 2.0, seed=3)
    W = lin.weight
    gram = W @ W.T if rows <= cols else W.T @ W
    torch.testing.assert_close(gram, 4.0 * torch.eye(min(rows, cols), dtype=torch.float64))
    s = torch.linalg.svdvals(W)
    torch.testing.assert_close(s, torch.full_like(s, 2.0))


def test_orthogonal_conv_kernels_are_orthogonal_as_matrices():
    conv = torch.nn.Conv2d(4, 6, 3, bias=False).double()
    init_weights(conv, "orthogonal", seed=0)
    W = conv.weight.reshape(6, -1)
    torch.testing.assert_close(W @ W.T, torch.eye(6, dtype=torch.float64))


@torch.no_grad()
def test_orthogonal_draws_are_not_all_the_same_direction():
    lins = [torch.nn.Linear(3, 3, bias=False) for _ in range(50)]
    nets = [init_weights(lin, "orthogonal", seed=s) for s, lin in enumerate(lins)]
    values = torch.stack([net.weight[0, 0] for net in nets])
    assert float(values.min()) < -0.5 and float(values.max()) > 0.5  # Haar: signs not fixed


@torch.no_grad()
def test_batchnorm_reset_and_hooks():
    model = ResNet20(1)
    model.stem_bn.weight.fill_(3.0)
    model.stem_bn.running_mean.fill_(5.0)
    init_weights(model, "lecun_normal", seed=0)
    assert torch.all(model.stem_bn.weight == 1) and torch.all(model.stem_bn.running_mean == 0)
    dufm = DUFM.uniform(30, 2, 4, 2, feature_std=2.0)
    h_before = dufm.H1.detach().clone()
    init_weights(dufm, "orthogonal", seed=0)
    assert not torch.equal(h_before, dufm.H1)
    wn = WeightNormNet.mlp(3, [4, 2])
    init_weights(wn, "lecun_normal", 3.0, seed=0)
    assert float(wn.rho) == pytest.approx(math.prod(wn.layer_norms()), rel=1e-6)


def test_bad_arguments():
    net = MLP(3, [2])
    with pytest.raises(ValueError, match="unknown init scheme 'xavier'"):
        init_weights(net, "xavier")
    with pytest.raises(ValueError, match="scale"):
        init_weights(net, "default", 0.0)
    with pytest.raises(ValueError, match="either seed or generator"):
        init_weights(net, seed=1, generator=torch.Generator())
