"""What a training run produced: :class:`RunResult`."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from torch import nn

from .config import TrainConfig


@dataclass
class RunResult:
    """What a run produced.

    ``records``: long rows ``{"step", "split", "layer", "metric", "value"}`` of every probe;
    ``final_metrics``: ``{(split, layer, metric): value}`` at the last probed step;
    ``loss_parts``: decomposition of the final objective (``loss``, ``fit``, ``reg``,
    ``reg/<term>``); ``loss_trace[s]``: the batch loss at step s (before update s+1);
    ``diverged`` / ``divergence``: whether and why training stopped early (the message names
    the step and the cause); ``checkpoint_dir``: the run directory (None without ``out_dir``).
    """

    config: TrainConfig
    model: nn.Module
    records: list[dict]
    final_metrics: dict[tuple[str, str, str], float]
    loss_parts: dict[str, float]
    loss_trace: np.ndarray
    loss_preset: str
    steps: int
    total_steps: int
    diverged: bool = False
    divergence: str | None = None
    checkpoint_dir: Path | None = None
    resumed_from: int | None = None
    skipped: list[dict] = field(default_factory=list)
    seconds: float = 0.0

    def metric(self, metric: str, layer: str = "model", split: str = "train") -> float:
        """Final value of one metric (e.g. ``result.metric("nc1_trace", "layer3/post")``)."""
        key = (split, layer, metric)
        if key not in self.final_metrics:
            raise KeyError(f"no final {metric!r} for layer {layer!r} on {split!r}")
        return self.final_metrics[key]

    def history(self, metric: str, layer: str = "model", split: str = "train"):
        """``(steps, values)`` arrays of one metric over the probes."""
        rows = [r for r in self.records
                if r["metric"] == metric and r["layer"] == layer and r["split"] == split]
        return np.array([r["step"] for r in rows]), np.array([r["value"] for r in rows])
