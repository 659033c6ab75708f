"""Measures and the papers' layer names."""

import numpy as np
import pytest
import torch

from nclab.experiments.common import head_structure, p0_names, p2_head, p2_names, p3_names
from nclab.experiments.measures import (
    Context,
    gram_block_residual,
    head_layers,
    srg_gram_deviation,
)
from nclab.metrics import class_means, gram
from nclab.theory import dnc_solution, srg_solution
from nclab.train import TrainConfig, apply_overrides, build_data, build_model


def cfg(*items):
    return apply_overrides(TrainConfig(), list(items))


def test_srg_gram_pattern_is_recognised_up_to_relabelling():
    sol = srg_solution(5, 4, 1, 0.004)
    M = sol["means"][2]  # M_3, (d, K) columns = classes
    G = gram(M.T, normalize=True)
    assert srg_gram_deviation(G, 5) < 1e-10
    perm = np.random.default_rng(0).permutation(10)
    assert srg_gram_deviation(G[np.ix_(perm, perm)], 5) < 1e-10
    dnc = dnc_solution(10, 4, 1, 0.004)["means"][2]
    assert srg_gram_deviation(gram(dnc.T, normalize=True), 5) == np.inf


def test_layer_names_of_the_papers():
    dufm = cfg("data.name=labels", "data.K=3", "data.n_per_class=2", "model.arch=dufm",
               "model.widths=[5,5,5]")
    assert p2_names(dufm) == {"H1": "H1", "w:layer1": "W1", "layer1/pre": "H~2",
                              "layer1/post": "H2", "w:layer2": "W2", "layer2/pre": "H~3",
                              "layer2/post": "H3", "w:layer3": "W3", "layer3": "out"}
    mlp = cfg("model.widths=[8,8,8,8]", "model.n_backbone=2", "model.n_linear=2")
    assert head_structure(mlp) == ("layer2/post", [("layer3", False), ("layer4", True),
                                                   ("layer5", True)])
    assert p0_names(mlp)["layer2/post"] == "Z0" and p0_names(mlp)["layer4"] == "Z2"
    resnet = cfg("data.name=cifar10", "model.arch=resnet20", "model.widths=[64,64]",
                 "model.n_linear=2")
    assert p0_names(resnet) == {"pool": "Z0", "w:head.layer1": "W1", "head.layer1/pre": "Z~1",
                                "head.layer1/post": "Z1", "w:head.layer2": "W2",
                                "head.layer2": "Z2", "w:head.layer3": "W3", "head.layer3": "Z3"}
    wn = cfg("data.name=digits", "model.arch=weightnorm", "model.widths=[16,16]")
    assert p3_names(wn) == {"fc2/post": "h"}
    assert p2_head(3) == ("H1", "H~2", "H2", "H~3", "H3")


def test_context_uses_the_experiment_names_and_head_layers():
    c = cfg("data.name=labels", "data.K=3", "data.n_per_class=4", "model.arch=dufm",
            "model.widths=[6,6,6]", "dtype=float64")
    data = build_data(c)
    model = build_model(c, data.train)
    ctx = Context(model=model, config=c, train=data.train, test=None, step=0, total=1,
                  params={}, seed=0, names=p2_names(c))
    assert list(ctx.features()) == ["H1", "H~2", "H2", "H~3", "H3", "out"]
    assert head_layers(ctx) == ["H1", "H~2", "H2", "H~3", "H3"]
    assert head_layers(ctx, intermediate=True) == ["H1", "H~2", "H2", "H~3"]


def test_gram_block_residual_is_zero_at_collapse():
    c = cfg("data.name=labels", "data.K=3", "data.n_per_class=4", "model.arch=dufm",
            "model.widths=[6,6]", "dtype=float64")
    data = build_data(c)
    model = build_model(c, data.train)
    with torch.no_grad():  # collapse H1: every sample equal to its class mean
        H = model.H1.T.clone()
        M = torch.as_tensor(class_means(H, data.train.y))
        model.H1.copy_(M[data.train.y].T)
    ctx = Context(model=model, config=c, train=data.train, test=None, step=0, total=1,
                  params={}, seed=0)
    rows = gram_block_residual(("H1",)).fn(ctx)
    assert rows[0]["value"] == pytest.approx(0.0, abs=1e-12)
