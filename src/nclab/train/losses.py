r"""The training objective ``C(θ) = fit + Σ regularisers``, with its decomposition.

Fit presets (experiments.md Part D #13; the preset is recorded with every run):

=============== ================================== ==========================================
preset          fit on the full training set        source
=============== ================================== ==========================================
p0_theory       ½ ||Z_L − Y||_F^2 (sum)              Jacot et al. §4, C_λ(θ)
torch_mse       ||Z_L − Y||_F^2 / (N K)              ``MSELoss(reduction="mean")``
p2_dufm         ||Z_L − Y||_F^2 / (2N)               Súkeník et al. eq. (1)
p3              ||Z_L − Y||_F^2 / N (centred/±1 Y)   Xu et al. eq. (1), §5.2
p1_eq3          (1/N) Σ_i ||f(x_i) − y_i||^2          Zangrando et al. eq. (3)
cross_entropy   (1/N) Σ_i CE(f(x_i), y_i)             --
=============== ================================== ==========================================

On a mini-batch of B samples every data term is scaled by N/B, so the batch objective is an
unbiased estimate of the full one (for the feature penalty this is Part D #30's
``(N λ_{H1} / (2B)) Σ_{i∈batch} ||h_i||^2``).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from nclab.data import encode_targets
from nclab.models import DUFM, ResNet20

from .config import LOSS_PRESETS, LossConfig
from .regularization import Regularizer, features_entry

FIT_SCALES = {
    "p0_theory": lambda N, K: 0.5,
    "torch_mse": lambda N, K: 1.0 / (N * K),
    "p2_dufm": lambda N, K: 1.0 / (2 * N),
    "p3": lambda N, K: 1.0 / N,
    "p1_eq3": lambda N, K: 1.0 / N,
    "cross_entropy": lambda N, K: 1.0 / N,
}


def fit_scale(preset: str, N: int, K: int) -> float:
    """The coefficient c of ``fit = c · Σ_i ℓ_i`` on the full set of N samples (K outputs)."""
    return FIT_SCALES[preset](N, K)


def describe(preset: str) -> str:
    """One line stating the preset's fit term."""
    return f"{preset}: {LOSS_PRESETS[preset][1]}"


def make_targets(y: torch.Tensor, K: int, cfg: LossConfig, dtype) -> torch.Tensor:
    """Regression targets (N, K) or (N, 1) for ±1 labels, times ``target_scale``; for
    cross-entropy the integer labels themselves."""
    kind = cfg.target_kind
    if kind is None:
        return y
    T = encode_targets(y, K, kind, dtype=dtype).to(y.device) * cfg.target_scale
    return T.reshape(-1, 1) if kind == "signed" else T


def fit_sum(out: torch.Tensor, targets: torch.Tensor, kind: str) -> torch.Tensor:
    """``Σ_i ℓ_i`` over the batch: squared error or cross-entropy."""
    if kind == "ce":
        return F.cross_entropy(out, targets, reduction="sum")
    return F.mse_loss(out, targets, reduction="sum")


def zero_solution_loss(y: torch.Tensor, K: int, cfg: LossConfig) -> float:
    """The objective at all-zero parameters (output 0, every regulariser 0): the trivial
    solution a regularised run can collapse to. From the preset and the targets, e.g.
    ``p2_dufm`` with one-hot Y: ||Y||²/(2N) = 1/2; ``p3`` with ±1 targets: 1; cross-entropy:
    log K."""
    targets = make_targets(y, K, cfg, torch.float64)
    n_out = K if cfg.kind == "ce" else targets.shape[1]
    zeros = torch.zeros(y.shape[0], n_out, dtype=torch.float64, device=y.device)
    total = fit_sum(zeros, targets, cfg.kind)
    return fit_scale(cfg.preset, y.shape[0], n_out) * float(total)


def batch_data_loss(fit, features, activations, B: int, fit_per_sample: float, N: int,
                    feature_coef=None, activation_coef=None):
    """The differentiated data part of the objective on a batch of ``B`` of ``N`` samples:
    ``fit_per_sample/B · Σ_i ℓ_i + N/B · (c_H Σ_i ||h_i||^2 + c_Z Σ_l ||Z^l||^2)`` (every data
    term scaled by N/B: an unbiased estimate of the full objective). Tensors or (S,) stacks;
    a coefficient None leaves its term out."""
    loss = fit * (fit_per_sample / B)
    extra = None
    if feature_coef is not None:
        extra = feature_coef * features
    if activation_coef is not None:
        term = activation_coef * activations
        extra = term if extra is None else extra + term
    return loss if extra is None else loss + extra * (N / B)


def predictions(out: torch.Tensor) -> torch.Tensor:
    """Predicted classes: argmax, or the sign for a scalar output (class 1 when positive)."""
    if out.shape[1] == 1:
        return (out[:, 0] > 0).long()
    return out.argmax(1)


class Objective:
    """``C(θ) = c_fit Σ_i ℓ_i + Σ_groups c ||θ_g||^2 + c_H Σ_i ||h_i||^2 + c_Z Σ_l ||Z^l||^2``.

    The engine differentiates the data part of one batch of B samples,
    :func:`batch_data_loss` ``= c_fit·(N/B)·Σ_i ℓ_i + (N/B)·(c_H Σ_i ||h_i||^2 + c_Z Σ_l
    ||Z^l||^2)``, and adds the parameter penalties itself (see :mod:`.stack`).
    :meth:`batch_sums` is the forward pass of one model on a batch, giving the three sums;
    :meth:`sums` and :meth:`parts` give the decomposition on the full set, accumulated over
    chunks, for probes. ``N``: training-set size; ``K``: number of outputs (target columns;
    ``torch_mse`` divides by N·K).
    """

    def __init__(self, model: nn.Module, loss: LossConfig, reg: Regularizer, N: int, K: int):
        self.model, self.reg, self.N, self.K = model, reg, N, K
        self.preset, self.kind = loss.preset, loss.kind
        self.fit_per_sample = fit_scale(loss.preset, N, K) * N  # batch fit = this / B · Σ ℓ_i
        self.feature_coef, self.activation_coef = reg.feature_coef, reg.activation_coef

    def __call__(self, inputs, targets: torch.Tensor) -> torch.Tensor:
        """The whole objective on a batch of this one model: :func:`batch_data_loss` of
        :meth:`batch_sums` plus the parameter penalties (a reference; the engine batches it)."""
        fc = self.feature_coef if self.feature_coef > 0 else None
        ac = self.activation_coef if self.activation_coef > 0 else None
        fit, feats, acts = self.batch_sums(inputs, targets, fc is not None, ac is not None)
        loss = batch_data_loss(fit, feats, acts, targets.shape[0], self.fit_per_sample, self.N,
                               fc, ac)
        penalty = self.reg.penalty()
        return loss if penalty is None else loss + penalty

    def batch_sums(self, inputs, targets, features: bool, activations: bool):
        """``(Σ_i ℓ_i, Σ_i ||h_i||^2 or None, Σ_l ||Z^l||^2 or None)`` on a batch, by the
        cheapest forward pass that yields the sums asked for (``inputs``: data rows, or sample
        indices / None for the DUFM)."""
        model = self.model
        if not features and not activations:
            return fit_sum(model(inputs), targets, self.kind), None, None
        if not activations and isinstance(model, DUFM):
            h = model.H1 if inputs is None else model.H1[:, inputs]
            return fit_sum(model(inputs), targets, self.kind), h.square().sum(), None
        if not activations and isinstance(model, ResNet20):  # the backbone output
            h = model.features(inputs)
            return fit_sum(model.head(h), targets, self.kind), h.square().sum(), None
        sums = self.sums(layer_outputs(model, inputs), targets, features, activations)
        return (sums["fit"], sums["features"] if features else None,
                sums["activations"] if activations else None)

    # ---- decomposition --------------------------------------------------------------------
    def sums(self, outs, targets: torch.Tensor, features: bool | None = None,
             activations: bool | None = None) -> dict[str, torch.Tensor]:
        """Additive per-chunk sums (``fit``, ``features``, ``activations``) from the
        ``layer_outputs`` of a chunk (a penalty's sum is 0 unless asked for; by default those
        of the objective's non-zero penalties)."""
        features = self.feature_coef > 0 if features is None else features
        activations = self.activation_coef > 0 if activations is None else activations
        zero = outs[-1].post.new_zeros(())
        feats = outs[features_entry(outs)].post.square().sum() if features else zero
        acts = zero
        if activations:
            acts = sum((o.post.square().sum() for o in outs if o.has_weight), zero)
        return {"fit": fit_sum(outs[-1].post, targets, self.kind), "features": feats,
                "activations": acts}

    def fit_of(self, total: float, n: int) -> float:
        """The preset's fit on a set of ``n`` samples whose ``Σ_i ℓ_i`` is ``total``."""
        return fit_scale(self.preset, n, self.K) * float(total)

    def parts(self, sums: dict[str, float]) -> dict[str, float]:
        """``loss`` = ``fit`` + ``reg``, ``reg`` = Σ ``reg/<term>``, from the full-set sums."""
        parts = {"fit": self.fit_of(sums["fit"], self.N)}
        reg = dict(self.reg.parts())
        if self.feature_coef > 0:
            reg["reg/features"] = self.feature_coef * float(sums["features"])
        if self.activation_coef > 0:
            reg["reg/activations"] = self.activation_coef * float(sums["activations"])
        parts["reg"] = sum(reg.values(), 0.0)
        parts["loss"] = parts["fit"] + parts["reg"]
        return {**parts, **reg}


def layer_outputs(model: nn.Module, inputs, conv_features: str = "flatten"):
    """``model.layer_outputs`` for data rows, or for sample indices (None: all) of a DUFM."""
    if isinstance(model, DUFM):
        return model.layer_outputs(index=inputs, conv_features=conv_features)
    return model.layer_outputs(inputs, conv_features=conv_features)
