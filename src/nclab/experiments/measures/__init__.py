"""Measures: quantities the runner computes from the model beyond the probe's per-layer metrics.

Each factory returns a :class:`~nclab.experiments.spec.Measure` whose function maps a
:class:`Context` (the model at one step of one run) to long rows ``{"layer", "metric",
"value"}``. Indexed quantities follow the report's conventions: vectors ``name[i]``, matrices
``name[i,j]``, 2-D points ``name[i,0|1]`` with classes ``name_class[i]``.

Layer names are the probe's: a linear layer (and the DUFM's ``H1``) is ``"layer3"``, a nonlinear
one ``"layer3/pre"`` and ``"layer3/post"``; ``"model"`` holds whole-network quantities.

By kind: :mod:`.context` (:class:`Context`, layer sets, row builders), :mod:`.class_means`
(spectra, Gram matrices, ranks of the class means), :mod:`.references` (theory losses, fit,
DNC found, objective parts), :mod:`.features` (per-sample features and weights during training),
:mod:`.head` (the head of Jacot et al.), :mod:`.margins` (the normalised network of Xu et al.).
"""

from .class_means import (
    average_rank,
    means_gram,
    means_matrix,
    means_spectrum,
    srg_gram_deviation,
    srg_match,
)
from .context import (
    Context,
    head_layers,
    hidden_layers,
    matrix_rows,
    row,
    select_layers,
    targets_of,
    vector_rows,
)
from .features import (
    feature_spectra,
    gram_block_residual,
    projection_2d,
    sample_gram,
    tcv_layers,
    weight_norms,
)
from .head import head_io, nonlinear_head_stats, theorem31
from .margins import classifier_etf, margin_samples, rho_bound
from .references import class_fit, dnc_found, dufm_references, objective_parts

__all__ = [
    "Context",
    "average_rank",
    "class_fit",
    "classifier_etf",
    "dnc_found",
    "dufm_references",
    "feature_spectra",
    "gram_block_residual",
    "head_io",
    "head_layers",
    "hidden_layers",
    "margin_samples",
    "matrix_rows",
    "means_gram",
    "means_matrix",
    "means_spectrum",
    "nonlinear_head_stats",
    "objective_parts",
    "projection_2d",
    "rho_bound",
    "row",
    "sample_gram",
    "select_layers",
    "srg_gram_deviation",
    "srg_match",
    "targets_of",
    "tcv_layers",
    "theorem31",
    "vector_rows",
    "weight_norms",
]
