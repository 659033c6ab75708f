"""One run of the engine: its own model, objective, probe, batch order, run directory and results.

Every run -- alone or one of S replicas of a group -- is set up here the same way (the
``build_model`` initialisation stream of its seed, its own sampler, its own probe), so that its
:class:`~nclab.train.RunResult` never depends on the group it was trained in. Its model is not
trained directly: the engine's stacked parameters are copied into it at probes, checkpoints and
the end.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .batches import TrainSet, make_sampler
from .build import build_model
from .checkpoint import (
    CONFIG,
    CheckpointError,
    intact_checkpoint,
    latest_checkpoint,
    load_weights,
    save_checkpoint,
    write_atomic,
    write_json,
)
from .config import TrainConfig, diff, from_dict, to_dict
from .divergence import Diverged, check_parameters, loss_cause
from .losses import Objective, describe, layer_outputs
from .probe import Probe
from .regularization import build_regularizer
from .result import RunResult


@dataclass
class Replica:
    """Set-up and accumulated results of one config."""

    cfg: TrainConfig
    model: nn.Module
    objective: Objective
    sampler: object
    probe: Probe | None
    out_dir: Path | None = None
    records: list[dict] = field(default_factory=list)
    skipped: list[dict] = field(default_factory=list)
    divergence: str | None = None
    parts: dict | None = None
    steps: int = 0
    trace_len: int = 0
    seconds: float = 0.0
    start: int = 0  # the step training (re)starts at
    start_trace: np.ndarray | None = None  # the loss trace before ``start`` (resumed)
    keep_good: bool = False
    good: tuple[int, dict] | None = None  # (step, state) at the last successful probe

    @classmethod
    def build(cls, cfg: TrainConfig, data, train: TrainSet, test: TrainSet | None, K: int,
              out_dim: int, out_dir: Path | None = None) -> Replica:
        model = build_model(cfg, data)
        model.train()
        objective = Objective(model, cfg.loss, build_regularizer(model, cfg.reg), train.N, out_dim)
        sampler = make_sampler(cfg.optim, train.y, K, cfg.seed)
        probe = Probe(model, objective, train, test, K, cfg.probe) if cfg.probe.enabled else None
        return cls(cfg, model, objective, sampler, probe, out_dir)

    # ---- run directory -------------------------------------------------------------------------
    def open(self, resume: bool) -> dict | None:
        """Prepare the run directory; on resume load the newest intact checkpoint into the
        model, the sampler and the results so far, and return the optimiser state saved with it
        (None: a fresh start). Without ``resume`` a directory holding checkpoints is an error."""
        out_dir = self.out_dir
        if out_dir is None:
            return None
        latest = latest_checkpoint(out_dir)
        if latest is not None and not resume:
            raise CheckpointError(
                f"{out_dir} already holds checkpoints (newest: {latest.name}); pass resume=True "
                "to continue that run or choose another out_dir")
        if latest is not None:
            try:
                saved = from_dict(json.loads((out_dir / CONFIG).read_text()))
            except (OSError, ValueError, TypeError) as err:
                raise CheckpointError(f"{out_dir / CONFIG}: unreadable ({err})") from None
            changed = [k for k in diff(saved, self.cfg) if k not in ("out_dir", "threads")]
            if changed:
                raise CheckpointError(
                    f"cannot resume {out_dir}: the config differs from the saved one in {changed}")
        found = intact_checkpoint(out_dir, self.model) if latest is not None else None
        if found is None:  # a new run, or every checkpoint damaged (set aside): start afresh
            out_dir.mkdir(parents=True, exist_ok=True)
            write_json(out_dir / CONFIG, to_dict(self.cfg))
            return None
        state = found[1]
        if int(state["step"]) == 0:  # nothing trained yet: the same as a fresh start (the
            return None              # weights loaded are the initial ones), in any group
        if state.get("format") != ENGINE_FORMAT:
            raise CheckpointError(f"{found[0]}: written by an older nclab trainer (no "
                                  f"{ENGINE_FORMAT!r} state); train afresh")
        self.sampler.load_state_dict(state["sampler"])
        self.start = int(state["step"])
        self.records, self.skipped = list(state["records"]), list(state["skipped"])
        self.start_trace = state["loss_trace"].numpy()
        if state.get("last_probe") is not None:
            self.good = (int(state["last_probe"]["step"]), state["last_probe"]["weights"])
        return state["optimizer"]

    def save(self, step: int, sampler_state: dict, optimizer_state: dict,
             trace: np.ndarray) -> None:
        """Checkpoint of ``step`` (the model holds its parameters; ``sampler_state``: the batch
        order as of before the step's batch; ``trace``: the losses of steps ``0 … step-1``)."""
        good = None
        if self.good is not None:
            good = {"step": self.good[0], "weights": self.good[1]}
        state = {"format": ENGINE_FORMAT, "optimizer": optimizer_state,
                 "sampler": sampler_state, "records": self.records, "skipped": self.skipped,
                 "loss_trace": torch.from_numpy(np.array(trace[:step], dtype=np.float64)),
                 "last_probe": good}
        save_checkpoint(self.out_dir, step, self.model, state, self.cfg.checkpoint.keep)

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
        """The batch loss of ``step`` is ``value`` (not finite): stop here."""
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
        """The run's :class:`RunResult`. A diverged run's model is given back the parameters of
        its last probe (``keep_good``) or else of its newest checkpoint, if any."""
        divergence = self.divergence
        if divergence is not None and self.good is not None:
            self.model.load_state_dict(self.good[1])
            divergence += (f"; the model holds the parameters of the last probe (step "
                           f"{self.good[0]})")
            self.parts = loss_parts_of(self.model, self.objective, train, self.cfg)
        elif divergence is not None:
            divergence, restored = restore_last_good(self.model, self.out_dir, divergence)
            if restored or self.parts is None:
                self.parts = loss_parts_of(self.model, self.objective, train, self.cfg)
        last = max((r["step"] for r in self.records), default=None)
        final = {(r["split"], r["layer"], r["metric"]): r["value"]
                 for r in self.records if r["step"] == last}
        if self.out_dir is not None:
            write_records(self.out_dir / "records.csv", self.records)
        return RunResult(
            config=self.cfg, model=self.model, records=self.records, final_metrics=final,
            loss_parts=self.parts, loss_trace=np.array(trace[: self.trace_len]),
            loss_preset=describe(self.cfg.loss.preset), steps=self.steps, total_steps=total,
            diverged=divergence is not None, divergence=divergence,
            checkpoint_dir=self.out_dir, resumed_from=self.start or None,
            skipped=self.skipped, seconds=self.seconds,
        )


ENGINE_FORMAT = "nclab.train.engine/1"


def restore_last_good(model: nn.Module, out_dir: Path | None, message: str):
    """Load the newest checkpoint (the last good state) into ``model``; the message says so."""
    found = None if out_dir is None else intact_checkpoint(out_dir)
    if found is None:
        return message + "; no checkpoint to restore (the model holds the diverged weights)", False
    latest = found[0]
    step = load_weights(model, latest)
    return message + f"; the model holds the last good checkpoint (step {step}, {latest})", True


def loss_parts_of(model, objective: Objective, train: TrainSet, cfg: TrainConfig) -> dict:
    """Decomposition of the objective on the whole training set, in training mode (BatchNorm
    running statistics are preserved by ``layer_outputs``)."""
    sums: dict[str, float] = {}
    with torch.no_grad():
        for inputs, _, targets in train.chunks(cfg.probe.batch_size):
            outs = layer_outputs(model, inputs)
            for k, v in objective.sums(outs, targets).items():
                sums[k] = sums.get(k, 0.0) + float(v)
    return objective.parts(sums)


def write_records(path: Path, records: list[dict]) -> None:
    """The probe records as ``records.csv`` (atomically)."""
    def write(tmp: Path) -> None:
        with tmp.open("w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=["step", "split", "layer", "metric", "value"])
            w.writeheader()
            w.writerows(records)

    write_atomic(path, write)
