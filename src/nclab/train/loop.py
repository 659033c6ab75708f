"""``run(config) -> RunResult``: the training loop, readable top to bottom.

One step: (probe / checkpoint if due) → learning rate of the step → batch → loss →
finiteness check of the loss (one scalar sync) → backward → optimiser step. Nothing else runs
per step: no Python containers are built, parameters are checked for NaN/Inf only at probe and
checkpoint steps, metrics only at probe steps.
"""

from __future__ import annotations

import csv
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from nclab.data import Dataset
from nclab.models import DUFM

from .batches import TrainSet, make_sampler
from .build import build_data, build_model, output_dim
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
from .losses import Objective, describe, layer_outputs, make_targets
from .optim import lr_at, make_optimizer, set_lr, total_steps
from .probe import Probe, probe_steps
from .regularization import build_regularizer


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


def _train_set(cfg: TrainConfig, data: Dataset, model: nn.Module, out_dim: int) -> TrainSet:
    inputs = None if isinstance(model, DUFM) else data.X
    targets = make_targets(data.y, data.K, cfg.loss, cfg.torch_dtype)
    if targets.ndim == 2 and targets.shape[1] != out_dim:  # pragma: no cover - build checks
        raise ValueError(f"targets have {targets.shape[1]} columns, the model {out_dim} outputs")
    return TrainSet(inputs, data.y, targets)


def run(
    config: TrainConfig,
    *,
    out_dir: str | Path | None = None,
    resume: bool = False,
    max_steps: int | None = None,
    verbose: bool = False,
) -> RunResult:
    """Train ``config`` and return a :class:`RunResult`.

    ``out_dir`` (or ``config.out_dir``): run directory for ``config.json`` and checkpoints.
    ``resume=True`` continues from its newest checkpoint (the saved config must match), ending
    bit-identical on CPU to an uninterrupted run; without it an ``out_dir`` that already holds
    checkpoints is an error. ``max_steps``: stop after that many steps as if killed (writing a
    checkpoint there), without changing the schedule or the probe steps.
    """
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a TrainConfig, got {type(config).__name__}")
    if max_steps is not None and (isinstance(max_steps, bool) or not isinstance(max_steps, int)
                                  or max_steps < 0):
        raise ValueError(f"max_steps must be a non-negative integer or None, got {max_steps!r}")
    out = out_dir if out_dir is not None else config.out_dir
    threads = torch.get_num_threads()
    if config.threads is not None:
        torch.set_num_threads(config.threads)
    try:
        with torch.enable_grad():
            return _run(config, None if out is None else Path(out), resume, max_steps, verbose)
    finally:
        torch.set_num_threads(threads)


def _run(cfg: TrainConfig, out_dir, resume, max_steps, verbose) -> RunResult:
    t0 = time.perf_counter()
    # ---- set-up: data, model, objective, optimiser, batches, probes ----------------------------
    splits = build_data(cfg)
    model = build_model(cfg, splits.train)
    K, out_dim = splits.train.K, output_dim(cfg, splits.train.K)
    train = _train_set(cfg, splits.train, model, out_dim)
    test = None
    if splits.test is not None and cfg.probe.held_out:
        test = _train_set(cfg, splits.test, model, out_dim)
    objective = Objective(model, cfg.loss, build_regularizer(model, cfg.reg), train.N, out_dim)
    optimizer = make_optimizer(model.parameters(), cfg.optim)
    sampler = make_sampler(cfg.optim, train.y, K, cfg.seed)
    total = total_steps(cfg.optim, sampler.steps_per_epoch)
    stop = total if max_steps is None else min(total, max_steps)
    probe = Probe(model, objective, train, test, K, cfg.probe) if cfg.probe.enabled else None
    pending = probe_steps(total, cfg.probe) if probe else []
    records: list[dict] = []
    skipped: list[dict] = []
    trace: list[float] = []

    # ---- resume ------------------------------------------------------------------------------
    start = 0
    if out_dir is not None:
        state = _start_or_resume(cfg, out_dir, resume, model, optimizer, sampler)
        if state is not None:
            start = int(state["step"])
            records, skipped = list(state["records"]), list(state["skipped"])
            trace = state["loss_trace"].tolist()
            pending = [s for s in pending if s > start]  # probes up to `start` are recorded
            stop = max(stop, start)  # max_steps below the checkpoint: nothing left to do

    def checkpoint(step: int, batch_state: dict) -> None:
        state = {
            "optimizer": optimizer.state_dict(), "sampler": batch_state,
            "torch_rng": torch.get_rng_state(), "records": records, "skipped": skipped,
            "loss_trace": torch.tensor(trace[:step], dtype=torch.float64), "total_steps": total,
        }
        save_checkpoint(out_dir, step, model, state, cfg.checkpoint.keep)

    # ---- the loop ----------------------------------------------------------------------------
    # A checkpoint of step s is written only once the loss at s is known to be finite, so the
    # newest checkpoint on disk is always a good one.
    model.train()
    every, lr, divergence, parts, step = cfg.checkpoint.every, None, None, None, start
    while True:
        save = None
        try:
            if pending and pending[0] == step:
                check_parameters(model, step)
                rows, skips = probe(step, lr_at(step, total, cfg.optim.lr, cfg.schedule))
                records += rows
                skipped += skips
                pending.pop(0)
                if verbose:
                    _print_progress(step, total, rows)
            due = step in (0, stop) or (every > 0 and step % every == 0)
            if out_dir is not None and due and not (start and step == start):
                check_parameters(model, step)
                save = sampler.state_dict()  # the batch order as of before this step's batch
        except Diverged as err:
            divergence = str(err)
            break
        if step == stop:
            parts = loss_parts_of(model, objective, train, cfg)
            if not math.isfinite(parts["loss"]):
                divergence = f"diverged at step {step}: {loss_cause(parts['loss'], model)}"
            elif save is not None:
                checkpoint(step, save)
            break
        step_lr = lr_at(step, total, cfg.optim.lr, cfg.schedule)
        if step_lr != lr:
            set_lr(optimizer, step_lr)
            lr = step_lr
        inputs, targets = train.take(sampler.next())
        loss = objective(inputs, targets)
        value = loss.item()
        trace.append(value)
        if not math.isfinite(value):
            divergence = f"diverged at step {step}: {loss_cause(value, model)}"
            break
        if save is not None:
            checkpoint(step, save)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        step += 1

    # ---- wrap-up -----------------------------------------------------------------------------
    if divergence is not None:
        divergence, restored = restore_last_good(model, out_dir, divergence)
        if restored or parts is None:
            parts = loss_parts_of(model, objective, train, cfg)
    last = max((r["step"] for r in records), default=None)
    final = {(r["split"], r["layer"], r["metric"]): r["value"] for r in records if r["step"] == last}
    result = RunResult(
        config=cfg, model=model, records=records, final_metrics=final, loss_parts=parts,
        loss_trace=np.array(trace), loss_preset=describe(cfg.loss.preset), steps=step,
        total_steps=total, diverged=divergence is not None, divergence=divergence,
        checkpoint_dir=out_dir, resumed_from=start or None, skipped=skipped,
        seconds=time.perf_counter() - t0,
    )
    if out_dir is not None:
        _write_records(out_dir / "records.csv", records)
    return result


def _start_or_resume(cfg, out_dir: Path, resume: bool, model, optimizer, sampler) -> dict | None:
    """None for a new run directory; on resume, load the newest intact checkpoint (see
    :func:`~nclab.train.checkpoint.intact_checkpoint`) into the model, optimiser, sampler and
    RNG and return its state (step, records, loss trace)."""
    latest = latest_checkpoint(out_dir)
    if latest is not None and not resume:
        raise CheckpointError(
            f"{out_dir} already holds checkpoints (newest: {latest.name}); pass resume=True to "
            "continue that run or choose another out_dir"
        )
    if latest is not None:
        try:
            saved = from_dict(json.loads((out_dir / CONFIG).read_text()))
        except (OSError, ValueError, TypeError) as err:
            raise CheckpointError(f"{out_dir / CONFIG}: unreadable ({err})") from None
        changed = [k for k in diff(saved, cfg) if k != "out_dir"]
        if changed:
            raise CheckpointError(
                f"cannot resume {out_dir}: the config differs from the saved one in {changed}"
            )
    found = intact_checkpoint(out_dir, model) if latest is not None else None
    if found is None:  # a new run, or every checkpoint damaged (set aside): start afresh
        out_dir.mkdir(parents=True, exist_ok=True)
        write_json(out_dir / CONFIG, to_dict(cfg))
        return None
    state = found[1]
    optimizer.load_state_dict(state["optimizer"])
    sampler.load_state_dict(state["sampler"])
    torch.set_rng_state(state["torch_rng"])
    return state


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


def _print_progress(step: int, total: int, rows: list[dict]) -> None:
    got = {r["metric"]: r["value"] for r in rows if r["layer"] == "model" and r["split"] == "train"}
    print(f"step {step:>8}/{total}  loss {got.get('loss', float('nan')):.6g}  "
          f"fit {got.get('fit', float('nan')):.6g}  acc {got.get('accuracy', float('nan')):.4f}",
          flush=True)


def _write_records(path: Path, records: list[dict]) -> None:
    def write(tmp: Path) -> None:
        with tmp.open("w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=["step", "split", "layer", "metric", "value"])
            w.writeheader()
            w.writerows(records)

    write_atomic(path, write)
