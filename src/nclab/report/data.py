"""What the figures and tables need from :class:`~nclab.experiments.spec.Results`.

Runs are grouped by **grid point** (their ``params``; seeds are the runs within a point), and
statistics over runs are the mean and the population standard deviation (``ddof=0``, as
``results.final(...).std()``). Indexed metrics are stored as ``"name[i]"`` / ``"name[i,j]"``.
"""

from __future__ import annotations

import json
import math
import re
import weakref
from collections import defaultdict
from dataclasses import dataclass

import numpy as np

_INDEXED = re.compile(r"^(?P<base>.+)\[(?P<index>\d+(?:,\d+)*)\]$")


class NoData(ValueError):
    """The results hold no rows for what a panel asks (e.g. a metric not recorded at this
    scale); :func:`nclab.report.make_figures` draws a labelled placeholder instead."""


def natural_key(text: str) -> list:
    """Sort key with numbers compared as numbers (``layer2`` before ``layer10``)."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", str(text))]


def split_indexed(metric: str) -> tuple[str, tuple[int, ...]] | None:
    """``"sv[3]" -> ("sv", (3,))``, ``"G[0,1]" -> ("G", (0, 1))``; None when not indexed."""
    m = _INDEXED.match(metric)
    if m is None:
        return None
    return m.group("base"), tuple(int(i) for i in m.group("index").split(","))


def point_key(params: dict) -> str:
    return json.dumps(params, sort_keys=True, separators=(",", ":"))


def varying_keys(params_list) -> list[str]:
    """Grid keys whose value differs between the given grid points (the ones worth naming)."""
    points = {point_key(p): p for p in params_list}
    keys = set().union(*(p.keys() for p in points.values()))
    return sorted(
        (k for k in keys if len({json.dumps(p.get(k)) for p in points.values()}) > 1),
        key=natural_key,
    )


def point_label(params: dict, keys) -> str:
    """``"weight_decay=0.004, width=64"`` from the varying ``keys`` (last dotted segment)."""
    return ", ".join(f"{k.rsplit('.', 1)[-1]}={params.get(k)}" for k in keys)


@dataclass
class Series:
    """One (layer, grid point) of a metric: ``runs[run_id] = [(step, index, value), ...]``
    (``index`` is None for a plain metric)."""

    layer: str
    params: dict
    runs: dict[str, list[tuple[int, tuple[int, ...] | None, float]]]


def collect(results, metric: str, indexed: bool, layers=None, point=None) -> list[Series]:
    """The rows of ``metric`` (plain, or all ``metric[...]`` when ``indexed``) grouped into
    series by layer and grid point, layers in ``layers`` order (default: natural order);
    ``point``: keep only runs whose params include these items. Raises :class:`NoData`
    naming the metric when nothing matches."""
    found: dict[tuple[str, str], Series] = {}
    plain, by_base = _index(results)
    by_layer = by_base.get(metric, {}) if indexed else plain.get(metric, {})
    wanted = by_layer if layers is None else [layer for layer in by_layer if layer in layers]
    for r, index in (entry for layer in wanted for entry in by_layer[layer]):
        if point and any(r["params"].get(k) != v for k, v in point.items()):
            continue
        key = (r["layer"], point_key(r["params"]))
        series = found.get(key)
        if series is None:
            series = found[key] = Series(r["layer"], r["params"], defaultdict(list))
        series.runs[r["run_id"]].append((r["step"], index, r["value"]))
    what = f"'{metric}[...]'" if indexed else repr(metric)
    if not found:
        where = f" for layers {list(layers)}" if layers is not None else ""
        where += f" at {point}" if point else ""
        raise NoData(f"no rows of metric {what}{where} in {results.experiment}/{results.scale}")
    order = {name: i for i, name in enumerate(layers)} if layers is not None else None

    def sort_key(item):
        (layer, point), _ = item
        first = order[layer] if order is not None else 0
        return (first, natural_key(layer), point)

    return [s for _, s in sorted(found.items(), key=sort_key)]


# results -> ({metric: {layer: [(row, None)]}}, {base name of an indexed metric: {layer: [(row,
# index)]}}), built once per Results: a report draws dozens of panels from one Results, and
# scanning every row for each of them (zangrando2024-fig6: 56 Gram panels over ~10^5 rows) took
# minutes
_INDEXES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _index(results) -> tuple[dict, dict]:
    cached = _INDEXES.get(results)
    if cached is not None and cached[0] is results.rows and cached[1] == len(results.rows):
        return cached[2], cached[3]
    plain: dict[str, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    by_base: dict[str, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    for r in results.rows:
        name = r["metric"]
        plain[name][r["layer"]].append((r, None))
        if name.endswith("]"):
            parts = split_indexed(name)
            if parts is not None:
                by_base[parts[0]][r["layer"]].append((r, parts[1]))
    _INDEXES[results] = (results.rows, len(results.rows), plain, by_base)
    return plain, by_base


def panel_series(panel, results, layers=None, point=None) -> list[Series]:
    """:func:`collect` of a panel's metric: indexed (``metric[...]``) for the spectrum, gram,
    projection and histogram kinds, plain for the others."""
    indexed = panel.kind in ("spectrum", "gram", "projection", "histogram")
    return collect(results, panel.metric, indexed, layers, point)


def last_step(entries) -> list[tuple[int, tuple[int, ...] | None, float]]:
    """The entries of a run's last recorded step."""
    step = max(e[0] for e in entries)
    return [e for e in entries if e[0] == step]


def stack_runs(per_run: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    """``(keys, matrix)`` from one ``{key: value}`` dict per run: the sorted union of keys and
    a (runs, keys) array with NaN where a run lacks a key."""
    keys = sorted(set().union(*per_run))
    mat = np.full((len(per_run), len(keys)), np.nan)
    col = {k: j for j, k in enumerate(keys)}
    for i, values in enumerate(per_run):
        for k, v in values.items():
            mat[i, col[k]] = v
    return np.array(keys), mat


def summarize(mat: np.ndarray, aggregate: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(center, low, high)`` over runs (axis 0), ignoring NaN: mean ± std (``mean_std``),
    mean within [min, max] (``min_max``), or the mean alone (``none``: low = high = mean)."""
    counts = np.sum(~np.isnan(mat), axis=0)
    safe = np.where(counts > 0, 1, 0)  # columns with no value stay NaN, without warnings
    filled = np.where(np.isnan(mat), 0.0, mat)
    mean = np.where(safe, filled.sum(0) / np.maximum(counts, 1), np.nan)
    if aggregate == "mean_std":
        var = np.where(np.isnan(mat), 0.0, (mat - mean) ** 2).sum(0) / np.maximum(counts, 1)
        std = np.where(safe, np.sqrt(var), np.nan)
        return mean, mean - std, mean + std
    if aggregate == "min_max":
        low = np.where(safe, np.where(np.isnan(mat), np.inf, mat).min(0), np.nan)
        high = np.where(safe, np.where(np.isnan(mat), -np.inf, mat).max(0), np.nan)
        return mean, low, high
    return mean, mean, mean


def mean_std(values) -> tuple[float, float, int]:
    """Mean, population std and count of the finite-or-NaN ``values`` (NaN counts as a value:
    a diverged run shows as ``nan`` rather than disappearing). An infinite value (e.g. the
    condition number of a rank-deficient matrix) makes the mean infinite and the std NaN."""
    arr = np.asarray(list(values), dtype=float)
    if arr.size == 0:
        return math.nan, math.nan, 0
    if not np.isfinite(arr).all():
        return float(arr.mean()), math.nan, int(arr.size)
    return float(arr.mean()), float(arr.std()), int(arr.size)


def final_values(results) -> dict[tuple[str, str, str], list[float]]:
    """``(point_key, layer, metric) -> [value at each run's last step]`` for every plain
    (non-indexed) metric."""
    last: dict[tuple[str, str, str], tuple[int, float]] = {}
    points: dict[str, str] = {}
    for r in results.rows:
        if split_indexed(r["metric"]) is not None:
            continue
        points.setdefault(r["run_id"], point_key(r["params"]))
        key = (r["run_id"], r["layer"], r["metric"])
        if key not in last or r["step"] >= last[key][0]:
            last[key] = (r["step"], r["value"])
    out: dict[tuple[str, str, str], list[float]] = defaultdict(list)
    for (run, layer, metric), (_, value) in sorted(last.items()):
        out[(points[run], layer, metric)].append(value)
    return dict(out)
