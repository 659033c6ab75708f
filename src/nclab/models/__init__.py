"""Networks for neural-collapse experiments, all exposing their layers the same way.

- :class:`MLP` -- nonlinear then linear layers (Jacot et al. 2025 eq. 1), per-layer activations,
  optional residual layers (Zangrando et al. App. D.2).
- :class:`DUFM` -- deep unconstrained features model (Súkeník et al. Definition 2).
- :class:`ResNet20` -- CIFAR ResNet20 backbone (option-A shortcuts) + MLP head.
- :class:`WeightNormNet` -- Frobenius weight-normalised ReLU net with output scale ρ (Xu et al.).
- Activations (:mod:`.activations`): ReLU, leaky ReLU, smooth leaky ReLU (Jacot et al.
  Assumption 4.2), tanh, ReLU_ε (Súkeník et al. Definition 7).
- :func:`init_weights` -- seeded default/scaled, LeCun normal and orthogonal initialisation.
- Layer-exposure protocol (:mod:`.layers`): ``layer_outputs(x) -> list[LayerOutput]``,
  ``weight_matrices()``, ``head_weights()``.
"""

from .activations import ACTIVATIONS, ReLUEps, SmoothLeakyReLU, make_activation
from .dufm import DUFM
from .init import SCHEMES, init_weights
from .layers import (
    KINDS,
    PARTS,
    ExposedModel,
    LayerOutput,
    Recorder,
    as_images,
    consumer_of,
    layer_input,
    outputs_by_name,
    preserved_batchnorm_stats,
)
from .mlp import MLP
from .resnet import BasicBlock, ResNet20
from .weightnorm import FrobeniusNormalizedConv2d, FrobeniusNormalizedLinear, WeightNormNet

__all__ = [
    "ACTIVATIONS",
    "DUFM",
    "KINDS",
    "MLP",
    "PARTS",
    "SCHEMES",
    "BasicBlock",
    "ExposedModel",
    "FrobeniusNormalizedConv2d",
    "FrobeniusNormalizedLinear",
    "LayerOutput",
    "ReLUEps",
    "Recorder",
    "ResNet20",
    "SmoothLeakyReLU",
    "WeightNormNet",
    "as_images",
    "consumer_of",
    "init_weights",
    "layer_input",
    "make_activation",
    "outputs_by_name",
    "preserved_batchnorm_stats",
]
