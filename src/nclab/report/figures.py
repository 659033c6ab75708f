"""One PNG + SVG file per panel of an experiment: :func:`make_figures`.

Figures are built with ``matplotlib.figure.Figure`` and rendered by the Agg backend: no screen,
no pyplot state. Files are ``<NN>-<title-slug>.png`` / ``.svg`` (NN = panel number from 01),
each written atomically. Gram and projection panels get one axes per (grid point, layer): rows
are grid points, columns layers. A panel whose metric has no rows becomes a figure that says so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib
from matplotlib.figure import Figure

from nclab.store import write_atomic

from .data import NoData, natural_key, point_label, varying_keys
from .panels import PER_LAYER_KINDS, draw_panel, panel_grid

PNG_DPI = 120
_CELL = (3.6, 3.3)  # inches per axes of a per-layer grid
_SINGLE = (6.0, 4.2)


@dataclass
class PanelFigure:
    """A drawn panel: its files and the notes to show with it (``missing``: why it is empty)."""

    panel: object
    png: Path
    svg: Path
    notes: list[str] = field(default_factory=list)
    missing: str = ""


def slug(text: str, limit: int = 60) -> str:
    """``"NC1 vs step (train)" -> "nc1-vs-step-train"``."""
    out = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return out[:limit].rstrip("-") or "panel"


def render_panels(experiment, results, out_dir) -> list[PanelFigure]:
    """Draw every panel of ``experiment`` into ``out_dir``; see :func:`make_figures`."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    drawn = []
    for number, panel in enumerate(experiment.panels, start=1):
        fig, notes, missing = _figure(panel, results)
        stem = f"{number:02d}-{slug(panel.title)}"
        png, svg = out_dir / f"{stem}.png", out_dir / f"{stem}.svg"
        _save(fig, png, svg)
        drawn.append(PanelFigure(panel, png, svg, notes, missing))
    return drawn


def _save(fig: Figure, png: Path, svg: Path) -> None:
    """Both files, atomically; the SVG without a date and with fixed ids (reproducible)."""
    with matplotlib.rc_context({"svg.hashsalt": "nclab"}):
        write_atomic(png, lambda tmp: fig.savefig(tmp, format="png", dpi=PNG_DPI,
                                                  metadata={"Software": None}))
        write_atomic(svg, lambda tmp: fig.savefig(tmp, format="svg", metadata={"Date": None}))


def make_figures(experiment, results, out_dir) -> list[Path]:
    """Draw each of ``experiment.panels`` from ``results`` as ``out_dir/NN-slug.png`` and
    ``.svg``; returns the written paths, PNG then SVG for each panel in order."""
    return [p for f in render_panels(experiment, results, out_dir) for p in (f.png, f.svg)]


def _figure(panel, results) -> tuple[Figure, list[str], str]:
    if panel.kind in PER_LAYER_KINDS:
        try:
            points, layers = panel_grid(panel, results)
        except NoData as err:
            return _placeholder(panel, str(err)), [], str(err)
        layers = layers if panel.layers is not None else sorted(layers, key=natural_key)
        fig = Figure(figsize=(_CELL[0] * len(layers), _CELL[1] * len(points) + 0.4),
                     layout="constrained")
        axes = fig.subplots(len(points), len(layers), squeeze=False)
        keys = varying_keys(points)
        notes = []
        for row, point in enumerate(points):
            shown = {k: point[k] for k in keys}
            for col, layer in enumerate(layers):
                try:
                    notes += draw_panel(panel, results, axes[row][col], layer=layer, point=point)
                except NoData:
                    axes[row][col].set_axis_off()
                    where = f" at {point_label(point, keys)}" if keys else ""
                    notes.append(f"{layer}: no data{where}")
                    continue
                # name only the grid values that distinguish the rows
                axes[row][col].set_title(layer + (f"\n{point_label(shown, keys)}" if keys else ""))
        fig.suptitle(panel.title)
        return fig, notes, ""
    fig = Figure(figsize=_SINGLE, layout="constrained")
    ax = fig.subplots()
    try:
        notes = draw_panel(panel, results, ax)
    except NoData as err:
        return _placeholder(panel, str(err)), [], str(err)
    return fig, notes, ""


def _placeholder(panel, message: str) -> Figure:
    fig = Figure(figsize=_SINGLE, layout="constrained")
    ax = fig.subplots()
    ax.set_axis_off()
    ax.set_title(panel.title)
    ax.text(0.5, 0.5, "no data\n" + message, ha="center", va="center", wrap=True,
            fontsize="small", transform=ax.transAxes)
    return fig
