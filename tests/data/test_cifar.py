import io
import os
import pickle
import tarfile

import numpy as np
import pytest
import torch

from nclab.data import load_cifar10_arrays, load_dataset, parse_cifar_batch

CALLED = []


def _side_effect():
    CALLED.append(True)
    return "pwned"


class Evil:
    def __reduce__(self):
        return (_side_effect, ())


def test_train_and_test_splits_from_folder(tmp_path, writers):
    (train_data, train_labels), (test_data, test_labels) = writers.write_cifar_dir(tmp_path)
    ds = load_dataset("cifar10", data_dir=tmp_path, dtype=torch.float64)
    assert (ds.N, ds.D, ds.K, ds.image_shape) == (20, 3072, 10, (3, 32, 32))
    np.testing.assert_array_equal(ds.y.numpy(), train_labels)
    np.testing.assert_allclose(ds.X.numpy() * 255.0, train_data)
    # channel planes: value 1024*c + 32*row + col of a row is pixel (c, row, col)
    img = ds.images()
    assert img[3, 2, 5, 7] * 255.0 == float(train_data[3, 2 * 1024 + 5 * 32 + 7])
    test = load_dataset("cifar10", split="test", data_dir=tmp_path)
    assert test.N == 5 and test.y.tolist() == test_labels
    assert ds.classes[1] == "automobile"


def test_batches_in_subfolder_and_tar_archive(tmp_path, writers):
    folder = tmp_path / "cifar-10-batches-py"
    (train_data, _), _ = writers.write_cifar_dir(folder)
    X, y = load_cifar10_arrays("train", tmp_path)
    assert X.shape == (20, 3, 32, 32) and y.dtype == np.int64
    archive_dir = tmp_path / "arch"
    archive_dir.mkdir()
    with tarfile.open(archive_dir / "cifar-10-python.tar.gz", "w:gz") as tar:
        tar.add(folder, arcname="cifar-10-batches-py")
    X2, y2 = load_cifar10_arrays("train", archive_dir)
    np.testing.assert_array_equal(X2, X)
    np.testing.assert_array_equal(y2, y)
    np.testing.assert_array_equal(X2.reshape(20, -1), train_data)


def test_python3_pickles_with_str_keys_and_protocol_5(tmp_path, writers):
    batch, data, labels = writers.cifar_batch(6, seed=1, py2_keys=False)
    X, y = parse_cifar_batch(pickle.dumps(batch, protocol=5))
    np.testing.assert_array_equal(X.reshape(6, -1), data)
    assert y.tolist() == labels


def test_binary_task_classes_1_and_2(tmp_path, writers):
    writers.write_cifar_dir(tmp_path, n_per_batch=40)
    ds = load_dataset("cifar10", data_dir=tmp_path, classes=(1, 2), unit_ball=True)
    assert ds.K == 2 and ds.classes == ("automobile", "bird")
    assert set(ds.y.tolist()) <= {0, 1}
    assert abs(float(torch.linalg.vector_norm(ds.X, dim=1).max()) - 1.0) < 1e-6
    assert ds.meta["input_scale"] > 1.0


def test_restricted_unpickler_refuses_foreign_globals(writers):
    batch, _, _ = writers.cifar_batch(2, seed=0)
    batch[b"extra"] = Evil()
    raw = pickle.dumps(batch, protocol=2)
    with pytest.raises(ValueError, match="refusing global .*_side_effect"):
        parse_cifar_batch(raw, "evil_batch")
    assert CALLED == []
    raw = pickle.dumps({"data": np.zeros((1, 3072), np.uint8), "labels": [0], "f": os.getcwd})
    with pytest.raises(ValueError, match="refusing global"):
        parse_cifar_batch(raw)
    # _codecs.encode is allowed only for latin-1 (how Python 3 pickles bytes at protocol 2)
    raw = b"\x80\x02c_codecs\nencode\nX\x03\x00\x00\x00abcX\x05\x00\x00\x00utf_8\x86R."
    with pytest.raises(ValueError, match="refusing _codecs.encode with encoding 'utf_8'"):
        parse_cifar_batch(raw)


@pytest.mark.parametrize(
    "payload, message",
    [
        (b"\x80\x02}q\x00(X", "corrupt pickle"),
        (b"not a pickle at all", "corrupt pickle"),
        (pickle.dumps([1, 2, 3], protocol=2), "expected a pickled dict"),
        (pickle.dumps({"labels": [0]}, protocol=2), "must contain 'data' and 'labels'"),
        (
            pickle.dumps({"data": np.zeros((2, 100), np.uint8), "labels": [0, 1]}),
            "3072 values",
        ),
        (
            pickle.dumps({"data": np.zeros((2, 3072), np.float32), "labels": [0, 1]}),
            "2-d uint8",
        ),
        (pickle.dumps({"data": np.zeros((2, 3072), np.uint8), "labels": [0]}), "labels of shape"),
        (pickle.dumps({"data": np.zeros((1, 3072), np.uint8), "labels": [10]}), "labels must lie"),
    ],
)
def test_corrupt_batches_name_the_file(tmp_path, payload, message):
    path = tmp_path / "data_batch_1"
    path.write_bytes(payload)
    for i in range(2, 6):
        (tmp_path / f"data_batch_{i}").write_bytes(payload)
    with pytest.raises(ValueError, match=message) as err:
        load_cifar10_arrays("train", tmp_path)
    assert str(path) in str(err.value)


def test_missing_files_and_dirs(tmp_path, writers, monkeypatch):
    monkeypatch.delenv("NCLAB_DATA_DIR", raising=False)
    with pytest.raises(FileNotFoundError, match="needs data_dir"):
        load_dataset("cifar10")
    with pytest.raises(FileNotFoundError, match="no CIFAR-10 batches .*cifar-10-python.tar.gz"):
        load_dataset("cifar10", data_dir=tmp_path)
    with pytest.raises(FileNotFoundError, match="not an existing directory"):
        load_dataset("cifar10", data_dir=tmp_path / "absent")
    batch, _, _ = writers.cifar_batch(2, seed=0)
    (tmp_path / "data_batch_1").write_bytes(pickle.dumps(batch, protocol=2))
    with pytest.raises(FileNotFoundError, match="data_batch_2"):
        load_dataset("cifar10", data_dir=tmp_path)


def test_corrupt_archive(tmp_path):
    (tmp_path / "cifar-10-python.tar.gz").write_bytes(b"\x1f\x8b" + bytes(50))
    with pytest.raises(ValueError, match="corrupt archive"):
        load_cifar10_arrays("test", tmp_path)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz"):
        pass
    (tmp_path / "cifar-10-python.tar.gz").write_bytes(buf.getvalue())
    with pytest.raises(FileNotFoundError, match="no member cifar-10-batches-py/test_batch"):
        load_cifar10_arrays("test", tmp_path)
