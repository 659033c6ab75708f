"""``NeuralCollapse``: streaming NC metrics as a ``torchmetrics.Metric`` (sum states, so they
reduce across processes with ``dist_reduce_fx="sum"``).

Needs ``torchmetrics`` (``pip install nclab[torchmetrics]``).
"""

from __future__ import annotations

import torch
from torchmetrics import Metric

from nclab.metrics.streaming import ClassStats
from nclab.metrics.validation import as_labels, as_matrix

METRICS = ("nc1_trace", "trace_sigma_w", "cdnv", "nc2_cond", "nc2_etf_gram_dist", "nc3_cos",
           "nc3_duality", "nc1_pinv")


class NeuralCollapse(Metric):
    r"""NC1 (trace; pinv with ``scatter=True``), CDNV, NC2 and NC3 of features (Papyan et al.
    2020; Jacot et al. 2025 §3) accumulated over ``update(features, labels[, classifier])``.

    States (all float64 sums, reduced with ``dist_reduce_fx="sum"``): per-class counts (K,),
    feature sums (K, D), squared-norm sums (K,), sums of unit-normalised features (K, D) (for the
    per-sample NC3 cosine) and, with ``scatter=True``, the (D, D) sum of ``h hᵀ``. ``compute()``
    turns them into class moments and reads the metrics from :class:`nclab.metrics.ClassStats`.
    Precision: the within-class scatter is ``Σ|h|² − n|μ|²`` in float64, so its relative error
    is about 1e-16 · |μ|² / (within-class variance) -- negligible unless the features share an
    offset ~1e6 times their spread; use ``ClassStats`` (Chan et al. updates) for such data.

    ``classifier``: the (K, D) weight for NC3, at construction or in ``update`` (the latest is
    kept; it is model state, not summed). NC4 needs a second pass over the data (use
    :func:`nclab.analyze`). Metrics undefined on the data so far are left out of ``compute()``'s
    dict and listed in ``self.skipped`` with the reason.
    """

    full_state_update = False
    higher_is_better = None
    is_differentiable = False

    def __init__(self, num_classes: int, dim: int, *, classifier=None, scatter: bool = False,
                 **kwargs):
        super().__init__(**kwargs)
        if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
            raise ValueError(f"num_classes must be an int >= 2, got {num_classes!r}")
        if isinstance(dim, bool) or not isinstance(dim, int) or dim < 1:
            raise ValueError(f"dim must be a positive int, got {dim!r}")
        self.num_classes, self.dim, self.scatter = num_classes, dim, bool(scatter)
        f64 = torch.float64
        self.add_state("counts", torch.zeros(num_classes, dtype=f64), dist_reduce_fx="sum")
        self.add_state("sums", torch.zeros(num_classes, dim, dtype=f64), dist_reduce_fx="sum")
        self.add_state("sq_sums", torch.zeros(num_classes, dtype=f64), dist_reduce_fx="sum")
        self.add_state("unit_sums", torch.zeros(num_classes, dim, dtype=f64), dist_reduce_fx="sum")
        if self.scatter:
            self.add_state("outer", torch.zeros(dim, dim, dtype=f64), dist_reduce_fx="sum")
        self.classifier = None if classifier is None else self._weight(classifier)
        self.skipped: dict[str, str] = {}

    def _weight(self, W) -> torch.Tensor:
        W = getattr(W, "weight", W)
        W = as_matrix(W, "classifier")
        if tuple(W.shape) != (self.num_classes, self.dim):
            raise ValueError(
                f"classifier must have shape ({self.num_classes}, {self.dim}), got {tuple(W.shape)}"
            )
        return W

    def update(self, features, labels, classifier=None) -> None:
        H = as_matrix(features, "features")
        if H.shape[1] != self.dim:
            raise ValueError(f"features must have {self.dim} columns, got shape {tuple(H.shape)}")
        y = as_labels(labels, "labels", n=H.shape[0], device=H.device)
        if int(y.max()) >= self.num_classes:
            raise ValueError(
                f"labels contain {int(y.max())}, out of range for num_classes={self.num_classes}"
            )
        H = H.to(self.sums.device)
        y = y.to(self.sums.device)
        self.counts.index_add_(0, y, torch.ones_like(y, dtype=torch.float64))
        self.sums.index_add_(0, y, H)
        self.sq_sums.index_add_(0, y, H.square().sum(1))
        norms = torch.linalg.vector_norm(H, dim=1, keepdim=True).clamp_min(torch.finfo(H.dtype).tiny)
        self.unit_sums.index_add_(0, y, H / norms)
        if self.scatter:
            self.outer.addmm_(H.T, H)
        if classifier is not None:
            self.classifier = self._weight(classifier)

    def class_stats(self) -> ClassStats:
        """The accumulated state as a :class:`nclab.metrics.ClassStats` (every metric it has)."""
        n = self.counts
        if not bool((n > 0).any()):
            raise ValueError("NeuralCollapse has seen no data; call update() first")
        means = self.sums / n.clamp_min(1.0).unsqueeze(1)
        sq_dev = (self.sq_sums - n * means.square().sum(1)).clamp_min(0.0)
        state = {"counts": n, "means": means, "sq_dev": sq_dev, "unit_sums": self.unit_sums}
        if self.scatter:
            state["scatter"] = self.outer - (means.T * n) @ means
        return ClassStats.from_state_dict(state)

    def compute(self) -> dict[str, torch.Tensor]:
        stats = self.class_stats()
        W = self.classifier
        fns = {
            "nc1_trace": stats.nc1_trace, "trace_sigma_w": stats.trace_sigma_w, "cdnv": stats.cdnv,
            "nc2_cond": stats.nc2_cond,
            "nc2_etf_gram_dist": lambda: stats.nc2_etf()["etf_gram_dist"],
        }
        if self.scatter:
            fns["nc1_pinv"] = stats.nc1_pinv
        if W is not None:
            fns["nc3_cos"] = lambda: stats.nc3_cos(W)
            fns["nc3_duality"] = lambda: stats.nc3_duality(W)
        out, self.skipped = {}, {}
        for name, fn in fns.items():
            try:
                out[name] = torch.tensor(float(fn()), dtype=torch.float64)
            except ValueError as err:
                self.skipped[name] = str(err)
        if W is None:
            self.skipped["nc3_cos"] = self.skipped["nc3_duality"] = "no classifier given"
        return out
