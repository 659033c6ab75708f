"""Data and model from a config: ``build_data(cfg)`` and ``build_model(cfg, data)``."""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import torch
from torch import nn

from nclab.data import Dataset, class_sorted_labels, load_dataset
from nclab.models import DUFM, MLP, ResNet20, WeightNormNet, init_weights

from .config import ConfigError, TrainConfig


class DataSplits(NamedTuple):
    """The training set and the optional held-out set (None without ``data.test_split``)."""

    train: Dataset
    test: Dataset | None


def _load(cfg: TrainConfig, split: str, n_per_class: int | None, **extra) -> Dataset:
    d = cfg.data
    options = dict(d.options)
    if d.K is not None:  # gaussian-mixture
        options["K"] = d.K
    try:
        return load_dataset(
            d.name, split=split, data_dir=d.data_dir, n_per_class=n_per_class, seed=d.seed,
            classes=d.classes, dtype=cfg.torch_dtype, sort_by_class=d.sort_by_class,
            **extra, **options,
        )
    except (ValueError, FileNotFoundError) as err:
        raise ConfigError(f"data ({d.name!r}, split {split!r}): {err}") from err


def build_data(cfg: TrainConfig) -> DataSplits:
    """Load ``cfg.data`` in ``cfg.dtype`` on ``cfg.device``.

    The held-out split is standardised and scaled with the training split's statistics; label
    noise (``data.label_noise``) corrupts the training labels only. ``data.name="labels"``
    gives the DUFM's label-only dataset: ``K`` classes × ``n_per_class`` samples in class order
    (an (N, 0) input matrix).
    """
    d = cfg.data
    if d.name == "labels":
        K = d.K or 10
        y = torch.from_numpy(class_sorted_labels(K, d.n_per_class))
        X = torch.zeros(y.numel(), 0, dtype=cfg.torch_dtype)
        train = Dataset(X, y, K, "labels", "train", meta={"transforms": ("class_sorted",)})
        return DataSplits(train.to(cfg.device), None)
    train = _load(cfg, d.split, d.n_per_class, standardize=d.standardize, unit_ball=d.unit_ball)
    if d.label_noise > 0:
        train = train.corrupt_labels(d.label_noise, seed=d.seed)
    test = None
    if d.test_split is not None:
        test = _load(cfg, d.test_split, d.test_n_per_class)
        if d.standardize:
            test = test.standardize(reference=train)
        if d.unit_ball:
            test = test.scale_to_unit_ball(train.meta["input_scale"])
        test = test.to(cfg.device)
    return DataSplits(train.to(cfg.device), test)


def output_dim(cfg: TrainConfig, K: int) -> int:
    """K outputs, or one for ±1 targets (binary task, Xu et al. §3.2)."""
    if cfg.loss.target_kind == "signed":
        if K != 2:
            raise ConfigError(f"loss.targets: 'signed' needs a binary task, the data has K={K}")
        return 1
    return K


def _mlp_activations(m, n_layers: int) -> list:
    n_lin = m.n_linear
    return [m.activation] * (n_layers - n_lin) + [None] * n_lin


def _architecture(cfg: TrainConfig, data: Dataset) -> nn.Module:
    m = cfg.model
    out = output_dim(cfg, data.K)
    widths = [*m.widths, out]
    if m.arch == "dufm":
        return DUFM(data.N, list(m.widths), out, m.activation, feature_std=m.feature_std)
    if m.arch == "mlp":
        return MLP(
            data.D, widths, _mlp_activations(m, len(widths)), bias=m.bias,
            n_backbone=m.n_backbone, residual=list(m.residual) or False,
        )
    if data.image_shape is None and (m.arch == "resnet20" or m.conv_channels):
        raise ConfigError(f"model.arch: {m.arch!r} with convolutions needs image data, "
                          f"{data.name!r} has plain vectors")
    if m.arch == "resnet20":
        head = MLP(64, widths, _mlp_activations(m, len(widths)), bias=m.bias)
        return ResNet20(data.image_shape[0], head)
    if m.conv_channels:
        c, h, w = data.image_shape
        if h != w:
            raise ConfigError(f"model.conv_channels: needs square images, got {h}x{w}")
        strides = list(m.strides) if len(m.strides) > 1 else m.strides[0]
        return WeightNormNet(
            widths, conv_channels=m.conv_channels, in_channels=c, image_size=h,
            kernel_size=m.kernel_size, strides=strides, padding=m.padding,
        )
    return WeightNormNet(widths, in_features=data.D)


def init_scheme(cfg: TrainConfig) -> str:
    """The init scheme ``model.init="auto"`` resolves to (LeCun normal for the DUFM)."""
    if cfg.model.init != "auto":
        return cfg.model.init
    return "lecun_normal" if cfg.model.arch == "dufm" else "default"


def build_model(cfg: TrainConfig, data: Dataset | None = None) -> nn.Module:
    """The network of ``cfg.model`` for ``data`` (default: ``build_data(cfg).train``), in
    ``cfg.dtype`` on ``cfg.device``, initialised from ``cfg.seed`` (CPU float64 draws, so the
    same seed gives the same weights on every device) or loaded from ``model.init_from``."""
    if data is None:
        data = build_data(cfg).train
    try:
        model = _architecture(cfg, data)
    except ValueError as err:
        if isinstance(err, ConfigError):
            raise
        raise ConfigError(f"model: {err}") from err
    model = model.to(cfg.torch_dtype)
    init_weights(model, init_scheme(cfg), cfg.model.init_scale, seed=cfg.seed)
    if cfg.model.init_from is not None:
        from .checkpoint import load_weights

        load_weights(model, Path(cfg.model.init_from))
    return model.to(cfg.device)
