"""``NeuralCollapseCallback`` for a Lightning ``Trainer``: :func:`nclab.analyze` every
``every_n_epochs`` training epochs, logged with the module's ``log_dict``.

Needs ``lightning`` (``pip install nclab[lightning]``).
"""

from __future__ import annotations

from lightning.pytorch.callbacks import Callback

from nclab.analysis import analyze

from ._flat import flat_metrics


class NeuralCollapseCallback(Callback):
    """Run ``analyze(pl_module, data, layers, **analyze_kwargs)`` at the end of every
    ``every_n_epochs``-th training epoch and log every (layer, metric) as
    ``"<prefix><layer>/<metric>"`` through ``pl_module.log_dict`` (so any Lightning logger gets
    them). ``self.reports``: ``{epoch: LayerReport}`` (with ``.skipped`` reasons).

    Every process measures the same ``data`` (no cross-process reduction is needed; the values
    are logged with ``rank_zero_only``). Layer names are relative to the LightningModule
    (e.g. ``"net.fc1"`` when it holds the network as ``self.net``).
    """

    def __init__(self, data, layers, *, every_n_epochs: int = 1, prefix: str = "nc/",
                 **analyze_kwargs):
        if isinstance(every_n_epochs, bool) or not isinstance(every_n_epochs, int) or every_n_epochs < 1:
            raise ValueError(f"every_n_epochs must be a positive int, got {every_n_epochs!r}")
        self.data, self.layers, self.every = data, layers, every_n_epochs
        self.prefix, self.kwargs = prefix, analyze_kwargs
        self.reports: dict = {}

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        epoch = trainer.current_epoch
        if (epoch + 1) % self.every:
            return
        report = analyze(pl_module, self.data, self.layers, **self.kwargs)
        self.reports[epoch] = report
        pl_module.log_dict(flat_metrics(report, self.prefix), rank_zero_only=True)
