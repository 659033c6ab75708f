"""File writers for the data tests: tiny IDX files and CIFAR batches, written independently of
the readers under test (struct/pickle, following the published formats)."""

import gzip
import pickle
import struct

import numpy as np
import pytest

IDX_TYPE_CODES = {"u1": 0x08, "i1": 0x09, "i2": 0x0B, "i4": 0x0C, "f4": 0x0D, "f8": 0x0E}


def idx_bytes(array: np.ndarray) -> bytes:
    code = IDX_TYPE_CODES[array.dtype.str[1:]]
    header = struct.pack(">BBBB", 0, 0, code, array.ndim)
    header += struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def write_idx_file(path, array: np.ndarray, gz: bool = True):
    data = idx_bytes(array)
    if gz:
        data = gzip.compress(data)
    path.write_bytes(data)
    return path


def write_mnist_dir(folder, n_train=30, n_test=20, gz=True, dotted=False, seed=0):
    """Four MNIST-format files with random pixels and labels cycling through 0..9."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {}
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = (np.arange(n) % 10).astype(np.uint8)
        sep = "." if dotted else "-"
        ext = ".gz" if gz else ""
        write_idx_file(folder / f"{prefix}-images{sep}idx3-ubyte{ext}", images, gz)
        write_idx_file(folder / f"{prefix}-labels{sep}idx1-ubyte{ext}", labels, gz)
        arrays[prefix] = (images, labels)
    return arrays


def cifar_batch(n: int, seed: int, py2_keys: bool = True) -> tuple[dict, np.ndarray, list]:
    """A CIFAR-style batch: R, G, B planes of 1024 bytes each per row."""
    rng = np.random.default_rng(seed)
    data = rng.integers(0, 256, size=(n, 3072), dtype=np.uint8)
    labels = [int(v) for v in rng.integers(0, 10, size=n)]
    key = (lambda s: s.encode()) if py2_keys else (lambda s: s)
    batch = {
        key("batch_label"): b"testing batch",
        key("labels"): labels,
        key("data"): data,
        key("filenames"): [f"img_{i}.png".encode() for i in range(n)],
    }
    return batch, data, labels


def write_cifar_dir(folder, n_per_batch=4, protocol=2):
    folder.mkdir(parents=True, exist_ok=True)
    train_data, train_labels = [], []
    for i in range(1, 6):
        batch, data, labels = cifar_batch(n_per_batch, seed=i)
        (folder / f"data_batch_{i}").write_bytes(pickle.dumps(batch, protocol=protocol))
        train_data.append(data)
        train_labels += labels
    batch, test_data, test_labels = cifar_batch(n_per_batch + 1, seed=99)
    (folder / "test_batch").write_bytes(pickle.dumps(batch, protocol=protocol))
    return (np.concatenate(train_data), train_labels), (test_data, test_labels)


@pytest.fixture
def mnist_dir(tmp_path):
    return tmp_path, write_mnist_dir(tmp_path)


class Writers:
    """The writers above, handed to tests through the ``writers`` fixture."""

    idx_bytes = staticmethod(idx_bytes)
    write_idx_file = staticmethod(write_idx_file)
    write_mnist_dir = staticmethod(write_mnist_dir)
    cifar_batch = staticmethod(cifar_batch)
    write_cifar_dir = staticmethod(write_cifar_dir)


@pytest.fixture
def writers():
    return Writers
