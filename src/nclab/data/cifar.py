"""CIFAR-10 "python version" batches (Krizhevsky 2009) from disk, with a restricted unpickler.

The batches ``data_batch_1`` ... ``data_batch_5`` and ``test_batch`` are pickled dicts holding
``data`` (uint8 array (10000, 3072): 1024 red, then green, then blue values of a 32x32 image in
row-major order) and ``labels`` (list of ints). They are read either from a folder (``data_dir``
itself or ``data_dir/cifar-10-batches-py``) or straight from ``data_dir/cifar-10-python.tar.gz``.

Pickles can execute arbitrary code, so :class:`CifarUnpickler` resolves only the few globals a
batch needs: numpy's array rebuilders (``_reconstruct``/``_frombuffer``, ``ndarray``,
``dtype``) and a latin-1-only ``_codecs.encode`` (how Python 3 writes bytes at protocol 2). Any
other global makes loading fail with ``ValueError``.
"""

from __future__ import annotations

import io
import pickle
import tarfile
from pathlib import Path

import numpy as np

from .paths import DATA_DIR_ENV, env_data_root

CIFAR10_CLASSES = (
    "airplane", "automobile", "bird", "cat", "deer",
    "dog", "frog", "horse", "ship", "truck",
)
CIFAR10_TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
CIFAR10_TEST_BATCHES = ("test_batch",)
CIFAR10_FOLDER = "cifar-10-batches-py"
CIFAR10_ARCHIVE = "cifar-10-python.tar.gz"
_HOW_TO_GET = (
    "download cifar-10-python.tar.gz from https://www.cs.toronto.edu/~kriz/cifar.html and pass "
    "data_dir=<folder containing the archive, its extracted cifar-10-batches-py/ folder, or the "
    "batch files themselves>"
)


def _numpy_core():
    return getattr(np, "_core", None) or np.core


def _allowed_globals() -> dict[tuple[str, str], object]:
    core = _numpy_core()
    table = {}
    for mod in ("numpy.core", "numpy._core"):
        table[(f"{mod}.multiarray", "_reconstruct")] = core.multiarray._reconstruct
        if hasattr(core.numeric, "_frombuffer"):
            table[(f"{mod}.numeric", "_frombuffer")] = core.numeric._frombuffer
    table[("numpy", "ndarray")] = np.ndarray
    table[("numpy", "dtype")] = np.dtype
    # Python 3 pickles bytes at protocol <= 2 as _codecs.encode(str, "latin1")
    table[("_codecs", "encode")] = _latin1_encode
    return table


def _latin1_encode(text: str, encoding: str = "latin1") -> bytes:
    if encoding.lower().replace("-", "") != "latin1":
        raise RefusedGlobal(f"refusing _codecs.encode with encoding {encoding!r}")
    return text.encode("latin1")


class RefusedGlobal(pickle.UnpicklingError):
    """A pickle asked for a global that is not needed to rebuild a CIFAR batch."""


class CifarUnpickler(pickle.Unpickler):
    """Unpickler that only resolves the numpy globals needed to rebuild a CIFAR batch."""

    _ALLOWED = _allowed_globals()

    def find_class(self, module: str, name: str):
        try:
            return self._ALLOWED[(module, name)]
        except KeyError:
            raise RefusedGlobal(
                f"refusing global {module}.{name}: not part of a CIFAR batch"
            ) from None


def _unpickle(raw: bytes, source: str) -> dict:
    try:
        obj = CifarUnpickler(io.BytesIO(raw), encoding="bytes").load()
    except RefusedGlobal as exc:
        raise ValueError(f"{source}: cannot load as a CIFAR batch ({exc})") from exc
    except Exception as exc:  # truncated/garbage pickles raise EOFError, KeyError, ValueError...
        raise ValueError(
            f"{source}: corrupt pickle ({type(exc).__name__}: {exc})"
        ) from exc
    if not isinstance(obj, dict):
        raise ValueError(f"{source}: expected a pickled dict, got {type(obj).__name__}")
    return {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in obj.items()}


def parse_cifar_batch(raw: bytes, source: str = "<bytes>", n_classes: int = 10):
    """Decode one pickled CIFAR batch: uint8 images (n, 3, 32, 32) and int64 labels (n,)."""
    batch = _unpickle(raw, source)
    if "data" not in batch or "labels" not in batch:
        raise ValueError(
            f"{source}: CIFAR batch must contain 'data' and 'labels', got keys {sorted(batch)}"
        )
    data, labels = batch["data"], batch["labels"]
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2:
        raise ValueError(f"{source}: 'data' must be a 2-d uint8 array")
    if data.shape[1] != 3 * 32 * 32:
        raise ValueError(f"{source}: 'data' rows must have 3072 values, got {data.shape[1]}")
    try:
        labels = np.asarray(labels, dtype=np.int64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{source}: 'labels' is not a list of integers") from exc
    if labels.shape != (data.shape[0],):
        raise ValueError(
            f"{source}: {data.shape[0]} images but labels of shape {labels.shape}"
        )
    if labels.size and (labels.min() < 0 or labels.max() >= n_classes):
        raise ValueError(
            f"{source}: labels must lie in [0, {n_classes}), got range "
            f"[{labels.min()}, {labels.max()}]"
        )
    return data.reshape(-1, 3, 32, 32), labels


class _Source:
    """Where the batch files live: a folder or the official tar.gz archive."""

    def __init__(self, data_dir):
        root = Path(data_dir)
        if not root.is_dir():
            raise FileNotFoundError(f"data_dir {str(data_dir)!r} is not an existing directory")
        self.folder = self.archive = None
        for folder in (root, root / CIFAR10_FOLDER):
            if (folder / CIFAR10_TEST_BATCHES[0]).is_file() or (
                folder / CIFAR10_TRAIN_BATCHES[0]
            ).is_file():
                self.folder = folder
                return
        if (root / CIFAR10_ARCHIVE).is_file():
            self.archive = root / CIFAR10_ARCHIVE
            return
        raise FileNotFoundError(
            f"no CIFAR-10 batches in {root} (looked for {CIFAR10_TRAIN_BATCHES[0]} / "
            f"{CIFAR10_TEST_BATCHES[0]} in {root} and {root / CIFAR10_FOLDER}, and for "
            f"{root / CIFAR10_ARCHIVE}). To fix: {_HOW_TO_GET}."
        )

    def read(self, names: tuple[str, ...]) -> list[tuple[str, bytes]]:
        out = []
        if self.folder is not None:
            for name in names:
                path = self.folder / name
                if not path.is_file():
                    raise FileNotFoundError(f"CIFAR-10 batch file missing: {path}")
                out.append((str(path), path.read_bytes()))
            return out
        missing = None
        try:
            with tarfile.open(self.archive, "r:gz") as tar:
                for name in names:
                    member = f"{CIFAR10_FOLDER}/{name}"
                    try:
                        fh = tar.extractfile(member)
                    except KeyError:
                        fh = None
                    if fh is None:
                        missing = member
                        break
                    out.append((f"{self.archive}:{member}", fh.read()))
        except (tarfile.TarError, EOFError, OSError) as exc:
            raise ValueError(f"{self.archive}: corrupt archive ({exc})") from exc
        if missing is not None:
            raise FileNotFoundError(f"{self.archive} has no member {missing}")
        return out


def load_cifar10_arrays(split: str = "train", data_dir=None) -> tuple[np.ndarray, np.ndarray]:
    """Raw CIFAR-10 arrays: uint8 images (N, 3, 32, 32) and int64 labels (N,).

    ``split="train"`` concatenates ``data_batch_1..5`` (N = 50000), ``"test"`` reads
    ``test_batch`` (N = 10000). ``data_dir`` defaults to ``$NCLAB_DATA_DIR``; nothing is
    downloaded.
    """
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test' for cifar10, got {split!r}")
    if data_dir is None:
        data_dir = env_data_root()
    if data_dir is None:
        raise FileNotFoundError(
            f"cifar10 needs data_dir (or ${DATA_DIR_ENV}). To fix: {_HOW_TO_GET}."
        )
    names = CIFAR10_TRAIN_BATCHES if split == "train" else CIFAR10_TEST_BATCHES
    parts = [parse_cifar_batch(raw, src) for src, raw in _Source(data_dir).read(names)]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])

