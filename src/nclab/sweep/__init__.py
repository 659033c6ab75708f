"""Vectorised training of many replicas in one batched computation (issue 6, §1).

S configs that differ only in seed, learning rate, regularisation and initialisation
(:func:`group_compatible`) are trained together: their parameters are stacked along a replica
axis, every layer is one batched matmul, autograd runs once for all of them and the GD /
SGD-momentum update is written out with per-replica learning rates and penalty coefficients.
Replica s reproduces ``nclab.train.run(configs[s])`` (same initialisation, batches, probes,
divergence handling) up to floating-point rounding; a diverging replica is recorded and
dropped while the others go on.

- :mod:`.grouping` -- :func:`vectorisable`, :func:`group_key`, :func:`group_compatible`.
- :mod:`.stacked` -- :class:`StackedNet`, the batched DUFM / MLP forward and data loss.
- :mod:`.funcnet` -- :class:`FuncNet`, the general path (ResNet20, weight-normalised network):
  ``torch.func.functional_call`` + ``vmap`` over stacked parameters and buffers.
- :mod:`.update` -- :class:`ParameterStack`, stacked parameters and the per-replica update.
- :mod:`.replica` -- :class:`Replica`, one config's model, probe, sampler and results.
- :mod:`.batches` -- the shared training data and each step's batch for the live replicas.
- :mod:`.compiled` -- optional ``torch.compile`` of the whole step (cached, eager fallback).
- :mod:`.vmap` -- :func:`run_vectorised` (the loop).
- :mod:`.many` -- :func:`run_many`: vectorised groups, ``nclab.train.run`` for the rest.
"""

from .batches import StackedBatches, train_set
from .compiled import CompiledStep
from .funcnet import FuncBatches, FuncNet
from .grouping import group_compatible, group_key, vectorisable
from .many import run_many
from .replica import Replica
from .stacked import StackedNet
from .update import ParameterStack, penalty_coefficients
from .vmap import run_vectorised

__all__ = [
    "CompiledStep",
    "FuncBatches",
    "FuncNet",
    "ParameterStack",
    "Replica",
    "StackedBatches",
    "StackedNet",
    "group_compatible",
    "group_key",
    "penalty_coefficients",
    "run_many",
    "run_vectorised",
    "train_set",
    "vectorisable",
]
