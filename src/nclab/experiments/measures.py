"""Measures: quantities the runner computes from the model beyond the probe's per-layer metrics.

Each factory returns a :class:`~nclab.experiments.spec.Measure` whose function maps a
:class:`Context` (the model at one step of one run) to long rows ``{"layer", "metric",
"value"}``. Indexed quantities follow the report's conventions: vectors ``name[i]``, matrices
``name[i,j]``, 2-D points ``name[i,0|1]`` with classes ``name_class[i]``.

Layer names are the probe's: a linear layer (and the DUFM's ``H1``) is ``"layer3"``, a nonlinear
one ``"layer3/pre"`` and ``"layer3/post"``; ``"model"`` holds whole-network quantities.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from nclab.data import class_sorted_order
from nclab.metrics import (
    class_means,
    energy_rank,
    gram,
    margin_values,
    numerical_rank,
    singular_values,
    tcv,
)
from nclab.models import DUFM, WeightNormNet
from nclab.theory import (
    dnc_loss,
    norm_generalization_bound,
    predicted_spectra_from_features,
    rho_equilibrium,
    srg_loss,
    srg_loss_general,
)
from nclab.train import make_targets, zero_solution_loss
from nclab.train.losses import layer_outputs, predictions

from .spec import Measure

__all__ = [
    "Context",
    "average_rank",
    "class_fit",
    "dnc_found",
    "dufm_references",
    "feature_spectra",
    "margin_samples",
    "means_gram",
    "means_matrix",
    "means_spectrum",
    "projection_2d",
    "rho_bound",
    "sample_gram",
    "tcv_layers",
    "weight_norms",
]


@dataclass
class Context:
    """One run at one step: what a measure may read.

    ``model`` (trained up to ``step`` of ``total``), ``config`` (the run's ``TrainConfig``),
    ``train`` (the training :class:`nclab.data.Dataset`), ``test`` (held-out or None),
    ``params`` (the grid point), ``seed``, ``final_metrics`` (the probe's last values,
    ``{(split, layer, metric): value}``) and ``loss_parts`` (the objective's decomposition).
    """

    model: Any
    config: Any
    train: Any
    test: Any
    step: int
    total: int
    params: dict
    seed: int
    final_metrics: dict = field(default_factory=dict)
    loss_parts: dict = field(default_factory=dict)
    names: dict = field(default_factory=dict)  # Experiment.layer_names of the config
    _outputs: list | None = field(default=None, repr=False)

    def feature_name(self, raw: str) -> str:
        """The experiment's name of a probe feature layer (``"layer3/pre"`` -> ``"H~4"``)."""
        return self.names.get(raw, raw)

    def weight_name(self, raw: str) -> str:
        """The experiment's name of a weight matrix (``"layer3"`` -> ``"W3"``)."""
        return self.names.get(f"w:{raw}", raw)

    @property
    def K(self) -> int:
        return int(self.train.K)

    def inputs(self):
        """What ``layer_outputs`` takes for the whole training set (None for the DUFM)."""
        return None if isinstance(self.model, DUFM) else self.train.X

    def outputs(self) -> list:
        """``layer_outputs`` of the model on the training set (computed once, no grad)."""
        if self._outputs is None:
            was = self.model.training
            self.model.eval()
            try:
                with torch.no_grad():
                    self._outputs = layer_outputs(self.model, self.inputs(),
                                                  self.config.probe.conv_features)
            finally:
                self.model.train(was)
        return self._outputs

    def features(self, kinds=("pre", "post"), parts=("features", "head", "backbone")) -> dict:
        """``{layer name: (N, n) float64 tensor}`` in depth order (the experiment's names,
        else the probe's)."""
        out = {}
        for o in self.outputs():
            if o.part not in parts:
                continue
            if o.is_linear:
                out[self.feature_name(o.name)] = o.post.detach().double()
            else:
                if "pre" in kinds:
                    out[self.feature_name(f"{o.name}/pre")] = o.pre.detach().double()
                if "post" in kinds:
                    out[self.feature_name(f"{o.name}/post")] = o.post.detach().double()
        return out


def _row(layer: str, metric: str, value) -> dict:
    return {"layer": layer, "metric": metric, "value": float(value)}


def head_layers(ctx: Context, intermediate: bool = False) -> list[str]:
    """The head's feature matrices in the papers' DUFM indexing: ``H_1`` (the head's input:
    the DUFM's ``H1``, the pooled ResNet features or the backbone's last output), then
    ``H̃_l`` / ``H_l`` of every hidden head layer (the output layer excluded). ``intermediate``:
    without the last ``H_L`` (the layers of rank r in the SRG solution)."""
    outs = ctx.outputs()
    head = [o for o in outs if o.part == "head" and o.has_weight]
    if not head:
        raise ValueError("the model has no head layers")
    by_name = {o.name: o for o in outs}
    src = by_name[head[0].input]
    names = [src.name if src.is_linear else f"{src.name}/post"]
    for o in head[:-1]:
        names += [o.name] if o.is_linear else [f"{o.name}/pre", f"{o.name}/post"]
    names = [ctx.feature_name(n) for n in names]
    return names[:-1] if intermediate else names


def hidden_layers(ctx: Context) -> list[str]:
    """The post-activation features of every weighted layer but the last (Z^1 .. Z^{L-1})."""
    outs = [o for o in ctx.outputs() if o.has_weight][:-1]
    return [ctx.feature_name(o.name if o.is_linear else f"{o.name}/post") for o in outs]


def _select(feats: dict, layers, ctx: Context | None = None) -> dict:
    """``layers``: None (all), ``"head"`` / ``"head-intermediate"`` (see :func:`head_layers`),
    ``"hidden"`` (:func:`hidden_layers`) or explicit names."""
    if layers is None:
        return feats
    if isinstance(layers, str):
        if layers == "hidden":
            return {k: v for k, v in feats.items() if k in hidden_layers(ctx)}
        if layers not in ("head", "head-intermediate"):
            raise ValueError(f"layers must be None, 'head', 'head-intermediate', 'hidden' or "
                             f"names, got {layers!r}")
        layers = head_layers(ctx, intermediate=layers == "head-intermediate")
    missing = [name for name in layers if name not in feats]
    if missing:
        raise ValueError(f"no layers {missing}; the model has {list(feats)}")
    return {name: feats[name] for name in layers}


def _vector(layer: str, metric: str, values) -> list[dict]:
    return [_row(layer, f"{metric}[{i}]", v) for i, v in enumerate(values)]


def _matrix(layer: str, metric: str, mat) -> list[dict]:
    mat = np.asarray(mat, dtype=float)
    return [_row(layer, f"{metric}[{i},{j}]", mat[i, j])
            for i in range(mat.shape[0]) for j in range(mat.shape[1])]


# ---- class means ---------------------------------------------------------------------------
def means_spectrum(layers=None, *, kinds=("pre", "post"), metric: str = "means_sv",
                   at=(1.0,)) -> Measure:
    """Singular values of the (uncentred) class-mean matrix of each layer (Súkeník et al.
    Figs 2, 4, 6, 7: "singular value distribution at convergence"), descending."""

    def fn(ctx: Context):
        rows = []
        for name, H in _select(ctx.features(kinds), layers, ctx).items():
            M = class_means(H, ctx.train.y, ctx.K)
            rows += _vector(name, metric, singular_values(M))
        return rows

    return Measure(f"{metric}", fn, tuple(at))


def means_gram(layers=None, *, normalize: bool = False, kinds=("pre", "post"),
               metric: str = "means_gram", at=(1.0,), tag_step: bool = False) -> Measure:
    """The K x K Gram matrix ``MᵀM`` of the class means of each layer (cosines when
    ``normalize``); Jacot et al. Figs 1/4 bottom, Súkeník et al. Figs 1, 4, 5, 7, 8."""

    def fn(ctx: Context):
        rows = []
        for name, H in _select(ctx.features(kinds), layers, ctx).items():
            rows += _matrix(name, metric, gram(class_means(H, ctx.train.y, ctx.K), normalize))
        return rows

    return Measure(metric, fn, tuple(at), tag_step)


def means_matrix(layers=None, *, kinds=("pre", "post"), metric: str = "means",
                 at=(1.0,)) -> Measure:
    """The class-mean matrix ``M`` itself, features x classes (``metric[i,c]``), as the
    papers' heat maps (Súkeník et al. Figs 1, 5-8)."""

    def fn(ctx: Context):
        rows = []
        for name, H in _select(ctx.features(kinds), layers, ctx).items():
            rows += _matrix(name, metric, class_means(H, ctx.train.y, ctx.K).T)
        return rows

    return Measure(metric, fn, tuple(at))


def average_rank(layers, *, rtol: float = 1e-3, metric: str = "avg_rank") -> Measure:
    """Mean numerical rank (``s_i > rtol s_1``) of the class means of ``layers`` (Súkeník et
    al. Figs 3 middle, 9, 10: "average rank"; experiments.md A.7 #26), on layer ``model``, with
    the tolerance sweep 1e-2, 1e-4, 1e-6 as ``avg_rank@<tol>``."""

    def fn(ctx: Context):
        feats = _select(ctx.features(), layers, ctx)
        rows = []
        for tol, name in ((rtol, metric), (1e-2, f"{metric}@1e-2"), (1e-4, f"{metric}@1e-4"),
                          (1e-6, f"{metric}@1e-6")):
            ranks = [numerical_rank(class_means(H, ctx.train.y, ctx.K), tol)
                     for H in feats.values()]
            rows.append(_row("model", name, float(np.mean(ranks))))
        return rows

    return Measure(metric, fn)


# ---- DUFM theory ---------------------------------------------------------------------------
def _dufm_setting(ctx: Context):
    """(K, L, λ_H1, λ_W, n) of a DUFM or of a network's head under DUFM-like regularisation
    (L = number of head weight matrices, n = samples per class)."""
    cfg = ctx.config
    m = cfg.model
    if m.arch == "dufm":
        L = len(m.widths)
    elif m.arch == "mlp":
        L = len(m.widths) + 1 - m.n_backbone
    else:
        L = len(m.widths) + 1
    n = cfg.data.n_per_class
    if n is None:
        counts = torch.bincount(ctx.train.y, minlength=ctx.K)
        if int(counts.min()) != int(counts.max()):
            raise ValueError("the DUFM references need balanced classes")
        n = int(counts[0])
    lam = cfg.reg.weight_decay
    lam_W = list(cfg.reg.layer_decays) if cfg.reg.layer_decays else lam
    lam_H = cfg.reg.feature_decay
    return ctx.K, L, lam_H, lam_W, int(n)


def _srg_r(K: int) -> int | None:
    r = int(round((1 + math.sqrt(1 + 8 * K)) / 2))
    return r if r * (r - 1) // 2 == K and r >= 4 else None


def dufm_references() -> Measure:
    """Theory losses for the run's own K, L, n and λ's (Súkeník et al. Defs 9-11, experiments.md
    B.3.3-B.3.5): ``ref/dnc_loss``; ``ref/srg_loss`` (K = C(r, 2), r >= 4) or the general-K
    block construction (K >= 6). The zero solution's loss comes from :func:`class_fit`."""

    def fn(ctx: Context):
        K, L, lam_H, lam_W, n = _dufm_setting(ctx)
        if lam_H <= 0:
            return []  # no feature penalty: the DUFM closed forms do not apply
        rows = [_row("model", "ref/dnc_loss", dnc_loss(K, L, lam_H, lam_W, n=n))]
        r = _srg_r(K)
        if r is not None:
            rows.append(_row("model", "ref/srg_loss", srg_loss(r, L, lam_H, lam_W, n=n)))
        elif K >= 6:
            rows.append(_row("model", "ref/srg_loss", srg_loss_general(K, L, lam_H, lam_W, n=n)))
        return rows

    return Measure("dufm_references", fn)


def class_fit() -> Measure:
    """What the claims' preconditions (:mod:`nclab.experiments.preconditions`) read, on layer
    ``model`` at the end of a run: ``ref/zero_loss`` (the objective at all-zero parameters, from
    the run's loss preset and targets: 1/2 for ``p2_dufm``), ``class_recall_min`` (the smallest
    per-class training recall: 0 when a class is dropped) and ``classes_predicted`` (how many
    classes are the prediction of some training sample)."""

    def fn(ctx: Context):
        y = ctx.train.y
        pred = predictions(ctx.outputs()[-1].post.detach())
        recall = [float((pred[y == c] == c).double().mean()) for c in range(ctx.K)
                  if bool((y == c).any())]
        return [_row("model", "ref/zero_loss", zero_solution_loss(y, ctx.K, ctx.config.loss)),
                _row("model", "class_recall_min", min(recall)),
                _row("model", "classes_predicted", len(torch.unique(pred)))]

    return Measure("class_fit", fn)


def dnc_found(layers, *, rtol: float = 1e-3) -> Measure:
    """1 when the run found a DNC solution, else 0 (Súkeník et al. Fig 3 right: "a strong
    implicit bias towards DNC and, thus, rank K solutions"): every class-mean rank of ``layers``
    equals K (``rtol``). Also ``dnc_rel_gap`` = (loss - L_DNC) / L_DNC, on layer ``model``
    (experiments.md C.3 suggests adding |gap| < 1e-3, which needs ~100k steps to settle)."""

    def fn(ctx: Context):
        K, L, lam_H, lam_W, n = _dufm_setting(ctx)
        ref = dnc_loss(K, L, lam_H, lam_W, n=n)
        feats = _select(ctx.features(), layers, ctx)
        full = all(numerical_rank(class_means(H, ctx.train.y, K), rtol) == K
                   for H in feats.values())
        return [_row("model", "dnc_found", float(full)),
                _row("model", "dnc_rel_gap", (ctx.loss_parts["loss"] - ref) / ref)]

    return Measure("dnc_found", fn)


# ---- samples -------------------------------------------------------------------------------
def _subset(y: torch.Tensor, K: int, per_class: int | None) -> torch.Tensor:
    """Indices sorted by class, the first ``per_class`` of each class (all when None)."""
    order = torch.as_tensor(class_sorted_order(y.cpu().numpy()), device=y.device)
    if per_class is None:
        return order
    ys = y[order]
    keep = [order[ys == c][:per_class] for c in range(K)]
    return torch.cat(keep)


def sample_gram(layers=None, *, per_class: int = 5, at=(0.0, 0.1, 1.0),
                metric: str = "gram") -> Measure:
    """Uncentred sample Gram matrices ``G = Zᵀ Z`` (columns sorted by class, ``per_class``
    samples of each class) normalised by their largest entry (Zangrando et al. Fig 6, A.11
    #45), at fractions ``at`` of training; layer names tagged ``@<step>``."""

    def fn(ctx: Context):
        idx = _subset(ctx.train.y, ctx.K, per_class)
        rows = []
        for name, H in _select(ctx.features(("post",)), layers, ctx).items():
            Z = H[idx]
            G = (Z @ Z.T).cpu().numpy()
            scale = np.abs(G).max()
            rows += _matrix(name, metric, G / scale if scale > 0 else G)
        return rows

    return Measure(metric, fn, tuple(at), tag_step=True)


def projection_2d(layers=None, *, per_class: int | None = 20, at=(0.0, 0.1, 1.0),
                  metric: str = "proj") -> Measure:
    """Each layer's features projected on a fixed random 2-D subspace (Zangrando et al. Fig 7,
    A.11 #47): ``B = Qᵀ`` from ``qr(randn(n, 2))`` drawn once per layer from the run seed, so the
    projection is the same at every step; layer names tagged ``@<step>``."""

    def fn(ctx: Context):
        idx = _subset(ctx.train.y, ctx.K, per_class)
        y = ctx.train.y[idx].cpu().numpy()
        rows = []
        for li, (name, H) in enumerate(_select(ctx.features(("post",)), layers, ctx).items()):
            g = torch.Generator().manual_seed(10_000 * ctx.seed + li)
            Q, _ = torch.linalg.qr(torch.randn(H.shape[1], 2, generator=g, dtype=torch.float64))
            P = (H[idx].cpu() @ Q).numpy()
            for i in range(P.shape[0]):
                rows += [_row(name, f"{metric}[{i},0]", P[i, 0]),
                         _row(name, f"{metric}[{i},1]", P[i, 1]),
                         _row(name, f"{metric}_class[{i}]", y[i])]
        return rows

    return Measure(metric, fn, tuple(at), tag_step=True)


def tcv_layers(layers=None, *, at=(0.0, 0.01, 0.03, 0.1, 0.3, 1.0), restarts: int = 5) -> Measure:
    """Total cluster variation ``TCV_K`` of every layer's post-activation features with the
    one-hot labels appended (Zangrando et al. Def 3.2, Fig 3; k-means upper bound), their
    layer average and the numerical ranks (``rank_energy`` at 1e-5, P1 §5.3) of the features,
    at fractions ``at`` of training (a curve over steps)."""

    def fn(ctx: Context):
        Y = torch.nn.functional.one_hot(ctx.train.y, ctx.K).double()
        rows, values, ranks = [], [], []
        for name, H in _select(ctx.features(("post",)), layers, ctx).items():
            v = tcv(H, ctx.K, Y, restarts=restarts, seed=ctx.seed)
            r = energy_rank(H, 1e-5)
            rows += [_row(name, "tcv", v), _row(name, "feat_rank", r)]
            values.append(v)
            ranks.append(r)
        rows += [_row("model", "tcv_mean", float(np.mean(values))),
                 _row("model", "tcv_min", float(np.min(values))),
                 _row("model", "tcv_max", float(np.max(values))),
                 _row("model", "feat_rank_mean", float(np.mean(ranks))),
                 _row("model", "feat_rank_min", float(np.min(ranks))),
                 _row("model", "feat_rank_max", float(np.max(ranks)))]
        return rows

    return Measure("tcv", fn, tuple(at))


# ---- Zangrando et al. Theorem 4.2 -------------------------------------------------------------
def feature_spectra(activation: str = "tanh", C: float = 1.0) -> Measure:
    """Singular values of every intermediate post-activation feature matrix ``Z^l`` (measured,
    ``feat_sv[i]`` on layer ``layerl``) and their Theorem 4.2 prediction
    ``ŝ(Z^l) = C s(σ^{-1}(Z^{l+1}))`` (``feat_sv[i]`` on ``layerl (predicted)``), with the
    relative error per layer (``sv_rel_error``) and its mean over layers on ``model``
    (Zangrando et al. Figs 2, 4; experiments.md B.2.6)."""

    def fn(ctx: Context):
        outs = [o for o in ctx.outputs() if o.has_weight]
        feats = [o.post.double() for o in outs]
        res = predicted_spectra_from_features(feats, activation, C)
        rows = []
        for i, o in enumerate(outs[:-1]):
            name = ctx.feature_name(o.name if o.is_linear else f"{o.name}/post")
            rows += _vector(name, "feat_sv", res["measured"][i])
            rows += _vector(f"{name} (predicted)", "feat_sv", res["predicted"][i])
            rows.append(_row(name, "sv_rel_error", res["rel_error"][i]))
        rows.append(_row("model", "sv_rel_error", res["mean_rel_error"]))
        return rows

    return Measure("feature_spectra", fn)


_TENTHS = tuple(float(a) for a in np.round(np.linspace(0.0, 1.0, 11), 2))
_LOG25 = tuple(float(a) for a in np.round(np.geomspace(1e-4, 1.0, 25), 6))


def weight_norms(at=_TENTHS) -> Measure:
    """Frobenius norm of every weight matrix (``w_norm``) at fractions ``at`` of training
    (Zangrando et al. Fig 5: residual weights -> 0)."""

    def fn(ctx: Context):
        with torch.no_grad():
            return [_row(ctx.weight_name(name), "w_norm", float(W.double().norm()))
                    for name, W in ctx.model.weight_matrices()]

    return Measure("weight_norms", fn, tuple(float(a) for a in at))


# ---- Xu et al. -------------------------------------------------------------------------------
def _normalised_outputs(ctx: Context, data) -> torch.Tensor:
    model = ctx.model
    was = model.training
    model.eval()
    try:
        with torch.no_grad():
            out = model(data.X)
    finally:
        model.train(was)
    rho = float(model.rho.detach()) if isinstance(model, WeightNormNet) else 1.0
    return out.double() / rho


def margin_samples(at=(1.0,), *, tag_step: bool = False, metric: str = "margin") -> Measure:
    """Per-sample margins of the normalised network ``y_n f_V(x_n)`` (Xu et al. §3.2, Figs 8,
    10) as ``margin[i]`` on layer ``output``."""

    def fn(ctx: Context):
        out = _normalised_outputs(ctx, ctx.train)
        labels = ctx.train.y if out.shape[1] > 1 else 2 * ctx.train.y - 1
        return _vector("output", metric, margin_values(out, labels))

    return Measure(metric, fn, tuple(at), tag_step)


def rho_bound(delta: float = 0.05) -> Measure:
    """Xu et al. eq (16) generalisation bound from the run's ρ, depth and N (``bound``), the
    equilibrium ``ρ_eq = μ/(M + λ)`` of eq (7) from the final margins (``rho_eq``), test and
    train error and their gap (``gen_gap``), all on layer ``model``."""

    def fn(ctx: Context):
        cfg, model = ctx.config, ctx.model
        rho = float(model.rho.detach())
        L = len(model.weight_matrices())
        N = ctx.train.N
        out = _normalised_outputs(ctx, ctx.train)
        labels = ctx.train.y if out.shape[1] > 1 else 2 * ctx.train.y - 1
        m = margin_values(out, labels)
        lam = cfg.reg.weight_decay
        rows = [_row("model", "bound", norm_generalization_bound(rho, L, N, delta)),
                _row("model", "rho_over_sqrtN", rho / math.sqrt(N)),
                _row("model", "rho_inv", 1.0 / rho)]
        if lam > 0:
            rows.append(_row("model", "rho_eq", rho_equilibrium(float(m.mean()),
                                                                float((m**2).mean()), lam)))
        train_err = 1.0 - ctx.final_metrics.get(("train", "model", "accuracy"), math.nan)
        rows.append(_row("model", "train_error", train_err))
        test_acc = ctx.final_metrics.get(("test", "model", "accuracy"))
        if test_acc is not None:
            rows += [_row("model", "test_error", 1.0 - test_acc),
                     _row("model", "gen_gap", (1.0 - test_acc) - train_err)]
        return rows

    return Measure("rho_bound", fn)


def targets_of(ctx: Context) -> torch.Tensor:
    """The run's regression targets (helper for custom measures)."""
    return make_targets(ctx.train.y, ctx.K, ctx.config.loss, torch.float64)


def srg_gram_deviation(G: np.ndarray, r: int) -> float:
    """How far a cosine Gram matrix of K = C(r, 2) class means is from the SRG one up to a
    relabelling of the classes: the SRG intermediate Gram ``(2α/(r-1)) I + (α/(r-1)) G_r``
    (Súkeník et al. Lemma 15) has cosine 1/2 between classes whose edges share a vertex of
    K_r and 0 otherwise. The adjacency is read off by thresholding at 1/4 and must be strongly
    regular with the parameters of the triangular graph T_r, (C(r,2), 2(r-2), r-2, 4);
    returns the largest |cos - target| (inf when the pattern is not T_r's)."""
    K = G.shape[0]
    if K != r * (r - 1) // 2:
        return math.inf
    off = ~np.eye(K, dtype=bool)
    A = (G > 0.25) & off
    deg = A.sum(1)
    if not np.all(deg == 2 * (r - 2)):
        return math.inf
    common = A.astype(int) @ A.astype(int)
    if not (np.all(common[A] == r - 2) and np.all(common[~A & off] == 4)):
        return math.inf
    target = np.where(A, 0.5, 0.0)
    return float(np.abs(G - target)[off].max())


def srg_match(layers, r: int, *, tol: float = 0.05) -> Measure:
    """Whether the class-mean Gram matrices of ``layers`` reproduce the SRG solution's
    (Súkeník et al. §6.1: "for a few runs, the Gram matrices of the intermediate class means
    coincide with those of an SRG solution"): ``srg_gram_dev`` per layer (see
    :func:`srg_gram_deviation`) and ``srg_match`` = 1 on ``model`` when every layer is within
    ``tol`` of the pattern."""

    def fn(ctx: Context):
        feats = _select(ctx.features(), layers, ctx)
        rows, devs = [], []
        for name, H in feats.items():
            dev = srg_gram_deviation(gram(class_means(H, ctx.train.y, ctx.K), True), r)
            rows.append(_row(name, "srg_gram_dev", dev))
            devs.append(dev)
        rows.append(_row("model", "srg_match", float(max(devs) < tol)))
        return rows

    return Measure("srg_match", fn)


def theorem31() -> Measure:
    """Jacot et al. Theorem 3.1 / B.1 on the trained linear head
    (:func:`nclab.theory.check_theorem31`): the features entering the linear head (output of
    the last ReLU layer) play the role of the input, the linear layers are the network
    (``num_nonlinear = 0``; the theorem's NC1 bound (18) involves only the head). Rows on
    layer ``model``: ``thm31/eps1`` (||Z_L - Y||_F), ``thm31/eps2`` (balancedness),
    ``thm31/nc1`` and its bound ``thm31/nc1_bound``, and ``thm31/preconditions`` (1 when the
    conditions of (18) hold: balanced classes, eps1 <= min(s_K(Y), sqrt((K-1)N/(4K))))."""
    from nclab.theory import HeadSnapshot, check_theorem31

    def fn(ctx: Context):
        outs = [o for o in ctx.outputs() if o.has_weight]
        last_nl = max(i for i, o in enumerate(outs) if not o.is_linear)
        Ws = [W.detach().double() for _, W in ctx.model.weight_matrices()][last_nl + 1:]
        if len(Ws) < 2:
            return []
        got = check_theorem31(HeadSnapshot(Ws, 0), outs[last_nl].post.double(), ctx.train.y)
        m, b = got["measured"], got["bounds"]
        return [_row("model", "thm31/eps1", m["eps1"]), _row("model", "thm31/eps2", m["eps2"]),
                _row("model", "thm31/nc1", m["nc1"]), _row("model", "thm31/nc1_bound", b["nc1"]),
                _row("model", "thm31/preconditions", float(got["preconditions"]["eps1_small"]
                                                           and got["preconditions"][
                                                               "balanced_classes"]))]

    return Measure("theorem31", fn)


def head_io(n_linear_of=None) -> Measure:
    """NC1 (trace ratio) and NC2 (κ of the class means) of the two feature matrices of Jacot et
    al. Fig 2, under names that do not depend on the depth of the linear head: ``Z_L1`` = the
    input of the linear head (output of the last ReLU) and ``Z_L-1`` = the input of the last
    layer; also ``kappa_WL`` = κ(W_L) and ``kappa_head`` = κ(W_L ⋯ W_{L1+1})^{1/L2}, equal at
    exact balancedness (Jacot et al. Thm 5.2 sketch, experiments.md A.9 #38)."""
    from nclab.metrics import nc1_trace, nc2_cond

    def fn(ctx: Context):
        outs = [o for o in ctx.outputs() if o.has_weight]
        last_nl = max(i for i, o in enumerate(outs) if not o.is_linear)
        z_l1 = outs[last_nl].post.double()
        z_lm1 = outs[-2].post.double() if len(outs) > 1 else z_l1
        y = ctx.train.y
        rows = []
        for name, Z in (("Z_L1", z_l1), ("Z_L-1", z_lm1)):
            rows += [_row(name, "nc1_trace", nc1_trace(Z, y)), _row(name, "nc2_cond",
                                                                      nc2_cond(Z, y))]
        Ws = [W.detach().double() for _, W in ctx.model.weight_matrices()]
        lin = Ws[last_nl + 1:]
        if lin:
            P = lin[0]
            for W in lin[1:]:
                P = W @ P
            K = ctx.K
            s_p = torch.linalg.svdvals(P)
            s_l = torch.linalg.svdvals(lin[-1])
            rows += [_row("model", "kappa_WL", float(s_l[0] / s_l[K - 1])),
                     _row("model", "kappa_head",
                          float((s_p[0] / s_p[K - 1]) ** (1.0 / len(lin))))]
        return rows

    return Measure("head_io", fn)


def nonlinear_head_stats() -> Measure:
    """Min and mean over the nonlinear head layers of the balancedness of (W_ℓ, W_{ℓ+1}) and
    of the negativity of the pre-activation (Jacot et al. Fig 3; pairs assigned to layer ℓ,
    Part D #11), and the negativity of the last nonlinear layer, on layer ``model``."""
    from nclab.metrics import balancedness, negativity

    def fn(ctx: Context):
        outs = [o for o in ctx.outputs() if o.has_weight]
        Ws = dict(ctx.model.weight_matrices())
        names = [o.name for o in outs]
        nl = [o for o in outs if o.part == "head" and not o.is_linear]
        if not nl:
            return []
        bal = []
        for o in nl:
            nxt = names[names.index(o.name) + 1]
            bal.append(balancedness(Ws[o.name].detach(), Ws[nxt].detach()))
        neg = [negativity(o.pre) for o in nl]
        return [_row("model", "bal_min", min(bal)), _row("model", "bal_mean", float(np.mean(bal))),
                _row("model", "neg_min", min(neg)), _row("model", "neg_mean", float(np.mean(neg))),
                _row("model", "neg_last", neg[-1])]

    return Measure("nonlinear_head_stats", fn)


def objective_parts(at=_LOG25) -> Measure:
    """The objective and its parts as one metric ``objective`` on layers ``loss``, ``fit``,
    ``reg`` (Súkeník et al. Figs 5, 7, 8: "loss progression decomposed into the fit and
    regularisation terms"), at fractions ``at`` of training (a curve over steps)."""

    def fn(ctx: Context):
        return [_row(k, "objective", ctx.loss_parts[k]) for k in ("loss", "fit", "reg")
                if k in ctx.loss_parts]

    return Measure("objective_parts", fn, (0.0, *at))


def gram_block_residual(layers=None, *, at=(1.0,)) -> Measure:
    """``||G - B|| / ||G||`` with ``G = Z Zᵀ`` over all samples (uncentred) and ``B`` its
    class-block means (experiments.md A.1 #8; zero iff NC1, Zangrando et al. Prop D.1), as
    ``gram_block_res`` per layer at fractions ``at`` of training."""

    def fn(ctx: Context):
        y = ctx.train.y
        onehot = torch.nn.functional.one_hot(y, ctx.K).double()
        counts = onehot.sum(0)
        rows = []
        for name, H in _select(ctx.features(("post",)), layers, ctx).items():
            G = H @ H.T
            block = (onehot.T @ G @ onehot) / torch.outer(counts, counts)
            B = onehot @ block @ onehot.T
            denom = float(G.norm())
            rows.append(_row(name, "gram_block_res",
                             float((G - B).norm()) / denom if denom > 0 else 0.0))
        return rows

    return Measure("gram_block_residual", fn, tuple(at))


def classifier_etf(at=(1.0,)) -> Measure:
    """Equinorm ``std_c ||w_c|| / mean_c ||w_c||`` and the mean pairwise cosine of the rows of
    the last weight matrix (the classifier; Xu et al. Fig 9, experiments.md A.2 #11), on layer
    ``model`` as ``classifier_equinorm`` / ``classifier_cos_mean``, at fractions ``at``."""

    def fn(ctx: Context):
        with torch.no_grad():
            W = ctx.model.weight_matrices()[-1][1].double()
        if W.shape[0] < 2:
            return []
        norms = W.norm(dim=1)
        Wn = W / norms[:, None]
        cos = Wn @ Wn.T
        off = cos[~torch.eye(W.shape[0], dtype=torch.bool)]
        return [_row("model", "classifier_equinorm", float(norms.std(unbiased=False) /
                                                           norms.mean())),
                _row("model", "classifier_cos_mean", float(off.mean()))]

    return Measure("classifier_etf", fn, tuple(at))
