"""``NeuralCollapseCallback`` for the Hugging Face ``Trainer``: :func:`nclab.analyze` on each
evaluate, logged through the Trainer's ``log`` (so its reporting integrations receive it).

Needs ``transformers`` (``pip install nclab[hf]``).
"""

from __future__ import annotations

from transformers import TrainerCallback

from nclab.analysis import analyze

from ._flat import flat_metrics


def hf_batch(batch):
    """``batch_fn`` for Hugging Face dict batches: (the inputs without ``labels``, ``labels``)."""
    return {k: v for k, v in batch.items() if k != "labels"}, batch["labels"]


class NeuralCollapseCallback(TrainerCallback):
    """On every evaluate, run ``analyze(model, data, layers, batch_fn=hf_batch, **kwargs)`` and
    log ``"<prefix><layer>/<metric>"`` values.

    Attach it with ``callback.attach(trainer)`` (it adds itself to the trainer's callbacks and
    logs through ``trainer.log``: history, TensorBoard / wandb reporters). Added only through
    ``callbacks=[...]``, it cannot reach ``trainer.log``: it then adds the values to the returned
    evaluation metrics and to ``state.log_history``. ``self.reports``: ``{global_step: LayerReport}``.
    ``data``: e.g. a DataLoader of dict batches (the default ``batch_fn`` splits off ``labels``).
    """

    def __init__(self, data, layers, *, prefix: str = "eval_nc/", **analyze_kwargs):
        self.data, self.layers, self.prefix = data, layers, prefix
        self.kwargs = {"batch_fn": hf_batch, **analyze_kwargs}
        self.reports: dict = {}
        self._trainer = None

    def attach(self, trainer) -> NeuralCollapseCallback:
        trainer.add_callback(self)
        self._trainer = trainer
        return self

    def on_evaluate(self, args, state, control, model=None, metrics=None, **kwargs):
        report = analyze(model, self.data, self.layers, **self.kwargs)
        self.reports[state.global_step] = report
        logs = flat_metrics(report, self.prefix)
        if metrics is not None:
            metrics.update(logs)
        if self._trainer is not None:
            self._trainer.log(dict(logs))
        else:
            state.log_history.append({**logs, "step": state.global_step})
        return control
