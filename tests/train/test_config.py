"""Config: typed fields, overrides parsed against the types, errors that name the key."""

import json

import pytest

from nclab.train import (
    ConfigError,
    ModelConfig,
    OptimConfig,
    TrainConfig,
    apply_overrides,
    build_model,
    from_dict,
    run,
    to_dict,
)


def test_defaults_are_valid_and_frozen():
    cfg = TrainConfig()
    assert cfg.optim.name == "gd" and cfg.reg.factor == 0.5 and cfg.loss.preset == "torch_mse"
    with pytest.raises(AttributeError):
        cfg.seed = 3


def test_overrides_parse_against_field_types():
    cfg = apply_overrides(
        TrainConfig(),
        [
            "optim.lr=0.1", "model.widths=[64,64]", "model.bias=true", "data.n_per_class=none",
            "data.classes=(1, 2)", "seed=3", "optim.steps=1e3", "loss.preset=p2_dufm",
            "data.name=gaussian-mixture", "data.options.sigma=0.3", "data.options.dim=8",
            "optim.betas=[0.8, 0.99]", "device=cpu", "name=fig2",
        ],
    )
    assert cfg.optim.lr == 0.1 and isinstance(cfg.optim.lr, float)
    assert cfg.model.widths == (64, 64) and cfg.model.bias is True
    assert cfg.data.n_per_class is None and cfg.data.classes == (1, 2)
    assert cfg.seed == 3 and cfg.optim.steps == 1000 and isinstance(cfg.optim.steps, int)
    assert cfg.data.options == {"sigma": 0.3, "dim": 8}
    assert cfg.optim.betas == (0.8, 0.99) and cfg.name == "fig2"
    words = apply_overrides(TrainConfig(), ["reg.scheme=none", "data.test_split=none"])
    assert words.reg.scheme == "none" and words.data.test_split is None
    assert TrainConfig().optim.lr == 0.01  # the original is untouched


def test_overrides_apply_together_in_any_order():
    for order in (["optim.name=sgd", "optim.batch_size=32"], ["optim.batch_size=32", "optim.name=sgd"]):
        cfg = apply_overrides(TrainConfig(), order)
        assert (cfg.optim.name, cfg.optim.batch_size) == ("sgd", 32)


def test_constructor_coerces_lists_and_ints():
    m = ModelConfig(widths=[8, 4], init_scale=2)
    assert m.widths == (8, 4) and isinstance(m.init_scale, float)
    cfg = TrainConfig(model={"arch": "mlp", "widths": [3]})
    assert cfg.model.widths == (3,)


@pytest.mark.parametrize(
    "override, key",
    [
        ("optim.lrr=0.1", "'optim.lrr'"),
        ("optimizer.lr=0.1", "'optimizer'"),
        ("seeds=1", "'seeds'"),
        ("model.widths.x=3", "'model.widths.x'"),
        ("data.options", "data.options"),
    ],
)
def test_unknown_keys_are_errors_naming_the_key(override, key):
    with pytest.raises(ConfigError) as err:
        apply_overrides(TrainConfig(), [override])
    assert key in str(err.value)


def test_unknown_key_suggests_the_close_one():
    with pytest.raises(ConfigError, match="did you mean 'lr'"):
        apply_overrides(TrainConfig(), ["optim.lrr=0.1"])


@pytest.mark.parametrize(
    "override, key",
    [
        ("optim.lr=-0.1", "optim.lr"),
        ("optim.lr=abc", "optim.lr"),
        ("optim.lr=nan", "optim.lr"),
        ("optim.momentum=1.0", "optim.momentum"),
        ("optim.steps=2.5", "optim.steps"),
        ("optim.batch_size=32", "optim.batch_size"),  # full-batch gd
        ("optim.name=rmsprop", "optim.name"),
        ("model.widths=64", "model.widths"),
        ("model.widths=[64,-1]", "model.widths"),
        ("model.arch=transformer", "model.arch"),
        ("model.n_linear=9", "model.n_linear"),
        ("model.bias=maybe", "model.bias"),
        ("model.feature_std=2", "model.feature_std"),  # DUFM-only field on an MLP
        ("data.K=5", "data.K"),  # digits has a fixed K
        ("data.name=imagenet", "data.name"),
        ("data.label_noise=1.5", "data.label_noise"),
        ("loss.preset=l1", "loss.preset"),
        ("reg.weight_decay=-1", "reg.weight_decay"),
        ("reg.scheme=rho", "reg.scheme"),  # needs the weight-normalised net
        ("reg.feature_decay=0.1", "reg.feature_decay"),  # an MLP without backbone
        ("schedule.milestones=[0.8, 0.5]", "schedule.milestones"),
        ("schedule.name=linear", "schedule.name"),
        ("probe.parts=[head, tail]", "probe.parts"),
        ("dtype=float16", "dtype"),
        ("device=gpu0", "device"),
        ("model.widths=[30,,30,30]", "model.widths"),  # not 3 layers
        ("model.widths=[,30]", "model.widths"),
        ("optim.lr=0x10", "optim.lr"),  # not 16
        ("optim.steps=0b101", "optim.steps"),
        ("model.widths=[0o17]", "model.widths"),
        ("model.residual=[false,true,false] model.widths=[8,6]", "model.widths"),
    ],
)
def test_impossible_values_are_errors_naming_the_key(override, key):
    with pytest.raises(ConfigError) as err:
        apply_overrides(TrainConfig(), override.split(" "))
    assert key in str(err.value)


def test_trailing_commas_and_decimal_numbers_are_fine():
    cfg = apply_overrides(TrainConfig(), ["model.widths=[30,30,]", "optim.lr=1e-3",
                                          "model.residual=[false,true,false]"])
    assert cfg.model.widths == (30, 30) and cfg.optim.lr == 0.001


def test_dufm_needs_label_data_and_one_linear_layer():
    with pytest.raises(ConfigError, match="data.name"):
        apply_overrides(TrainConfig(), ["model.arch=dufm"])
    with pytest.raises(ConfigError, match="model.n_linear"):
        apply_overrides(
            TrainConfig(),
            ["model.arch=dufm", "data.name=labels", "data.n_per_class=2", "model.n_linear=2"],
        )
    with pytest.raises(ConfigError, match="data.n_per_class"):
        apply_overrides(TrainConfig(), ["model.arch=dufm", "data.name=labels"])


def test_errors_that_need_the_data_or_model_name_the_key():
    dufm = ["data.name=labels", "data.K=3", "data.n_per_class=4", "model.arch=dufm",
            "model.widths=[4,4]"]
    with pytest.raises(ConfigError, match="reg.layer_decays"):
        run(apply_overrides(TrainConfig(), dufm + ["reg.scheme=dufm", "reg.layer_decays=[1e-3]"]))
    with pytest.raises(ConfigError, match="optim.batch_size"):
        run(apply_overrides(TrainConfig(), dufm + [
            "optim.name=sgd", "optim.batch_size=4", "optim.sampler=class_balanced"]))
    with pytest.raises(ConfigError, match="loss.targets"):
        run(apply_overrides(TrainConfig(), dufm + ["loss.targets=signed"]))
    with pytest.raises(ConfigError, match="reg.first_layer_factor"):
        run(apply_overrides(TrainConfig(), dufm + ["reg.scheme=none", "reg.first_layer_factor=0"]))
    vectors = apply_overrides(TrainConfig(), ["data.name=gaussian-mixture", "data.n_per_class=2",
                                              "model.arch=weightnorm", "model.conv_channels=[2]"])
    with pytest.raises(ConfigError, match="model.arch"):  # convolutions need image data
        build_model(vectors)


def test_dict_round_trip_through_json():
    cfg = apply_overrides(TrainConfig(), ["model.widths=[5,6]", "data.options.sigma=0.1",
                                          "data.name=gaussian-mixture", "data.classes=[0,1]"])
    back = from_dict(json.loads(json.dumps(to_dict(cfg))))
    assert back == cfg
    with pytest.raises(ConfigError, match="'optim.lrr'"):
        from_dict({"optim": {"lrr": 1.0}})
    with pytest.raises(ConfigError, match="'optimiser'"):
        from_dict({"optimiser": {}})


def test_optim_section_alone_validates():
    with pytest.raises(ConfigError, match="optim.batch_size"):
        OptimConfig(name="sgd")
    assert OptimConfig(name="sgd", batch_size=8).batch_size == 8
