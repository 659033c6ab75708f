"""A :class:`~nclab.metrics.LayerReport` as flat ``{"<prefix><layer>/<metric>": value}`` dicts,
the form every logger takes."""

from __future__ import annotations

from nclab.metrics.report import LayerReport


def flat_metrics(report: LayerReport, prefix: str = "nc/") -> dict[str, float]:
    """One entry per (layer, metric) of ``report.long()``; layer names keep their dots."""
    return {f"{prefix}{e['layer']}/{e['metric']}": float(e["value"]) for e in report.long()}
