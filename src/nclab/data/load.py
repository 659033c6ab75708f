"""``load_dataset``: one entry point for every dataset, by name, fully offline."""

from __future__ import annotations

from dataclasses import fields

import numpy as np
import torch

from . import transforms as T
from .cifar import CIFAR10_CLASSES, load_cifar10_arrays
from .dataset import Dataset
from .digits import load_digits_arrays
from .mnist import FASHION_MNIST_CLASSES, MNIST_CLASSES, find_idx_files, read_idx_pair
from .mnist1d import MNIST1DConfig, make_mnist1d
from .synthetic import gaussian_mixture

DATASETS = ("fashion-mnist", "mnist", "cifar10", "digits", "mnist1d", "gaussian-mixture")
_ALIASES = {"cifar-10": "cifar10", "mnist-1d": "mnist1d", "fmnist": "fashion-mnist"}
_GMM_OPTIONS = ("K", "dim", "sigma", "mean_scale", "mean_seed", "means")
_MNIST1D_OPTIONS = tuple(f.name for f in fields(MNIST1DConfig) if f.name != "seed") + (
    "dataset_seed",
)


def canonical_name(name: str) -> str:
    """Normalise a dataset name (case, ``_`` vs ``-``, aliases); ``ValueError`` lists valid ones."""
    if not isinstance(name, str):
        raise ValueError(f"name must be a string, got {type(name).__name__}")
    key = name.strip().lower().replace("_", "-")
    key = _ALIASES.get(key, key)
    if key not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; valid names: {', '.join(DATASETS)}")
    return key


def _check_options(name: str, options: dict, allowed: tuple[str, ...]) -> None:
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        valid = ", ".join(allowed) if allowed else "none"
        raise ValueError(f"unknown option(s) {unknown} for {name}; valid options: {valid}")


def _raw(name, split, data_dir, n_per_class, seed, options):
    """(X numpy (N, ...) raw values, y int64, pixel scale, class names, image shape, meta)."""
    if name in ("fashion-mnist", "mnist"):
        _check_options(name, options, ())
        images, labels = find_idx_files(name, split, data_dir)
        X, y = read_idx_pair(images, labels)
        names = FASHION_MNIST_CLASSES if name == "fashion-mnist" else MNIST_CLASSES
        return X, y, 255.0, names, (1, 28, 28), {"files": (str(images), str(labels))}
    if name == "cifar10":
        _check_options(name, options, ())
        X, y = load_cifar10_arrays(split, data_dir)
        return X, y, 255.0, CIFAR10_CLASSES, (3, 32, 32), {"data_dir": str(data_dir)}
    if name == "digits":
        _check_options(name, options, ())
        X, y = load_digits_arrays(split)
        names = tuple(str(d) for d in range(10))
        return X, y, 1.0, names, (1, 8, 8), {"source": "sklearn.datasets.load_digits"}
    if name == "mnist1d":
        _check_options(name, options, _MNIST1D_OPTIONS)
        opts = dict(options)
        if "dataset_seed" in opts:
            opts["seed"] = opts.pop("dataset_seed")
        X, y = make_mnist1d(split, **opts)
        names = tuple(str(d) for d in range(10))
        return X, y, 1.0, names, None, {"mnist1d_config": MNIST1DConfig(**opts)}
    _check_options(name, options, _GMM_OPTIONS)
    opts = dict(options)
    K = opts.pop("K", 10)
    X, y, means = gaussian_mixture(
        K, n_per_class=50 if n_per_class is None else n_per_class, seed=seed, split=split, **opts
    )
    return X, y, 1.0, None, None, {**opts, "means": torch.from_numpy(means)}


def load_dataset(
    name: str,
    *,
    split: str = "train",
    data_dir=None,
    n_per_class: int | None = None,
    seed: int = 0,
    classes=None,
    dtype: torch.dtype = torch.float32,
    device=None,
    sort_by_class: bool = False,
    standardize: bool = False,
    unit_ball: bool = False,
    **options,
) -> Dataset:
    """Load dataset ``name`` as a :class:`Dataset` with flattened features in ``dtype``.

    Names: ``"fashion-mnist"``, ``"mnist"`` (IDX files, see :mod:`nclab.data.mnist`),
    ``"cifar10"`` (python batches in ``data_dir``), ``"digits"`` (scikit-learn 8x8, split
    "train"/"test"/"all"), ``"mnist1d"`` (generated, "train"/"test"/"all"),
    ``"gaussian-mixture"`` (generated, Zangrando et al. §5.1).

    Steps, in order: read ``split``; keep ``classes`` (relabelled 0..k-1 in the given order, e.g.
    ``classes=(1, 2)`` for Xu et al.'s binary CIFAR-10, Part D #41); draw ``n_per_class``
    samples per class with ``seed`` (for "gaussian-mixture" ``n_per_class`` is the number
    generated, default 50, and ``seed`` the noise draw); cast to ``dtype`` (pixels divided by 255,
    digits by 16); optionally sort by class, standardise per feature (with this split's own
    statistics -- use ``Dataset.standardize(reference=train)`` for a test split), scale to the
    unit ball (``meta["input_scale"]``); move to ``device``.

    ``options``: for "gaussian-mixture" ``K`` (10), ``dim`` (32), ``sigma`` (0.1), ``mean_scale``
    (3.0), ``mean_seed`` (0), ``means``; for "mnist1d" the fields of
    :class:`~nclab.data.mnist1d.MNIST1DConfig` with ``dataset_seed`` for its ``seed`` (42 = the
    reference dataset). Other datasets take none.
    """
    key = canonical_name(name)
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise ValueError(f"dtype must be a floating torch.dtype, got {dtype!r}")
    X, y, pixel_scale, names, image_shape, meta = _raw(
        key, split, data_dir, n_per_class, seed, options
    )
    K = 10 if key != "gaussian-mixture" else int(options.get("K", 10))
    notes = []
    y_t = torch.from_numpy(np.ascontiguousarray(y))
    index = torch.arange(len(y_t))
    if classes is not None:
        index, y_t = T.select_classes(y_t, classes, K)
        classes = [int(c) for c in classes]
        names = None if names is None else tuple(names[c] for c in classes)
        K = len(classes)
        notes.append(f"select_classes({classes})")
    if n_per_class is not None and key != "gaussian-mixture":
        picked = T.class_balanced_indices(y_t, n_per_class, K, seed)
        index, y_t = index[picked], y_t[picked]
        notes.append(f"subsample(n_per_class={n_per_class}, seed={seed})")
    X = torch.from_numpy(np.asarray(X)[index.numpy()].reshape(len(index), -1))
    X = X.to(dtype)
    if pixel_scale != 1.0:
        X = X / pixel_scale
    meta = {**meta, "seed": seed, "transforms": tuple(notes)}
    ds = Dataset(X, y_t, K, key, split, names, image_shape, meta)
    if sort_by_class:
        ds = ds.sort_by_class()
    if standardize:
        ds = ds.standardize()
    if unit_ball:
        ds = ds.scale_to_unit_ball()
    return ds.to(device) if device is not None else ds
