"""Figures and HTML reports from experiment results, mirroring the papers' panels.

- :func:`draw_panel` -- one :class:`~nclab.experiments.spec.Panel` on a matplotlib ``Axes``.
- :func:`make_figures` -- every panel of an experiment as PNG + SVG files.
- :func:`write_html_report` -- a static ``report.html`` (figures, claims, final metrics).
- :func:`build_report` -- the same straight from a :class:`nclab.store.Store`, on the runs of
  the experiment's current plan.

Claims are evaluated by :func:`nclab.experiments.claims.evaluate` (PASS / FAIL / NOT-RUN /
ERROR).

Matplotlib runs headless (``matplotlib.figure.Figure`` rendered by Agg; pyplot is never used).
"""

from .build import build_report
from .data import NoData
from .figures import PanelFigure, make_figures, render_panels
from .html import write_html_report
from .panels import PER_LAYER_KINDS, draw_panel, panel_grid

__all__ = [
    "PER_LAYER_KINDS",
    "NoData",
    "PanelFigure",
    "build_report",
    "draw_panel",
    "make_figures",
    "panel_grid",
    "render_panels",
    "write_html_report",
]
