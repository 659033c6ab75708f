r"""Pairwise statistics over K class means, tiled: CDNV over all class pairs and the simplex-ETF
angles, reduced on the fly (mean, std, min, max and, when asked, a histogram).

Memory is O(K D + tile K): never a K x K x D difference tensor and never the K x K matrix. Row
slabs ``i0:i1`` of the upper triangle are formed as one matrix product ``X[i0:i1] X[i0:]^T``
(K^2 D / 2 multiply-adds in all, BLAS speed), so K = 32 768 classes of width 768 take seconds.
The slab height is ``TILE_ENTRIES // K`` rows, a function of K only, so the summation order and
hence the result do not depend on the machine's free memory.

Squared distances come from the Gram expansion ``||x_i||^2 + ||x_j||^2 - 2 x_i.x_j`` on means
centred at their average (distances are translation invariant). Its rounding error is about
``eps * sqrt(D) * (||x_i||^2 + ||x_j||^2)``, so pairs with ``d^2 <= EXACT_BELOW * (||x_i||^2 +
||x_j||^2)`` are recomputed exactly as ``||mu_i - mu_j||^2``; every distance then has relative
error below ``eps * sqrt(D) / EXACT_BELOW`` (about 1e-12 at D = 4096), and coinciding means are
detected exactly.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ._memory import FLOAT64, check_fits

TILE_ENTRIES = 1 << 22  # slab entries (rows * K): 32 MiB per float64 temporary
SLAB_TEMPORARIES = 6  # float64 slab-sized temporaries alive at once (+ a bool mask)
EXACT_BELOW = 2.0**-6


def tile_rows(K: int, tile: int | None = None) -> int:
    """Slab height: ``tile`` if given, else ``TILE_ENTRIES // K`` (at least 1, at most K)."""
    if tile is not None:
        if isinstance(tile, bool) or not isinstance(tile, (int, np.integer)) or tile < 1:
            raise ValueError(f"tile must be a positive integer, got {tile!r}")
        return min(int(tile), K)
    return max(1, min(K, TILE_ENTRIES // K))


def pairwise_bytes(K: int, D: int, tile: int) -> int:
    """Peak working memory of a tiled pairwise pass (two K x D copies + the slab temporaries)."""
    return FLOAT64 * (2 * K * D + SLAB_TEMPORARIES * tile * K) + tile * K


def _check_fits(K: int, D: int, tile: int, what: str, device) -> None:
    check_fits(
        pairwise_bytes(K, D, tile), f"{what} over K={K} classes of dimension {D} (tiled)", device,
        "exclude rare classes with min_count= or free memory",
    )


class Running:
    """Count, mean, population std (Chan et al.'s pairwise merge), min, max and an optional
    histogram of a stream of value blocks."""

    def __init__(self, bins=None, device=None):
        self.n, self.mean, self.m2 = 0, 0.0, 0.0
        self.lo, self.hi = math.inf, -math.inf
        self.edges = None
        if bins is not None:
            edges = torch.as_tensor(np.asarray(bins, dtype=np.float64), device=device)
            if edges.ndim != 1 or edges.numel() < 2 or not bool(torch.isfinite(edges).all()):
                raise ValueError("bins must be a 1-D sequence of at least 2 finite bin edges")
            if not bool((edges[1:] > edges[:-1]).all()):
                raise ValueError("bins must be strictly increasing")
            self.edges = edges
            self.counts = torch.zeros(edges.numel() + 1, dtype=torch.int64, device=device)

    def add(self, v: torch.Tensor) -> None:
        nb = v.numel()
        if nb == 0:
            return
        var_b, mean_b = torch.var_mean(v, correction=0)
        mean_b, m2_b = float(mean_b), float(var_b) * nb
        n = self.n + nb
        delta = mean_b - self.mean
        self.mean += delta * nb / n
        self.m2 += m2_b + delta * delta * self.n * nb / n
        self.n = n
        lo, hi = torch.aminmax(v)
        self.lo, self.hi = min(self.lo, float(lo)), max(self.hi, float(hi))
        if self.edges is not None:
            idx = torch.bucketize(v, self.edges, right=True)
            self.counts += torch.bincount(idx, minlength=self.counts.numel())

    def summary(self) -> dict:
        out = {"mean": self.mean, "std": math.sqrt(self.m2 / self.n), "min": self.lo,
               "max": self.hi, "pairs": self.n}
        if self.edges is not None:
            out["histogram"] = {"edges": self.edges.cpu().numpy(), "counts": self.counts.cpu().numpy()}
        return out


def _blocks(K: int, tile: int):
    """Blocks ``(rows, cols, upper)`` covering the pairs i < j: per slab of ``tile`` rows, its
    diagonal block (``upper``: the mask of its pairs i < j) and the block right of it (all pairs)."""
    for i0 in range(0, K, tile):
        i1 = min(K, i0 + tile)
        yield slice(i0, i1), slice(i0, i1), "upper"
        if i1 < K:
            yield slice(i0, i1), slice(i1, K), None


def _pairs(block: torch.Tensor, upper) -> torch.Tensor:
    """The entries of a block that are pairs i < j, flattened."""
    if upper is None:
        return block.reshape(-1)
    return block[torch.ones(block.shape, dtype=torch.bool, device=block.device).triu_(1)]


def _exact_sqdist(means: torch.Tensor, i: torch.Tensor, j: torch.Tensor) -> torch.Tensor:
    """``||mu_i - mu_j||^2`` for index pairs, in chunks of bounded memory."""
    out = torch.empty(i.numel(), dtype=means.dtype, device=means.device)
    step = max(1, TILE_ENTRIES // max(1, means.shape[1]))
    for a in range(0, i.numel(), step):
        out[a : a + step] = (means[i[a : a + step]] - means[j[a : a + step]]).square().sum(1)
    return out


def cdnv_pairs(
    means: torch.Tensor, var: torch.Tensor, *, bins=None, tile: int | None = None,
    labels: torch.Tensor | None = None,
) -> dict:
    r"""CDNV ``(Var_i + Var_j) / (2 ||mu_i - mu_j||^2)`` over all pairs i < j of the rows of
    ``means`` (K, D) with variances ``var`` (K,), reduced tile by tile.

    Returns ``{"mean", "std", "min", "max", "pairs"}`` (population std over the K(K-1)/2 pairs)
    and ``"histogram": {"edges", "counts"}`` when ``bins`` (increasing edges) is given:
    ``counts[0]`` counts values below ``edges[0]``, ``counts[k]`` those in
    ``[edges[k-1], edges[k])`` and ``counts[-1]`` those ``>= edges[-1]``. ``labels`` (K,) name the
    rows in error messages.
    """
    K, D = means.shape
    tile = tile_rows(K, tile)
    _check_fits(K, D, tile, "CDNV", means.device)
    X = means - means.mean(0)
    sq = X.square().sum(1)
    sq_max = float(sq.max())
    acc = Running(bins, means.device)
    for rows, cols, upper in _blocks(K, tile):
        # d2 = ||x_i||^2 + ||x_j||^2 - 2 x_i.x_j
        d2 = torch.addmm(sq[None, cols], X[rows], X[cols].T, alpha=-2.0).add_(sq[rows, None])
        # pairs to recompute exactly: d2 <= EXACT_BELOW (sq_i + sq_j); candidates first with a
        # per-row bound (sq_j <= max sq), so no block-sized threshold is formed
        cand = d2 <= (EXACT_BELOW * (sq[rows] + sq_max)).unsqueeze(1)
        if upper is not None:
            cand.triu_(1)
        if bool(cand.any()):
            r, c = cand.nonzero(as_tuple=True)
            r, c = r + rows.start, c + cols.start
            keep = d2[r - rows.start, c - cols.start] <= EXACT_BELOW * (sq[r] + sq[c])
            r, c = r[keep], c[keep]
            exact = _exact_sqdist(means, r, c)
            d2[r - rows.start, c - cols.start] = exact
            if bool((exact == 0).any()):
                k = int((exact == 0).nonzero()[0])
                a, b = int(r[k]), int(c[k])
                if labels is not None:
                    a, b = int(labels[a]), int(labels[b])
                raise ValueError(
                    f"class means {a} and {b} coincide, so the CDNV of that pair is undefined"
                )
        d2 = torch.div(var[rows, None] + var[None, cols], d2.mul_(2.0), out=d2)
        acc.add(_pairs(d2, upper))
    return acc.summary()


def etf_stats_from_centered(Mc: torch.Tensor, *, tile: int | None = None) -> dict:
    """Papyan et al.'s equinorm / equiangularity statistics of centred means Mc (K, D), tiled
    (see :func:`nclab.metrics.nc2_etf` for the definitions)."""
    K, D = Mc.shape
    norms = Mc.norm(dim=1)
    zero = (norms == 0).nonzero().flatten().tolist()
    if zero:
        raise ValueError(f"centred class mean(s) {zero[:10]} are zero; angles are undefined")
    tile = tile_rows(K, tile)
    _check_fits(K, D, tile, "the ETF statistics", Mc.device)
    U = Mc / norms.unsqueeze(1)
    # ||G||_F of G = Mc Mc^T from the smaller of the two Gram matrices (equal Frobenius norms).
    g_norm = float((Mc @ Mc.T if K <= D else Mc.T @ Mc).norm())
    e_norm = math.sqrt(K - 1)  # E = I - 11^T/K is a rank K-1 projection
    scaled = norms / g_norm
    acc = Running(device=Mc.device)
    eq_sum, dist_sq = 0.0, 0.0
    for rows, cols, upper in _blocks(K, tile):
        C = U[rows] @ U[cols].T
        cos = _pairs(C, upper)
        acc.add(cos)
        eq_sum += float((cos + 1.0 / (K - 1)).abs_().sum())
        # G_ij / ||G|| + 1 / (K ||E||), the off-diagonal entries of G/||G|| - E/||E||
        C.mul_(scaled[rows, None]).mul_(norms[None, cols]).add_(1.0 / (K * e_norm))
        dist_sq += 2.0 * float(_pairs(C, upper).square().sum())
    dist_sq += float((norms.square() / g_norm - (1.0 - 1.0 / K) / e_norm).square().sum())
    cos_mean = acc.mean
    cos_std = math.sqrt(acc.m2 / acc.n)
    return {
        "equinorm": float(norms.std(unbiased=False) / norms.mean()),
        "equiangularity": eq_sum / acc.n,
        "etf_gram_dist": math.sqrt(dist_sq),
        "cos_mean": cos_mean,
        "cos_std_over_mean": cos_std / abs(cos_mean) if cos_mean != 0.0 else float("inf"),
    }
