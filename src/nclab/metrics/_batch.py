"""Loading a streamed batch: validation and a copy into reusable float64 work buffers (shared by
the first and second passes)."""

from __future__ import annotations

import torch

from .validation import as_labels, as_matrix, check_num_classes


class _Workspace:
    """Reusable float64 (B, D) buffers: streaming allocates nothing of size B x D per batch
    (fresh large allocations cost page faults that dominate these memory-bound updates)."""

    def __init__(self):
        self._bufs: list[torch.Tensor] = []

    def get(self, count: int, B: int, D: int, device) -> list[torch.Tensor]:
        """``count`` buffers of shape (B, D) (the first two are the batch and its residuals)."""
        if (len(self._bufs) < count or self._bufs[0].shape[0] < B
                or self._bufs[0].shape[1] != D or self._bufs[0].device != device):
            n = max(count, len(self._bufs))
            rows = max(B, self._bufs[0].shape[0] if self._bufs else 0)
            self._bufs = [torch.empty(rows, D, dtype=torch.float64, device=device) for _ in range(n)]
        return [buf[:B] for buf in self._bufs[:count]]


def _load(H, y, K: int, D: int | None, device, work: _Workspace):
    """Validate a batch and copy it into a float64 work buffer; returns (X, R, y)."""
    H = as_matrix(H, "H_batch", dtype=None)
    if device is not None:
        H = H.to(device)
    if D is not None and H.shape[1] != D:
        raise ValueError(f"H_batch must have {D} columns like earlier batches, got {H.shape[1]}")
    y = as_labels(y, "y_batch", n=H.shape[0], device=H.device)
    check_num_classes(y, K, "y_batch")
    X, R = work.get(2, H.shape[0], H.shape[1], H.device)
    X.copy_(H)
    return X, R, y
