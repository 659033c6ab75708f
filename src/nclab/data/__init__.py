"""Datasets for neural-collapse experiments, offline: readers, generators, transforms.

Entry point: :func:`load_dataset` returns a :class:`Dataset` (``X`` (N, D) floating, ``y`` int64
(N,), ``K``, ``.N``, ``.D``, ``.class_counts``, ``.summary()``).

- Files on disk: MNIST / Fashion-MNIST IDX (:mod:`.idx`, :mod:`.mnist`; Fashion-MNIST from the
  Debian package ``dataset-fashion-mnist`` by default), CIFAR-10 python batches (:mod:`.cifar`,
  restricted unpickler).
- No files: scikit-learn digits (:mod:`.digits`), MNIST-1D (:mod:`.mnist1d`, bit-identical to the
  reference generator), Gaussian mixtures (:mod:`.synthetic`, Zangrando et al. §5.1).
- Transforms (:mod:`.transforms`): class-balanced seeded subsampling, class-sorted order
  (Súkeník et al. ``Y = I_K ⊗ 1_n^T``), standardisation, unit-ball scaling (Xu et al.), one-hot,
  centred (Xu et al. §5.2 ẽ_c) and ±1 targets, class selection, label corruption.
"""

from .cifar import CIFAR10_CLASSES, CifarUnpickler, load_cifar10_arrays, parse_cifar_batch
from .dataset import Dataset
from .digits import digits_split_indices, load_digits_arrays
from .idx import read_idx
from .load import DATASETS, canonical_name, load_dataset
from .mnist import (
    FASHION_MNIST_CLASSES,
    MNIST_CLASSES,
    find_idx_files,
    load_mnist_arrays,
    read_idx_pair,
)
from .mnist1d import MNIST1DConfig, make_mnist1d, mnist1d_templates
from .paths import DATA_DIR_ENV
from .synthetic import class_sorted_labels, gaussian_mixture, mixture_means
from .transforms import (
    centred_labels,
    class_balanced_indices,
    class_counts,
    class_sorted_order,
    corrupt_labels,
    encode_targets,
    flatten,
    normalize_rows,
    one_hot,
    scale_to_unit_ball,
    select_classes,
    signed_labels,
    standardize,
)

__all__ = [
    "CIFAR10_CLASSES",
    "DATASETS",
    "DATA_DIR_ENV",
    "FASHION_MNIST_CLASSES",
    "MNIST_CLASSES",
    "CifarUnpickler",
    "Dataset",
    "MNIST1DConfig",
    "canonical_name",
    "centred_labels",
    "class_balanced_indices",
    "class_counts",
    "class_sorted_labels",
    "class_sorted_order",
    "corrupt_labels",
    "digits_split_indices",
    "encode_targets",
    "find_idx_files",
    "flatten",
    "gaussian_mixture",
    "load_cifar10_arrays",
    "load_dataset",
    "load_digits_arrays",
    "load_mnist_arrays",
    "make_mnist1d",
    "mixture_means",
    "mnist1d_templates",
    "normalize_rows",
    "one_hot",
    "parse_cifar_batch",
    "read_idx",
    "read_idx_pair",
    "scale_to_unit_ball",
    "select_classes",
    "signed_labels",
    "standardize",
]
