"""The second streamed pass of :class:`~nclab.metrics.streaming.ClassStats`: residuals projected
on the between-class directions (NC1 pinv, any truncation of Sigma_B^+) and NCC agreement (NC4).
Built by :meth:`ClassStats.second_pass`; see :mod:`nclab.metrics.streaming` for the two modes."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from ._batch import _load
from ._classes import centered_means, global_mean_of
from ._cutoff import between_basis, check_cutoff, pinv_rank, rounding_rtol
from .pairwise import TILE_ENTRIES
from .validation import as_matrix

if TYPE_CHECKING:
    from .streaming import ClassStats


class ResidualPass:
    """Second pass over the same batches: projected residuals (NC1 pinv) and NCC agreement (NC4).

    Built by :meth:`ClassStats.second_pass`; the class means, the K-1 leading directions V of
    ``Sigma_B`` and the classifier are frozen, so one matrix product per batch gives everything:
    O(N D K) work, O(K D) memory (NC4's logits and distances are formed a few rows at a time, so
    memory stays bounded at K = 32 768). The squared projections of the residuals are summed per
    direction, so any truncation of ``Sigma_B^+`` (the default cutoff, another ``rtol``, or
    ``rank="papyan"``) is available from the same pass. ``rtol``: the default cutoff used
    (the first pass's rounding level unless given). With ``min_count``, samples of the classes it
    excludes are skipped.

    The pass must see the first pass's data again: its per-class counts must match and its
    per-class residuals must average to zero (relative tolerance ``SAME_DATA_RTOL``), else the
    metrics raise ``ValueError``; passes of different first passes do not merge.
    """

    SAME_DATA_RTOL = 1e-8  # float64 means of the same rows: residual means ~1e-16 x scale

    def __init__(
        self, stats: ClassStats, W=None, b=None, *, rtol: float | None = None, rank=None,
        min_count: int | None = None,
    ):
        check_cutoff(rtol, rank)
        m = stats._require(min_count)
        self.K, self.D, self.device = stats.K, stats.D, stats.device
        self._seen = stats._m.counts > 0
        self._first_pass_id = stats.fingerprint()
        self._first_counts = m.counts.clone()
        self._scale = m.means.abs().amax(1) + (m.sq_dev / m.counts.clamp(min=1)).sqrt()
        self._counts = torch.zeros(self.K, dtype=torch.float64, device=self.device)
        self._resid_sum = torch.zeros(self.K, self.D, dtype=torch.float64, device=self.device)
        self._present = m.present()
        self._single = bool(((m.counts > 0) & (m.counts < 2)).any())
        self._idx = self._present.nonzero().flatten()
        self._offsets, self._origin = m.offsets, m.origin  # means = origin + offsets
        self._k_present = int(self._idx.numel())
        self._shift = global_mean_of(m, self._present, "sample")
        self._work = stats._work
        Mc = centered_means(m, self._present, stats.global_mean)
        V, self._s = between_basis(Mc)
        if rtol is None:
            rtol = rounding_rtol(m, self._present, float(self._s[0]) * Mc.shape[0] ** 0.5, Mc.dtype)
        self.rtol, self.rank = rtol, rank
        # (r, D) rows v_j; row-major makes R @ V ~10% faster than a (D, r) operand.
        self._Vt = V.T.contiguous()
        self._W = None
        if W is not None:
            # NCC without a (D, K) product: with r_i = h_i - mu_{y_i} and C = means - g,
            # (h_i - g).(mu_c - g) = (V^T r_i).(V^T C_c) + C_{y_i}.C_c, because every C_c lies in
            # span(V); V^T r_i is what the pseudo-inverse needs anyway. With more classes than
            # dimensions this saves nothing and the K x K Gram matrix is large: then
            # (h_i - g).C_c is computed directly.
            C = self._offsets[self._idx] - self._shift  # centred means (offset-free)
            self._C, self._ncc_gram = C, None
            if self._k_present <= self.D:
                self._ncc_proj = (C @ V).T  # (r, K_present)
                self._ncc_gram = C @ C.T
            self._c_sq = C.square().sum(1)
            self._pos = torch.full((self.K,), -1, dtype=torch.long, device=self.device)
            self._pos[self._idx] = torch.arange(self._idx.numel(), device=self.device)
            self._W = stats._classifier(W)
            self._bias = torch.zeros(self.K, dtype=torch.float64, device=self.device)
            if b is not None:
                b = as_matrix(b, "b", dtype=torch.float64, ndim=1).to(self.device)
                if b.shape[0] != self.K:
                    raise ValueError(f"b must have shape ({self.K},), got {tuple(b.shape)}")
                self._bias = b
        self.N = 0
        self.skipped = 0  # samples of classes excluded by min_count
        self._proj_sq = torch.zeros_like(self._s)  # sum_i (v_j . r_i)^2 per direction j
        self._agree = 0

    def update(self, H_batch, y_batch) -> ResidualPass:
        X, R, y = _load(H_batch, y_batch, self.K, self.D, self.device, self._work)
        keep = self._present[y]
        if not bool(keep.all()):
            if not bool(self._seen[y].all()):
                raise ValueError("y_batch contains a class that was empty in the first pass")
            self.skipped += int((~keep).sum())
            X, y = X[keep], y[keep]  # classes excluded by min_count
            R = R[: X.shape[0]]
        self.N += X.shape[0]
        if self._W is not None:  # logits from the features as given, before they are shifted
            step = max(1, TILE_ENTRIES // self.K)
            pred = torch.cat([torch.addmm(self._bias, X[a : a + step], self._W.T).argmax(1)
                              for a in range(0, X.shape[0], step)])
        X.sub_(self._origin)  # X is a work copy: residuals and distances from origin-relative values
        torch.sub(X, torch.index_select(self._offsets, 0, y, out=R), out=R)
        self._counts.index_add_(0, y, torch.ones_like(y, dtype=torch.float64))
        self._resid_sum.index_add_(0, y, R)
        proj = R @ self._Vt.T
        self._proj_sq += proj.square().sum(0)
        if self._W is not None:
            for a in range(0, X.shape[0], step):
                rows = slice(a, a + step)
                if self._ncc_gram is None:
                    inner = (X[rows] - self._shift) @ self._C.T
                else:
                    inner = proj[rows] @ self._ncc_proj + self._ncc_gram[self._pos[y[rows]]]
                ncc = self._idx[(self._c_sq - 2.0 * inner).argmin(1)]
                self._agree += int((pred[rows] == ncc).sum())
        return self

    def merge(self, other: ResidualPass) -> ResidualPass:
        if not isinstance(other, ResidualPass) or other._first_pass_id != self._first_pass_id:
            raise ValueError("can only merge a ResidualPass built from the same first pass "
                             "(equal class counts and means)")
        self.N += other.N
        self.skipped += other.skipped
        self._counts += other._counts.to(self.device)
        self._resid_sum += other._resid_sum.to(self.device)
        self._proj_sq += other._proj_sq
        self._agree += other._agree
        return self

    def _require(self) -> None:
        if self.N == 0:
            raise ValueError("the second pass has seen no data; call update() first")
        if not torch.equal(self._counts, self._first_counts):
            diff = (self._counts != self._first_counts).nonzero().flatten().tolist()
            raise ValueError(
                f"the second pass saw {self.N} samples with class counts that differ from the "
                f"first pass's in classes {diff[:10]}: feed it the same batches again"
            )
        n = self._counts.clamp(min=1).unsqueeze(1)
        off = (self._resid_sum / n).abs().amax(1) / self._scale.clamp(min=1e-300)
        if bool((off > self.SAME_DATA_RTOL).any()):
            c = int(off.argmax())
            raise ValueError(
                f"the second pass saw other data than the first: class {c}'s features average "
                f"{float(off[c]):.3g} (relative) away from its first-pass mean; feed it the "
                "same batches again"
            )

    def nc1_pinv(
        self, *, rtol: float | None = None, rank: int | str | None = None, divide_by_K: bool = True
    ) -> float:
        """Two-pass NC1 pinv; see :func:`nclab.metrics.nc1_pinv`. ``rtol``/``rank`` default to
        those of :meth:`ClassStats.second_pass` (the first pass's rounding level)."""
        self._require()
        if self._single:
            raise ValueError(
                "a class has fewer than 2 samples; within-class variability is undefined for it"
            )
        check_cutoff(rtol, rank)
        if rtol is None and rank is None:
            rtol, rank = self.rtol, self.rank
        k = pinv_rank(self._s, self.rtol if rtol is None else rtol, rank)
        value = float((self._proj_sq[:k] / self._s[:k].square()).sum()) / self.N
        return value / self._k_present if divide_by_K else value

    def nc4_ncc(self) -> float:
        """Agreement of the classifier with the nearest class centre; see :func:`nclab.metrics.nc4_ncc`."""
        self._require()
        if self._W is None:
            raise ValueError("nc4_ncc needs the classifier: call stats.second_pass(W)")
        return self._agree / self.N
