"""Reader for the IDX format of MNIST and Fashion-MNIST (LeCun et al.), gzip-compressed or raw.

An IDX file is a 4-byte magic number ``0x00 0x00 <type> <ndim>``, then ``ndim`` big-endian
uint32 dimensions, then the data in big-endian C order. Compression is detected from the file's
first bytes, not from its name.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np

# type byte -> big-endian numpy dtype (IDX specification, http://yann.lecun.com/exdb/mnist/)
IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

_GZIP_MAGIC = b"\x1f\x8b"


def _read_bytes(path: Path) -> bytes:
    with open(path, "rb") as fh:
        head = fh.read(2)
        fh.seek(0)
        if head != _GZIP_MAGIC:
            return fh.read()
        try:
            return gzip.GzipFile(fileobj=fh).read()
        except (OSError, EOFError) as exc:  # truncated or damaged gzip stream
            raise ValueError(f"{path}: corrupt gzip stream ({exc})") from exc


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read one IDX file (``.gz`` or raw) into a native-endian numpy array of its stored shape.

    Raises ``FileNotFoundError`` if ``path`` does not exist and ``ValueError`` naming the path if
    the magic number, the type byte or the payload size is wrong (truncated or corrupt file).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"IDX file not found: {path}")
    raw = _read_bytes(path)
    if len(raw) < 4:
        raise ValueError(f"{path}: too short for an IDX header ({len(raw)} bytes)")
    if raw[0] != 0 or raw[1] != 0:
        raise ValueError(
            f"{path}: not an IDX file (magic number starts with {raw[:2].hex()}, expected 0000)"
        )
    type_code, ndim = raw[2], raw[3]
    if type_code not in IDX_DTYPES:
        raise ValueError(f"{path}: unknown IDX data type byte 0x{type_code:02x}")
    if ndim == 0:
        raise ValueError(f"{path}: IDX header declares 0 dimensions")
    header_len = 4 + 4 * ndim
    if len(raw) < header_len:
        raise ValueError(f"{path}: truncated IDX header (need {header_len} bytes, got {len(raw)})")
    shape = tuple(int(s) for s in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    dtype = IDX_DTYPES[type_code]
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    payload = len(raw) - header_len
    if payload != expected:
        raise ValueError(
            f"{path}: IDX payload has {payload} bytes but shape {shape} of {dtype.str[1:]} "
            f"needs {expected} (truncated or corrupt file)"
        )
    data = np.frombuffer(raw, dtype=dtype, offset=header_len).reshape(shape)
    return data.astype(dtype.newbyteorder("="), copy=True)
