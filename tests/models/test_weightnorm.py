import pytest
import torch
from torch.nn import functional as F

from nclab.models import WeightNormNet, init_weights


def unnormalised_forward(net, x):
    """The plain network with the raw parameters U_k (Xu et al.: f_W = rho f_V)."""
    z = x
    for conv in net.convs:
        z = F.relu(F.conv2d(z, conv.weight, stride=conv.stride, padding=conv.padding))
    z = z.reshape(z.shape[0], -1)
    for k, fc in enumerate(net.fcs):
        z = z @ fc.weight.T
        if k < len(net.fcs) - 1:
            z = F.relu(z)
    return z


@pytest.mark.parametrize(
    "make, shape",
    [
        (lambda: WeightNormNet.mlp(5, [7, 7, 3]), (6, 5)),
        (
            lambda: WeightNormNet([6, 2], conv_channels=(3, 4), in_channels=1, image_size=8),
            (4, 1, 8, 8),
        ),
    ],
)
def test_rho_equals_product_of_norms_and_function_matches_plain_net(make, shape):
    torch.manual_seed(0)
    net = make().double()
    x = torch.randn(*shape, dtype=torch.float64)
    prod = torch.tensor(net.layer_norms(), dtype=torch.float64).prod()
    torch.testing.assert_close(net.rho.detach(), prod)
    torch.testing.assert_close(net(x), unnormalised_forward(net, x))
    for _, v in net.normalized_weights():
        torch.testing.assert_close(torch.linalg.matrix_norm(v), torch.ones((), dtype=v.dtype))


def test_output_ignores_weight_scale_and_is_linear_in_rho():
    net = WeightNormNet.mlp(4, [6, 6, 2]).double()
    x = torch.randn(5, 4, dtype=torch.float64)
    out = net(x)
    with torch.no_grad():
        net.fcs[1].weight.mul_(7.0)  # only directions matter
        net.rho.mul_(3.0)
    torch.testing.assert_close(net(x), 3.0 * out)
    params = dict(net.named_parameters())
    assert set(params) == {"rho", "fcs.0.weight", "fcs.1.weight", "fcs.2.weight"}  # no biases


@torch.no_grad()
def test_init_scale_multiplies_rho_by_scale_to_the_depth():
    net = WeightNormNet.mlp(4, [6, 6, 2])
    init_weights(net, "default", 1.0, seed=5)
    v1, rho1 = [v.clone() for _, v in net.normalized_weights()], float(net.rho)
    init_weights(net, "scaled", 0.5, seed=5)
    assert float(net.rho) == pytest.approx(rho1 * 0.5**3, rel=1e-6)
    for a, (_, b) in zip(v1, net.normalized_weights(), strict=True):
        torch.testing.assert_close(a, b)


def test_exposed_last_weight_is_rho_times_v():
    net = WeightNormNet.mlp(4, [6, 2])
    weights = dict(net.weight_matrices())
    v_last = net.normalized_weights()[-1][1]
    torch.testing.assert_close(weights["fc2"], net.rho * v_last)
    torch.testing.assert_close(weights["fc1"], net.normalized_weights()[0][1])


def test_xu2023_six_layer_network():
    net = WeightNormNet.xu2023_cifar()
    weights = sum(p.numel() for n, p in net.named_parameters() if n != "rho")
    assert weights == 3_519_328  # Xu et al. Fig. 6: 3 519 335 = weights + 6 frozen gains + rho
    with torch.no_grad():
        outs = net.layer_outputs(torch.randn(2, 3, 32, 32))
    shapes = {o.name: o.pre.shape[1] for o in outs}
    assert shapes["conv4"] == 3200 and shapes["fc1"] == 1024 and shapes["fc2"] == 2
    assert [o.part for o in outs].count("backbone") == 4
    assert [n for n, _ in net.head_weights()] == ["fc1", "fc2"]
    scalar = WeightNormNet.xu2023_cifar(out_features=1)
    assert scalar(torch.randn(3, 3072)).shape == (3, 1)


def test_bad_configurations():
    with pytest.raises(ValueError, match="in_channels and image_size"):
        WeightNormNet([2], conv_channels=(3,), in_features=10)
    with pytest.raises(ValueError, match="in_features"):
        WeightNormNet([2])
    with pytest.raises(ValueError, match="maps 2x2 images to nothing"):
        WeightNormNet([2], conv_channels=(3, 3), in_channels=1, image_size=4)
    with pytest.raises(ValueError, match="strides has 1 entries for 2 conv layers"):
        WeightNormNet([2], conv_channels=(3, 3), in_channels=1, image_size=9, strides=[1])
