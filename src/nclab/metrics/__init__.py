r"""Neural-collapse, rank and balancedness metrics: pure functions on tensors plus streaming
accumulators.

Conventions
-----------
- Features ``H`` are ``(N, D)`` with **rows = samples** (the papers write columns = samples).
- Labels ``y`` are integers ``(N,)`` in ``[0, K)``; ``K`` is inferred as ``max(y) + 1`` or given.
  When ``K`` is given, empty classes are skipped (metrics then use the number of non-empty
  classes); when inferred, an empty class is an error.
- A classifier ``W`` is ``(K, D)`` (one row per class, PyTorch's ``Linear.weight``); weight
  matrices follow PyTorch's ``(out, in)`` layout, as in the papers (``W_l`` maps layer l-1 to l).
- Class means ``mu_c`` are rows of ``M`` (K, D); the global mean ``mu_G`` is the sample mean
  (``global_mean="sample"``, P0/P1) or the mean of the class means (``"class"``, P3).
- Inputs may be torch tensors (any device, no host copies) or numpy arrays. Computations run in
  float64 by default (``dtype=None`` keeps the input's floating dtype). Results are Python floats,
  small dicts, or numpy arrays for spectra and Gram matrices.
- Cutoffs (which singular values count as zero: ``nc1_pinv``'s pseudo-inverse, ``nc2_cond``,
  ``numerical_rank``) follow the precision of the inputs *as given* (bf16, f16, f32, f64): by
  default a singular value counts only above what rounding the inputs could create (see
  :func:`nc1_pinv`); ``rtol=`` overrides, and ``layer_report`` reports the values used.
- Bad input raises ``ValueError`` naming the argument and the problem (shape, dtype, NaN/Inf,
  labels out of range, fewer than 2 classes, empty or single-sample class, zero denominators).

Papers: P0 = Jacot, Súkeník, Wang, Mondelli (ICLR 2025); P1 = Zangrando et al.; P2 = Súkeník,
Mondelli, Lampert; P3 = Xu, Rangamani, Liao, Galanti, Poggio. Each docstring cites its source and
gives the value under perfect collapse.
"""

from .balance import balancedness, negativity
from .clustering import tcv, wcss
from .nc1 import cdnv, nc1_pinv, nc1_trace, trace_sigma_w
from .nc2 import class_means, gram, nc2_cond, nc2_etf
from .nc3 import nc3_cos, nc3_duality, nc4_ncc
from .norms import margin_values, margins, product_norm
from .report import LayerReport, layer_report
from .second_pass import ResidualPass
from .spectral import energy_rank, numerical_rank, rel_dist_to_rank, singular_values, stable_rank
from .streaming import ClassStats

__all__ = [
    "ClassStats",
    "LayerReport",
    "ResidualPass",
    "balancedness",
    "cdnv",
    "class_means",
    "energy_rank",
    "gram",
    "layer_report",
    "margin_values",
    "margins",
    "nc1_pinv",
    "nc1_trace",
    "nc2_cond",
    "nc2_etf",
    "nc3_cos",
    "nc3_duality",
    "nc4_ncc",
    "negativity",
    "numerical_rank",
    "product_norm",
    "rel_dist_to_rank",
    "singular_values",
    "stable_rank",
    "tcv",
    "trace_sigma_w",
    "wcss",
]
