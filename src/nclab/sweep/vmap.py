r"""``run_vectorised(configs) -> list[RunResult]``: S replicas trained as one batched computation.

The loop is :func:`nclab.train.run`'s, step for step, over stacked parameters: (probes of every
live replica if due) → learning rates of the step → each replica's batch → the batched loss
(S,) → one finiteness check (one scalar sync) → backward of the sum → the per-replica update
(with ``compile=True``: loss, gradient and update in one compiled graph, then the check).

Replica s reproduces ``nclab.train.run(configs[s])``: the same initial weights (each replica's
model is built by ``build_model`` from its own config), the same batch order (its own sampler),
the same learning rates, objective, probes and divergence rules. Only the floating-point order
of operations differs (batched matmuls, the penalties' gradient added analytically, fused
kernels when compiled), so results agree to rounding amplified by the dynamics: in the float64
tests (≤ 150 steps) final parameters, loss traces and loss parts agree within 1e-12 relative
and probe records within 1e-8 (condition numbers of rank-deficient matrices excepted: they
measure rounding noise in both runs).

Divergence: a replica whose batch loss is not finite is stopped at that step (its model holds
the weights that produced it, its trace ends with the non-finite value, the message names the
step and the cause, exactly as ``run`` without a run directory); a replica whose parameters or
features are non-finite at a probe is stopped there. The others go on: stopped replicas are
removed from the stack. ``RunResult.seconds`` is the wall time from the group's start to the
replica's end.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable, Iterable, Sequence

import torch
from torch import nn

from nclab.train import RunResult, TrainConfig, build_data, lr_at, probe_steps
from nclab.train.build import output_dim
from nclab.train.loop import loss_parts_of
from nclab.train.optim import total_steps

from .batches import StackedBatches, train_set
from .compiled import CompiledStep
from .funcnet import FuncBatches, FuncNet
from .grouping import STACKED, group_compatible, group_key, vectorisable
from .replica import Replica
from .stacked import StackedNet
from .update import ParameterStack, penalty_coefficients

# on_step(step, index, model, loss_parts, last_probe): a snapshot of replica ``index`` at ``step``
StepHook = Callable[[int, int, nn.Module, dict, dict], None]
# on_progress(step, total, {index: batch loss}) for the live replicas
ProgressHook = Callable[[int, int, dict], None]


def run_vectorised(
    configs: Sequence[TrainConfig], *, max_replicas: int | None = None, compile: bool = False,
    at_steps: Iterable[int] = (), on_step: StepHook | None = None,
    on_progress: ProgressHook | None = None, progress_seconds: float = 1.0,
    restore_last_probe: bool = False,
) -> list[RunResult]:
    """Train every config as a replica of one batched run; results in input order.

    All configs must be :func:`~nclab.sweep.vectorisable` with one
    :func:`~nclab.sweep.group_key` (ValueError otherwise). ``max_replicas``: train at most
    that many replicas at once (consecutive chunks). ``compile``: ``torch.compile`` the whole
    step (compiles for seconds, reused by later groups of the same shapes; falls back to eager
    mode with a warning if compilation fails).

    ``on_step(step, i, model, loss_parts, last_probe)`` is called for every live replica i
    (index into ``configs``) at each step of ``at_steps`` (after that step's probe; the end,
    ``total``, after the final decomposition): ``model`` holds the replica's parameters,
    ``loss_parts`` the objective's decomposition there, ``last_probe`` the replica's latest
    probe values ``{(split, layer, metric): value}``. ``on_progress(step, total, losses)``
    is called about every ``progress_seconds`` with the live replicas' batch losses.

    ``restore_last_probe``: a diverged replica's model is given back the parameters of its
    last successful probe (what the run store keeps, as the sequential runner keeps its last
    checkpoint); by default it holds the diverged weights, as ``nclab.train.run`` without a
    run directory.
    """
    configs = list(configs)
    for i, cfg in enumerate(configs):
        reason = vectorisable(cfg)
        if reason is not None:
            raise ValueError(f"configs[{i}] is not vectorisable: {reason}")
    if len({group_key(c) for c in configs}) > 1:
        raise ValueError("configs differ in more than seed / lr / reg / init: "
                         "split them with nclab.sweep.group_compatible")
    results: list[RunResult] = []
    at_steps = set(at_steps)
    for chunk in group_compatible(configs, max_replicas=max_replicas):
        threads = torch.get_num_threads()
        if configs[0].threads is not None:
            torch.set_num_threads(configs[0].threads)
        try:
            hooks = _Hooks(at_steps, on_step, on_progress, progress_seconds, chunk)
            with torch.enable_grad():
                group = _Group([configs[i] for i in chunk], compile, hooks)
                for r in group.replicas:
                    r.keep_good = restore_last_probe
                results += group.run()
        finally:
            torch.set_num_threads(threads)
    return results


class _Hooks:
    """The caller's callbacks, with replica numbers mapped back to ``configs`` indices."""

    def __init__(self, at_steps, on_step, on_progress, seconds, index):
        self.at_steps, self.on_step, self.on_progress = at_steps, on_step, on_progress
        self.seconds, self.index, self.last = seconds, index, time.perf_counter()

    def snapshot(self, step: int, i: int, replica: Replica, parts: dict) -> None:
        if self.on_step is not None and step in self.at_steps:
            last = max((r["step"] for r in replica.records), default=None)
            probe = {(r["split"], r["layer"], r["metric"]): r["value"]
                     for r in replica.records if r["step"] == last}
            self.on_step(step, self.index[i], replica.model, parts, probe)

    def progress(self, step: int, total: int, live: list[int], values, force=False) -> None:
        now = time.perf_counter()
        if self.on_progress is None or (not force and now - self.last < self.seconds):
            return
        self.last = now
        losses = values.tolist() if values is not None else [math.nan] * len(live)
        self.on_progress(step, total, {self.index[i]: v for i, v in zip(live, losses, strict=True)})


class _Group:
    """One batched run: set-up, then :meth:`run`."""

    def __init__(self, configs: list[TrainConfig], compile: bool, hooks: _Hooks | None = None):
        self.t0 = time.perf_counter()
        self.hooks = hooks or _Hooks(set(), None, None, 1.0, list(range(len(configs))))
        cfg = self.cfg = configs[0]
        splits = build_data(cfg)
        K, out_dim = splits.train.K, output_dim(cfg, splits.train.K)
        self.train = train_set(cfg, splits.train)
        test = None
        if splits.test is not None and cfg.probe.held_out:
            test = train_set(cfg, splits.test)
        self.replicas = [Replica.build(c, splits.train, self.train, test, K, out_dim)
                         for c in configs]
        coefs = [penalty_coefficients(r.model, r.objective.reg) for r in self.replicas]
        self.fcoef = [r.objective.feature_coef for r in self.replicas]
        self.acoef = [r.objective.activation_coef for r in self.replicas]
        if cfg.model.arch == "dufm" and cfg.optim.batch_size is None:
            for c, f in zip(coefs, self.fcoef, strict=True):  # a penalty on all of H1
                if f > 0:
                    c["H1"] = c.get("H1", 0.0) + f
            self.fcoef = [0.0] * len(configs)
        adam = (tuple(cfg.optim.betas), cfg.optim.eps) if cfg.optim.name == "adam" else None
        if compile and cfg.model.arch not in STACKED:
            warnings.warn(f"compile=True: model.arch={cfg.model.arch!r} trains through "
                          "torch.func (not compiled); training eagerly", RuntimeWarning,
                          stacklevel=3)
            compile = False
        if compile and adam is not None:
            warnings.warn("compile=True: the compiled step has no Adam update; training "
                          "eagerly", RuntimeWarning, stacklevel=3)
            compile = False
        self.stack = ParameterStack([r.model for r in self.replicas], coefs, cfg.optim.momentum,
                                    cfg.optim.nesterov, leaf=not compile, adam=adam)
        first = self.replicas[0]
        if cfg.model.arch in STACKED:
            self.net = StackedNet(first.model, cfg.loss.kind, first.objective.fit_per_sample,
                                  self.train.N)
            self.batches = StackedBatches(self.train, cfg.loss.kind)
        else:  # the general torch.func path
            self.net = FuncNet(first, self.stack, cfg.loss.kind, features=any(self.fcoef),
                               activations=any(self.acoef))
            self.batches = FuncBatches(self.train)
        self.jit = CompiledStep(self.net, self.stack) if compile else None
        self.total = total_steps(cfg.optim, first.sampler.steps_per_epoch)
        self.trace = torch.full((self.total, len(configs)), math.nan, dtype=torch.float64)
        self.lrs: list[float] | None = None
        self._set_live(list(range(len(configs))))

    # ---- the loop ------------------------------------------------------------------------------
    def run(self) -> list[RunResult]:
        cfg = self.cfg
        pending = probe_steps(self.total, cfg.probe) if cfg.probe.enabled else []
        snaps = sorted(s for s in self.hooks.at_steps if s < self.total)
        step = 0
        while self.live:
            if pending and pending[0] == step:
                pending.pop(0)
                if not self._probe(step):
                    continue  # this step again, without the replicas stopped by the probe
            if snaps and snaps[0] == step:
                snaps.pop(0)
                self._snapshot(step)
            if step == self.total:
                for row, i in enumerate(self.live):
                    self.stack.load(row, self.replicas[i].model)
                    self.replicas[i].finish(step, self.train)
                    if self.replicas[i].divergence is None:
                        self.hooks.snapshot(step, i, self.replicas[i], self.replicas[i].parts)
                self.hooks.progress(step, self.total, self.live, None, force=True)
                self._drop(list(range(len(self.live))))
                break
            self._train_step(step)
            step += 1
        trace = self.trace.numpy()
        return [r.result(self.train, trace[:, i], self.total)
                for i, r in enumerate(self.replicas)]

    def _snapshot(self, step: int) -> None:
        for row, i in enumerate(self.live):
            r = self.replicas[i]
            self.stack.load(row, r.model)
            self.hooks.snapshot(step, i, r, loss_parts_of(r.model, r.objective, self.train, r.cfg))

    def _lr(self, i: int, step: int) -> float:
        return lr_at(step, self.total, self.replicas[i].cfg.optim.lr, self.cfg.schedule)

    def _probe(self, step: int) -> bool:
        """Probe every live replica; False if some stopped (divergence)."""
        stopped = []
        for row, i in enumerate(self.live):
            self.stack.load(row, self.replicas[i].model)
            if not self.replicas[i].probe_at(step, self._lr(i, step)):
                stopped.append(row)
        self._drop(stopped)
        return not stopped

    def _train_step(self, step: int) -> None:
        stack, live = self.stack, self.live
        if self.lrs is None or self.cfg.schedule.name != "constant":
            lrs = [self._lr(i, step) for i in live]
            if lrs != self.lrs:
                stack.set_lr(lrs)
                self.lrs = lrs
        x, targets, idx = self.batches.take([self.replicas[i] for i in live])
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
        self.hooks.progress(step + 1, self.total, live, self.trace[step, self.cols])
        bad: list[int] = []
        if not math.isfinite(value.sum().item()):  # one sync; then find the culprits
            bad = [row for row, v in enumerate(value.tolist()) if not math.isfinite(v)]
            for row in bad:  # not updated yet (the compiled step leaves them unchanged)
                stack.load(row, self.replicas[live[row]].model)
                self.replicas[live[row]].loss_diverged(step, value[row].item())
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
            if not any(values[i] for i in live):
                return None
            return torch.tensor([values[i] for i in live], dtype=dtype, device=device)

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
