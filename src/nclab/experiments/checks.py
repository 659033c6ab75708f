"""Building blocks for claims: predicates over :class:`~nclab.store.Results`.

Every factory returns a function ``Results -> ClaimOutcome`` for :class:`Claim.check`. Values
are each run's final value (its last recorded step) unless said otherwise; "mean" is over the
runs of a grid point. A check with no rows to look at is NOT-RUN with the reason (it never
passes vacuously).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from nclab.store import Results

from .spec import ClaimOutcome, Missing

Check = Callable[[Results], ClaimOutcome]


def fmt(x) -> str:
    if isinstance(x, (list, tuple, np.ndarray)):
        return "[" + ", ".join(fmt(v) for v in x) + "]"
    if isinstance(x, (float, np.floating)):
        return f"{x:.4g}"
    return str(x)


def final(results: Results, metric: str, layer: str | None = None, **params) -> np.ndarray:
    """Final values (one per run) or :class:`Missing`."""
    vals = results.final(metric, layer, **params)
    if vals.size == 0:
        where = f" of layer {layer!r}" if layer else ""
        where += f" at {params}" if params else ""
        raise Missing(f"no {metric!r}{where} in the results")
    return vals


def first(results: Results, metric: str, layer: str | None = None, **params) -> np.ndarray:
    """Values at each run's first recorded step."""
    curves = results.curve(metric, layer, **params)
    if not curves:
        raise Missing(f"no {metric!r} of layer {layer!r} in the results")
    return np.array([v[0] for _, v in curves.values()], dtype=float)


def matrices(results: Results, metric: str, layer: str, **params) -> dict[str, np.ndarray]:
    """``run_id -> matrix`` of the indexed metric ``metric[i,j]`` of ``layer`` at each run's
    last recorded step."""
    prefix = metric + "["
    cells: dict[str, dict[int, dict]] = {}
    for r in results.rows:
        if r["layer"] != layer or not r["metric"].startswith(prefix):
            continue
        if any(r["params"].get(k) != v for k, v in params.items()):
            continue
        i, j = (int(t) for t in r["metric"][len(prefix):-1].split(","))
        cells.setdefault(r["run_id"], {}).setdefault(r["step"], {})[(i, j)] = r["value"]
    if not cells:
        raise Missing(f"no {metric}[i,j] of layer {layer!r} in the results")
    out = {}
    for run, by_step in cells.items():
        last = by_step[max(by_step)]
        n = 1 + max(i for i, _ in last)
        m = 1 + max(j for _, j in last)
        mat = np.full((n, m), np.nan)
        for (i, j), v in last.items():
            mat[i, j] = v
        out[run] = mat
    return out


def guarded(fn: Callable[[Results], ClaimOutcome]) -> Check:
    """``fn`` with :class:`Missing` turned into NOT-RUN."""

    def check(results: Results) -> ClaimOutcome:
        try:
            return fn(results)
        except Missing as err:
            return ClaimOutcome("NOT-RUN", reason=str(err))

    check.__doc__ = fn.__doc__
    return check


def outcome(ok: bool, measured: str, threshold: str) -> ClaimOutcome:
    return ClaimOutcome("PASS" if ok else "FAIL", measured=measured, threshold=threshold)


def points(results: Results, key: str) -> list:
    """The values of grid key ``key`` present in the results (sorted)."""
    values = results.param_values(key)
    if not values:
        raise Missing(f"no runs with grid key {key!r}")
    return values


# ---- comparisons ---------------------------------------------------------------------------
_OPS = {"<": np.less, "<=": np.less_equal, ">": np.greater, ">=": np.greater_equal}


def compare(metric: str, layer: str, op: str, ref, *, ref_layer: str = "model",
            scale: float = 1.0, agg: str = "mean", label: str = "") -> Check:
    """``agg`` (``"mean"`` over runs, or ``"all"`` runs) of the final ``metric`` ``op``
    ``scale ×`` the reference: a number, or a metric name on ``ref_layer`` recorded by each run
    (e.g. ``"ref/dnc_loss"``, paired run by run)."""

    @guarded
    def check(results: Results) -> ClaimOutcome:
        a = final(results, metric, layer)
        if isinstance(ref, str):
            b = final(results, ref, ref_layer) * scale
            ref_text = f"{scale:g} × {ref}" if scale != 1 else ref
        else:
            b = np.full_like(a, float(ref) * scale)
            ref_text = fmt(float(ref) * scale)
        if agg == "all":
            ok = bool(np.all(_OPS[op](a, b)))
            measured = f"{metric} per run {fmt(a)} vs {fmt(b)}"
        else:
            ok = bool(_OPS[op](a.mean(), b.mean()))
            measured = f"mean {metric} {fmt(a.mean())} ± {fmt(a.std())} (n={a.size}) vs " \
                       f"{fmt(b.mean())}"
        return outcome(ok, measured, f"{label or metric} {op} {ref_text} ({agg})")

    return check


def in_range(metric: str, layers: Sequence[str], lo: float, hi: float, *,
             agg: str = "all") -> Check:
    """Every run's final ``metric`` of every layer in ``layers`` lies in ``[lo, hi]``
    (``agg="mean"``: the mean over runs)."""

    @guarded
    def check(results: Results) -> ClaimOutcome:
        found, ok = [], True
        for layer in layers:
            v = final(results, metric, layer)
            v = np.array([v.mean()]) if agg == "mean" else v
            ok &= bool(np.all((v >= lo) & (v <= hi)))
            found.append(f"{layer}: {fmt(v)}")
        return outcome(ok, "; ".join(found), f"{metric} in [{lo:g}, {hi:g}] ({agg})")

    return check


def decreases(metric: str, layers: Sequence[str], *, factor: float = 1.0) -> Check:
    """In every layer, the mean final ``metric`` is below ``factor ×`` its mean first value
    (decreases during training)."""

    @guarded
    def check(results: Results) -> ClaimOutcome:
        found, ok = [], True
        for layer in layers:
            a, b = first(results, metric, layer).mean(), final(results, metric, layer).mean()
            ok &= bool(b < factor * a)
            found.append(f"{layer}: {fmt(a)} -> {fmt(b)}")
        what = "final < first" if factor == 1 else f"final < {factor:g} × first"
        return outcome(ok, "; ".join(found), f"{metric}: {what} in every layer (mean over runs)")

    return check


def ordered_layers(metric: str, layers: Sequence[str], direction: str = "decreasing", *,
                   strict: bool = True) -> Check:
    """The mean final ``metric`` is monotone along ``layers`` (in the given order):
    ``strict``: every consecutive pair; else the last layer beats the first."""

    @guarded
    def check(results: Results) -> ClaimOutcome:
        means = np.array([final(results, metric, layer).mean() for layer in layers])
        diffs = np.diff(means)
        sign = -1 if direction == "decreasing" else 1
        if strict:
            ok = bool(np.all(sign * diffs > 0))
        else:
            ok = bool(sign * (means[-1] - means[0]) > 0)
        rule = "each layer" if strict else "last vs first layer"
        return outcome(ok, ", ".join(f"{lyr}: {fmt(m)}" for lyr, m in zip(layers, means,
                                                                          strict=True)),
                       f"mean final {metric} {direction} along the layers ({rule})")

    return check


def spearman(x, y) -> float:
    """Spearman rank correlation (ties get average ranks)."""
    from scipy.stats import spearmanr

    if len(x) < 3:
        return float(np.sign(y[-1] - y[0]) * np.sign(x[-1] - x[0]))
    return float(spearmanr(x, y).statistic)


def trend(metric: str, layer: str, key: str, direction: str = "decreasing", *,
          monotone: bool = False, where: dict | None = None, transform=None,
          min_ratio: float | None = None) -> Check:
    """The mean final ``metric`` (over runs; ``transform`` applied per run first) against the
    grid key ``key`` (other keys fixed by ``where``, else pooled): ``monotone``: every step
    in ``direction`` (ties fail); otherwise the last grid value beats the first and the
    Spearman correlation has the right sign. ``min_ratio``: also first/last (decreasing) or
    last/first (increasing) >= min_ratio."""

    @guarded
    def check(results: Results) -> ClaimOutcome:
        extra = where or {}
        xs = points(results, key)
        means = []
        for x in xs:
            v = final(results, metric, layer, **{key: x}, **extra)
            means.append(float(np.mean(transform(v) if transform else v)))
        means = np.array(means)
        sign = -1 if direction == "decreasing" else 1
        rho = spearman(np.array(xs, dtype=float), means)
        if monotone:
            ok = bool(np.all(sign * np.diff(means) > 0))
            rule = f"strictly {direction} at every step"
        else:
            ok = bool(sign * (means[-1] - means[0]) > 0 and sign * rho > 0)
            rule = f"{direction}: last vs first and sign of Spearman ρ"
        if min_ratio is not None:
            ratio = means[0] / means[-1] if sign < 0 else means[-1] / means[0]
            ok &= bool(ratio >= min_ratio)
            rule += f", ratio >= {min_ratio:g}"
        measured = ", ".join(f"{key.rsplit('.', 1)[-1]}={x}: {fmt(m)}"
                             for x, m in zip(xs, means, strict=True))
        return outcome(ok, f"{measured} (Spearman {rho:.2f})",
                       f"mean final {metric} ({layer}) vs {key}: {rule}")

    return check


def all_of(*checks: Check) -> Check:
    """Passes when every check passes (first non-PASS is returned)."""

    def check(results: Results) -> ClaimOutcome:
        outs = [c(results) for c in checks]
        for o in outs:
            if o.status != "PASS":
                return o
        return ClaimOutcome("PASS", measured="; ".join(o.measured for o in outs),
                            threshold="; ".join(o.threshold for o in outs))

    return check


def custom(fn: Callable[[Results], tuple[bool, str, str]]) -> Check:
    """``fn(results) -> (ok, measured, threshold)``; :class:`Missing` -> NOT-RUN."""

    @guarded
    def check(results: Results) -> ClaimOutcome:
        ok, measured, threshold = fn(results)
        return outcome(bool(ok), measured, threshold)

    return check


def finite(x: float) -> bool:
    return x is not None and math.isfinite(x)
