import pytest
import torch

from nclab.models import MLP, ResNet20


def n_params(model):
    return sum(p.numel() for p in model.parameters())


def test_parameter_count_is_he_et_al_resnet20():
    model = ResNet20(3, num_classes=10)
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    assert len(convs) == 19  # 1 stem + 3 stages x 3 blocks x 2; option A adds none
    conv = 3 * 16 * 9 + 6 * 16 * 16 * 9 + (16 * 32 + 5 * 32 * 32) * 9 + (32 * 64 + 5 * 64 * 64) * 9
    bn = 2 * (16 + 6 * 16 + 6 * 32 + 6 * 64)
    assert n_params(model) == conv + bn + 64 * 10 == 269_712  # "0.27M" in He et al. Table 6


@pytest.mark.parametrize("channels, size", [(1, 28), (3, 32)])
@torch.no_grad()
def test_fashion_mnist_and_cifar_inputs(channels, size):
    torch.manual_seed(0)
    model = ResNet20.with_head(channels, 10).eval()
    x = torch.randn(2, channels, size, size)
    out = model(x)
    assert out.shape == (2, 10)
    torch.testing.assert_close(model(x.reshape(2, -1)), out)  # flattened images accepted
    h = model.features(x)
    assert h.shape == (2, 64) and float(h.min()) >= 0.0  # pooled after the last ReLU
    torch.testing.assert_close(model.head(h), out)
    spatial = {o.name: o.pre.shape[1] for o in model.layer_outputs(x)}
    side = [size, (size + 1) // 2, (size + 3) // 4]
    for s, c in enumerate((16, 32, 64)):
        assert spatial[f"stage{s + 1}.block3.conv2"] == c * side[s] ** 2


def test_option_a_shortcut_is_parameter_free_subsample_and_zero_pad():
    block = ResNet20(3).blocks[3]  # first block of stage 2: 16 -> 32 channels, stride 2
    x = torch.randn(2, 16, 8, 8)
    s = block.shortcut(x)
    assert s.shape == (2, 32, 4, 4)
    assert torch.equal(s[:, 8:24], x[:, :, ::2, ::2])
    assert torch.all(s[:, :8] == 0) and torch.all(s[:, 24:] == 0)


def test_head_structure_float64_and_layer_outputs_keep_bn_stats():
    model = ResNet20.with_head(3, 10, width=32, n_nonlinear=3, n_linear=3).double()
    outs = model.layer_outputs(torch.randn(4, 3, 8, 8, dtype=torch.float64))
    head = [o for o in outs if o.part == "head"]
    assert [o.is_linear for o in head] == [False, False, False, True, True, True]
    assert [o.name for o in head] == [f"head.layer{i}" for i in range(1, 7)]
    assert head[0].input == "pool"
    model.train()
    x = torch.randn(4, 3, 8, 8, dtype=torch.float64)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    model.layer_outputs(x)
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    model(x)  # a real training forward does update the running statistics
    assert not torch.equal(before["stem_bn.running_mean"], model.stem_bn.running_mean)


def test_bad_inputs():
    model = ResNet20(3)
    with pytest.raises(ValueError, match="3 channels"):
        model(torch.randn(2, 1, 8, 8))
    with pytest.raises(ValueError, match="flattened square images"):
        model(torch.randn(2, 100))
    with pytest.raises(ValueError, match="in_features=64"):
        ResNet20(3, MLP(32, [10]))
    with pytest.raises(ValueError, match="in_channels"):
        ResNet20(0)
