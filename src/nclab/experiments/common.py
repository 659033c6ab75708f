"""Shared pieces of the experiment definitions: configs, scales, panels.

Scales follow one pattern: ``paper`` = the paper's (or experiments.md's [choice]) setting on the
real data, ``cpu`` = experiments.md's CPU-scaled variant (same hyper-parameter logic, smaller
data / fewer steps / fewer seeds, single-threaded), ``smoke`` = the ``cpu`` setting cut down to
seconds for the test suite (claims are not evaluated there).
"""

from __future__ import annotations

import numpy as np

from nclab.metrics.report import feature_layer, feature_layers
from nclab.train import TrainConfig, apply_overrides

from .spec import Panel, Scale

# single-threaded tiny models (experiments.md §0: two threads are slower on 2 cores)
CPU = ("threads=1",)
SMOKE = ("threads=1", "probe.points=4")


def config(*overrides: str) -> TrainConfig:
    """A :class:`TrainConfig` from ``"a.b=value"`` strings (validated now)."""
    return apply_overrides(TrainConfig(), list(overrides))


def scales(paper: Scale, cpu: Scale, smoke: Scale) -> dict[str, Scale]:
    return {"smoke": smoke, "cpu": cpu, "paper": paper}


def probe_steps(total: int, points: int = 30, linear: int = 20) -> str:
    """``probe.steps=[...]``: ``points`` log-spaced steps plus ``linear`` evenly spaced ones
    (so that curves show both the early dynamics and the late plateaus / LR drops)."""
    logs = np.unique(np.rint(np.geomspace(1, total, points)).astype(int))
    lins = np.unique(np.rint(np.linspace(0, total, linear + 1)).astype(int))
    steps = sorted({0, total, *logs.tolist(), *lins.tolist()})
    return "probe.steps=[" + ",".join(str(s) for s in steps) + "]"


def dufm(K: int, L: int, *, width: int = 30, n: int = 50, lam: float = 0.004,
         lr: float = 0.5, steps: int = 100_000, extra=()) -> TrainConfig:
    """The L-DUFM of Súkeník et al. eq (1) (experiments.md C.3 common protocol): trainable H1
    (width x N) and W_1..W_L, no biases, ReLU after W_1..W_{L-1}, all λ equal, full-batch GD,
    float64; H1 ~ N(0, 1), W ~ N(0, 1/fan_in) ([choice, checked])."""
    return config(
        "data.name=labels", f"data.K={K}", f"data.n_per_class={n}",
        "model.arch=dufm", "model.widths=[" + ",".join([str(width)] * L) + "]",
        "loss.preset=p2_dufm", "reg.scheme=dufm", f"reg.weight_decay={lam}",
        f"reg.feature_decay={lam}", "optim.name=gd", f"optim.lr={lr}", f"optim.steps={steps}",
        "dtype=float64", "probe.points=30", *extra,
    )


# ---- panels ---------------------------------------------------------------------------------
def loss_panel(title: str = "training loss", reference=(), metric: str = "loss") -> Panel:
    return Panel(title, "curve", metric, layers=("model",), logx=True, logy=True,
                 reference=tuple(reference))


def curve(title: str, metric: str, layers, *, logy: bool = True, logx: bool = True,
          aggregate: str = "mean_std") -> Panel:
    return Panel(title, "curve", metric, layers=tuple(layers), logx=logx, logy=logy,
                 aggregate=aggregate)


def spectrum(title: str, layers, metric: str = "means_sv", logy: bool = True) -> Panel:
    return Panel(title, "spectrum", metric, layers=tuple(layers), logy=logy)


def grams(title: str, layers, metric: str = "means_gram") -> Panel:
    return Panel(title, "gram", metric, layers=tuple(layers), aggregate="none")


def vs_param(title: str, metric: str, x: str, layers=("model",), *, logx: bool = False,
             logy: bool = False, aggregate: str = "mean_std") -> Panel:
    return Panel(title, "vs_param", metric, layers=tuple(layers), x=x, logx=logx, logy=logy,
                 aggregate=aggregate)


# ---- the papers' layer names ------------------------------------------------------------------
def head_structure(cfg) -> tuple[str, list[tuple[str, bool]]]:
    """``(head input feature name, [(head layer name, is_linear), ...])`` of a config's model,
    in the probe's names (see :mod:`nclab.models`): the DUFM's ``H1`` and ``layer1..L``; an
    MLP's backbone output and its head layers; the ResNet's ``pool`` and ``head.layer1..``; the
    weight-normalised net's last conv output (or ``input``) and ``fc1..``."""
    m = cfg.model
    if m.arch == "dufm":
        L = len(m.widths)
        return "H1", [(f"layer{i}", i == L) for i in range(1, L + 1)]
    if m.arch == "mlp":
        n = len(m.widths) + 1
        nb = m.n_backbone
        first_linear = n - m.n_linear + 1
        if nb == 0:
            src = "input"
        else:
            src = feature_layers(f"layer{nb}", nb >= first_linear)[-1]
        return src, [(f"layer{i}", i >= first_linear) for i in range(nb + 1, n + 1)]
    if m.arch == "resnet20":
        n = len(m.widths) + 1
        return "pool", [(f"head.layer{i}", i > n - m.n_linear) for i in range(1, n + 1)]
    n_conv, n_fc = len(m.conv_channels), len(m.widths) + 1
    src = feature_layer(f"conv{n_conv}", "post") if n_conv else "input"
    return src, [(f"fc{i}", i == n_fc) for i in range(1, n_fc + 1)]


def _features_of(name: str, linear: bool) -> tuple[str, ...]:
    return feature_layers(name, linear)


def p2_names(cfg) -> dict[str, str]:
    """Súkeník et al.'s indexing of a head (a DUFM or a network's MLP head): ``H1`` = the head's
    input, ``H~l`` / ``Hl`` the pre- / post-activation of the (l-1)-th head layer, ``out`` the
    output; weights ``W1..WL``."""
    src, head = head_structure(cfg)
    out = {src: "H1"}
    n = len(head)
    for i, (name, linear) in enumerate(head, start=1):
        out[f"w:{name}"] = f"W{i}"
        if i == n:
            out[name] = "out"
        elif linear:
            out[name] = f"H{i + 1}"
        else:
            out[feature_layer(name, "pre")], out[feature_layer(name, "post")] = \
                f"H~{i + 1}", f"H{i + 1}"
    return out


def p0_names(cfg) -> dict[str, str]:
    """Jacot et al.'s indexing from the backbone output: ``Z0`` = the head's input, ``Z~l`` /
    ``Zl`` the pre- / post-activation of head layer l (``Zl`` for a linear one, the output
    included); weights ``W1..WL`` of the head."""
    src, head = head_structure(cfg)
    out = {src: "Z0"}
    for i, (name, linear) in enumerate(head, start=1):
        out[f"w:{name}"] = f"W{i}"
        if linear:
            out[name] = f"Z{i}"
        else:
            out[feature_layer(name, "pre")], out[feature_layer(name, "post")] = f"Z~{i}", f"Z{i}"
    return out


def p3_names(cfg) -> dict[str, str]:
    """Xu et al.: ``h`` = the features entering the last layer (the classifier's input)."""
    src, head = head_structure(cfg)
    if len(head) == 1:
        return {src: "h"}
    name, linear = head[-2]
    return {feature_layers(name, linear)[-1]: "h"}


def p0_head(n_relu: int, n_linear: int) -> dict[str, tuple[str, ...]]:
    """Panel layer sets in :func:`p0_names` for a head of ``n_relu`` ReLU + ``n_linear`` linear
    layers: ``features`` (Z0..Z_{L-1}), ``nonlinear`` (pre-activations), ``linear_inputs``
    (inputs of the linear layers), ``linear_pairs`` / ``nonlinear_pairs`` (W_l holding the
    balancedness of (W_l, W_l+1), Part D #11) and ``relu_pairs`` (both layers nonlinear)."""
    L = n_relu + n_linear
    return {
        "features": tuple(f"Z{i}" for i in range(0, L)),
        "nonlinear": tuple(f"Z~{i}" for i in range(1, n_relu + 1)),
        "linear_inputs": tuple(f"Z{i}" for i in range(n_relu, L)),
        "linear_pairs": tuple(f"W{i}" for i in range(n_relu + 1, L)),
        "nonlinear_pairs": tuple(f"W{i}" for i in range(1, n_relu + 1)),
        "relu_pairs": tuple(f"W{i}" for i in range(1, n_relu)),
    }


def p2_head(L: int, pre: bool = True) -> tuple[str, ...]:
    """H1, H~2, H2, ..., H~L, HL (the feature matrices of an L-layer head / L-DUFM)."""
    out = ["H1"]
    for l in range(2, L + 1):
        if pre:
            out.append(f"H~{l}")
        out.append(f"H{l}")
    return tuple(out)


def p2_intermediate(L: int) -> tuple[str, ...]:
    """H1 .. H~L: the layers of rank r in the SRG solution (everything before the last ReLU)."""
    return p2_head(L)[:-1]
