r"""Regularisation as explicit loss terms over parameter groups (never optimiser weight decay).

Convention: every term is ``factor · λ · ||θ_g||_F^2`` with ``factor = reg.factor``; the
default ½ gives ``(λ/2)||W||_F^2`` (Jacot et al. C_λ; Zangrando et al. §5.2
``L_{λ,δ}``; Súkeník et al. eq. 1); ``factor = 1`` gives ``λ||Θ||^2`` (Zangrando et al. eq. 3,
Xu et al. ``λρ^2``). With the ½ convention plain gradient descent on the term is PyTorch's
coupled ``weight_decay=λ`` (``θ ← θ − ηλθ``).

Schemes (see :class:`nclab.train.config.RegConfig`): ``standard`` (every parameter),
``weights`` / ``dufm`` (every weight matrix, λ_{W_l} from ``layer_decays``), ``dufm_like``
(head weight matrices only, Súkeník et al. §6.2), ``rho`` (Xu et al.), ``none``; plus the
data-dependent ``feature_decay`` λ_{H1} and ``activation_decay`` λ' terms, evaluated by the
objective from the forward pass.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import torch
from torch import nn

from .config import ConfigError, RegConfig


@dataclass
class Regularizer:
    """Parameter penalties ``Σ_terms coef · ||p||^2`` plus the coefficients of the data terms.

    ``terms``: ``(part name, coef, parameter)`` for the decomposition (``reg/layer2``,
    ``reg/H1``, ``reg/rho``, ``reg/other`` for biases and BatchNorm); ``groups``: the same
    parameters merged by coefficient for the hot path.
    """

    terms: list[tuple[str, float, torch.Tensor]] = field(default_factory=list)
    feature_coef: float = 0.0
    activation_coef: float = 0.0
    groups: list[tuple[float, list[torch.Tensor]]] = field(init=False)

    def __post_init__(self):
        by_coef: dict[float, list[torch.Tensor]] = defaultdict(list)
        for _, coef, p in self.terms:
            by_coef[coef].append(p)
        self.groups = list(by_coef.items())

    def penalty(self) -> torch.Tensor | None:
        """``Σ coef · ||p||^2`` as a differentiable scalar (None when nothing is penalised)."""
        total = None
        for coef, params in self.groups:
            sq = params[0].square().sum()
            for p in params[1:]:
                sq = sq + p.square().sum()
            total = sq * coef if total is None else total + sq * coef
        return total

    def parts(self) -> dict[str, float]:
        """``{"reg/<name>": value}`` of the parameter penalties."""
        out: dict[str, float] = defaultdict(float)
        with torch.no_grad():
            for name, coef, p in self.terms:
                out[name] += coef * float(p.square().sum())
        return dict(out)


def weight_layers(model: nn.Module) -> list[tuple[str, nn.Parameter]]:
    """``[(layer name, weight parameter)]`` of every Linear/Conv layer in depth order, named as in
    ``model.weight_matrices()`` (e.g. ``layer1``, ``stage2.block1.conv1``, ``head.layer3``)."""
    params = [
        m.weight for m in model.modules() if isinstance(m, (nn.Linear, nn.modules.conv._ConvNd))
    ]
    names = [name for name, _ in model.weight_matrices()]
    if len(names) != len(params):  # pragma: no cover - all nclab models agree
        raise ValueError(f"{type(model).__name__}: {len(params)} weights vs {len(names)} names")
    return list(zip(names, params, strict=True))


def features_entry(outs) -> int:
    """Index of the features entering the head in a ``layer_outputs`` list: the entry with
    ``part == "features"`` (DUFM ``H1``, ResNet ``pool``), else the last backbone layer."""
    for i, o in enumerate(outs):
        if o.part == "features":
            return i
    backbone = [i for i, o in enumerate(outs) if o.part == "backbone"]
    if not backbone:
        raise ValueError("the model has no features entry and no backbone layer")
    return backbone[-1]


def build_regularizer(model: nn.Module, reg: RegConfig) -> Regularizer:
    """The penalty terms of ``reg`` for ``model``; errors name the config key."""
    weights = weight_layers(model)
    head = {name for name, _ in model.head_weights()}
    if reg.scheme in ("weights", "dufm", "standard"):
        decayed = weights
    elif reg.scheme == "dufm_like":
        decayed = [(n, p) for n, p in weights if n in head]
    else:
        decayed = []
    if reg.layer_decays and len(reg.layer_decays) != len(decayed):
        names = ", ".join(n for n, _ in decayed)
        raise ConfigError(
            f"reg.layer_decays: has {len(reg.layer_decays)} entries but scheme {reg.scheme!r} "
            f"penalises {len(decayed)} weight matrices ({names})"
        )
    lams = list(reg.layer_decays) or [reg.weight_decay] * len(decayed)
    first = weights[0][1] if weights else None
    if reg.first_layer_factor != 1.0 and not any(p is first for _, p in decayed):
        raise ConfigError(
            f"reg.first_layer_factor: the first weight matrix ({weights[0][0]}) is not "
            f"penalised by scheme {reg.scheme!r}"
        )
    terms = []
    for (name, p), lam in zip(decayed, lams, strict=True):
        delta = reg.first_layer_factor if p is first else 1.0
        terms.append((f"reg/{name}", reg.factor * lam * delta, p))
    taken = {id(p) for _, p in decayed}
    for pname, p in model.named_parameters():
        if id(p) in taken:
            continue
        if reg.scheme == "standard" or (reg.scheme == "rho" and pname == "rho"):
            label = pname if pname in ("H1", "rho") else "other"
            terms.append((f"reg/{label}", reg.factor * reg.weight_decay, p))
    terms = [t for t in terms if t[1] > 0]
    return Regularizer(
        terms, reg.factor * reg.feature_decay, reg.factor * reg.activation_decay
    )
