"""The data side of :func:`nclab.analyze`: what ``data`` may be, how a batch becomes
``(model input, labels)``, and how inputs reach the model's device."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

import numpy as np
import torch


class TensorBatches:
    """``(X, y)`` tensors as a re-iterable of mini-batches of ``batch_size`` rows."""

    def __init__(self, X, y, batch_size: int):
        if isinstance(X, np.ndarray):
            X = torch.from_numpy(X)
        if isinstance(y, np.ndarray):
            y = torch.from_numpy(y)
        if X.shape[0] != y.shape[0]:
            raise ValueError(f"data: X has {X.shape[0]} rows but y has {y.shape[0]} labels")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
        self.X, self.y, self.batch_size = X, y, batch_size

    def __len__(self) -> int:
        return -(-self.X.shape[0] // self.batch_size)

    def __iter__(self):
        for i in range(0, self.X.shape[0], self.batch_size):
            yield self.X[i : i + self.batch_size], self.y[i : i + self.batch_size]


def _is_array(a) -> bool:
    return isinstance(a, (torch.Tensor, np.ndarray))


def as_batches(data, batch_size: int, passes: int) -> Iterable:
    """``data`` as something to iterate ``passes`` times.

    Accepted: ``(X, y)`` tensors or arrays (split into ``batch_size`` rows), a DataLoader or any
    re-iterable of batches (a list, a Dataset-backed loader). A one-shot iterator (a generator)
    can be read once: an error when ``passes == 2``. A map-style ``Dataset`` yields single
    samples: an error asking for a DataLoader.
    """
    if isinstance(data, (tuple, list)) and len(data) == 2 and all(_is_array(a) for a in data):
        return TensorBatches(data[0], data[1], batch_size)
    if isinstance(data, torch.utils.data.Dataset):
        raise ValueError(
            f"data is a {type(data).__name__} (single samples); wrap it in a "
            "torch.utils.data.DataLoader(dataset, batch_size=...)"
        )
    if not isinstance(data, Iterable):
        raise ValueError(
            f"data must be a DataLoader, a re-iterable of (x, y) batches or (X, y) tensors, "
            f"got {type(data).__name__}"
        )
    if iter(data) is data and passes > 1:
        raise ValueError(
            f"data is a one-shot iterator ({type(data).__name__}): analyze reads the data twice "
            "(exact NC1 pinv and NC4); pass a DataLoader, a list of batches or (X, y) tensors, "
            "or one_pass=True"
        )
    return data


def split_batch(batch, batch_fn: Callable | None):
    """``(model input, labels)`` of one batch: ``batch_fn(batch)`` when given, else a
    ``(x, y)`` pair (DataLoaders yield lists)."""
    if batch_fn is not None:
        out = batch_fn(batch)
        if not (isinstance(out, (tuple, list)) and len(out) == 2):
            raise ValueError(
                f"batch_fn must return (model input, labels), got {type(out).__name__}"
            )
        return out
    if isinstance(batch, Mapping):
        raise ValueError(
            f"a batch is a dict (keys {sorted(batch)[:6]}); pass batch_fn=lambda b: (inputs, "
            "labels), e.g. ({k: v for k, v in b.items() if k != 'labels'}, b['labels'])"
        )
    if not (isinstance(batch, (tuple, list)) and len(batch) == 2):
        raise ValueError(
            f"a batch must be an (x, y) pair, got {type(batch).__name__}"
            + (f" of length {len(batch)}" if isinstance(batch, (tuple, list)) else "")
            + "; pass batch_fn=lambda b: (model input, labels)"
        )
    return batch


def to_device(x, device):
    """Move a model input (tensor, or a dict / tuple / list of them) to ``device``."""
    if isinstance(x, torch.Tensor):
        return x.to(device, non_blocking=True)
    if isinstance(x, Mapping):
        return {k: to_device(v, device) for k, v in x.items()}
    if isinstance(x, (tuple, list)):
        return type(x)(to_device(v, device) for v in x)
    return x


def call_model(model, x):
    """``model(**x)`` for a dict, ``model(*x)`` for a tuple/list, else ``model(x)``."""
    if isinstance(x, Mapping):
        return model(**x)
    if isinstance(x, (tuple, list)):
        return model(*x)
    return model(x)


def as_label_tensor(y, device) -> torch.Tensor:
    if isinstance(y, np.ndarray):
        y = torch.from_numpy(y)
    if not isinstance(y, torch.Tensor):
        raise ValueError(f"labels must be a tensor, got {type(y).__name__}")
    if y.is_floating_point() or y.is_complex() or y.dtype == torch.bool:
        raise ValueError(
            f"labels must be integer class indices, got dtype {y.dtype}"
            " (one-hot targets: pass batch_fn returning y.argmax(1))"
        )
    if y.ndim == 0:
        raise ValueError("labels must have one entry per sample (or per token), got a scalar")
    return y.to(device, non_blocking=True)
