"""The sections of a run's configuration (:class:`~nclab.train.config.TrainConfig`): one frozen,
typed, validated dataclass per concern -- :class:`DataConfig`, :class:`ModelConfig`,
:class:`LossConfig`, :class:`RegConfig`, :class:`OptimConfig`, :class:`ScheduleConfig`,
:class:`ProbeConfig`, :class:`CheckpointConfig` -- and the values their fields may take.

Each section checks its own fields (``_check``) and names the key of a bad value; the checks
across sections are :class:`~nclab.train.config.TrainConfig`'s.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import ClassVar

from nclab.data import canonical_name
from nclab.models import ACTIVATIONS

from .typed import ConfigError, Section

ARCHS = ("mlp", "dufm", "resnet20", "weightnorm")
INITS = ("auto", "default", "lecun_normal", "orthogonal")
TARGETS = ("auto", "one_hot", "centred", "signed")
REG_SCHEMES = ("standard", "weights", "dufm", "dufm_like", "rho", "none")
OPTIMIZERS = ("gd", "sgd", "adam")
SAMPLERS = ("shuffle", "class_balanced")
SCHEDULES = ("constant", "step", "cosine")
SPACINGS = ("log", "linear")
PARTS = ("input", "backbone", "features", "head")
DTYPES = ("float32", "float64")

# name -> (kind, description); the fit coefficients live in nclab.train.losses
LOSS_PRESETS = {
    "p0_theory": ("mse", "1/2 ||Z_L - Y||_F^2, summed over samples (Jacot et al. §4, C_lambda)"),
    "torch_mse": ("mse", "||Z_L - Y||_F^2 / (N K) (torch MSELoss(reduction='mean'))"),
    "p2_dufm": ("mse", "||Z_L - Y||_F^2 / (2N) (Súkeník et al. eq. 1)"),
    "p3": ("mse", "||Z_L - Y||_F^2 / N with centred/±1 labels (Xu et al. eq. 1, §5.2)"),
    "p1_eq3": ("mse", "(1/N) sum_i ||f(x_i) - y_i||^2 (Zangrando et al. eq. 3)"),
    "cross_entropy": ("ce", "(1/N) sum_i CE(f(x_i), y_i)"),
}


@dataclass(frozen=True)
class DataConfig(Section):
    """What to train on (``nclab.data.load_dataset`` names, or ``"labels"`` for the DUFM).

    ``name="labels"``: no inputs, ``K`` classes × ``n_per_class`` samples in class order
    (``Y = I_K ⊗ 1_nᵀ``, Súkeník et al. §3) -- only for ``model.arch="dufm"``.
    ``test_split``: a held-out split for probes (standardised / scaled with the training
    statistics). ``label_noise``: fraction of corrupted training labels (Xu et al. Fig. 4).
    ``options``: extra ``load_dataset`` options (gaussian-mixture ``dim``, ``sigma``, ...).
    """

    _key: ClassVar[str] = "data"
    name: str = "digits"
    split: str = "train"
    test_split: str | None = None
    n_per_class: int | None = None
    test_n_per_class: int | None = None
    classes: tuple[int, ...] | None = None
    K: int | None = None
    seed: int = 0
    standardize: bool = False
    unit_ball: bool = False
    sort_by_class: bool = False
    label_noise: float = 0.0
    data_dir: str | None = None
    options: dict = field(default_factory=dict)

    def _check(self):
        if self.name != "labels":
            try:
                canonical_name(self.name)
            except ValueError as err:
                raise ConfigError(f"data.name: {err}") from None
        self._positive("n_per_class", "test_n_per_class")
        if self.name == "labels" and self.n_per_class is None:
            self._fail("n_per_class", "is required for name='labels' (samples per class)")
        if self.K is not None:
            if self.name not in ("labels", "gaussian-mixture"):
                self._fail("K", "applies only to 'labels' and 'gaussian-mixture' (use classes)")
            if self.K < 2:
                self._fail("K", "must be >= 2")
        if self.classes is not None and (len(self.classes) < 2 or min(self.classes) < 0):
            self._fail("classes", "must list at least 2 non-negative class labels")
        if not 0.0 <= self.label_noise <= 1.0:
            self._fail("label_noise", "must lie in [0, 1]")
        if self.name == "labels" and self.test_split is not None:
            self._fail("test_split", "must be None for name='labels' (no inputs, no held-out set)")


@dataclass(frozen=True)
class ModelConfig(Section):
    """The network. ``widths`` are the hidden dimensions; the output layer (K units, or 1 for
    ``loss.targets="signed"``) is appended.

    - ``mlp``: ``W_1..W_L`` with ``L = len(widths) + 1``; the last ``n_linear`` layers are linear
      (Jacot et al. eq. 1), the first ``n_backbone`` are reported as backbone; ``residual``:
      per-layer skip flags (Zangrando et al. App. D.2), empty for none.
    - ``dufm``: ``widths = (d_1, ..., d_L)``, ``d_1`` = rows of the free features ``H_1``
      (Súkeník et al. Def. 2); needs ``n_linear = 1``; ``feature_std``: ``H_1 ~ N(0, std^2)``.
    - ``resnet20``: CIFAR ResNet20 + MLP head with hidden ``widths`` (input channels from data).
    - ``weightnorm``: Frobenius-normalised ReLU net with output scale ρ (Xu et al.), optional
      valid convolutions ``conv_channels`` / ``kernel_size`` / ``strides`` / ``padding``.

    ``init``: ``auto`` (LeCun normal for the DUFM, PyTorch default otherwise) or a scheme of
    :func:`nclab.models.init_weights`, multiplied by ``init_scale`` (Xu et al.'s init scale);
    drawn from the run seed. ``init_from``: start from the weights of a checkpoint (a run
    directory, a checkpoint directory or a ``.safetensors`` file), e.g. GD polish after Adam.
    """

    _key: ClassVar[str] = "model"
    arch: str = "mlp"
    widths: tuple[int, ...] = (64, 64)
    activation: str = "relu"
    n_linear: int = 1
    n_backbone: int = 0
    bias: bool = False
    residual: tuple[bool, ...] = ()
    conv_channels: tuple[int, ...] = ()
    kernel_size: int = 3
    strides: tuple[int, ...] = (1,)
    padding: int = 0
    feature_std: float = 1.0
    init: str = "auto"
    init_scale: float = 1.0
    init_from: str | None = None

    def _check(self):
        self._one_of("arch", ARCHS)
        self._one_of("init", INITS)
        self._one_of("activation", ACTIVATIONS)
        if any(w < 1 for w in self.widths):
            self._fail("widths", "must be positive integers")
        if self.arch == "dufm" and not self.widths:
            self._fail("widths", "must list d_1..d_L (at least one width) for the DUFM")
        n_layers = len(self.widths) + (0 if self.arch == "dufm" else 1)
        if not 0 <= self.n_linear <= n_layers:
            self._fail("n_linear", f"must lie in [0, {n_layers}] (number of layers)")
        if not 0 <= self.n_backbone <= n_layers:
            self._fail("n_backbone", f"must lie in [0, {n_layers}]")
        if self.residual and len(self.residual) != n_layers:
            self._fail("residual", f"must have one flag per layer ({n_layers}) or be empty")
        if self.residual:  # layer l maps widths[l-2] -> widths[l-1] (inner layers: no data needed)
            bad = [f"layer{i + 1} ({self.widths[i - 1]} -> {self.widths[i]})"
                   for i in range(1, len(self.widths)) if self.residual[i] and
                   self.widths[i - 1] != self.widths[i]]
            if bad:
                self._fail("widths", f"residual layers must keep their width: {', '.join(bad)}")
        self._positive("init_scale")
        self._positive("feature_std", allow_zero=True)
        if self.kernel_size < 1 or self.padding < 0 or any(s < 1 for s in self.strides):
            self._fail("strides", "kernel_size and strides must be >= 1, padding >= 0")
        if self.conv_channels and len(self.strides) not in (1, len(self.conv_channels)):
            self._fail("strides", "must have one entry per conv layer (or one for all)")
        if any(c < 1 for c in self.conv_channels):
            self._fail("conv_channels", "must be positive integers")
        arch_only = {
            "dufm": ("feature_std",),
            "mlp": ("residual",),
            "weightnorm": ("conv_channels",),
        }
        for arch, names in arch_only.items():
            for name in names:
                default = DEFAULTS_MODEL[name]
                if self.arch != arch and getattr(self, name) != default:
                    self._fail(name, f"applies only to model.arch={arch!r}")
        if self.arch == "dufm":
            if self.n_linear != 1:
                self._fail("n_linear", "must be 1 for the DUFM (only its output layer is linear)")
            if self.bias or self.n_backbone:
                self._fail("bias", "the DUFM has no biases and no backbone layers")
        if self.arch == "weightnorm":
            if self.activation != "relu" or self.n_linear != 1 or self.bias or self.n_backbone:
                self._fail("activation", "the weight-normalised net is bias-free ReLU with one "
                           "linear (output) layer: keep activation/n_linear/bias/n_backbone")
        if self.arch == "resnet20" and (self.n_backbone or self.residual):
            self._fail("n_backbone", "the ResNet20 backbone is fixed; n_backbone is for the MLP")


DEFAULTS_MODEL = {f.name: f.default for f in dataclasses.fields(ModelConfig)}


@dataclass(frozen=True)
class LossConfig(Section):
    """The fit term ``fit_scale · ||Z_L − Y||_F^2`` by named preset (experiments.md Part D #13).

    Presets: ``p0_theory`` (½, summed), ``torch_mse`` (1/(NK)), ``p2_dufm`` (1/(2N)), ``p3``
    (1/N, centred labels by default), ``p1_eq3`` (1/N), ``cross_entropy`` (mean CE).
    ``targets``: ``auto`` (centred for p3, one-hot otherwise), ``one_hot``, ``centred`` (Xu et
    al. ẽ_c), ``signed`` (±1, scalar output, K = 2). ``target_scale`` multiplies the targets
    (e.g. 0.5 for tanh outputs, Part D #17).
    """

    _key: ClassVar[str] = "loss"
    preset: str = "torch_mse"
    targets: str = "auto"
    target_scale: float = 1.0

    def _check(self):
        self._one_of("preset", tuple(LOSS_PRESETS))
        self._one_of("targets", TARGETS)
        self._positive("target_scale")
        if self.preset == "cross_entropy" and self.targets not in ("auto",):
            self._fail("targets", "cross-entropy uses the integer labels: keep 'auto'")

    @property
    def kind(self) -> str:
        return LOSS_PRESETS[self.preset][0]

    @property
    def target_kind(self) -> str | None:
        if self.kind == "ce":
            return None
        if self.targets == "auto":
            return "centred" if self.preset == "p3" else "one_hot"
        return self.targets


@dataclass(frozen=True)
class RegConfig(Section):
    """Regularisation, explicit in the loss: every term is ``factor · λ · ||·||^2``.

    ``factor = 0.5`` is the ``(λ/2)||W||_F^2`` convention of Jacot et al. (C_λ), Zangrando et
    al. §5.2 and Súkeník et al. eq. (1); ``factor = 1`` is ``λ||Θ||^2`` (Zangrando et al. eq. 3,
    Xu et al. ``λρ^2``). Schemes (which parameters get ``weight_decay`` λ):

    - ``standard``: every parameter (weights, biases, BatchNorm affine, DUFM ``H_1``, ρ).
    - ``weights``: every weight matrix (no biases / BatchNorm, Part D #36 option).
    - ``dufm``: every weight matrix with λ_{W_l} (``layer_decays``, default λ) plus
      ``feature_decay`` λ_{H_1} on the features (Súkeník et al. eq. 1).
    - ``dufm_like``: only the head's weight matrices plus λ_{H_1} on the backbone output; the
      backbone is unregularised (Súkeník et al. §6.2).
    - ``rho``: only the output scale ρ of the weight-normalised net (Xu et al.).
    - ``none``: no parameter penalty.

    ``first_layer_factor`` δ multiplies λ of the first weight matrix (Zangrando et al. §5.2;
    0 = unregularised first layer). ``feature_decay`` λ_{H_1} (any scheme) adds
    ``factor·λ_{H_1}·(N/B)·Σ_{i∈batch}||h_i||^2`` on the features entering the head (DUFM
    ``H_1``, pooled ResNet output, last backbone layer of an MLP; Part D #30).
    ``activation_decay`` λ' adds ``factor·λ'·(N/B)·Σ_{l=1}^{L}||Z^l||_F^2`` over the batch
    (Zangrando et al. §5.2).
    """

    _key: ClassVar[str] = "reg"
    scheme: str = "standard"
    weight_decay: float = 0.0
    layer_decays: tuple[float, ...] = ()
    first_layer_factor: float = 1.0
    feature_decay: float = 0.0
    activation_decay: float = 0.0
    factor: float = 0.5

    def _check(self):
        self._one_of("scheme", REG_SCHEMES)
        self._positive("weight_decay", "first_layer_factor", "feature_decay", "activation_decay",
                       allow_zero=True)
        self._positive("factor")
        if any(not (0 <= v < math.inf) for v in self.layer_decays):
            self._fail("layer_decays", "must be finite and >= 0")
        if self.layer_decays and self.scheme in ("rho", "none"):
            self._fail("layer_decays", f"has no weight matrices to act on in scheme {self.scheme!r}")


@dataclass(frozen=True)
class OptimConfig(Section):
    """Optimiser and batches. ``gd``: full-batch gradient descent (heavy-ball with
    ``momentum``); ``sgd``: mini-batches of ``batch_size`` (``sampler="shuffle"``: a seeded
    permutation per epoch; ``"class_balanced"``: ``batch_size/K`` samples of every class per
    batch, Xu et al. Thm 6 with B = bC); ``adam``: full batch unless ``batch_size`` is set.
    Length: ``steps`` optimiser steps, or ``epochs`` (overrides ``steps`` when set)."""

    _key: ClassVar[str] = "optim"
    name: str = "gd"
    lr: float = 0.01
    momentum: float = 0.0
    nesterov: bool = False
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    steps: int = 1000
    epochs: int | None = None
    batch_size: int | None = None
    sampler: str = "shuffle"

    def _check(self):
        self._one_of("name", OPTIMIZERS)
        self._one_of("sampler", SAMPLERS)
        self._positive("lr", "eps")
        self._positive("steps", "epochs", "batch_size")
        if not 0.0 <= self.momentum < 1.0:
            self._fail("momentum", "must lie in [0, 1)")
        if self.nesterov and self.momentum == 0.0:
            self._fail("nesterov", "needs momentum > 0")
        if not all(0.0 <= b < 1.0 for b in self.betas):
            self._fail("betas", "must lie in [0, 1)")
        if self.name == "gd" and self.batch_size is not None:
            self._fail("batch_size", "must be None for full-batch 'gd' (use optim.name='sgd')")
        if self.name == "sgd" and self.batch_size is None:
            self._fail("batch_size", "is required for mini-batch 'sgd' (use 'gd' for full batch)")
        if self.sampler == "class_balanced" and self.batch_size is None:
            self._fail("sampler", "class-balanced batches need optim.batch_size")
        if self.name == "adam" and (self.momentum or self.nesterov):
            self._fail("momentum", "is not used by adam (use optim.betas)")


@dataclass(frozen=True)
class ScheduleConfig(Section):
    """Learning-rate schedule over the run's steps: ``constant``; ``step`` (multiply by
    ``gamma`` at each fraction in ``milestones``; Jacot et al.: ×0.1 at 80 %); ``cosine``
    (from lr down to ``min_lr``)."""

    _key: ClassVar[str] = "schedule"
    name: str = "constant"
    milestones: tuple[float, ...] = (0.8,)
    gamma: float = 0.1
    min_lr: float = 0.0

    def _check(self):
        self._one_of("name", SCHEDULES)
        if any(not 0.0 < m < 1.0 for m in self.milestones) or list(self.milestones) != sorted(
            self.milestones
        ):
            self._fail("milestones", "must be increasing fractions of training in (0, 1)")
        self._positive("gamma")
        self._positive("min_lr", allow_zero=True)


@dataclass(frozen=True)
class ProbeConfig(Section):
    """Metrics during training: at ``points`` log- (or linearly) spaced steps plus the first
    and the last (or at explicit ``steps``), every layer's full ``layer_report``, the loss and
    its parts, accuracy and weight norms, on the training set and the held-out set.
    ``batch_size``: stream the data in chunks through ``ClassStats`` (None: one batch).
    ``parts``: which layers to report (by ``LayerOutput.part``). ``mode``: ``eval`` or
    ``train`` (BatchNorm statistics during the probe; running statistics are never changed)."""

    _key: ClassVar[str] = "probe"
    enabled: bool = True
    spacing: str = "log"
    points: int = 20
    steps: tuple[int, ...] = ()
    batch_size: int | None = None
    parts: tuple[str, ...] = PARTS
    conv_features: str = "flatten"
    held_out: bool = True
    rank_rtol: float = 1e-3
    mode: str = "eval"
    max_gram_dim: int = 2048

    def _check(self):
        self._one_of("spacing", SPACINGS)
        self._one_of("conv_features", ("flatten", "pool"))
        self._one_of("mode", ("eval", "train"))
        self._positive("points", "batch_size", "rank_rtol", "max_gram_dim")
        if any(s < 0 for s in self.steps):
            self._fail("steps", "must be non-negative step numbers")
        bad = [p for p in self.parts if p not in PARTS]
        if bad or not self.parts:
            self._fail("parts", f"must be a non-empty subset of {PARTS}")


@dataclass(frozen=True)
class CheckpointConfig(Section):
    """Checkpoints (when the run has an ``out_dir``): at step 0, every ``every`` steps (0: none
    in between) and at the end; the newest ``keep`` are kept."""

    _key: ClassVar[str] = "checkpoint"
    every: int = 0
    keep: int = 2

    def _check(self):
        self._positive("every", allow_zero=True)
        self._positive("keep")
