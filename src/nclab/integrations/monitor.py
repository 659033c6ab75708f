"""``Monitor``: :func:`nclab.analyze` at chosen steps of a plain training loop, written to the
nclab store (so ``nclab runs --sql`` and ``nclab report`` work on your own runs), TensorBoard and
wandb.

Example::

    mon = Monitor(val_loader, ["layer3", "fc"], every=500, store="runs", experiment="my-resnet",
                  tensorboard="tb/")
    for step, (x, y) in enumerate(train_loader):
        ...  # your update
        mon(model, step, loss=float(loss))
    mon.close()
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from nclab.analysis import analyze
from nclab.metrics.report import LayerReport
from nclab.store import Store

from ._flat import flat_metrics

USER_SCALE = "cpu"  # the store's scale for user runs (scales name how big a run is)


class Monitor:
    """Measure ``model`` on ``data`` at steps ``every`` k (and/or the listed ``steps``).

    Args:
        data, layers, **analyze_kwargs: as in :func:`nclab.analyze`.
        store: a :class:`nclab.store.Store` or its root directory: each measurement's long rows
            (``step, layer, metric, value``) go into the run ``experiment/<scale>/<run_id>``;
            extra scalars given to ``__call__`` (e.g. ``loss=``) go in as ``layer="model"``.
        experiment, run_id, params, seed, config, scale: the run's identity in the store
            (``run_id`` default: from ``params`` and ``seed``).
        tensorboard: a ``SummaryWriter`` or a log directory (``pip install nclab[tensorboard]``);
            scalars ``nc/<layer>/<metric>``.
        wandb: a wandb run (anything with ``.log(dict, step=)``), or True for the active
            ``wandb.run`` (``pip install nclab[wandb]``).

    ``close(summary)`` finishes the store's run (a context manager marks it failed on an
    exception). ``self.reports``: ``{step: LayerReport}`` (with ``.skipped`` reasons).
    """

    def __init__(self, data, layers, *, every: int | None = None, steps: Iterable[int] = (),
                 store=None, experiment: str = "user", run_id: str | None = None,
                 params: dict | None = None, seed: int = 0, config: dict | None = None,
                 scale: str = USER_SCALE, tensorboard=None, wandb=None, **analyze_kwargs):
        if every is not None and (isinstance(every, bool) or not isinstance(every, int) or every < 1):
            raise ValueError(f"every must be a positive int or None, got {every!r}")
        self.steps = {int(s) for s in steps}
        if every is None and not self.steps:
            raise ValueError("give every=k and/or steps=[...]: when to measure")
        self.data, self.layers, self.every, self.kwargs = data, layers, every, analyze_kwargs
        self.reports: dict[int, LayerReport] = {}
        self.run = None
        if store is not None:
            store = store if isinstance(store, Store) else Store(store)
            cfg = {"layers": list(layers) if not isinstance(layers, str) else [layers],
                   "analyze": {k: repr(v) for k, v in analyze_kwargs.items()}, **(config or {})}
            self.run = store.start_run(experiment, scale, params or {}, seed, cfg, run_id=run_id)
        self.writer = self._writer(tensorboard)
        self.wandb = self._wandb(wandb)

    @staticmethod
    def _writer(tb):
        if tb is None or hasattr(tb, "add_scalar"):
            return tb
        from torch.utils.tensorboard import SummaryWriter  # needs the tensorboard package

        return SummaryWriter(str(tb))

    @staticmethod
    def _wandb(run):
        if run is True:
            import wandb

            if wandb.run is None:
                raise ValueError("wandb=True needs an active run: call wandb.init(...) first")
            return wandb.run
        if run is not None and not hasattr(run, "log"):
            raise ValueError(f"wandb must be a wandb run (with .log) or True, got {type(run).__name__}")
        return run

    def due(self, step: int) -> bool:
        return step in self.steps or (self.every is not None and step % self.every == 0)

    def __call__(self, model, step: int, **scalars: float) -> LayerReport | None:
        """Measure at ``step`` if it is due (returns the report, else None); ``scalars`` (loss,
        accuracy...) are written alongside."""
        if isinstance(step, bool) or not isinstance(step, int):
            raise ValueError(f"step must be an int, got {step!r}")
        if not self.due(step):
            return None
        report = analyze(model, self.data, self.layers, **self.kwargs)
        self.reports[step] = report
        values = flat_metrics(report, "nc/")
        values.update({f"model/{k}": float(v) for k, v in scalars.items()})
        if self.run is not None:
            rows = report.long(step) + [
                {"step": step, "layer": "model", "metric": k, "value": float(v)}
                for k, v in scalars.items()
            ]
            self.run.write_metrics(rows)
        if self.writer is not None:
            for key, value in values.items():
                if math.isfinite(value):
                    self.writer.add_scalar(key, value, step)
        if self.wandb is not None:
            self.wandb.log(values, step=step)
        return report

    def close(self, summary: dict | None = None, status: str = "finished") -> None:
        """Finish the store's run (``summary.json``: your summary plus the last report's
        skipped metrics) and flush TensorBoard."""
        if self.run is not None and not self.run.closed:
            last = self.reports[max(self.reports)] if self.reports else None
            skipped = {"/".join(k): v for k, v in last.skipped.items()} if last else {}
            self.run.finish({**(summary or {}), "skipped": skipped, "steps": sorted(self.reports)},
                            status=status)
        if self.writer is not None:
            self.writer.flush()

    def __enter__(self) -> Monitor:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc is not None and self.run is not None and not self.run.closed:
            self.run.fail(f"{exc_type.__name__}: {exc}")
        elif exc is None:
            self.close()


def records_experiment(store, experiment: str):
    """An :class:`~nclab.experiments.spec.Experiment` for runs written by a ``Monitor`` (not a
    registered paper experiment), so that ``nclab report`` can draw them: one curve panel per
    collapse metric found in the store (value vs step, one line per layer)."""
    from nclab.experiments.spec import Experiment, Panel, Scale

    store = store if isinstance(store, Store) else Store(store)
    runs = store.runs(experiment)
    if not runs:
        raise ValueError(f"no runs of {experiment!r} in {store.root}")
    found = {r["metric"] for r in store.query(
        "SELECT DISTINCT metric FROM metrics WHERE experiment = ?", [experiment])}
    wanted = ("nc1_trace", "nc1_pinv", "cdnv", "nc2_etf_gram_dist", "nc2_cond", "nc3_cos",
              "nc3_duality", "nc4_ncc", "w_stable_rank", "w_balancedness")
    panels = tuple(Panel(m, "curve", m, logy=m.startswith("nc1") or m == "cdnv")
                   for m in wanted if m in found)
    return Experiment(
        id=experiment, paper="user", figure="", title=f"{experiment} (nclab Monitor runs)",
        base=None, scales={s: Scale() for s in sorted({r["scale"] for r in runs})}, panels=panels,
        description="Runs written by nclab.integrations.monitor.Monitor.",
    )
