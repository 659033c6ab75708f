"""Training with explicit, logged objectives: ``nclab.train.run(config) -> RunResult``.

- :mod:`.config` -- typed, validated frozen dataclasses (:class:`TrainConfig` and its sections);
  :func:`apply_overrides` parses ``"section.field=value"`` strings against the field types.
- :mod:`.build` -- :func:`build_data`, :func:`build_model` from a config.
- :mod:`.losses` -- fit presets (Part D #13), the :class:`Objective` with its decomposition and
  the batch data loss.
- :mod:`.regularization` -- parameter-group penalties ``factor·λ·||θ||^2`` (standard, per layer,
  DUFM, DUFM-like, first layer ×δ, ρ only), feature and activation penalties.
- :mod:`.optim` -- SGD/GD (momentum), Adam; constant, step (×0.1 at 80 %) and cosine schedules.
- :mod:`.batches` -- full batch, shuffled and class-balanced mini-batches with resumable state.
- :mod:`.probe` -- per-layer metrics, loss parts, accuracy at log-spaced steps (long rows).
- :mod:`.checkpoint` -- atomic safetensors + ``weights_only`` checkpoints.
- the one engine: :mod:`.engine` (:func:`run_group`, the loop over S stacked replicas),
  :mod:`.replica` (one run's set-up, run directory and results), :mod:`.stack` (stacked
  parameters and the per-replica GD / SGD-momentum / Adam update), :mod:`.stacked` (hand-batched
  DUFM / MLP / dense weight-normalised forward), :mod:`.funcnet` (any model through
  ``torch.func``), :mod:`.compiled`
  (optional ``torch.compile`` of the step), :mod:`.grouping` (which configs share a group).
- :mod:`.loop` -- :func:`run` (a group of one) and :func:`run_many`; :mod:`.result` --
  :class:`RunResult`.
"""

from .batches import (
    ClassBalancedBatches,
    FullBatch,
    ShuffledBatches,
    TrainSet,
    make_sampler,
    train_set,
)
from .build import DataSplits, build_data, build_model
from .checkpoint import CheckpointError, latest_checkpoint, load_state, load_weights
from .config import (
    CheckpointConfig,
    ConfigError,
    DataConfig,
    LossConfig,
    ModelConfig,
    OptimConfig,
    ProbeConfig,
    RegConfig,
    ScheduleConfig,
    TrainConfig,
    from_dict,
    to_dict,
)
from .divergence import Diverged
from .engine import run_group
from .grouping import exact_grouping, group_compatible, group_key
from .loop import run, run_many
from .losses import FIT_SCALES, Objective, fit_scale, make_targets, zero_solution_loss
from .optim import lr_at, make_optimizer
from .overrides import apply_overrides
from .probe import Probe, probe_steps
from .regularization import Regularizer, build_regularizer
from .result import RunResult

__all__ = [
    "FIT_SCALES",
    "CheckpointConfig",
    "CheckpointError",
    "ClassBalancedBatches",
    "ConfigError",
    "DataConfig",
    "DataSplits",
    "Diverged",
    "FullBatch",
    "LossConfig",
    "ModelConfig",
    "Objective",
    "OptimConfig",
    "Probe",
    "ProbeConfig",
    "RegConfig",
    "Regularizer",
    "RunResult",
    "ScheduleConfig",
    "ShuffledBatches",
    "TrainConfig",
    "TrainSet",
    "apply_overrides",
    "build_data",
    "build_model",
    "build_regularizer",
    "exact_grouping",
    "fit_scale",
    "group_compatible",
    "group_key",
    "from_dict",
    "latest_checkpoint",
    "load_state",
    "load_weights",
    "lr_at",
    "make_optimizer",
    "make_sampler",
    "make_targets",
    "probe_steps",
    "run",
    "run_group",
    "run_many",
    "to_dict",
    "train_set",
    "zero_solution_loss",
]
