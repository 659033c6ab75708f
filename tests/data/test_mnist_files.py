import numpy as np
import pytest
import torch

import nclab.data.mnist as mnist_mod
from nclab.data import find_idx_files, load_dataset, load_mnist_arrays


@pytest.mark.parametrize("gz, dotted", [(True, False), (False, False), (False, True)])
def test_load_mnist_from_data_dir(tmp_path, writers, gz, dotted):
    arrays = writers.write_mnist_dir(tmp_path, gz=gz, dotted=dotted)
    for split, prefix in (("train", "train"), ("test", "t10k")):
        images, labels = arrays[prefix]
        ds = load_dataset("mnist", split=split, data_dir=tmp_path, dtype=torch.float64)
        assert (ds.N, ds.D, ds.K, ds.image_shape) == (len(labels), 784, 10, (1, 28, 28))
        np.testing.assert_allclose(ds.X.numpy(), images.reshape(len(labels), -1) / 255.0)
        np.testing.assert_array_equal(ds.y.numpy(), labels)
        np.testing.assert_array_equal(ds.images()[:, 0].numpy() * 255.0, images)


def test_torchvision_style_subfolder_and_env_var(tmp_path, writers, monkeypatch):
    writers.write_mnist_dir(tmp_path / "MNIST" / "raw")
    images, _ = find_idx_files("mnist", "train", tmp_path)
    assert images.parent == tmp_path / "MNIST" / "raw"
    monkeypatch.setenv("NCLAB_DATA_DIR", str(tmp_path))
    X, y = load_mnist_arrays("mnist", "test")
    assert X.shape == (20, 28, 28) and y.dtype == np.int64


def test_fashion_mnist_from_data_dir_has_class_names(tmp_path, writers):
    writers.write_mnist_dir(tmp_path / "fashion-mnist")
    ds = load_dataset("fashion_mnist", data_dir=tmp_path, n_per_class=2, seed=3)
    assert ds.name == "fashion-mnist" and ds.classes[9] == "Ankle boot"
    assert ds.class_counts.tolist() == [2] * 10


def test_missing_files_error_lists_folders_and_fix(tmp_path):
    with pytest.raises(FileNotFoundError) as err:
        find_idx_files("mnist", "train", tmp_path)
    assert str(tmp_path) in str(err.value) and "data_dir" in str(err.value)
    with pytest.raises(FileNotFoundError, match="not an existing directory"):
        load_dataset("mnist", data_dir=tmp_path / "absent")


def test_fashion_mnist_absent_everywhere_says_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setattr(mnist_mod, "DEBIAN_FASHION_MNIST_DIR", tmp_path / "none")
    monkeypatch.setattr(mnist_mod, "_dpkg_fashion_dir", lambda: None)
    monkeypatch.delenv("NCLAB_DATA_DIR", raising=False)
    with pytest.raises(FileNotFoundError, match="apt-get install -y dataset-fashion-mnist"):
        load_dataset("fashion-mnist")


def test_bad_split(tmp_path, writers):
    writers.write_mnist_dir(tmp_path)
    with pytest.raises(ValueError, match="split"):
        load_dataset("mnist", split="validation", data_dir=tmp_path)


def test_inconsistent_pair_and_bad_labels(tmp_path, writers):
    writers.write_mnist_dir(tmp_path)
    writers.write_idx_file(tmp_path / "train-labels-idx1-ubyte.gz", np.zeros(7, np.uint8))
    with pytest.raises(ValueError, match="holds 30 images but .* holds 7 labels"):
        load_dataset("mnist", data_dir=tmp_path)
    writers.write_idx_file(tmp_path / "train-labels-idx1-ubyte.gz", np.full(30, 12, np.uint8))
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 10\)"):
        load_dataset("mnist", data_dir=tmp_path)
    writers.write_idx_file(tmp_path / "train-images-idx3-ubyte.gz", np.zeros((30, 784), np.uint8))
    with pytest.raises(ValueError, match="3-d image array"):
        load_dataset("mnist", data_dir=tmp_path)


def test_corrupt_image_file_propagates_with_path(tmp_path, writers):
    writers.write_mnist_dir(tmp_path, gz=False)
    path = tmp_path / "t10k-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(ValueError, match="truncated or corrupt") as err:
        load_dataset("mnist", split="test", data_dir=tmp_path)
    assert str(path) in str(err.value)
