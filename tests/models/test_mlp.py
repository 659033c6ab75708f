import pytest
import torch

from nclab.models import MLP, SmoothLeakyReLU


def test_jacot_eq1_structure():
    net = MLP.with_linear_head(10, 16, 4, n_nonlinear=3, n_linear=2)
    assert net.depth == 5 and net.is_linear == (False, False, False, True, True)
    assert [tuple(m.weight.shape) for m in net.layers] == [(16, 10)] + [(16, 16)] * 3 + [(4, 16)]
    assert all(m.bias is None for m in net.layers)  # bias-free by default
    x = torch.randn(7, 10)
    z = x
    for i, m in enumerate(net.layers):
        z = z @ m.weight.T
        if i < 3:
            z = torch.relu(z)
    torch.testing.assert_close(net(x), z)


def test_single_activation_with_n_linear_and_all_tanh():
    net = MLP(5, [8, 8, 3], "tanh", n_linear=0)  # Zangrando et al. §5.2: tanh everywhere
    assert net.is_linear == (False, False, False)
    assert float(net(torch.randn(4, 5) * 100).detach().abs().max()) <= 1.0
    assert MLP(5, [8, 3]).is_linear == (False, True)  # default: linear output layer


def test_per_layer_activations_and_modules():
    act = SmoothLeakyReLU(0.2, 2.0)
    net = MLP(3, [4, 4, 2], [act, "leaky_relu", None], bias=True)
    assert net.activations[0] is act and net.is_linear == (False, False, True)
    x = torch.randn(6, 3, dtype=torch.float64)
    net = net.double()
    h1 = act(net.layers[0](x))
    h2 = torch.nn.functional.leaky_relu(net.layers[1](h1), 0.01)
    torch.testing.assert_close(net(x), net.layers[2](h2))


def test_residual_layers():
    net = MLP(4, [4, 4, 2], "tanh", residual=[True, True, False]).double()
    x = torch.randn(3, 4, dtype=torch.float64)
    z1 = torch.tanh(x @ net.layers[0].weight.T) + x
    z2 = torch.tanh(z1 @ net.layers[1].weight.T) + z1
    torch.testing.assert_close(net(x), z2 @ net.layers[2].weight.T)
    outs = net.layer_outputs(x)
    assert not outs[1].is_linear and torch.equal(outs[1].post, z1)
    with pytest.raises(ValueError, match="layer2 is residual but maps 4 -> 5"):
        MLP(4, [4, 5, 2], residual=[False, True, False])


def test_parts_flattened_images_and_dtypes():
    net = MLP(16, [8, 8, 8, 3], n_backbone=2)
    parts = [o.part for o in net.layer_outputs(torch.randn(2, 16))]
    assert parts == ["input", "backbone", "backbone", "head", "head"]
    assert [n for n, _ in net.head_weights()] == ["layer3", "layer4"]
    images = torch.randn(2, 1, 4, 4)
    torch.testing.assert_close(net(images), net(images.reshape(2, 16)))
    for dtype in (torch.float32, torch.float64):
        assert net.to(dtype)(torch.randn(2, 16, dtype=dtype)).dtype == dtype


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(in_features=0, widths=[3]), "positive"),
        (dict(in_features=3, widths=[]), "positive"),
        (dict(in_features=3, widths=[4, 2], activations=["relu"]), "1 entries but the network"),
        (dict(in_features=3, widths=[4, 2], activations=["relu", None], n_linear=1), "n_linear"),
        (dict(in_features=3, widths=[4, 2], n_linear=3), r"n_linear must lie in \[0, 2\]"),
        (dict(in_features=3, widths=[4, 2], n_backbone=3), "n_backbone"),
        (dict(in_features=3, widths=[4, 2], activations="swish"), "unknown activation"),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        MLP(**kwargs)
    with pytest.raises(ValueError, match="at least one layer"):
        MLP.with_linear_head(3, 4, 2, 0, 0)
