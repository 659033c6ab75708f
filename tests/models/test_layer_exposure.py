"""The layer-exposure protocol, checked identically on every model."""

import pytest
import torch
from torch.nn import functional as F

import nclab.models.layers as layers_mod
from nclab.models import (
    DUFM,
    MLP,
    ResNet20,
    WeightNormNet,
    consumer_of,
    layer_input,
    outputs_by_name,
)


def _mlp():
    return MLP.with_linear_head(6, 8, 3, n_nonlinear=3, n_linear=2, n_backbone=1), (5, 6)


def _mlp_bias_tanh():
    return MLP(6, [7, 7, 3], ["tanh", "smooth_leaky_relu", None], bias=True), (5, 6)


def _residual():
    return MLP(4, [4, 4, 4, 2], "tanh", residual=[False, True, True, False]), (5, 4)


def _dufm():
    return DUFM.uniform(12, 3, 5, 4), None


def _resnet():
    return ResNet20.with_head(1, 4, width=8, n_nonlinear=2, n_linear=2), (3, 1, 12, 12)


def _wn_mlp():
    return WeightNormNet.mlp(6, [9, 9, 3]), (5, 6)


def _wn_cnn():
    net = WeightNormNet([7, 2], conv_channels=(3, 4), in_channels=2, image_size=9, strides=(1, 2))
    return net, (4, 2, 9, 9)


MODELS = [_mlp, _mlp_bias_tanh, _residual, _dufm, _resnet, _wn_mlp, _wn_cnn]


def build(factory, dtype=torch.float64):
    torch.manual_seed(0)
    model, shape = factory()
    model = model.to(dtype)
    x = None if shape is None else torch.randn(*shape, dtype=dtype)
    return model, x


def run_forward(model, x):
    return model() if x is None else model(x)


@pytest.mark.parametrize("factory", MODELS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_last_layer_equals_forward_and_shapes(factory, dtype):
    model, x = build(factory, dtype)
    outs = model.layer_outputs(x)
    out = run_forward(model, x)
    assert outs[-1].post.dtype == dtype
    torch.testing.assert_close(outs[-1].post, out, rtol=0, atol=0)
    n = out.shape[0]
    for o in outs:
        assert o.pre.ndim == 2 and o.post.shape == o.pre.shape and o.pre.shape[0] == n
        assert o.part in layers_mod.PARTS and o.kind in layers_mod.KINDS
        assert o.has_weight == (o.kind in ("dense", "conv"))
        if o.is_linear:
            assert o.post is o.pre


@pytest.mark.parametrize("factory", MODELS)
def test_names_weights_and_chain(factory):
    model, x = build(factory)
    outs = model.layer_outputs(x)
    names = [o.name for o in outs]
    assert len(set(names)) == len(names)
    assert outs[0].input is None and outs[0].part in ("input", "features")
    assert all(o.input == p.name for p, o in zip(outs, outs[1:], strict=False))
    weights = model.weight_matrices()
    assert [n for n, _ in weights] == [o.name for o in outs if o.has_weight]
    assert all(w.ndim == 2 for _, w in weights)
    head = model.head_weights()
    assert [n for n, _ in head] == [o.name for o in outs if o.has_weight and o.part == "head"]
    for name, w in head:
        assert torch.equal(w, dict(weights)[name])


@pytest.mark.parametrize("factory", MODELS)
def test_dense_pre_activation_is_weight_times_input(factory):
    model, x = build(factory)
    outs = model.layer_outputs(x)
    weights = dict(model.weight_matrices())
    biases = {
        f"{prefix}layer{i + 1}": lin.bias
        for prefix, mlp in (("", model), ("head.", getattr(model, "head", None)))
        if isinstance(mlp, MLP)
        for i, lin in enumerate(mlp.layers)
    }
    checked = 0
    for o in outs:
        if o.kind != "dense":
            continue  # conv layers: the flattened kernel is not the feature-map operator
        z = layer_input(outs, o.name)
        expected = z @ weights[o.name].T
        if biases.get(o.name) is not None:
            expected = expected + biases[o.name]
        torch.testing.assert_close(o.pre, expected)
        checked += 1
        consumer = consumer_of(outs, o.input)
        assert consumer == o.name
    assert checked >= 2


def test_helpers_errors():
    model, x = build(_mlp)
    outs = model.layer_outputs(x)
    assert consumer_of(outs, outs[-1].name) is None
    assert set(outputs_by_name(outs)) == {o.name for o in outs}
    with pytest.raises(ValueError, match="no layer named"):
        layer_input(outs, "layer99")
    with pytest.raises(ValueError, match="first entry"):
        layer_input(outs, "input")
    with pytest.raises(ValueError, match="no layer named"):
        consumer_of(outs, "nope")
    with pytest.raises(ValueError, match="conv_features"):
        model.layer_outputs(x, conv_features="max")
    with pytest.raises(ValueError, match="needs an input batch"):
        model.layer_outputs()


@pytest.mark.parametrize("factory", MODELS)
def test_forward_records_nothing(factory, monkeypatch):
    model, x = build(factory)

    def fail(*args, **kwargs):
        raise AssertionError("forward must not record layers")

    monkeypatch.setattr(layers_mod.Recorder, "add", fail)
    run_forward(model, x)


@pytest.mark.parametrize("factory", [_resnet, _wn_cnn])
def test_pooled_conv_features(factory):
    model, x = build(factory)
    flat = outputs_by_name(model.layer_outputs(x))
    pooled = outputs_by_name(model.layer_outputs(x, conv_features="pool"))
    conv_names = [n for n, w in model.weight_matrices() if n.split(".")[-1].startswith("conv")]
    assert conv_names
    assert pooled["input"].post.shape == flat["input"].post.shape == (x.shape[0], x[0].numel())
    for name in conv_names:
        channels = dict(model.weight_matrices())[name].shape[0]
        assert pooled[name].post.shape == (x.shape[0], channels)
        maps = flat[name].post.reshape(x.shape[0], channels, -1)
        torch.testing.assert_close(pooled[name].post, maps.mean(-1))


def test_relu_layers_post_is_activation_of_pre():
    model, x = build(_resnet)
    for o in model.layer_outputs(x):
        if not o.is_linear:
            torch.testing.assert_close(o.post, F.relu(o.pre))
