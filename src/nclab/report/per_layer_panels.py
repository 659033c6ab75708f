"""The per-layer panel kinds (``gram``, ``projection``): one axes per (grid point, layer), drawn
by :func:`draw_gram` (the ``metric[i,j]`` matrix at the last step, averaged over runs) and
:func:`draw_projection` (points ``metric[i,0|1]`` of one run coloured by ``metric_class[i]``);
:func:`nclab.report.draw_panel` dispatches to them.
"""

from __future__ import annotations

import numpy as np

from nclab.experiments.spec import Panel

from .data import (
    NoData,
    Series,
    collect,
    last_step,
    natural_key,
    panel_series,
    point_key,
    point_label,
)


def draw_gram(panel, results, ax, layers, point) -> list[str]:
    s = _single(panel, results, layers, point)
    mats = [_matrix(panel, entries, s.layer) for entries in s.runs.values()]
    n = max(len(m) for m in mats)
    stack = np.full((len(mats), n, n), np.nan)
    for i, m in enumerate(mats):
        stack[i, : len(m), : len(m)] = m
    counts = np.sum(~np.isnan(stack), axis=0)
    mean = np.where(counts > 0, np.nansum(stack, axis=0) / np.maximum(counts, 1), np.nan)
    vmax = float(np.nanmax(np.abs(mean))) if np.isfinite(mean).any() else 1.0
    signed = bool(np.nanmin(mean) < 0) if np.isfinite(mean).any() else False
    image = ax.imshow(
        mean,
        cmap="RdBu_r" if signed else "viridis",
        vmin=-vmax if signed else None,
        vmax=vmax if signed else None,
        interpolation="nearest",
    )
    ax.figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    if n <= 20:
        ax.set_xticks(range(n))
        ax.set_yticks(range(n))
    ax.set_xlabel("class j")
    ax.set_ylabel("class i")
    ax.set_title(_cell_title(s, point))
    return [f"{s.layer}: mean over {len(mats)} run(s) at each run's last step"]


def draw_projection(panel, results, ax, layers, point) -> list[str]:
    s = _single(panel, results, layers, point)
    run = min(s.runs, key=natural_key)
    last = last_step(s.runs[run])
    step = last[0][0]
    coords: dict[int, list] = {}
    for _, idx, value in last:
        if len(idx) != 2 or idx[1] not in (0, 1):
            raise ValueError(
                f"projection panel {panel.title!r} needs metrics '{panel.metric}[i,0]' and "
                f"'{panel.metric}[i,1]', found index {idx} (layer {s.layer!r})"
            )
        coords.setdefault(idx[0], [np.nan, np.nan])[idx[1]] = value
    points = sorted(coords)
    xy = np.array([coords[i] for i in points], dtype=float).reshape(-1, 2)
    notes = [f"{s.layer}: run {run} at step {step}"]
    classes = _classes(panel, results, s, run, step)
    if classes is None:
        ax.scatter(xy[:, 0], xy[:, 1], s=8)
        notes.append(f"{s.layer}: no '{panel.metric}_class[i]' rows, classes not shown")
    else:
        missing = [i for i in points if i not in classes]
        if missing:
            raise ValueError(
                f"projection panel {panel.title!r}: points {missing[:5]} of run {run} have no "
                f"'{panel.metric}_class[i]' at step {step}"
            )
        labels = np.array([classes[i] for i in points])
        K = len(np.unique(labels))
        cmap = "tab10" if K <= 10 else "tab20"
        ax.scatter(xy[:, 0], xy[:, 1], c=labels, cmap=cmap, s=8,
                   vmin=labels.min(), vmax=labels.min() + (10 if K <= 10 else 20) - 1)
    ax.set_aspect("equal", adjustable="datalim")
    ax.set_xlabel("projection 1")
    ax.set_ylabel("projection 2")
    ax.set_title(_cell_title(s, point))
    return notes


def _single(panel, results, layers, point) -> Series:
    series = panel_series(panel, results, layers, point)
    for what, values in (
        ("layers", sorted({s.layer for s in series}, key=natural_key)),
        ("grid points", sorted({point_key(s.params) for s in series})),
    ):
        if len(values) > 1:
            arg = "layer=" if what == "layers" else "point="
            raise ValueError(
                f"{panel.kind} panel {panel.title!r} has data for {len(values)} {what} "
                f"{values}; pass {arg} to choose one (make_figures draws each)"
            )
    return series[0]


def _matrix(panel: Panel, entries, layer: str) -> np.ndarray:
    last = last_step(entries)
    if any(len(e[1]) != 2 for e in last):
        raise ValueError(
            f"gram panel {panel.title!r} needs metrics '{panel.metric}[i,j]' (layer {layer!r})"
        )
    n = 1 + max(max(e[1]) for e in last)
    mat = np.full((n, n), np.nan)
    for _, (i, j), value in last:
        mat[i, j] = value
    return mat


def _classes(panel, results, s: Series, run: str, step: int) -> dict[int, int] | None:
    try:
        found = collect(results, f"{panel.metric}_class", True, (s.layer,), s.params)
    except NoData:
        return None
    entries = [e for series in found for e in series.runs.get(run, []) if e[0] == step]
    if not entries:
        return None
    return {idx[0]: int(value) for _, idx, value in entries}


def _cell_title(s: Series, point) -> str:
    label = point_label(point, sorted(point, key=natural_key)) if point else ""
    return s.layer + (f"\n{label}" if label else "")
