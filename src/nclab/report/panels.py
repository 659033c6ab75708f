"""Draw one :class:`~nclab.experiments.spec.Panel` from :class:`~nclab.experiments.spec.Results`
onto a matplotlib ``Axes``: :func:`draw_panel`.

Kinds (values at "the last step" are each run's last recorded step of that metric):

- ``curve``: metric vs step, one line per (layer, grid point), the mean over runs with a band
  (±1 std for ``mean_std``, min..max for ``min_max``; ``none``: one line per run).
- ``vs_param``: final metric vs the grid key ``panel.x``, one line per layer (and per value of
  the other varying keys), error bars over runs; non-numeric values are categories.
- ``spectrum``: ``metric[i]`` at the last step against ``i + 1``, aggregated over runs.
- ``gram``: the ``metric[i,j]`` matrix at the last step, averaged over runs; one layer and
  grid point per axes.
- ``projection``: points ``metric[i,0|1]`` coloured by ``metric_class[i]`` of one run (the
  first run id of the grid point: random projections of different runs are not comparable).
- ``histogram``: the values ``metric[i]`` at the last step, pooled over runs, one outline per
  (layer, grid point).
- ``bar``: final metric per layer (bars), grouped by grid point, error bars over runs.

``panel.reference`` lines are horizontal (vertical for histograms, whose x axis holds the
values); gram and projection panels take neither references nor log axes. The per-layer
kinds (gram, projection) are drawn in :mod:`.per_layer_panels`, the others here.
"""

from __future__ import annotations

import numbers

import numpy as np
from matplotlib.ticker import MaxNLocator

from nclab.experiments.spec import Panel

from .data import (
    NoData,
    Series,
    last_step,
    panel_series,
    point_key,
    point_label,
    stack_runs,
    summarize,
    varying_keys,
)
from .per_layer_panels import draw_gram, draw_projection

PER_LAYER_KINDS = ("gram", "projection")  # one axes per (grid point, layer)
_BAND_ALPHA = 0.2
_LEGEND_INSIDE = 6  # more legend entries than this go below the axes


def draw_panel(panel: Panel, results, ax, *, layer: str | None = None,
               point: dict | None = None) -> list[str]:
    """Draw ``panel`` from ``results`` on ``ax``; return notes worth showing with the figure.

    ``layer`` / ``point`` (a dict of grid values) restrict the data; gram and projection panels
    need exactly one layer and grid point left (see :func:`panel_grid` for all of them).
    Raises :class:`~nclab.report.data.NoData` (a ``ValueError``) when the metric has no rows,
    ``ValueError`` for a panel that cannot be drawn as specified.
    """
    if not isinstance(panel, Panel):
        raise ValueError(f"panel must be a nclab.experiments.spec.Panel, got {type(panel)}")
    if panel.kind in PER_LAYER_KINDS and (panel.reference or panel.logx or panel.logy):
        raise ValueError(
            f"panel {panel.title!r}: {panel.kind} panels take no reference lines or log axes"
        )
    layers = _layers(panel, layer)
    notes = _DRAW[panel.kind](panel, results, ax, layers, point or None)
    if panel.kind not in PER_LAYER_KINDS:
        _finish_axes(panel, ax)
    if panel.layers is not None and layer is None:
        drawn = {s.layer for s in panel_series(panel, results, layers, point)}
        missing = [name for name in panel.layers if name not in drawn]
        if missing:
            notes.append(f"no data for layers {missing}")
    return notes


def panel_grid(panel: Panel, results) -> tuple[list[dict], list[str]]:
    """``(grid points, layers)`` that hold the panel's metric, in display order."""
    series = panel_series(panel, results, _layers(panel, None), None)
    points = {point_key(s.params): s.params for s in series}
    layers = list(dict.fromkeys(s.layer for s in series))
    return [points[k] for k in sorted(points)], layers


# ---- helpers ---------------------------------------------------------------------------------
def _layers(panel: Panel, layer: str | None):
    if layer is not None:
        if panel.layers is not None and layer not in panel.layers:
            raise ValueError(f"panel {panel.title!r} does not show layer {layer!r}")
        return (layer,)
    return panel.layers


def _labels(series: list[Series]) -> list[str]:
    keys = varying_keys([s.params for s in series])
    return [s.layer + (f" ({point_label(s.params, keys)})" if keys else "") for s in series]


def _final(entries) -> float:
    return last_step(entries)[0][2]


def _positive(values: np.ndarray, on: bool) -> np.ndarray:
    """NaN where a log axis cannot show the value."""
    return np.where(values > 0, values, np.nan) if on else values


def _any_positive(ax, axis: str) -> bool:
    """Whether a line of ``ax`` has a finite positive coordinate on ``axis`` ("x" or "y")."""
    for line in ax.get_lines():
        v = np.asarray(line.get_xdata() if axis == "x" else line.get_ydata(), dtype=float)
        if bool(np.any(np.isfinite(v) & (v > 0))):
            return True
    return False


def _finish_axes(panel: Panel, ax) -> None:
    vertical = panel.kind == "histogram"
    for label, value in panel.reference:
        line = ax.axvline if vertical else ax.axhline
        line(value, linestyle="--", linewidth=1, color="0.35", label=label)
    for axis, on in (("x", panel.logx), ("y", panel.logy)):
        if not on:
            continue
        if _any_positive(ax, axis):
            getattr(ax, f"set_{axis}scale")("log", nonpositive="clip")
        else:  # e.g. equinorm of K = 2 balanced classes: exactly 0, which a log axis cannot show
            ax.annotate(f"no positive {axis} value: linear {axis} axis", (0.02, 0.02),
                        xycoords="axes fraction", fontsize="x-small", color="0.35")
    entries = len(ax.get_legend_handles_labels()[0])
    if entries > _LEGEND_INSIDE:  # below the axes, where it cannot hide the data
        ax.legend(fontsize="x-small", ncol=2, loc="upper center", bbox_to_anchor=(0.5, -0.2))
    elif entries > 1 or panel.reference:
        ax.legend(fontsize="small")
    ax.grid(True, alpha=0.3)
    ax.set_title(panel.title)


# ---- kinds -----------------------------------------------------------------------------------
def _curve(panel, results, ax, layers, point) -> list[str]:
    series = panel_series(panel, results, layers, point)
    for s, label in zip(series, _labels(series), strict=True):
        steps, mat = stack_runs([{e[0]: e[2] for e in entries} for entries in s.runs.values()])
        keep = steps > 0 if panel.logx else np.ones(len(steps), bool)
        x, mat = steps[keep], mat[:, keep]
        if panel.aggregate == "none":
            color = None
            for i, row in enumerate(mat):
                (line,) = ax.plot(x, _positive(row, panel.logy), color=color, linewidth=1,
                                  label=label if i == 0 else None)
                color = line.get_color()
            continue
        center, low, high = summarize(mat, panel.aggregate)
        (line,) = ax.plot(x, _positive(center, panel.logy), marker=".", label=label)
        if len(mat) > 1:
            ax.fill_between(x, low, high, color=line.get_color(), alpha=_BAND_ALPHA, linewidth=0)
    ax.set_xlabel("step")
    ax.set_ylabel(panel.metric)
    return []


def _is_number(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _vs_param(panel, results, ax, layers, point) -> list[str]:
    if panel.x == "step":
        raise ValueError(f"vs_param panel {panel.title!r} needs x = a grid key, not 'step'")
    series = [s for s in panel_series(panel, results, layers, point) if panel.x in s.params]
    if not series:
        raise NoData(f"no runs of {panel.metric!r} with grid key {panel.x!r}")
    lines: dict[tuple[str, str], dict] = {}
    for s in series:
        rest = {k: v for k, v in s.params.items() if k != panel.x}
        line = lines.setdefault((s.layer, point_key(rest)), {"layer": s.layer, "rest": rest,
                                                             "values": {}})
        line["values"].setdefault(s.params[panel.x], []).extend(
            _final(entries) for entries in s.runs.values()
        )
    xs = sorted({x for line in lines.values() for x in line["values"]}, key=_sort_x)
    numeric = all(_is_number(x) for x in xs)
    position = {x: (float(x) if numeric else i) for i, x in enumerate(xs)}
    keys = varying_keys([line["rest"] for line in lines.values()])
    for line in lines.values():
        label = line["layer"] + (f" ({point_label(line['rest'], keys)})" if keys else "")
        xv = sorted(line["values"], key=_sort_x)
        x = np.array([position[v] for v in xv])
        runs = [np.array(line["values"][v], dtype=float) for v in xv]
        mean = np.array([r.mean() for r in runs])
        if panel.aggregate == "none":
            (handle,) = ax.plot(x, mean, linewidth=0.8, alpha=0.6, label=label)
            for xi, r in zip(x, runs, strict=True):
                ax.plot(np.full(len(r), xi), r, "o", color=handle.get_color(), markersize=3)
            continue
        if panel.aggregate == "mean_std":
            std = np.array([r.std() for r in runs])
            err = np.vstack([std, std])
        else:
            err = np.vstack([mean - [r.min() for r in runs], [r.max() for r in runs] - mean])
        ax.errorbar(x, mean, yerr=err, marker="o", capsize=3, label=label)
    if not numeric:
        ax.set_xticks(range(len(xs)), [str(x) for x in xs])
    ax.set_xlabel(panel.x)
    ax.set_ylabel(f"final {panel.metric}")
    return []


def _sort_x(value):
    return (0, float(value), "") if _is_number(value) else (1, 0.0, str(value))


def _spectrum(panel, results, ax, layers, point) -> list[str]:
    series = panel_series(panel, results, layers, point)
    for s, label in zip(series, _labels(series), strict=True):
        per_run = []
        for entries in s.runs.values():
            last = last_step(entries)
            if any(len(e[1]) != 1 for e in last):
                raise ValueError(
                    f"spectrum panel {panel.title!r} needs metrics '{panel.metric}[i]', "
                    f"found a multi-index one for layer {s.layer!r}"
                )
            per_run.append({e[1][0]: e[2] for e in last})
        index, mat = stack_runs(per_run)
        x = index + 1
        if panel.aggregate == "none":
            color = None
            for i, row in enumerate(mat):
                (line,) = ax.plot(x, _positive(row, panel.logy), marker=".", linewidth=1,
                                  color=color, label=label if i == 0 else None)
                color = line.get_color()
            continue
        center, low, high = summarize(mat, panel.aggregate)
        (line,) = ax.plot(x, _positive(center, panel.logy), marker=".", label=label)
        if len(mat) > 1:
            ax.fill_between(x, low, high, color=line.get_color(), alpha=_BAND_ALPHA, linewidth=0)
    if not panel.logx:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("index (i + 1)")
    ax.set_ylabel(panel.metric)
    return []


def _histogram(panel, results, ax, layers, point) -> list[str]:
    series = panel_series(panel, results, layers, point)
    pooled = [
        np.array([e[2] for entries in s.runs.values() for e in last_step(entries)], dtype=float)
        for s in series
    ]
    finite = np.concatenate([v[np.isfinite(v)] for v in pooled])
    if panel.logx:
        finite = finite[finite > 0]
    if finite.size == 0:
        raise NoData(f"histogram panel {panel.title!r}: no finite values to bin")
    lo, hi = float(finite.min()), float(finite.max())
    if panel.logx:
        edges = np.geomspace(lo, hi if hi > lo else lo * 10, 31)
    else:
        edges = np.histogram_bin_edges(finite, bins=30, range=(lo, hi) if hi > lo else None)
    for values, label in zip(pooled, _labels(series), strict=True):
        ax.hist(values[np.isfinite(values)], bins=edges, histtype="step", linewidth=1.5,
                label=label)
    ax.set_xlabel(panel.metric)
    ax.set_ylabel("count")
    return []


def _bar(panel, results, ax, layers, point) -> list[str]:
    series = panel_series(panel, results, layers, point)
    layer_order = list(dict.fromkeys(s.layer for s in series))
    points = {point_key(s.params): s.params for s in series}
    keys = varying_keys(list(points.values()))
    width = 0.8 / len(points)
    for g, pk in enumerate(sorted(points)):
        group = {s.layer: s for s in series if point_key(s.params) == pk}
        x = np.array([i for i, name in enumerate(layer_order) if name in group], dtype=float)
        x += (g - (len(points) - 1) / 2) * width
        runs = [np.array([_final(e) for e in group[name].runs.values()], dtype=float)
                for name in layer_order if name in group]
        mean = np.array([r.mean() for r in runs])
        label = point_label(points[pk], keys) if keys else None
        if panel.aggregate == "mean_std":
            err = np.array([r.std() for r in runs])
        elif panel.aggregate == "min_max":
            err = np.vstack([mean - [r.min() for r in runs], [r.max() for r in runs] - mean])
        else:
            err = None
        bars = ax.bar(x, mean, width=width, yerr=err, capsize=3, label=label, alpha=0.8)
        if panel.aggregate == "none":
            color = bars.patches[0].get_facecolor()
            for xi, r in zip(x, runs, strict=True):
                ax.plot(np.full(len(r), xi), r, "o", color="k", markersize=3, markerfacecolor=color)
    ax.set_xticks(range(len(layer_order)), layer_order, rotation=30, ha="right")
    ax.set_ylabel(f"final {panel.metric}")
    return []


_DRAW = {
    "curve": _curve,
    "vs_param": _vs_param,
    "spectrum": _spectrum,
    "gram": draw_gram,
    "projection": draw_projection,
    "histogram": _histogram,
    "bar": _bar,
}
