import gzip

import numpy as np
import pytest

from nclab.data import read_idx


@pytest.mark.parametrize("gz", [True, False])
@pytest.mark.parametrize("dtype", ["u1", "i1", "i2", "i4", "f4", "f8"])
def test_roundtrip_every_type_gz_and_raw(tmp_path, writers, gz, dtype):
    rng = np.random.default_rng(0)
    a = (rng.standard_normal((5, 3, 4)) * 100).astype(dtype)
    path = writers.write_idx_file(tmp_path / "a.idx", a, gz=gz)
    out = read_idx(path)
    assert out.shape == (5, 3, 4)
    assert out.dtype.isnative
    np.testing.assert_array_equal(out, a)


def test_big_endian_decoding(tmp_path, writers):
    # 258 = 0x0102 must come back as 258, not 513, whatever the host byte order
    path = writers.write_idx_file(tmp_path / "x", np.array([258, -2], dtype="i4"), gz=False)
    assert path.read_bytes()[-8:] == bytes([0, 0, 1, 2, 255, 255, 255, 254])
    assert read_idx(path).tolist() == [258, -2]


def test_compression_detected_from_content_not_name(tmp_path, writers):
    a = np.arange(12, dtype=np.uint8).reshape(3, 4)
    gz_named_raw = tmp_path / "raw.gz"
    gz_named_raw.write_bytes(writers.idx_bytes(a))
    raw_named_gz = tmp_path / "compressed-ubyte"
    raw_named_gz.write_bytes(gzip.compress(writers.idx_bytes(a)))
    np.testing.assert_array_equal(read_idx(gz_named_raw), a)
    np.testing.assert_array_equal(read_idx(raw_named_gz), a)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.idx"):
        read_idx(tmp_path / "nope.idx")


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda b: b"\x01\x00" + b[2:], "not an IDX file"),
        (lambda b: b[:2] + b"\x07" + b[3:], "unknown IDX data type"),
        (lambda b: b[:3] + b"\x00", "0 dimensions"),
        (lambda b: b[:-1], "truncated or corrupt"),
        (lambda b: b + b"\x00", "truncated or corrupt"),
        (lambda b: b[:6], "truncated IDX header"),
        (lambda b: b[:3], "too short"),
    ],
)
def test_corrupt_files_name_the_path(tmp_path, writers, mutate, message):
    good = writers.idx_bytes(np.zeros((2, 3, 3), dtype=np.uint8))
    path = tmp_path / "bad-images-idx3-ubyte"
    path.write_bytes(mutate(good))
    with pytest.raises(ValueError, match=message) as err:
        read_idx(path)
    assert str(path) in str(err.value)


def test_truncated_gzip_stream(tmp_path, writers):
    data = gzip.compress(writers.idx_bytes(np.arange(4000, dtype=np.uint8).reshape(40, 100)))
    path = tmp_path / "cut.gz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="corrupt gzip") as err:
        read_idx(path)
    assert str(path) in str(err.value)
