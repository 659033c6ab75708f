"""One replica of a vectorised run: its own model, objective, probe, batch order and results.

Each replica is set up exactly as :func:`nclab.train.run` sets up a run of its config (same
``build_model`` initialisation stream, same sampler seed, same probe), so that its
:class:`nclab.train.RunResult` can be assembled the same way. Its model is not trained
directly: the stacked parameters are copied into it at probe steps and at the end.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from torch import nn

from nclab.train import (
    Objective,
    Probe,
    RunResult,
    TrainConfig,
    TrainSet,
    build_model,
    build_regularizer,
    make_sampler,
)
from nclab.train.divergence import Diverged, check_parameters, loss_cause
from nclab.train.loop import loss_parts_of, restore_last_good
from nclab.train.losses import describe


@dataclass
class Replica:
    """Set-up and accumulated results of one config of the group."""

    cfg: TrainConfig
    model: nn.Module
    objective: Objective
    sampler: object
    probe: Probe | None
    records: list[dict] = field(default_factory=list)
    skipped: list[dict] = field(default_factory=list)
    divergence: str | None = None
    parts: dict | None = None
    steps: int = 0
    trace_len: int = 0
    seconds: float = 0.0
    keep_good: bool = False
    good: tuple[int, dict] | None = None  # (step, state) at the last successful probe

    @classmethod
    def build(cls, cfg: TrainConfig, data, train: TrainSet, test: TrainSet | None, K: int,
              out_dim: int) -> Replica:
        model = build_model(cfg, data)
        model.train()
        objective = Objective(model, cfg.loss, build_regularizer(model, cfg.reg), train.N, out_dim)
        sampler = make_sampler(cfg.optim, train.y, K, cfg.seed)
        probe = Probe(model, objective, train, test, K, cfg.probe) if cfg.probe.enabled else None
        return cls(cfg, model, objective, sampler, probe)

    # ---- events (the model holds this replica's current parameters) -------------------------
    def probe_at(self, step: int, lr: float) -> bool:
        """Record the probe of ``step``; False (and the divergence recorded) if it diverged."""
        try:
            check_parameters(self.model, step)
            rows, skips = self.probe(step, lr)
        except Diverged as err:
            self.stop(step, str(err), trace_len=step)
            return False
        self.records += rows
        self.skipped += skips
        if self.keep_good:
            self.good = (step, {k: v.detach().clone() for k, v in self.model.state_dict().items()})
        return True

    def loss_diverged(self, step: int, value: float) -> None:
        """The batch loss of ``step`` is ``value`` (not finite): stop here, like ``run``."""
        self.stop(step, f"diverged at step {step}: {loss_cause(value, self.model)}",
                  trace_len=step + 1)

    def finish(self, step: int, train: TrainSet) -> None:
        """The last step: the final loss decomposition (a non-finite loss is a divergence)."""
        self.parts = loss_parts_of(self.model, self.objective, train, self.cfg)
        self.steps, self.trace_len = step, step
        if not math.isfinite(self.parts["loss"]):
            self.divergence = f"diverged at step {step}: {loss_cause(self.parts['loss'], self.model)}"

    def stop(self, step: int, message: str, trace_len: int) -> None:
        self.steps, self.divergence, self.trace_len = step, message, trace_len

    # ---- result ------------------------------------------------------------------------------
    def result(self, train: TrainSet, trace: np.ndarray, total: int) -> RunResult:
        """The :class:`RunResult` that ``nclab.train.run`` would return (no run directory)."""
        divergence = self.divergence
        if divergence is not None and self.good is not None:
            self.model.load_state_dict(self.good[1])
            divergence += (f"; the model holds the parameters of the last probe (step "
                           f"{self.good[0]})")
            self.parts = loss_parts_of(self.model, self.objective, train, self.cfg)
        elif divergence is not None:
            divergence, restored = restore_last_good(self.model, None, divergence)
            if restored or self.parts is None:
                self.parts = loss_parts_of(self.model, self.objective, train, self.cfg)
        last = max((r["step"] for r in self.records), default=None)
        final = {(r["split"], r["layer"], r["metric"]): r["value"]
                 for r in self.records if r["step"] == last}
        return RunResult(
            config=self.cfg, model=self.model, records=self.records, final_metrics=final,
            loss_parts=self.parts, loss_trace=np.array(trace[: self.trace_len]),
            loss_preset=describe(self.cfg.loss.preset), steps=self.steps, total_steps=total,
            diverged=divergence is not None, divergence=divergence, skipped=self.skipped,
            seconds=self.seconds,
        )
