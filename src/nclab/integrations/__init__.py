"""Neural-collapse diagnostics inside other frameworks' training (optional extras).

Each module imports its framework only when imported itself; ``import nclab`` and
``import nclab.integrations`` import none of them.

- :mod:`nclab.integrations.torchmetrics` -- ``NeuralCollapse``, a ``torchmetrics.Metric``
  (``pip install nclab[torchmetrics]``).
- :mod:`nclab.integrations.lightning` -- ``NeuralCollapseCallback`` for a Lightning ``Trainer``
  (``nclab[lightning]``).
- :mod:`nclab.integrations.transformers` -- ``NeuralCollapseCallback`` for the Hugging Face
  ``Trainer``, on evaluate (``nclab[hf]``).
- :mod:`nclab.integrations.monitor` -- ``Monitor`` for plain loops: the nclab store, TensorBoard
  (``nclab[tensorboard]``) and wandb (``nclab[wandb]``).
"""
