"""Measure any network: :func:`analyze` runs a ``torch.nn.Module`` over data with forward hooks
on named layers and returns the per-layer :class:`nclab.metrics.LayerReport`.

Sits above :mod:`nclab.metrics` (it streams features into ``ClassStats``); the integrations
(:mod:`nclab.integrations`) sit above it.
"""

from nclab.metrics.report import LayerReport

from .analyze import analyze

__all__ = ["LayerReport", "analyze"]
