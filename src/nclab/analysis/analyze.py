"""``analyze(model, data, layers=...)``: collapse, rank and balancedness diagnostics of any
``torch.nn.Module``, layer by layer, streamed over the data (WeightWatcher-style, for features)."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from nclab.metrics.report import LayerReport, stats_row, weight_rows
from nclab.metrics.streaming import ClassStats
from nclab.metrics.validation import check_min_count

from .batches import as_batches, as_label_tensor, call_model, split_batch, to_device
from .taps import CallOrder, Tap, as_features, check_pool, find_module, per_layer, pool_name

_WEIGHTED = (nn.Linear, nn.modules.conv._ConvNd)
NC34 = ("nc3_cos", "nc3_duality", "nc4_ncc")


def analyze(
    model: nn.Module,
    data,
    layers,
    *,
    capture="output",
    pool=None,
    classifier=None,
    num_classes: int | None = None,
    weights="layers",
    batch_fn: Callable | None = None,
    batch_size: int = 256,
    one_pass: bool = False,
    scatter: bool = False,
    ignore_index: int | None = -100,
    global_mean: str = "sample",
    rank_rtol: float = 1e-3,
    min_count: int | None = None,
) -> LayerReport:
    r"""Neural-collapse, rank and balancedness metrics of ``model``'s layers on ``data``.

    One row per layer (kind ``"features"``) with every metric of
    :func:`nclab.metrics.layer_report` (NC1 trace and pinv, CDNV, NC2 cond / ETF, class-mean rank;
    Papyan et al. 2020; Jacot et al. 2025 §3), a row ``"<classifier>:input"`` with NC3 (cosine,
    self-duality) and NC4 (NCC agreement, ``argmax W h + b``) on the classifier's own input, and a
    ``kind="weight"`` row per weight (Frobenius norm, stable / numerical rank, balancedness with the
    next weight in forward order, Jacot et al. 2025 §6). Under collapse: NC1 -> 0, NC2 cond -> 1,
    NC3 cos -> 1, duality -> 0, NC4 -> 1. Everything that cannot be computed is in
    ``report.skipped`` with the reason; how the numbers were obtained is in ``report.info``.

    Args:
        model: any ``torch.nn.Module``. It runs in eval mode under ``torch.no_grad``; every
            submodule's train/eval mode is restored afterwards.
        data: a DataLoader or any re-iterable of ``(x, y)`` batches, or ``(X, y)`` tensors (split
            into ``batch_size`` rows). It is read twice (same samples both times: no random
            augmentation); a one-shot iterator needs ``one_pass=True``.
        layers: module names of ``model.named_modules()`` (a str for one).
        capture: ``"output"`` (default) or ``"input"`` of each layer (``"output:i"`` takes element
            i of a tuple); one value or a mapping ``name -> capture``.
        pool: how feature maps of rank >= 3 become (rows, D): ``"avg"`` (mean over the dims after
            the channel dim 1), ``"flatten"``, ``"tokens"`` (every position a sample, with labels of
            the same leading shape) or a callable; one value or a mapping. None (default): such a
            layer is an error asking to choose -- never a silent reduction.
        classifier: name of the ``nn.Linear`` giving NC3/NC4 (its weight and bias, on its input
            captured by a hook); default: the last ``nn.Linear`` the forward calls (reported in
            ``report.info["classifier"]``); ``False``: none.
        num_classes: K; default the classifier's number of outputs (needed without one).
        weights: ``"layers"`` (the Linear/Conv modules among ``layers`` plus the classifier),
            ``"all"`` (every Linear/Conv the forward calls), a list of module names, or None.
        batch_fn: ``batch -> (model input, labels)`` for other batch layouts (e.g. a Hugging
            Face dict: ``lambda b: ({k: v for k, v in b.items() if k != "labels"}, b["labels"])``).
            A dict input is passed as ``model(**x)``, a tuple as ``model(*x)``. Labels may be
            per sample (B,) or per token (B, T) with ``pool="tokens"`` on (B, T, D) states;
            positions labelled ``ignore_index`` are left out (shift them yourself for a causal LM).
        one_pass: read the data once: trace-based metrics only (``nc1_pinv`` with ``scatter=True``,
            a D x D matrix per layer; NC4 needs a second pass and is listed as skipped).
        global_mean, rank_rtol: as in :class:`nclab.metrics.ClassStats` and ``layer_report``.
        min_count: compute the feature metrics on the classes with at least this many samples
            only (a language model's vocabulary: most tokens are rare); each feature row reports
            classes_kept, classes_excluded, classes_empty and excluded_share, and
            ``report.excluded_classes`` the excluded ids. None (default): strict.

    Statistics are float64 on the device where each layer's features are produced (CUDA when
    the model is there; autocast features are fine).
    """
    if not isinstance(model, nn.Module):
        raise ValueError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    names = [layers] if isinstance(layers, str) else list(layers or ())
    if not names:
        raise ValueError("layers is empty: name the modules to measure (model.named_modules())")
    if len(set(names)) != len(names):
        raise ValueError(f"layers has duplicates: {names}")
    if num_classes is not None and (isinstance(num_classes, bool) or not isinstance(num_classes, int)
                                    or num_classes < 2):
        raise ValueError(f"num_classes must be an int >= 2, got {num_classes!r}")
    if ignore_index is not None and (isinstance(ignore_index, bool) or not isinstance(ignore_index, int)):
        raise ValueError(f"ignore_index must be an int or None, got {ignore_index!r}")
    run = _Run(model, names, capture, pool, classifier, num_classes, weights, batch_fn,
               ignore_index, scatter, global_mean, check_min_count(min_count))
    batches = as_batches(data, batch_size, 1 if one_pass else 2)
    modes = {m: m.training for m in model.modules()}
    model.eval()
    try:
        run.attach()
        with torch.no_grad():
            run.first_pass(batches)
            if not one_pass:
                run.second_pass(batches)
    finally:
        run.remove_hooks()
        for m, mode in modes.items():
            m.training = mode
    return run.report(one_pass, rank_rtol)


class _Run:
    def __init__(self, model, names, capture, pool, classifier, num_classes, weights, batch_fn,
                 ignore_index, scatter, global_mean, min_count=None):
        self.model, self.batch_fn, self.ignore_index = model, batch_fn, ignore_index
        self.scatter, self.global_mean = bool(scatter), global_mean
        self.min_count = min_count
        self.K_given = num_classes
        mods = {n: find_module(model, n, "layers") for n in names}
        captures = per_layer(capture, names, "capture")
        pools = {n: check_pool(p, n) for n, p in per_layer(pool, names, "pool").items()}
        self.taps = [Tap(n, n, mods[n], captures[n] or "output", pools[n]) for n in names]
        self.device = _device_of(model)
        # classifier candidates: every nn.Linear (default) or the named one; decided on batch 1
        if classifier is None:
            cands = {n: m for n, m in model.named_modules() if isinstance(m, nn.Linear)}
        elif classifier is False:
            cands = {}
        else:
            if not isinstance(classifier, str):
                raise ValueError(f"classifier must be a module name, None or False, got {classifier!r}")
            m = find_module(model, classifier, "classifier")
            if not isinstance(m, nn.Linear):
                raise ValueError(
                    f"classifier {classifier!r} is a {type(m).__name__}, not an nn.Linear"
                )
            cands = {classifier: m}
        self.classifier_arg = classifier
        self.cand_taps = {n: Tap(f"{n}:input", n, m, "input", "tokens") for n, m in cands.items()}
        self.weight_spec = weights
        self.weight_mods = self._weight_candidates(weights, mods, cands)
        self.order = CallOrder({**self.weight_mods, **cands})
        self.clf: str | None = None
        self.clf_tap: Tap | None = None
        self.clf_row: str | None = None
        self.clf_why = "classifier=False" if classifier is False else ""
        self.K: int | None = None
        self.stats: dict[str, ClassStats] = {}
        self.second: dict = {}
        self.no_second: dict[str, str] = {}
        self.info_layers: dict[str, dict] = {}

    # ---- set-up ---------------------------------------------------------------------------
    def _weight_candidates(self, weights, mods, cands) -> dict[str, nn.Module]:
        if weights is None:
            return {}
        if weights == "layers":  # the classifier is added once known (after batch 1)
            return {n: m for n, m in mods.items() if isinstance(m, _WEIGHTED)}
        if weights == "all":
            return {n: m for n, m in self.model.named_modules() if isinstance(m, _WEIGHTED)}
        if isinstance(weights, str) or not all(isinstance(n, str) for n in weights):
            raise ValueError(
                f"weights must be 'layers', 'all', None or a list of module names, got {weights!r}"
            )
        out = {}
        for n in weights:
            m = find_module(self.model, n, "weights")
            w = getattr(m, "weight", None)
            if not isinstance(w, torch.Tensor) or w.ndim < 2:
                raise ValueError(f"weights: module {n!r} ({type(m).__name__}) has no weight matrix")
            out[n] = m
        return out

    def _active_taps(self) -> list[Tap]:
        return self.taps + ([self.clf_tap] if self.clf_tap is not None else [])

    def attach(self) -> None:
        for t in self.taps + list(self.cand_taps.values()):
            t.attach()
        self.order.attach()

    def remove_hooks(self) -> None:
        for t in self._active_taps() + list(self.cand_taps.values()):
            t.remove()
        self.order.remove()

    # ---- passes ---------------------------------------------------------------------------
    def _forward(self, batch) -> None:
        """One forward pass; the taps' sinks consume the features inside their hooks."""
        x, y = split_batch(batch, self.batch_fn)
        y = as_label_tensor(y, self.device)
        self._y_shape = tuple(y.shape)
        if self.K is not None:
            self._y, self._keep = self._labels(y)
        else:
            self._first_y = y
        for t in self._active_taps() + list(self.cand_taps.values()):
            t.reset()
        call_model(self.model, to_device(x, self.device))
        for t in self._active_taps():
            t.check_called()

    def _labels(self, y: torch.Tensor):
        """Flattened labels and the mask of kept positions (None: all kept)."""
        flat = y.reshape(-1)
        keep = None
        if self.ignore_index is not None:
            drop = flat == self.ignore_index
            if bool(drop.any()):
                keep = ~drop
                flat = flat[keep]
        if flat.numel() == 0:
            raise ValueError("a batch has no labelled sample (every label is ignore_index)")
        top, low = int(flat.max()), int(flat.min())
        if low < 0:
            raise ValueError(f"labels contain {low}; labels are 0..K-1 (or ignore_index={self.ignore_index})")
        if top >= self.K:
            src = "num_classes is" if self.K_given is not None else f"the classifier {self.clf!r} has"
            raise ValueError(f"labels contain {top}, but {src} K={self.K} (labels are 0..K-1)")
        return flat, keep

    def _features(self, tap: Tap, t: torch.Tensor) -> torch.Tensor:
        H = as_features(t, tap.pool, tap.module_name)
        n = torch.Size(self._y_shape).numel()
        if H.shape[0] != n:
            raise ValueError(
                f"layer {tap.module_name!r}: {H.shape[0]} feature rows (shape {tuple(t.shape)}, "
                f"pool={pool_name(tap.pool)!r}) but labels of shape {self._y_shape}; per-token "
                "labels (B, T) need pool='tokens' on (B, T, D) states"
            )
        return H if self._keep is None else H[self._keep]

    def _feed(self, accumulators: dict, tap: Tap, t: torch.Tensor) -> None:
        """Update ``accumulators[tap.row]`` (a pass's accumulator, if the layer has one)."""
        if tap.row in accumulators:
            try:
                accumulators[tap.row].update(self._features(tap, t), self._y)
            except ValueError as err:
                raise _named(tap, err) from None

    def _to_stats(self, tap: Tap, t: torch.Tensor) -> None:
        self._feed(self.stats, tap, t)

    def _to_second(self, tap: Tap, t: torch.Tensor) -> None:
        self._feed(self.second, tap, t)

    def first_pass(self, batches) -> None:
        first = True
        for batch in batches:
            self._forward(batch)
            if first:
                self._start(self._first_y)
                first = False
        if first:
            raise ValueError("data yielded no batch")

    def _start(self, y) -> None:
        """After the first batch: the classifier and K, then the stats fed with the kept copies;
        later batches go to the stats inside the hooks."""
        self._resolve_classifier(y)
        self._y, self._keep = self._labels(y)
        for tap in self._active_taps():
            raw = tap.value
            try:
                H = self._features(tap, raw)
                self.info_layers[tap.row] = {
                    "module": tap.module_name, "type": type(tap.module).__name__,
                    "capture": tap.capture, "shape": [None, *raw.shape[1:]],
                    "pool": pool_name(tap.pool) if raw.ndim > 2 else None, "width": H.shape[1],
                    "device": str(H.device),  # where its float64 statistics live
                }
                stats = ClassStats(self.K, scatter=self.scatter, global_mean=self.global_mean,
                                   min_count=self.min_count)
                self.stats[tap.row] = stats.update(H, self._y)
            except ValueError as err:
                raise _named(tap, err) from None
            tap.value = tap.raw = None
            tap.sink = self._to_stats

    def _resolve_classifier(self, y) -> None:
        self.order.remove()
        if self.classifier_arg is None:
            called = [n for n in self.order.order if n in self.cand_taps]
            self.clf = called[-1] if called else None
            if self.clf is None:
                self.clf_why = "the forward calls no nn.Linear (name one with classifier=...)"
        elif self.classifier_arg is not False:
            self.clf = self.classifier_arg
            self.cand_taps[self.clf].check_called()
        for n, t in list(self.cand_taps.items()):
            if n != self.clf:
                t.remove()
                del self.cand_taps[n]
        if self.clf is not None:
            K_clf = self.cand_taps[self.clf].module.out_features
            if self.K_given is not None and self.K_given != K_clf:
                how = "named" if self.classifier_arg else "the last nn.Linear called,"
                raise ValueError(
                    f"num_classes={self.K_given} but the classifier ({how} {self.clf!r}) has "
                    f"{K_clf} outputs; name the classifier (classifier='...') or pass classifier=False"
                )
            self.K = K_clf
            self._place_classifier_row(y)
        elif self.K_given is None:
            raise ValueError(f"num_classes is needed: no classifier ({self.clf_why})")
        else:
            self.K = self.K_given
        wanted = set(self.weight_mods)
        if self.weight_spec == "layers" and self.clf is not None:
            wanted.add(self.clf)
        self.weights_order = [n for n in self.order.order if n in wanted]
        self.weights_never = [n for n in self.weight_mods if n not in self.order.order]
        if self.weights_never and self.weight_spec not in ("all", "layers"):
            raise ValueError(f"weights: module(s) {self.weights_never} never called by the forward pass")

    def _place_classifier_row(self, y) -> None:
        """NC3/NC4 go on a requested layer whose captured tensor *is* the classifier's input
        (the same object, e.g. a Flatten's output), else on an extra row ``"<classifier>:input"``."""
        tap = self.cand_taps.pop(self.clf)
        x = tap.raw
        for t in self.taps:
            if t.raw is x and (x.ndim == 2 or t.pool == "tokens"):
                tap.remove()
                self.clf_row = t.row
                return
        if x.ndim > 2 and x.reshape(-1, x.shape[-1]).shape[0] != y.numel():
            tap.remove()
            self.clf_why = (
                f"the classifier {self.clf!r} is applied per position to inputs of shape "
                f"{tuple(x.shape)} but the labels have shape {tuple(y.shape)}; give per-position "
                "labels to measure it"
            )
            return
        self.clf_tap, self.clf_row = tap, tap.row

    def second_pass(self, batches) -> None:
        W, b = self._classifier_params()
        for row, stats in self.stats.items():
            try:
                use = row == self.clf_row
                self.second[row] = stats.second_pass(W if use else None, b if use else None)
            except ValueError as err:
                self.no_second[row] = str(err)
        for tap in self._active_taps():
            tap.sink = self._to_second
        for batch in batches:
            self._forward(batch)
        for row, sec in self.second.items():
            if sec.N + sec.skipped != self.stats[row].N:
                raise ValueError(
                    f"data gave {self.stats[row].N} samples in the first pass and "
                    f"{sec.N + sec.skipped} in the "
                    "second: analyze needs the same data twice (a re-iterable, no random "
                    "augmentation or dropped batches); or pass one_pass=True"
                )

    def _classifier_params(self):
        if self.clf is None or self.clf_row is None:
            return None, None
        m = dict(self.model.named_modules())[self.clf]
        b = m.bias.detach() if m.bias is not None else None
        return m.weight.detach(), b

    # ---- report ---------------------------------------------------------------------------
    def report(self, one_pass: bool, rank_rtol: float) -> LayerReport:
        rep = LayerReport()
        W, _ = self._classifier_params()
        why = ("one_pass=True: NC1 pinv needs scatter=True, NC4 the final class means (a "
               "second pass)") if one_pass else ""
        for row, stats in self.stats.items():
            no_second = self.no_second.get(row, why)
            rep.rows.append(stats_row(rep, row, "features", stats, self.second.get(row),
                                      W if row == self.clf_row else None, rank_rtol=rank_rtol,
                                      no_second=no_second))
        if self.clf_row is None:
            where = self.clf or "classifier"
            for metric in NC34:
                rep.skipped[(where, "features", metric)] = self.clf_why
        mods = dict(self.model.named_modules())
        weight_rows(rep, [(n, mods[n].weight.detach().double()) for n in self.weights_order],
                    self.K, rank_rtol)
        for n in self.weights_never:
            rep.skipped[(n, "weight", "w_fro")] = "never called by the forward pass"
        rep.info = {
            "classifier": self.clf, "classifier_row": self.clf_row, "K": self.K,
            "N": {row: s.N for row, s in self.stats.items()}, "passes": 1 if one_pass else 2,
            "layers": self.info_layers, "weights": list(self.weights_order), "min_count": self.min_count,
        }
        return rep


def _named(tap: Tap, err: ValueError) -> ValueError:
    msg = str(err)
    return ValueError(msg if repr(tap.module_name) in msg else f"layer {tap.module_name!r}: {msg}")


def _device_of(model: nn.Module) -> torch.device:
    for t in model.parameters():
        return t.device
    for t in model.buffers():
        return t.device
    return torch.device("cpu")
