r"""``run_group(configs) -> list[RunResult]``: the training engine (one run is a group of one).

The loop, step for step, over the parameters of S runs stacked along a replica axis:
(probes of every live replica if due) → (measure snapshots if due) → learning rates of the
step → each replica's batch → the batched data loss (S,) plus the parameter penalties → one
finiteness check (one scalar sync) → (checkpoints if due) → backward of the sum → the
per-replica update (:mod:`.stack`; with ``compile=True`` loss, gradient and update are one
compiled graph).

Each replica is set up from its own config (``build_model`` from its seed, its own sampler, probe
and run directory); its learning rate and penalty coefficients are its own row. For the DUFM, MLP
and dense weight-normalised families on one CPU thread every row is computed exactly as a run
alone computes it (batched matmuls), so a run's numbers are bit-identical alone or in a group of
any size (``tests/train/test_group_equivalence.py``); the ``torch.func`` families and several threads
agree only to rounding (:func:`~nclab.train.exact_grouping` says which; the experiment runner
groups only the exact ones).

Divergence: a replica whose batch loss is not finite is stopped at that step (its trace ends
with the non-finite value, the message names the step and the cause); one whose parameters or
features are non-finite at a probe or a checkpoint is stopped there. The others go on: stopped
replicas are removed from the stack. A diverged model is given back the parameters of its last
probe (``restore_last_probe``) or else of its newest checkpoint (``out_dirs``), if any.

Checkpoints (with ``out_dirs``): at step 0, every ``checkpoint.every`` steps, about every
``checkpoint_seconds`` of wall time and at the end; the wall-time interval is stretched to
:data:`CHECKPOINT_COST_RATIO` times what the last timed checkpoint took, so writing them (weights,
state, checksums, three fsyncs per replica) costs at most ~2 % of the training time (with 2 s,
a group of 12 small MLPs spent 18 % of its time in checkpoints; at 20x, 3-5 % of the cpu-scale
experiments' time: the results so far are pickled again each time); a checkpoint of step s is
written only once the loss at s is known to be finite, so the newest checkpoint is always a
good one. It holds the run's weights, its optimiser row, its sampler and its results so far,
so a resumed run ends bit-identical to an uninterrupted one, whatever group it resumes in
(replicas resumed at different steps are trained as separate groups).
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import torch
from torch import nn

from .batches import train_set
from .build import build_data, output_dim
from .compiled import CompiledStep
from .divergence import Diverged, check_parameters
from .funcnet import FuncBatches, FuncNet
from .grouping import group_compatible, group_key, stacked, torch_func_path
from .optim import lr_at, total_steps
from .probe import probe_steps
from .replica import Replica, loss_parts_of
from .result import RunResult
from .stack import ParameterStack, penalty_coefficients

# the wall-time checkpoint interval is at least this many times the last checkpoint's cost
CHECKPOINT_COST_RATIO = 50.0

# on_step(step, index, model, loss_parts, last_probe): a snapshot of replica ``index`` at ``step``
StepHook = Callable[[int, int, nn.Module, dict, dict], None]
# on_progress(step, total, {index: batch loss}) for the live replicas
ProgressHook = Callable[[int, int, dict], None]


def run_group(
    configs: Sequence, *, out_dirs: Sequence[str | Path | None] | None = None,
    resume: bool = False, max_steps: int | None = None, max_replicas: int | None = None,
    compile: bool = False, at_steps: Iterable[int] = (), on_step: StepHook | None = None,
    on_progress: ProgressHook | None = None, progress_seconds: float = 1.0,
    checkpoint_seconds: float | None = None, restore_last_probe: bool = False,
    verbose: bool = False,
) -> list[RunResult]:
    """Train every config as a replica of one batched run; results in input order.

    All configs must share one :func:`~nclab.train.group_key` (ValueError otherwise; see
    :func:`nclab.train.run_many` to group any list). ``out_dirs[i]`` (or ``configs[i].out_dir``):
    run directory of config i for ``config.json`` and checkpoints; ``resume=True`` continues
    each from its newest intact checkpoint (without it a directory holding checkpoints is an
    error). ``max_steps``: stop after that many steps as if killed (writing a checkpoint
    there), without changing the schedule or the probe steps. ``max_replicas``: train at most
    that many replicas at once (consecutive chunks). ``compile``: ``torch.compile`` the whole
    step (GD / SGD of the hand-batched families; falls back to eager mode with a warning).

    ``on_step(step, i, model, loss_parts, last_probe)`` is called for every live replica i at
    each step of ``at_steps`` after that step's probe (at the end after the final
    decomposition): ``model`` holds the replica's parameters, ``loss_parts`` the objective's
    decomposition there, ``last_probe`` its latest probe values ``{(split, layer, metric):
    value}``. ``on_progress(step, total, losses)`` is called about every ``progress_seconds``
    with the live replicas' batch losses. ``checkpoint_seconds``: also checkpoint about that
    often. ``restore_last_probe``: a diverged replica's model is given back the parameters of
    its last probe (deterministic; the run store keeps that). ``verbose``: print each probe.
    """
    configs = list(configs)
    if out_dirs is None:
        out_dirs = [c.out_dir for c in configs]
    if len(out_dirs) != len(configs):
        raise ValueError(f"{len(out_dirs)} out_dirs for {len(configs)} configs")
    if max_steps is not None and (isinstance(max_steps, bool) or not isinstance(max_steps, int)
                                  or max_steps < 0):
        raise ValueError(f"max_steps must be a non-negative integer or None, got {max_steps!r}")
    if len({group_key(c) for c in configs}) > 1:
        raise ValueError("configs differ in more than seed / lr / reg / init: "
                         "split them with nclab.train.group_compatible")
    hooks = _Hooks(set(at_steps), on_step, on_progress, progress_seconds, verbose)
    results: list[RunResult | None] = [None] * len(configs)
    setup = _Setup(configs[0]) if configs else None  # the data, shared by every chunk
    for chunk in group_compatible(configs, max_replicas=max_replicas):
        threads = torch.get_num_threads()
        if configs[0].threads is not None:
            torch.set_num_threads(configs[0].threads)
        try:
            with torch.enable_grad():
                replicas, states = [], []
                for i in chunk:
                    out = None if out_dirs[i] is None else Path(out_dirs[i])
                    r = setup.replica(configs[i], out)
                    r.keep_good = restore_last_probe
                    states.append(r.open(resume))
                    replicas.append(r)
                by_start: dict[int, list[int]] = {}
                for k, r in enumerate(replicas):
                    by_start.setdefault(r.start, []).append(k)
                for members in by_start.values():
                    group = _Group(setup, [replicas[k] for k in members],
                                   [states[k] for k in members], [chunk[k] for k in members],
                                   compile, hooks, max_steps, checkpoint_seconds)
                    for k, res in zip(members, group.run(), strict=True):
                        results[chunk[k]] = res
        finally:
            torch.set_num_threads(threads)
    return results


class _Setup:
    """What the replicas of a chunk share: the data and the training tensors."""

    def __init__(self, cfg):
        self.cfg = cfg
        self.splits = build_data(cfg)
        self.K, self.out_dim = self.splits.train.K, output_dim(cfg, self.splits.train.K)
        self.train = train_set(cfg, self.splits.train)
        self.test = None
        if self.splits.test is not None and cfg.probe.held_out:
            self.test = train_set(cfg, self.splits.test)

    def replica(self, cfg, out_dir: Path | None) -> Replica:
        return Replica.build(cfg, self.splits.train, self.train, self.test, self.K, self.out_dim,
                             out_dir)


class _Hooks:
    """The caller's callbacks, with replica numbers mapped back to ``configs`` indices."""

    def __init__(self, at_steps, on_step, on_progress, seconds, verbose):
        self.at_steps, self.on_step, self.on_progress = at_steps, on_step, on_progress
        self.seconds, self.verbose, self.last = seconds, verbose, time.perf_counter()

    def snapshot(self, step: int, index: int, replica: Replica, parts: dict) -> None:
        if self.on_step is not None and step in self.at_steps:
            last = max((r["step"] for r in replica.records), default=None)
            probe = {(r["split"], r["layer"], r["metric"]): r["value"]
                     for r in replica.records if r["step"] == last}
            self.on_step(step, index, replica.model, parts, probe)

    def progress(self, step: int, total: int, index: list[int], values, force=False) -> None:
        now = time.perf_counter()
        if self.on_progress is None or (not force and now - self.last < self.seconds):
            return
        self.last = now
        losses = values.tolist() if values is not None else [math.nan] * len(index)
        self.on_progress(step, total, dict(zip(index, losses, strict=True)))

    def probed(self, step: int, total: int, index: int, rows: list[dict]) -> None:
        if not self.verbose:
            return
        got = {r["metric"]: r["value"] for r in rows
               if r["layer"] == "model" and r["split"] == "train"}
        print(f"[{index}] step {step:>8}/{total}  loss {got.get('loss', math.nan):.6g}  "
              f"fit {got.get('fit', math.nan):.6g}  acc {got.get('accuracy', math.nan):.4f}",
              flush=True)


class _Group:
    """One batched run of replicas that start at the same step: set-up, then :meth:`run`."""

    def __init__(self, setup: _Setup, replicas: list[Replica], states: list, index: list[int],
                 compile: bool, hooks: _Hooks, max_steps: int | None,
                 checkpoint_seconds: float | None):
        self.t0 = time.perf_counter()
        self.hooks, self.index, self.replicas = hooks, index, replicas
        cfg = self.cfg = setup.cfg
        self.train = setup.train
        self.start = replicas[0].start
        coefs = [penalty_coefficients(r.model, r.objective.reg) for r in replicas]
        self.fcoef = [r.objective.feature_coef for r in replicas]
        self.acoef = [r.objective.activation_coef for r in replicas]
        if cfg.model.arch == "dufm" and cfg.optim.batch_size is None:
            for c, f in zip(coefs, self.fcoef, strict=True):  # a penalty on all of H1
                if f > 0:
                    c["H1"] = c.get("H1", 0.0) + f
            self.fcoef = [0.0] * len(replicas)
        adam = (tuple(cfg.optim.betas), cfg.optim.eps) if cfg.optim.name == "adam" else None
        if compile and (not stacked(cfg) or adam is not None):
            why = torch_func_path(cfg) or "the compiled step has no Adam update"
            warnings.warn(f"compile=True: {why}; training eagerly", RuntimeWarning, stacklevel=4)
            compile = False
        if compile and self.start:
            compile = False  # a resumed optimiser state is trained eagerly (same update)
        self.stack = ParameterStack([r.model for r in replicas], coefs, cfg.optim.momentum,
                                    cfg.optim.nesterov, leaf=not compile, adam=adam,
                                    states=states)
        first = replicas[0]
        if stacked(cfg):
            from .stacked import StackedBatches, StackedNet

            self.net = StackedNet(first.model, cfg.loss.kind, first.objective.fit_per_sample,
                                  self.train.N)
            self.batches = StackedBatches(self.train, cfg.loss.kind)
        else:  # the general torch.func path
            self.net = FuncNet(first, self.stack, cfg.loss.kind, features=any(self.fcoef),
                               activations=any(self.acoef))
            self.batches = FuncBatches(self.train)
        self.jit = CompiledStep(self.net, self.stack) if compile else None
        self.total = total_steps(cfg.optim, first.sampler.steps_per_epoch)
        self.stop = self.total if max_steps is None else min(self.total, max_steps)
        self.stop = max(self.stop, self.start)  # max_steps below the checkpoint: nothing to do
        self.trace = torch.full((self.total, len(replicas)), math.nan, dtype=torch.float64)
        for k, r in enumerate(replicas):
            if r.start_trace is not None:
                self.trace[: r.start, k] = torch.from_numpy(r.start_trace)
        self.every = cfg.checkpoint.every
        self.ckpt_seconds, self.last_ckpt = checkpoint_seconds, time.perf_counter()
        self.ckpt_cost = 0.0  # seconds the last checkpoint took (capture + writing)
        self.saving = any(r.out_dir is not None for r in replicas)
        self.lrs: list[float] | None = None
        self._set_live(list(range(len(replicas))))

    # ---- the loop ------------------------------------------------------------------------------
    def run(self) -> list[RunResult]:
        start, stop = self.start, self.stop
        pending = probe_steps(self.total, self.cfg.probe) if self.cfg.probe.enabled else []
        pending = [s for s in pending if s > start or not start]  # probes up to start are kept
        snaps = sorted(s for s in self.hooks.at_steps if s <= stop and (s > start or not start))
        step = start
        while self.live:
            if pending and pending[0] == step:
                pending.pop(0)
                if not self._probe(step):
                    continue  # this step again, without the replicas stopped by the probe
            if step == stop:
                self._finish(step, bool(snaps and snaps[0] == step))
                break
            if snaps and snaps[0] == step:
                snaps.pop(0)
                self._snapshot(step)
            saving = self._checkpoint_due(step)
            if saving and not self._check(step):
                continue  # this step again, without the replicas stopped by the check
            self._train_step(step, saving)
            step += 1
        trace = self.trace.numpy()
        return [r.result(self.train, trace[:, k], self.total)
                for k, r in enumerate(self.replicas)]

    def _finish(self, step: int, snap: bool) -> None:
        """The last step: final decomposition, snapshots, final checkpoints."""
        for row, k in enumerate(self.live):
            r = self.replicas[k]
            self.stack.load(row, r.model)
            r.finish(step, self.train)
            if r.divergence is None:
                if snap:
                    self.hooks.snapshot(step, self.index[k], r, r.parts)
                if r.out_dir is not None and not (self.start and step == self.start):
                    r.save(step, r.sampler.state_dict(), self.stack.row_state(row),
                           self.trace[:, k].numpy())
        self.hooks.progress(step, self.total, [self.index[k] for k in self.live], None,
                            force=True)
        self._drop(list(range(len(self.live))))

    def _snapshot(self, step: int) -> None:
        for row, k in enumerate(self.live):
            r = self.replicas[k]
            self.stack.load(row, r.model)
            self.hooks.snapshot(step, self.index[k], r,
                                loss_parts_of(r.model, r.objective, self.train, r.cfg))

    def _lr(self, k: int, step: int) -> float:
        return lr_at(step, self.total, self.replicas[k].cfg.optim.lr, self.cfg.schedule)

    def _probe(self, step: int) -> bool:
        """Probe every live replica; False if some stopped (divergence)."""
        stopped = []
        for row, k in enumerate(self.live):
            r = self.replicas[k]
            self.stack.load(row, r.model)
            n = len(r.records)
            if not r.probe_at(step, self._lr(k, step)):
                stopped.append(row)
            else:
                self.hooks.probed(step, self.total, self.index[k], r.records[n:])
        self._drop(stopped)
        return not stopped

    def _checkpoint_due(self, step: int) -> bool:
        if not self.saving or (self.start and step == self.start):
            return False
        if step == 0 or (self.every > 0 and step % self.every == 0):
            return True
        return (self.ckpt_seconds is not None
                and time.perf_counter() - self.last_ckpt
                >= max(self.ckpt_seconds, CHECKPOINT_COST_RATIO * self.ckpt_cost))

    def _check(self, step: int) -> bool:
        """Parameters finite before a checkpoint; False if some replica stopped."""
        stopped = []
        for row, k in enumerate(self.live):
            self.stack.load(row, self.replicas[k].model)
            try:
                check_parameters(self.replicas[k].model, step)
            except Diverged as err:
                self.replicas[k].stop(step, str(err), trace_len=step)
                stopped.append(row)
        self._drop(stopped)
        return not stopped

    def _train_step(self, step: int, saving: bool) -> None:
        stack, live = self.stack, self.live
        if self.lrs is None or self.cfg.schedule.name != "constant":
            lrs = [self._lr(k, step) for k in live]
            if lrs != self.lrs:
                stack.set_lr(lrs)
                self.lrs = lrs
        saves = None
        if saving:  # the state before this step's batch and update (models loaded by _check)
            t_save = time.perf_counter()
            saves = [(r.sampler.state_dict(), stack.row_state(row))
                     for row, r in ((row, self.replicas[k]) for row, k in enumerate(live))]
            capture = time.perf_counter() - t_save
        x, targets, idx = self.batches.take([self.replicas[k] for k in live])
        loss = value = None
        if self.jit is not None:  # loss and update in one compiled graph
            value = self.jit(x, targets, idx, self.f_t, self.a_t)
            if value is None:
                self.jit.to_eager()
                self.jit = None
        if value is None:
            loss = self.net.data_loss(stack.params, x, targets, idx, self.f_t, self.a_t)
            with torch.no_grad():
                value = loss.detach() + stack.penalty()
        self.trace[step].index_copy_(0, self.cols, value.to(device="cpu", dtype=torch.float64))
        self.hooks.progress(step + 1, self.total, [self.index[k] for k in live],
                            self.trace[step, self.cols])
        bad: list[int] = []
        if not math.isfinite(value.sum().item()):  # one sync; then find the culprits
            bad = [row for row, v in enumerate(value.tolist()) if not math.isfinite(v)]
            for row in bad:  # not updated yet (the compiled step leaves them unchanged)
                stack.load(row, self.replicas[live[row]].model)
                self.replicas[live[row]].loss_diverged(step, value[row].item())
        if saves is not None:
            t_write = time.perf_counter()
            for row, k in enumerate(live):
                if row not in bad and self.replicas[k].out_dir is not None:
                    self.replicas[k].save(step, *saves[row], self.trace[:, k].numpy())
            self.last_ckpt = time.perf_counter()
            self.ckpt_cost = capture + (self.last_ckpt - t_write)
        if loss is not None and len(bad) < len(live):
            good = [row for row in range(len(live)) if row not in bad]
            (loss[good] if bad else loss).sum().backward()
            stack.step()
        self._drop(bad)

    # ---- live replicas ---------------------------------------------------------------------------
    def _set_live(self, live: list[int]) -> None:
        """``live[row]``: the replica of stack row ``row``; per-replica coefficient tensors."""
        self.live, self.cols = live, torch.tensor(live, dtype=torch.long)
        device, dtype = self.stack.params[0].device, self.cfg.torch_dtype

        def column(values):
            if not any(values[k] for k in live):
                return None
            return torch.tensor([values[k] for k in live], dtype=dtype, device=device)

        self.f_t, self.a_t = column(self.fcoef), column(self.acoef)

    def _drop(self, rows: list[int]) -> None:
        """Replicas at stack ``rows`` have stopped: remove them from the stack."""
        if not rows:
            return
        now = time.perf_counter() - self.t0
        for row in rows:
            self.replicas[self.live[row]].seconds = now
        keep = [row for row in range(len(self.live)) if row not in rows]
        if keep:
            self.stack.keep(keep)
            if self.lrs is not None:
                self.lrs = [self.lrs[row] for row in keep]
        self._set_live([self.live[row] for row in keep])
