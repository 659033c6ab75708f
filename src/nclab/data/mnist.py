"""MNIST and Fashion-MNIST from IDX files already on disk (no downloads).

Files are looked up as ``{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]`` (also the
``images.idx3-ubyte`` spelling) in ``data_dir``, in the usual sub-folders of ``data_dir``
(``fashion-mnist/``, ``FashionMNIST/raw/``, ``mnist/``, ``MNIST/raw/``) and, when ``data_dir`` is
None, under ``$NCLAB_DATA_DIR`` and -- for Fashion-MNIST -- where the Debian package
``dataset-fashion-mnist`` installs them (``/usr/share/datasets/fashion-mnist``, or wherever
``dpkg -L dataset-fashion-mnist`` says).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np

from .idx import read_idx
from .paths import env_data_root

FASHION_MNIST_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)
MNIST_CLASSES = tuple(str(d) for d in range(10))

DEBIAN_FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")

_SUBDIRS = {
    "fashion-mnist": ("fashion-mnist", "fashion_mnist", "FashionMNIST/raw", "FashionMNIST"),
    "mnist": ("mnist", "MNIST/raw", "MNIST"),
}
_PREFIX = {"train": "train", "test": "t10k"}
_HOW_TO_GET = {
    "fashion-mnist": (
        "install the Debian package (apt-get install -y dataset-fashion-mnist) or pass "
        "data_dir=<folder with the four Fashion-MNIST IDX files>"
    ),
    "mnist": (
        "pass data_dir=<folder with train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz], "
        "t10k-images-idx3-ubyte[.gz], t10k-labels-idx1-ubyte[.gz]> or set $NCLAB_DATA_DIR"
    ),
}


def _candidates(prefix: str, kind: str) -> list[str]:
    stems = {
        "images": ("images-idx3-ubyte", "images.idx3-ubyte"),
        "labels": ("labels-idx1-ubyte", "labels.idx1-ubyte"),
    }
    stem = stems[kind]
    return [f"{prefix}-{s}{ext}" for s in stem for ext in (".gz", "")]


def _find_file(folder: Path, prefix: str, kind: str) -> Path | None:
    for fname in _candidates(prefix, kind):
        if (folder / fname).is_file():
            return folder / fname
    return None


def _dpkg_fashion_dir() -> Path | None:
    if shutil.which("dpkg") is None:
        return None
    try:
        out = subprocess.run(
            ["dpkg", "-L", "dataset-fashion-mnist"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    for line in out.splitlines():
        if line.endswith("train-images-idx3-ubyte.gz"):
            return Path(line).parent
    return None


def _search_dirs(name: str, data_dir) -> list[Path]:
    roots = [Path(data_dir)] if data_dir is not None else []
    if data_dir is None and env_data_root() is not None:
        roots.append(env_data_root())
    dirs = []
    for root in roots:
        dirs.append(root)
        dirs.extend(root / sub for sub in _SUBDIRS[name])
    if data_dir is None and name == "fashion-mnist":
        dirs.append(DEBIAN_FASHION_MNIST_DIR)
        dpkg_dir = _dpkg_fashion_dir()
        if dpkg_dir is not None:
            dirs.append(dpkg_dir)
    return dirs


def find_idx_files(name: str, split: str = "train", data_dir=None) -> tuple[Path, Path]:
    """Paths of the (images, labels) IDX files of ``name`` ("mnist" or "fashion-mnist").

    Raises ``FileNotFoundError`` listing the folders searched and how to obtain the files.
    """
    if name not in _SUBDIRS:
        raise ValueError(f"name must be 'mnist' or 'fashion-mnist', got {name!r}")
    if split not in _PREFIX:
        raise ValueError(f"split must be 'train' or 'test' for {name}, got {split!r}")
    if data_dir is not None and not Path(data_dir).is_dir():
        raise FileNotFoundError(f"data_dir {str(data_dir)!r} is not an existing directory")
    searched = _search_dirs(name, data_dir)
    for folder in searched:
        images = _find_file(folder, _PREFIX[split], "images")
        labels = _find_file(folder, _PREFIX[split], "labels")
        if images is not None and labels is not None:
            return images, labels
    where = ", ".join(str(d) for d in searched) or "(no folder: data_dir is None)"
    raise FileNotFoundError(
        f"{name} {split} IDX files ({_candidates(_PREFIX[split], 'images')[0]} and "
        f"{_candidates(_PREFIX[split], 'labels')[0]}, gz or raw) not found in: {where}. "
        f"To fix: {_HOW_TO_GET[name]}."
    )


def read_idx_pair(images_path, labels_path, n_classes: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """Read and cross-check an images/labels IDX pair: uint8 images (N, H, W), int64 labels (N,)."""
    images = read_idx(images_path)
    labels = read_idx(labels_path)
    if images.ndim != 3:
        raise ValueError(f"{images_path}: expected a 3-d image array, got shape {images.shape}")
    if labels.ndim != 1:
        raise ValueError(f"{labels_path}: expected a 1-d label array, got shape {labels.shape}")
    if images.shape[0] != labels.shape[0]:
        raise ValueError(
            f"{images_path} holds {images.shape[0]} images but {labels_path} holds "
            f"{labels.shape[0]} labels"
        )
    if images.dtype != np.uint8:
        raise ValueError(f"{images_path}: expected uint8 pixels, got {images.dtype}")
    labels = labels.astype(np.int64)
    if labels.size and (labels.min() < 0 or labels.max() >= n_classes):
        raise ValueError(
            f"{labels_path}: labels must lie in [0, {n_classes}), got range "
            f"[{labels.min()}, {labels.max()}]"
        )
    return images, labels


def load_mnist_arrays(
    name: str = "mnist", split: str = "train", data_dir=None
) -> tuple[np.ndarray, np.ndarray]:
    """Raw MNIST / Fashion-MNIST arrays: uint8 images (N, 28, 28) and int64 labels (N,)."""
    return read_idx_pair(*find_idx_files(name, split, data_dir))
