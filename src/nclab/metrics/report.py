"""``layer_report``: every collapse, rank and balance metric for every layer in one call."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import torch

from .balance import balancedness, negativity
from .spectral import numerical_rank, rel_dist_to_rank, stable_rank
from .streaming import ClassStats
from .validation import (
    as_labels,
    as_matrix,
    check_counts,
    check_min_count,
    check_num_classes,
    check_same_device,
)

KINDS = ("pre", "post")


def feature_layer(name: str, kind: str | None = None) -> str:
    """The records' name of a layer's features -- built here only: ``"layer3/pre"``,
    ``"layer3/post"`` for a non-linear layer's ``kind``, the bare name for a linear layer
    (``kind`` None), whose one feature map is its output."""
    return name if kind is None else f"{name}/{kind}"


def feature_layers(name: str, linear: bool) -> tuple[str, ...]:
    """Every feature name of a layer, its output last: ``(name,)`` for a linear layer,
    ``(name/pre, name/post)`` otherwise."""
    return (name,) if linear else (feature_layer(name, "pre"), feature_layer(name, "post"))


@dataclass
class LayerReport:
    """Per-layer metrics. ``rows``: one dict per (layer, kind) with ``layer``, ``kind`` (``"pre"``,
    ``"post"``, ``"features"`` or ``"weight"``) and the metric values. ``skipped``: metrics that
    are undefined on this input (e.g. NC1 of an all-zero ReLU layer), keyed
    ``(layer, kind, metric)`` with the reason -- reported, never silently NaN. ``info``: how the
    numbers were obtained (e.g. :func:`nclab.analyze` puts the classifier, the capture and pool
    rule and shape of each layer, the number of samples and passes there).
    ``excluded_classes``: with ``min_count``, the ids of the classes left out of every feature
    metric (their number and share of samples are in each feature row)."""

    rows: list[dict] = field(default_factory=list)
    skipped: dict[tuple[str, str, str], str] = field(default_factory=dict)
    info: dict = field(default_factory=dict)
    excluded_classes: tuple[int, ...] = ()

    def to_pandas(self):
        """The rows as a ``pandas.DataFrame`` (columns ``layer``, ``kind``, then the metrics;
        NaN where a metric does not apply to a row). Needs pandas."""
        try:
            import pandas as pd
        except ImportError:
            raise ImportError("LayerReport.to_pandas needs pandas: pip install pandas") from None
        keys = sorted({k for r in self.rows for k in r} - {"layer", "kind"})
        return pd.DataFrame(self.rows, columns=["layer", "kind", *keys])

    def long(self, step: int | None = None) -> list[dict]:
        """Long format: ``{"step", "layer", "metric", "value"}`` rows; ``layer`` is ``name/kind``
        for pre/post features, ``name`` otherwise (weight metrics are prefixed ``w_``)."""
        out = []
        for row in self.rows:
            kind = row["kind"]
            layer = feature_layer(row["layer"], kind if kind in KINDS else None)
            for key, value in row.items():
                if key not in ("layer", "kind"):
                    out.append({"step": step, "layer": layer, "metric": key, "value": value})
        return out

    def __str__(self) -> str:
        keys = sorted({k for r in self.rows for k in r} - {"layer", "kind"})
        head = f"{'layer':<16}{'kind':<9}" + "".join(f"{k[:14]:>15}" for k in keys)
        lines = [head]
        for r in self.rows:
            cells = "".join(f"{r[k]:>15.4g}" if k in r else f"{'':>15}" for k in keys)
            lines.append(f"{r['layer'][:15]:<16}{r['kind']:<9}{cells}")
        return "\n".join(lines)


def try_metric(report: LayerReport, row: dict, kind: str, name: str, fn) -> None:
    """``row[name] = fn()``, or the ValueError's message recorded in ``report.skipped``."""
    try:
        row[name] = fn()
    except ValueError as err:
        report.skipped[(row["layer"], kind, name)] = str(err)


def means_rank_metrics(report: LayerReport, row: dict, kind: str, stats: ClassStats, rank_rtol):
    """``nc2_cond_rtol`` (the rounding level of the features as given, relative to s_1 of the
    class means: nc2_cond's cutoff) and ``means_rank`` counted at ``means_rank_rtol =
    max(rank_rtol, nc2_cond_rtol)`` -- a direction below the rounding level is not resolved
    (shared with the training probe)."""
    try_metric(report, row, kind, "nc2_cond_rtol", stats.rounding_rtol)
    if "nc2_cond_rtol" in row:
        row["means_rank_rtol"] = max(rank_rtol, row["nc2_cond_rtol"])
        try_metric(report, row, kind, "means_rank",
                   lambda: numerical_rank(stats.class_means(), row["means_rank_rtol"]))


def pinv_metrics(report: LayerReport, row: dict, kind: str, second) -> None:
    """``nc1_pinv`` from a finished second pass and ``nc1_pinv_rtol``, the cutoff it used
    (shared with the training probe)."""
    try_metric(report, row, kind, "nc1_pinv", second.nc1_pinv)
    row["nc1_pinv_rtol"] = second.rtol


def stats_row(
    report: LayerReport, layer: str, kind: str, stats: ClassStats, second=None, W=None, *,
    rank_rtol: float = 1e-3, no_second: str = "",
) -> dict:
    """The feature metrics of one layer from its first-pass :class:`ClassStats` and, when given,
    its fed :class:`~nclab.metrics.second_pass.ResidualPass` ``second`` (``nc1_pinv``, and
    ``nc4_ncc`` when it was built with the classifier). ``W``: the classifier (K, D) consuming
    these features (NC3), or None. ``no_second``: why there is no second pass (recorded in
    ``report.skipped`` for ``nc1_pinv``/``nc4_ncc`` unless ``stats`` kept the scatter).
    With ``stats.min_count`` set, the row reports the classes kept / excluded / empty and the
    excluded share of samples, and ``report.excluded_classes`` the excluded ids.
    Shared by :func:`layer_report`, :func:`nclab.analyze` and the streaming paths."""
    row = {"layer": layer, "kind": kind}
    if stats.min_count is not None:
        try:
            selection = stats.selection()
        except ValueError as err:
            report.skipped[(layer, kind, "min_count")] = str(err)
        else:
            row.update(selection.as_row())
            report.excluded_classes = selection.excluded
    for name in ("nc1_trace", "trace_sigma_w", "cdnv", "nc2_cond"):
        try_metric(report, row, kind, name, getattr(stats, name))
    try_metric(report, row, kind, "nc2_cond_K", lambda: stats.nc2_cond(nonzero=False))
    means_rank_metrics(report, row, kind, stats, rank_rtol)
    try:
        etf = stats.nc2_etf()
        row.update({f"nc2_{k}": v for k, v in etf.items() if k != "cos_std_over_mean"})
    except ValueError as err:
        report.skipped[(layer, kind, "nc2_etf")] = str(err)
    if second is not None:
        pinv_metrics(report, row, kind, second)
    elif stats.scatter:
        try_metric(report, row, kind, "nc1_pinv", stats.nc1_pinv)
        try_metric(report, row, kind, "nc1_pinv_rtol", lambda: stats.rounding_rtol(centered=True))
    elif no_second:
        report.skipped[(layer, kind, "nc1_pinv")] = no_second
    if W is not None:
        try_metric(report, row, kind, "nc3_cos", lambda: stats.nc3_cos(W))
        try_metric(report, row, kind, "nc3_duality", lambda: stats.nc3_duality(W))
        if second is not None:
            try_metric(report, row, kind, "nc4_ncc", second.nc4_ncc)
        elif no_second:
            report.skipped[(layer, kind, "nc4_ncc")] = no_second
    return row


def _feature_row(report, layer, kind, H, given, y, K, W, b, rank_rtol, min_count=None) -> dict:
    """Metrics of one layer; ``given`` is the features as passed (their dtype sets the cutoffs),
    ``H`` the validated float64 copy."""
    stats = ClassStats(K, min_count=min_count).update(given, y)
    second, why = None, ""
    try:
        second = stats.second_pass(W, b).update(given, y)
    except ValueError as err:
        why = str(err)
    row = stats_row(report, layer, kind, stats, second, W, rank_rtol=rank_rtol, no_second=why)
    if kind == "pre":
        try_metric(report, row, kind, "negativity", lambda: negativity(H))
    return row


def weight_rows(report, weights: list[tuple[str, torch.Tensor]], K, rank_rtol) -> None:
    """Append one ``kind="weight"`` row per ``(name, W)`` to ``report``: Frobenius norm, stable
    and numerical rank, distance to rank K, and balancedness with the next entry of ``weights``
    (give them in forward order) when both are matrices whose shapes chain
    (``W_next.shape[1] == W.shape[0]``); a pair that does not is listed in ``report.skipped``
    under ``w_balancedness`` with the reason. Shared with the training probe and ``analyze``."""
    for i, (name, Wl) in enumerate(weights):
        row = {"layer": name, "kind": "weight", "w_fro": float(Wl.norm())}
        mat = Wl.reshape(Wl.shape[0], -1)
        try_metric(report, row, "weight", "w_stable_rank", lambda m=mat: stable_rank(m))
        try_metric(report, row, "weight", "w_rank", lambda m=mat: numerical_rank(m, rank_rtol))
        try_metric(report, row, "weight", "w_rel_dist_rank_K", lambda m=mat: rel_dist_to_rank(m, K))
        if i + 1 < len(weights):
            nxt_name, nxt = weights[i + 1]
            why = _no_chain(name, Wl, nxt_name, nxt)
            if why:
                report.skipped[(name, "weight", "w_balancedness")] = why
            else:
                try_metric(report, row, "weight", "w_balancedness", lambda a=Wl, b=nxt: balancedness(a, b))
                try_metric(
                    report, row, "weight", "w_imbalance_op",
                    lambda a=Wl, b=nxt: balancedness(a, b, relative=False),
                )
        report.rows.append(row)


def _no_chain(name, W, nxt_name, nxt) -> str:
    """Why (name, W) and the next weight form no balancedness pair ("" when they do)."""
    for n, A in ((name, W), (nxt_name, nxt)):
        if A.ndim != 2:
            return (f"{n!r} is not a matrix (shape {tuple(A.shape)}); balancedness with "
                    f"{nxt_name!r} needs two (out, in) matrices")
    if nxt.shape[1] != W.shape[0]:
        return (f"shapes do not chain: {name!r} has {W.shape[0]} outputs, the next weight "
                f"{nxt_name!r} has {nxt.shape[1]} inputs")
    return ""


def _as_items(obj, what: str) -> list:
    if isinstance(obj, Mapping):
        return list(obj.items())
    if isinstance(obj, Sequence) and all(isinstance(t, tuple) and len(t) == 2 for t in obj):
        return list(obj)
    raise ValueError(f"{what} must be a mapping name -> tensor or a list of (name, tensor) pairs")


def layer_report(
    features,
    y,
    weights=None,
    *,
    K: int | None = None,
    classifier=None,
    classifier_input: str | None = None,
    classifier_bias=None,
    rank_rtol: float = 1e-3,
    min_count: int | None = None,
) -> LayerReport:
    r"""Every metric of :mod:`nclab.metrics` for every layer (DNC1-3 per layer, Súkeník et al. Def 1).

    Args:
        features: ordered mapping (or list of pairs) ``name -> H`` with H (N, D_l), or
            ``name -> {"pre": H_pre, "post": H_post}`` (either key optional) for non-linear layers.
        y: int labels (N,).
        weights: optional ordered mapping ``name -> W`` ((out, in) matrices or conv kernels) in
            depth order; consecutive 2-D pairs that chain get (relative and absolute) balancedness.
        classifier: the (K, D) matrix for NC3/NC4; default: the last of ``weights`` if it has K rows.
        classifier_input: name of the entry of ``features`` the classifier consumes; NC3/NC4 are
            computed there only. Never guessed: without it NC3/NC4 are listed in
            ``report.skipped`` (key ``("classifier", "features", metric)``) with the reason.
        classifier_bias: the classifier's bias (K,), used by NC4 (``argmax W h + b``).
        rank_rtol: relative tolerance of the class-mean and weight ranks (Súkeník-style, 1e-3);
            for the class means raised to the features' rounding level when that is larger.
        min_count: compute every feature metric on the classes with at least this many samples
            only (e.g. 2 for a vocabulary with rare tokens); each feature row then reports
            classes_kept, classes_excluded, classes_empty and excluded_share, and
            ``report.excluded_classes`` lists the excluded ids. Default None: strict, a class with
            fewer samples than a metric needs makes that metric skipped with the reason.

    Feature rows: nc1_trace, nc1_pinv, trace_sigma_w, cdnv, nc2_cond (non-zero s.v.), nc2_cond_K
    (s_1/s_K), means_rank, nc2_equinorm / equiangularity / etf_gram_dist / cos_mean, negativity
    (pre-activations, ReLU), and nc3_cos, nc3_duality, nc4_ncc for the classifier input.
    Cutoffs used (relative to s_1; they follow the precision of the features *as given*, see
    :func:`nclab.metrics.nc1_pinv`): nc1_pinv_rtol (Sigma_B^+), nc2_cond_rtol (the non-zero
    singular values of nc2_cond and nc2_cond_K), means_rank_rtol (``max(rank_rtol,
    nc2_cond_rtol)``).
    Weight rows: w_fro, w_stable_rank, w_rank, w_rel_dist_rank_K, w_balancedness, w_imbalance_op.
    Metrics undefined on the input are listed in ``report.skipped`` with the reason.
    """
    min_count = check_min_count(min_count)
    feats = _as_items(features, "features")
    if not feats:
        raise ValueError("features is empty")
    wts = [
        (n, as_matrix(W, f"weights[{n!r}]", ndim=getattr(W, "ndim", 2)))
        for n, W in _as_items(weights or {}, "weights")
    ]

    entries = []  # (layer, kind, H)
    given = []  # the features of each entry as passed: their dtype sets the cutoffs
    for name, value in feats:
        if isinstance(value, Mapping):
            unknown = set(value) - set(KINDS)
            if unknown:
                raise ValueError(f"features[{name!r}] has unknown keys {sorted(unknown)}; use {KINDS}")
            entries += [
                (name, k, as_matrix(value[k], f"features[{name!r}][{k!r}]"))
                for k in KINDS
                if k in value
            ]
            given += [value[k] for k in KINDS if k in value]
        else:
            entries.append((name, "features", as_matrix(value, f"features[{name!r}]")))
            given.append(value)
    N = entries[0][2].shape[0]
    y = as_labels(y, "y", n=N, device=entries[0][2].device)
    K_given = K is not None
    K = check_num_classes(y, K)
    check_counts(torch.bincount(y, minlength=K), K_given)
    for name, kind, H in entries:
        if H.shape[0] != N:
            raise ValueError(f"features[{name!r}] ({kind}) has {H.shape[0]} rows, expected {N}")
        check_same_device(H, entries[0][2], f"features[{name!r}]", f"features[{entries[0][0]!r}]")

    W = classifier
    if W is None and wts and wts[-1][1].ndim == 2 and wts[-1][1].shape[0] == K:
        W = wts[-1][1]
    b = None
    report = LayerReport()
    if classifier_bias is not None and W is None:
        raise ValueError("classifier_bias is given but there is no classifier")
    if W is not None:
        W = as_matrix(W, "classifier")
        check_same_device(W, entries[0][2], "classifier", f"features[{entries[0][0]!r}]")
        if classifier_bias is not None:
            b = as_matrix(classifier_bias, "classifier_bias", ndim=1)
            if b.shape[0] != W.shape[0]:
                raise ValueError(f"classifier_bias has shape {tuple(b.shape)}, expected ({W.shape[0]},)")
        if classifier_input is None:
            for metric in ("nc3_cos", "nc3_duality", "nc4_ncc"):
                report.skipped[("classifier", "features", metric)] = (
                    "classifier_input not given: name the entry of features the classifier "
                    "consumes (it is never guessed from the width)"
                )
        elif classifier_input not in {n for n, _, _ in entries}:
            raise ValueError(f"classifier_input {classifier_input!r} is not a name in features")
        else:
            for name, kind, H in entries:
                if name == classifier_input and H.shape[1] != W.shape[1]:
                    raise ValueError(
                        f"classifier_input {name!r} ({kind}) has width {H.shape[1]} but the "
                        f"classifier has shape {tuple(W.shape)}"
                    )
    elif classifier_input is not None:
        for metric in ("nc3_cos", "nc3_duality", "nc4_ncc"):
            report.skipped[(classifier_input, "features", metric)] = (
                f"no classifier: pass classifier= (K, D), or weights whose last entry has K={K} rows"
            )

    for (name, kind, H), raw in zip(entries, given, strict=True):
        use = W is not None and name == classifier_input
        report.rows.append(_feature_row(
            report, name, kind, H, raw, y, K, W if use else None, b if use else None, rank_rtol,
            min_count,
        ))
    weight_rows(report, wts, K, rank_rtol)
    return report
