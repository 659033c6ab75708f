"""Per-class sufficient statistics and the finishing computations shared by the pure metric
functions and the streaming accumulator.

The pure functions build one :class:`ClassMoments` from an in-memory ``(H, y)``; the streaming
:class:`~nclab.metrics.streaming.ClassStats` merges one per mini-batch (Chan et al.'s pairwise
update, which is exact and stable: no sums of squares are ever subtracted). Both then call the
same ``*_from_moments`` finishing functions, so the two paths cannot drift apart.

The singular-value cutoffs and the pseudo-inverse of Sigma_B live in :mod:`._cutoff`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ._cutoff import check_cutoff, rounding_rtol
from .pairwise import TILE_ENTRIES, cdnv_pairs
from .validation import (
    as_labels,
    as_matrix,
    check_counts,
    check_min_count,
    check_num_classes,
    input_eps,
    nonzero_norm,
)

GLOBAL_MEANS = ("sample", "class")
EPS64 = torch.finfo(torch.float64).eps


@dataclass
class ClassMoments:
    """Exact per-class statistics of features ``H`` (N, D) with labels ``y``.

    counts: (K,) float64 sample counts ``N_c``; offsets: (K, D) class means relative to
    ``origin`` (D,), ``mu_c - origin`` (zero rows for empty classes); sq_dev: (K,) within-class
    sums ``sum_{i in c} ||h_i - mu_c||^2``; unit_sums: (K, D) sums of the normalised features
    ``h_i/||h_i||`` (zero features add 0), which make the per-sample NC3 cosine of *any*
    classifier computable after one pass.
    origin: the first sample seen, rounded (:func:`coarse_origin`), so that mean differences --
    the CDNV's distances, the centred means of NC1/NC2 -- are formed from values at the scale of
    the data's spread and never pass through values at the scale of a common offset (features
    at +1e4 with classes 5.6e-4 apart lost ~1e-7 of the CDNV to the rounding of raw means).
    eps: machine epsilon of the features as given (the lowest precision seen when merged), which
    sets the rounding level of every cutoff (:func:`~nclab.metrics._cutoff.rounding_rtol`).
    """

    counts: torch.Tensor
    offsets: torch.Tensor
    sq_dev: torch.Tensor
    unit_sums: torch.Tensor
    K_given: bool = False
    eps: float = EPS64
    origin: torch.Tensor | None = None  # None: the zero vector

    def __post_init__(self):
        if self.origin is None:
            self.origin = torch.zeros_like(self.offsets[0])

    @property
    def K(self) -> int:
        return self.counts.shape[0]

    @property
    def N(self) -> float:
        return float(self.counts.sum())

    @property
    def means(self) -> torch.Tensor:
        """(K, D) absolute class means ``origin + offsets`` (zero rows for empty classes), for
        the quantities that depend on the offset (uncentred NC2/NC3, rounding levels)."""
        return torch.where((self.counts > 0).unsqueeze(1), self.offsets + self.origin, 0.0)

    def present(self, *, min_size: int = 1) -> torch.Tensor:
        return check_counts(self.counts, self.K_given, min_size=min_size)

    def take(self, idx: torch.Tensor) -> ClassMoments:
        """The moments of the classes ``idx`` only (rows gathered)."""
        return ClassMoments(
            self.counts[idx], self.offsets[idx], self.sq_dev[idx], self.unit_sums[idx], True,
            self.eps, self.origin,
        )

    def to(self, device) -> ClassMoments:
        return ClassMoments(
            *(t.to(device) for t in (self.counts, self.offsets, self.sq_dev, self.unit_sums)),
            self.K_given, self.eps, self.origin.to(device),
        )


@dataclass(frozen=True)
class ClassSelection:
    """Which classes a ``min_count`` keeps: ``kept`` classes have at least ``min_count`` samples;
    ``excluded`` (class ids, ascending) have between 1 and ``min_count - 1``; ``empty`` classes
    were never seen. ``excluded_share``: fraction of all samples that belong to excluded classes.
    """

    min_count: int
    kept: int
    excluded: tuple[int, ...]
    empty: int
    excluded_samples: int
    samples: int

    @property
    def excluded_share(self) -> float:
        return self.excluded_samples / self.samples

    def as_row(self) -> dict:
        """The numbers a result row reports: kept / excluded / empty classes, excluded share."""
        return {
            "classes_kept": self.kept,
            "classes_excluded": len(self.excluded),
            "classes_empty": self.empty,
            "excluded_share": self.excluded_share,
        }


def restrict(m: ClassMoments, min_count: int | None) -> tuple[ClassMoments, ClassSelection | None]:
    """Moments of the data restricted to classes with at least ``min_count`` samples.

    Excluded classes become empty (their counts and within-class sums zeroed; means untouched and
    unused), so every ``*_from_moments`` function computes the metric of the kept samples only,
    exactly as on ``(H[keep], y[keep])``. ``min_count=None``: ``m`` unchanged (strict default).
    """
    min_count = check_min_count(min_count)
    if min_count is None:
        return m, None
    keep = m.counts >= min_count
    small = (m.counts > 0) & ~keep
    selection = ClassSelection(
        min_count=min_count,
        kept=int(keep.sum()),
        excluded=tuple(small.nonzero().flatten().tolist()),
        empty=int((m.counts == 0).sum()),
        excluded_samples=int(round(float(m.counts[small].sum()))),
        samples=int(round(m.N)),
    )
    if selection.kept < 2:
        raise ValueError(
            f"only {selection.kept} class(es) have at least min_count={min_count} samples; "
            "need at least 2"
        )
    mask = keep.to(m.counts.dtype)
    restricted = ClassMoments(
        m.counts * mask, m.offsets, m.sq_dev * mask, m.unit_sums, True, m.eps, m.origin
    )
    return restricted, selection


def prepare(H, y, K=None, *, dtype=torch.float64, name: str = "H"):
    """Validate ``(H, y, K)``; return ``(H, y, K)`` with H a float tensor and y int64."""
    H = as_matrix(H, name, dtype=dtype)
    y = as_labels(y, "y", n=H.shape[0], device=H.device)
    K_given = K is not None
    K = check_num_classes(y, K)
    return H, y, K, K_given


ORIGIN_BITS = 20


def coarse_origin(h: torch.Tensor) -> torch.Tensor:
    """``h`` rounded to ``ORIGIN_BITS`` significant bits per coordinate. Differences of two such
    origins are exact, so re-basing offsets from one origin to another is exact whenever the
    result is representable: classes of identical (e.g. all-zero) features still coincide exactly
    after shards with different origins merge. ``h - origin`` stays at the data's spread
    (within 2^-20 of the offset)."""
    mant, exp = torch.frexp(h)
    return torch.ldexp(torch.round(mant * 2.0**ORIGIN_BITS) / 2.0**ORIGIN_BITS, exp.to(h.dtype))


def batch_moments(
    H: torch.Tensor,
    y: torch.Tensor,
    K: int,
    K_given: bool,
    *,
    origin: torch.Tensor | None = None,
    resid: torch.Tensor | None = None,
    overwrite: bool = False,
    out: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None,
) -> tuple[ClassMoments, torch.Tensor]:
    """Exact class moments of one in-memory batch (H already validated, floating).

    Means are accumulated from ``h_i - origin`` (default: :func:`coarse_origin` of the first
    row), whose rounding is relative to the data's spread, not to a common offset; within a
    class, from the differences to the class's first sample, so a class of identical features
    has exactly that feature as its mean (two such classes coincide exactly, and zero
    within-class scatter is exactly 0). Returns the moments and the residuals ``h_i - mean of its
    class in this batch`` (written into ``resid`` when given). ``overwrite=True`` lets H be
    modified in place (it is then destroyed); with preallocated buffers (``resid``, and ``out``
    (K, D) x 3 for the offsets, the unit sums and a work buffer) the streaming path allocates
    nothing of size N x D or K x D.
    """
    N, D = H.shape
    kw = {"dtype": H.dtype, "device": H.device}
    bufs = out if out is not None else [torch.empty(K, D, **kw) for _ in range(3)]
    offsets, unit_sums, pivot = bufs
    origin = coarse_origin(H[0]) if origin is None else origin  # H is validated non-empty
    counts = torch.zeros(K, **kw).index_add_(0, y, torch.ones_like(y, dtype=H.dtype))
    norms = torch.linalg.vector_norm(H, dim=1, keepdim=True)
    norms[norms == 0] = 1.0  # zero features stay zero: they contribute cosine 0
    unit = torch.div(H, norms, out=resid) if resid is not None else H / norms
    unit_sums.zero_().index_add_(0, y, unit)
    # pivot p_c: the first row of class c; mu_c = p_c + mean(h_i - p_c), offsets = mu_c - origin
    first = torch.full((K,), N, dtype=torch.int64, device=H.device)
    first.scatter_reduce_(0, y, torch.arange(N, device=H.device), "amin")
    torch.index_select(H, 0, first.clamp_max(N - 1), out=pivot)
    resid = torch.index_select(pivot, 0, y, out=resid) if resid is not None else pivot[y]
    torch.sub(H, resid, out=resid)  # h_i - p_{y_i}
    mean_diff = offsets.zero_().index_add_(0, y, resid).div_(counts.clamp_min(1.0).unsqueeze(1))
    gathered = torch.index_select(mean_diff, 0, y, out=H) if overwrite else mean_diff[y]
    resid.sub_(gathered)  # h_i - mu_{y_i}
    offsets.add_(pivot.sub_(origin))
    offsets[counts == 0] = 0.0
    sq_dev = torch.zeros(K, **kw).index_add_(0, y, torch.linalg.vector_norm(resid, dim=1).square())
    return ClassMoments(counts, offsets, sq_dev, unit_sums, K_given, EPS64, origin), resid


def moments(H, y, K=None, *, dtype=torch.float64) -> ClassMoments:
    """Validate inputs and return their :class:`ClassMoments` (``eps`` from H's dtype as given)."""
    eps = input_eps(H)
    H, y, K, K_given = prepare(H, y, K, dtype=dtype)
    m = batch_moments(H, y, K, K_given)[0]
    m.eps = eps
    return m


def merge_into_(
    state: ClassMoments,
    idx: torch.Tensor,
    b: ClassMoments,
    delta: torch.Tensor,
    tmp: torch.Tensor,
    shift: bool = False,
) -> torch.Tensor | None:
    """Chan et al.'s pairwise combination, in place: fold the moments ``b`` of the classes
    ``idx`` (distinct) into the rows ``idx`` of ``state``; other rows are untouched (merging an
    empty set changes nothing). Exact and stable: no sums of squares are subtracted.

    With ``n = n_a + n_b``, ``delta = mu_b - mu_a`` and ``w = n_a n_b / n``:
    ``mu = mu_a + delta n_b / n``, ``sq_dev = sq_a + sq_b + w ||delta||^2``. ``delta`` is formed
    as ``(offsets_b - offsets_a) + (origin_b - origin_a)`` (every term at the scale of the data's
    spread); the state's origin is kept.
    ``delta`` and ``tmp`` are (len(idx), D) buffers (``b.offsets`` may be ``delta``); with
    ``shift=True`` the rows ``sqrt(w_c) delta_c`` are returned (in ``tmp``) for the pooled
    scatter (``S += R^T R``).
    """
    n_a = state.counts[idx]
    n = n_a + b.counts
    safe_n = n.clamp_min(1.0)
    w = n_a * b.counts / safe_n
    torch.index_select(state.offsets, 0, idx, out=tmp)
    torch.sub(b.offsets, tmp, out=delta)
    delta.add_(b.origin - state.origin)
    sq = torch.linalg.vector_norm(delta, dim=1).square()  # no (k, D) temporary
    state.sq_dev.index_copy_(0, idx, state.sq_dev[idx] + b.sq_dev + w * sq)
    state.counts.index_copy_(0, idx, n)
    state.eps = max(state.eps, b.eps)
    state.unit_sums.index_add_(0, idx, b.unit_sums)
    rows = torch.mul(delta, w.sqrt().unsqueeze(1), out=tmp) if shift else None
    state.offsets.index_add_(0, idx, delta.mul_((b.counts / safe_n).unsqueeze(1)))
    return rows


def check_global_mean(global_mean: str) -> None:
    if global_mean not in GLOBAL_MEANS:
        raise ValueError(f"global_mean must be one of {GLOBAL_MEANS}, got {global_mean!r}")


def global_mean_of(m: ClassMoments, present: torch.Tensor, global_mean: str) -> torch.Tensor:
    """mu_G relative to ``m.origin``: the sample mean (P0/P1, default) or the mean of the class
    means (P3)."""
    check_global_mean(global_mean)
    if global_mean == "sample":
        return (m.counts.unsqueeze(1) * m.offsets).sum(0) / m.counts.sum()
    return m.offsets[present].mean(0)


def centered_means(m: ClassMoments, present: torch.Tensor, global_mean: str) -> torch.Tensor:
    """Rows ``mu_c - mu_G`` of the present classes, shape (K_present, D) (formed from the
    offsets: no value at the scale of a common offset enters)."""
    return m.offsets[present] - global_mean_of(m, present, global_mean)


def nc1_trace_from_moments(m: ClassMoments, global_mean: str = "sample") -> float:
    present = m.present(min_size=2)
    tr_w = float(m.sq_dev.sum()) / m.N
    Mc = centered_means(m, present, global_mean)
    tr_b = float(Mc.square().sum()) / Mc.shape[0]
    return tr_w / nonzero_norm(tr_b, "tr(Sigma_B) (all class means coincide)")


def cdnv_stats_from_moments(m: ClassMoments, *, bins=None, tile: int | None = None) -> dict:
    """CDNV over all pairs of present classes, tiled (:func:`nclab.metrics.pairwise.cdnv_pairs`)."""
    present = m.present(min_size=2)
    idx = present.nonzero().flatten()
    var = m.sq_dev[idx] / m.counts[idx]
    return cdnv_pairs(m.offsets[idx], var, bins=bins, tile=tile, labels=idx)


def cdnv_from_moments(m: ClassMoments) -> float:
    return cdnv_stats_from_moments(m)["mean"]


def nc2_cond_from_means(
    m: ClassMoments,
    present: torch.Tensor,
    M: torch.Tensor,
    *,
    centered: bool,
    nonzero: bool,
    rtol: float | None,
) -> float:
    """kappa of the (centred) class-mean matrix M; see :func:`nclab.metrics.nc2_cond`.

    Singular values ``s_i <= rtol * s_1`` count as zero, ``rtol`` defaulting to
    :func:`~nclab.metrics._cutoff.rounding_rtol` (the rounding level of the features as given).
    Centred means have rank <= K-1, so at most K-1 singular values count.
    """
    check_cutoff(rtol, None)
    s = torch.linalg.svdvals(M)
    nonzero_norm(float(s[0]), "the class-mean matrix")
    if rtol is None:
        rtol = rounding_rtol(m, present, float(s[0]), M.dtype)
    floor = rtol * float(s[0])
    k = M.shape[0] - 1 if centered else M.shape[0]
    if nonzero:
        kept = s[:k][s[:k] > floor]
        if kept.numel() == 0:
            raise ValueError(
                f"no singular value of the class means is above rtol * s_1 (rtol={rtol:.3g})"
            )
        return float(s[0] / kept[-1])
    if k > s.shape[0] or float(s[k - 1]) <= floor:
        return float("inf")
    return float(s[0] / s[k - 1])


def nc3_cos_from_moments(m: ClassMoments, W: torch.Tensor) -> float:
    present = m.present()
    row_norms = W.norm(dim=1)
    dead = (present & (row_norms == 0)).nonzero().flatten().tolist()
    if dead:
        raise ValueError(f"W has zero row(s) {dead[:10]} for present classes; cosine undefined")
    w_unit = W[present] / row_norms[present].unsqueeze(1)
    return float((m.unit_sums[present] * w_unit).sum()) / m.N


def nearest_mean(H: torch.Tensor, centers: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """Index of the nearest row of ``centers`` for every row of H (Euclidean).

    Uses ``||c||^2 - 2 h.c`` on features shifted by ``shift`` (the global mean), which keeps the
    expansion well conditioned when all features share a large offset. Rows are processed in
    chunks of ``TILE_ENTRIES // K``, so memory stays bounded for many centres (K = 32 768).
    """
    C = centers - shift
    c_sq = C.square().sum(1)
    step = max(1, TILE_ENTRIES // C.shape[0])
    out = torch.empty(H.shape[0], dtype=torch.int64, device=H.device)
    for a in range(0, H.shape[0], step):
        out[a : a + step] = (c_sq.unsqueeze(0) - 2.0 * (H[a : a + step] - shift) @ C.T).argmin(1)
    return out
