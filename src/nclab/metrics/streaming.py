"""One-pass streaming accumulators for feature sets that do not fit in memory.

Two modes:

* **One pass** (features cannot be recomputed): ``ClassStats(K)`` keeps per-class counts, means,
  within-class sums of squares and sums of unit-normalised features (O(K D) memory). That gives
  NC1 (trace), CDNV, NC2 (cond, ETF), NC3 (per-sample cosine, for any classifier given after the
  pass) and NC3 self-duality. With ``scatter=True`` it also keeps the pooled within-class scatter
  (D x D, O(D^2) memory, O(N D^2) work via a symmetric rank-k update) so that ``nc1_pinv()`` is
  available after one pass too.
* **Two passes** (fast, O(K D) memory): after the first pass, ``second = stats.second_pass(W)``
  freezes the class means, the whitening basis of Sigma_B^+ and the classifier; feed the same
  batches again to get ``nc1_pinv()`` (residuals projected on the <= K-1 dimensional span of the
  centred means: O(N D K) work) and ``nc4_ncc()`` (needs the final means, hence a second pass).

Every accumulator has ``update(H_batch, y_batch)`` and ``merge(other)`` (exact: shards or
processes combine in any order to the same statistics up to rounding). State is float64 on the
device of the first batch (CPU or CUDA; no host copies). Per-class merges follow Chan, Golub and
LeVeque's pairwise update, so a large common offset in the features (e.g. +1e4) costs no accuracy.

Vocabulary scale (K = 32k-50k classes, Wu & Papyan's "Linguistic Collapse"): an update touches
only the classes present in the batch, so it costs O(B D) whatever K; pairwise metrics (CDNV,
ETF angles) are tiled (:mod:`nclab.metrics.pairwise`); ``min_count=`` on every metric excludes
rare classes by name (:meth:`ClassStats.selection` reports which and their share of samples);
the strict default (``None``) refuses classes with too few samples as before.

Cutoffs (the pseudo-inverse of Sigma_B, nc2_cond's non-zero singular values) follow the precision
of the batches *as given*: the state keeps the machine epsilon of the lowest precision seen (a
bf16 batch among float32 ones makes it bf16's), merges keep the larger, the second pass inherits
it; see :func:`nclab.metrics.nc1_pinv` for the rule and ``rtol=`` to override it.
"""

from __future__ import annotations

import hashlib

import numpy as np
import torch

from ._batch import _load, _Workspace
from ._classes import (
    EPS64,
    ClassMoments,
    ClassSelection,
    batch_moments,
    cdnv_stats_from_moments,
    centered_means,
    check_global_mean,
    merge_into_,
    nc1_trace_from_moments,
    nc2_cond_from_means,
    nc3_cos_from_moments,
    restrict,
)
from ._cutoff import between_whitener, rounding_rtol
from ._memory import FLOAT64, check_fits
from .pairwise import etf_stats_from_centered
from .second_pass import ResidualPass
from .validation import (
    as_matrix,
    check_classifier,
    check_min_count,
    input_eps,
    nonzero_norm,
)

try:  # symmetric rank-k update for the one-pass scatter on CPU (half the flops of a GEMM)
    from scipy.linalg.blas import dsyrk as _dsyrk
except ImportError:  # pragma: no cover
    _dsyrk = None


def _check_K(K) -> int:
    if isinstance(K, bool) or not isinstance(K, (int, np.integer)) or K < 2:
        raise ValueError(f"K must be an integer >= 2, got {K!r}")
    return int(K)


def _syrk_add(S: torch.Tensor, R: torch.Tensor) -> None:
    """S += R^T R, updating the upper triangle only on CPU (mirrored when read)."""
    if _dsyrk is not None and S.device.type == "cpu":
        # Row-major R is column-major R^T, so 'trans=0' computes (R^T)(R^T)^T = R^T R.
        out = _dsyrk(1.0, R.numpy().T, beta=1.0, c=S.numpy().T, trans=0, lower=1, overwrite_c=1)
        S.copy_(torch.from_numpy(out.T))
    else:
        S.addmm_(R.T, R)


class ClassStats:
    """First-pass streaming class statistics (see the module docstring for the two modes).

    Args:
        K: number of classes (labels must lie in [0, K)); classes never seen are skipped.
        scatter: also keep the D x D pooled within-class scatter, enabling one-pass ``nc1_pinv``.
        global_mean: ``"sample"`` or ``"class"``, as in :func:`nclab.metrics.nc1_trace`.
        min_count: default of every metric's ``min_count`` (None: strict; e.g. 2 for a
            vocabulary with rare tokens); a metric's own ``min_count=`` overrides it.

    Example::

        stats = ClassStats(K=10)
        for H, y in batches:
            stats.update(H, y)
        stats.nc1_trace(), stats.nc2_cond(), stats.nc3_cos(W)
        second = stats.second_pass(W)
        for H, y in batches:
            second.update(H, y)
        second.nc1_pinv(), second.nc4_ncc()
    """

    def __init__(
        self, K: int, *, scatter: bool = False, global_mean: str = "sample",
        min_count: int | None = None,
    ):
        check_global_mean(global_mean)
        self.K = _check_K(K)
        self.min_count = check_min_count(min_count)
        self.scatter = bool(scatter)
        self.global_mean = global_mean
        self._m: ClassMoments | None = None
        self._S: torch.Tensor | None = None  # pooled within-class scatter (upper triangle valid)
        self._work = _Workspace()
        self._frozen = False  # set by second_pass(): its means feed that pass

    def _check_not_frozen(self, what: str) -> None:
        if self._frozen:
            raise ValueError(
                f"cannot {what} this ClassStats: second_pass() froze its class means (the "
                "second pass measures residuals from them); start a new ClassStats for new data"
            )

    # ---- accumulation -------------------------------------------------------------------
    @property
    def D(self) -> int | None:
        return None if self._m is None else self._m.offsets.shape[1]

    @property
    def device(self):
        return None if self._m is None else self._m.offsets.device

    @property
    def N(self) -> int:
        return 0 if self._m is None else int(round(self._m.N))

    def update(self, H_batch, y_batch) -> ClassStats:
        """Add a mini-batch: features (B, D) and int labels (B,). Costs O(B D) (+ O(B D^2) with
        ``scatter=True``) whatever K: only the classes present in the batch are touched."""
        self._check_not_frozen("update")
        X, R, y = _load(H_batch, y_batch, self.K, self.D, self.device, self._work)
        cls, local = torch.unique(y, return_inverse=True)
        k = cls.numel()  # <= B
        A, U, T = (buf[:k] for buf in self._work.get(5, X.shape[0], X.shape[1], X.device)[2:])
        origin = None if self._m is None else self._m.origin
        m, R = batch_moments(X, local, k, True, origin=origin, resid=R, overwrite=True, out=(A, U, T))
        m.eps = input_eps(H_batch)
        self._combine(cls, m, R if self.scatter else None, bufs=(A, T))
        return self

    def merge(self, other: ClassStats) -> ClassStats:
        """Fold another accumulator (e.g. from another shard or process) into this one."""
        if not isinstance(other, ClassStats):
            raise ValueError(f"can only merge a ClassStats, got {type(other).__name__}")
        self._check_not_frozen("merge into")
        if other.global_mean != self.global_mean:
            raise ValueError(
                f"cannot merge ClassStats(global_mean={other.global_mean!r}) into "
                f"ClassStats(global_mean={self.global_mean!r}): their NC1/NC2 differ in meaning"
            )
        if other.K != self.K or other.scatter != self.scatter:
            raise ValueError(
                f"cannot merge ClassStats(K={other.K}, scatter={other.scatter}) into "
                f"ClassStats(K={self.K}, scatter={self.scatter})"
            )
        if other._m is None:
            return self
        if self.D is not None and other.D != self.D:
            raise ValueError(f"cannot merge statistics of dimension {other.D} into {self.D}")
        idx = (other._m.counts > 0).nonzero().flatten()
        m = other._m.take(idx)
        if self.device is not None:
            idx = idx.to(self.device)
            m = m.to(self.device)
        self._combine(idx, m, None, other._full_scatter() if other.scatter else None)
        return self

    def _allocate(self, D: int, device, origin: torch.Tensor) -> None:
        """Zero state at ``origin`` (that of the first moments merged): (K,) counts and sums of
        squares, (K, D) offsets and unit sums (+ D x D)."""
        check_fits(
            FLOAT64 * (2 * self.K * (D + 1) + (D * D if self.scatter else 0)),
            f"ClassStats(K={self.K}) state for features of dimension {D}", device,
        )
        z = {"dtype": torch.float64, "device": device}
        self._m = ClassMoments(
            torch.zeros(self.K, **z), torch.zeros(self.K, D, **z), torch.zeros(self.K, **z),
            torch.zeros(self.K, D, **z), True, EPS64, origin.to(device).clone(),
        )
        if self.scatter:
            self._S = torch.zeros(D, D, **z)

    def _combine(self, idx: torch.Tensor, m: ClassMoments, R, S_other=None, bufs=None) -> None:
        """Merge the moments ``m`` of the classes ``idx`` into the state (Chan et al., only
        those rows: untouched classes would merge with an empty set, which changes nothing).
        ``bufs``: two (len(idx), D) work buffers (``m.offsets`` may be the first; it is consumed)."""
        if self._m is None:
            self._allocate(m.offsets.shape[1], m.offsets.device, m.origin)
        delta, tmp = bufs if bufs is not None else (torch.empty_like(m.offsets), torch.empty_like(m.offsets))
        shift_rows = merge_into_(self._m, idx, m, delta, tmp, shift=self.scatter)
        if self.scatter:
            if R is not None:
                _syrk_add(self._S, R)
            if S_other is not None:
                self._S += S_other.to(self._S.device)
            _syrk_add(self._S, shift_rows)

    def state_dict(self) -> dict[str, torch.Tensor]:
        """Tensors of the state (e.g. to send between processes or save with safetensors):
        ``counts`` (K,), ``origin`` (D,) (a sample of the data), ``offsets`` (K, D) (class means
        minus ``origin``), ``sq_dev`` (K,), ``unit_sums`` (K, D), ``eps`` (1,) (the machine
        epsilon of the lowest input precision seen) and, with ``scatter=True``, ``scatter``
        (D, D). Copies: the live state is updated in place."""
        m = self._require()
        state = {"counts": m.counts.clone(), "origin": m.origin.clone(),
                 "offsets": m.offsets.clone(), "sq_dev": m.sq_dev.clone(),
                 "unit_sums": m.unit_sums.clone(), "eps": torch.tensor([m.eps], dtype=torch.float64)}
        if self.scatter:
            state["scatter"] = self._full_scatter().clone()
        return state

    @classmethod
    def from_state_dict(
        cls, state: dict[str, torch.Tensor], *, global_mean: str = "sample",
        min_count: int | None = None,
    ) -> ClassStats:
        """The inverse of :meth:`state_dict`. A state may give absolute class ``means`` (K, D)
        instead of ``origin`` + ``offsets`` (older states; sums reduced across processes), read
        as offsets from the origin 0; without ``eps`` the features are taken as float64."""
        stats = cls(state["counts"].shape[0], scatter="scatter" in state, global_mean=global_mean,
                    min_count=min_count)
        eps = float(state["eps"].max()) if "eps" in state else EPS64
        if "offsets" in state:
            offsets, origin = state["offsets"], state["origin"].double().clone()
        else:
            offsets, origin = state["means"], None
        stats._m = ClassMoments(
            *(t.double().clone() for t in (state["counts"], offsets, state["sq_dev"],
                                           state["unit_sums"])), True, eps, origin,
        )
        if stats.scatter:
            stats._S = state["scatter"].double().clone()
        return stats

    # ---- metrics ------------------------------------------------------------------------
    # Every metric takes ``min_count`` (default: the constructor's): None (strict) refuses
    # classes with too few samples; an integer computes the metric on the samples of classes
    # with >= min_count samples only, exactly as on (H[keep], y[keep]); ``selection`` says which.
    def _min_count(self, min_count: int | None) -> int | None:
        return self.min_count if min_count is None else min_count

    def _require(self, min_count: int | None = None) -> ClassMoments:
        if self._m is None:
            raise ValueError("ClassStats has seen no data; call update() first")
        return restrict(self._m, self._min_count(min_count))[0]

    def selection(self, min_count: int | None = None) -> ClassSelection:
        """Classes kept and excluded by ``min_count`` (by id), and the excluded share of samples."""
        if self._m is None:
            raise ValueError("ClassStats has seen no data; call update() first")
        sel = restrict(self._m, self._min_count(min_count))[1]
        if sel is None:
            raise ValueError("selection needs a min_count (an integer >= 1)")
        return sel

    def _present(self, min_size: int = 1) -> torch.Tensor:
        return self._require().present(min_size=min_size)

    def _full_scatter(self) -> torch.Tensor:
        S = self._S
        if _dsyrk is not None and S.device.type == "cpu":
            S = torch.triu(S) + torch.triu(S, 1).T
        return S

    def class_means(self, *, min_count: int | None = None) -> np.ndarray:
        """(K, D) class means; rows of empty (or ``min_count``-excluded) classes are zero."""
        m = self._require(min_count)
        present = m.present()
        return (m.means * present.unsqueeze(1)).cpu().numpy()

    def nc1_trace(self, *, min_count: int | None = None) -> float:
        """See :func:`nclab.metrics.nc1_trace`."""
        return nc1_trace_from_moments(self._require(min_count), self.global_mean)

    def trace_sigma_w(self, *, min_count: int | None = None) -> float:
        """See :func:`nclab.metrics.trace_sigma_w`."""
        m = self._require(min_count)
        m.present()
        return float(m.sq_dev.sum()) / m.N

    def cdnv(self, *, min_count: int | None = None) -> float:
        """See :func:`nclab.metrics.cdnv` (the mean over all pairs, computed tiled)."""
        return self.cdnv_stats(min_count=min_count)["mean"]

    def cdnv_stats(self, *, min_count: int | None = None, bins=None) -> dict:
        """CDNV over all pairs of (kept) classes: mean (= :meth:`cdnv`), population std, min, max,
        number of pairs and, with ``bins`` (increasing edges), a histogram; reduced tile by tile
        in O(K D + tile K) memory (:func:`nclab.metrics.pairwise.cdnv_pairs`). With ``min_count``
        the :meth:`selection` numbers are included."""
        out = cdnv_stats_from_moments(self._require(min_count), bins=bins)
        if self._min_count(min_count) is not None:
            out.update(self.selection(min_count).as_row())
        return out

    def nc1_pinv(
        self, *, rtol: float | None = None, rank: int | str | None = None, divide_by_K: bool = True,
        min_count: int | None = None,
    ) -> float:
        """One-pass NC1 pinv (needs ``scatter=True``); see :func:`nclab.metrics.nc1_pinv` (``rtol``
        defaults to the rounding level of the lowest precision seen, ``rank="papyan"`` inverts
        all K-1 directions).

        Works for K - 1 >= D too (Sigma_B of full rank D: the whitening is D x D, O(N D^2) in
        all). The pooled scatter cannot be split by class, so ``min_count`` may only exclude
        single-sample classes here (they add no scatter); use :meth:`second_pass` otherwise.
        """
        if not self.scatter:
            raise ValueError(
                "nc1_pinv needs the within-class scatter: build ClassStats(K, scatter=True) "
                "(one pass, O(D^2) memory) or use stats.second_pass() and feed the batches again "
                "(two passes, O(K D) memory)"
            )
        m = self._require(min_count)
        min_count = self._min_count(min_count)
        if min_count is not None and float(self._m.sq_dev[m.counts == 0].sum()) != 0.0:
            raise ValueError(
                f"one-pass nc1_pinv cannot exclude classes with 2 to {min_count - 1} samples (the "
                f"pooled scatter includes them); use stats.second_pass(min_count={min_count})"
            )
        present = m.present(min_size=2)
        Mc = centered_means(m, present, self.global_mean)
        P, _ = between_whitener(m, present, Mc, rtol, rank)
        value = float((P * (self._full_scatter() @ P)).sum()) / m.N
        return value / Mc.shape[0] if divide_by_K else value

    def nc2_cond(
        self, *, centered: bool = False, nonzero: bool = True, rtol: float | None = None,
        min_count: int | None = None,
    ) -> float:
        """See :func:`nclab.metrics.nc2_cond`."""
        m = self._require(min_count)
        present = m.present()
        M = centered_means(m, present, self.global_mean) if centered else m.means[present]
        return nc2_cond_from_means(m, present, M, centered=centered, nonzero=nonzero, rtol=rtol)

    def rounding_rtol(self, *, centered: bool = False) -> float:
        """The default cutoff (relative to s_1) of :meth:`nc2_cond` (``centered`` as there) and,
        with ``centered=True``, of :meth:`nc1_pinv`: the rounding level of the lowest precision
        seen (see :func:`nclab.metrics.nc1_pinv`)."""
        m = self._require()
        present = m.present()
        M = centered_means(m, present, self.global_mean) if centered else m.means[present]
        s1 = nonzero_norm(float(torch.linalg.matrix_norm(M, ord=2)), "the class-mean matrix")
        return rounding_rtol(m, present, s1, M.dtype)

    def nc2_etf(self, *, min_count: int | None = None) -> dict:
        """See :func:`nclab.metrics.nc2_etf` (pairwise angles computed tiled)."""
        m = self._require(min_count)
        return etf_stats_from_centered(centered_means(m, m.present(), self.global_mean))

    def _classifier(self, W) -> torch.Tensor:
        W = as_matrix(W, "W", dtype=torch.float64).to(self.device)
        check_classifier(W, self.K, self.D)
        return W

    def nc3_cos(self, W, *, min_count: int | None = None) -> float:
        """Per-sample NC3 cosine for any classifier W (K, D); see :func:`nclab.metrics.nc3_cos`."""
        m = self._require(min_count)
        return nc3_cos_from_moments(m, self._classifier(W))

    def nc3_duality(self, W, *, centered: bool = True, min_count: int | None = None) -> float:
        """See :func:`nclab.metrics.nc3_duality`."""
        m = self._require(min_count)
        present = m.present()
        M = centered_means(m, present, self.global_mean) if centered else m.means[present]
        Wp = self._classifier(W)[present]
        nonzero_norm(float(Wp.norm()), "W")
        nonzero_norm(float(M.norm()), "the class-mean matrix")
        return float((Wp / Wp.norm() - M / M.norm()).norm())

    def second_pass(
        self, W=None, b=None, *, rtol: float | None = None, rank: int | str | None = None,
        min_count: int | None = None,
    ) -> ResidualPass:
        """Freeze the first-pass statistics and return the accumulator for the second pass
        (``rtol``, ``rank``: the defaults of its ``nc1_pinv``; the precision is inherited; with
        ``min_count``, samples of excluded classes are skipped there; ``update`` / ``merge`` into
        this ClassStats raise from now on)."""
        second = ResidualPass(self, W, b, rtol=rtol, rank=rank, min_count=min_count)
        self._frozen = True
        return second

    def fingerprint(self) -> str:
        """A digest of the class counts and means (equal for equal first passes, in any
        process): a second pass checks it to refuse merging passes of different first passes."""
        m = self._require()
        h = hashlib.sha256()
        for t in (m.counts, m.origin, m.offsets):
            h.update(t.detach().to("cpu", torch.float64).contiguous().numpy().tobytes())
        return h.hexdigest()
