"""What a run leaves in the store: its rows, its summary and the measures taken on the way.

Records go to the store as long rows: the probe's rows (split ``train`` as is, other splits
prefixed, e.g. ``test/accuracy``), the experiment's measures (:class:`~nclab.experiments.spec.
Measure`) at their steps, and on layer ``model`` the final decomposition of the objective
(``final/loss``, ``final/fit``, ...). Measures taken so far are kept in ``measures.json`` next
to the checkpoints (with their sha256), so a resumed run does not take them again.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

from nclab.experiments.measures import Context
from nclab.experiments.spec import Experiment
from nclab.train import CheckpointError

from .plan import PlannedRun

MEASURES_FILE = "measures.json"


def sealed_status(summary: dict) -> str:
    """The store status of a run that ended with ``summary``: ``failed`` when it holds an
    ``"error"`` (e.g. a measure raised), ``diverged`` when training diverged, else
    ``finished``."""
    if summary.get("error"):
        return "failed"
    return "diverged" if summary.get("diverged") else "finished"


def measure_steps(exp: Experiment, total: int) -> dict[int, list]:
    steps: dict[int, list] = {}
    for m in exp.measures:
        for a in m.at:
            steps.setdefault(int(round(a * total)), []).append(m)
    return steps


def _measured_digest(measured: dict) -> str:
    text = json.dumps(measured, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def load_measured(path: Path) -> dict[int, list[dict]]:
    """The measures saved so far (``{step: rows}``), checked against their sha256."""
    if not path.is_file():
        return {}
    try:
        saved = json.loads(path.read_text())
        if "sha256" in saved:  # (files of earlier versions hold the bare mapping)
            if _measured_digest(saved["measured"]) != saved["sha256"]:
                raise ValueError("checksum mismatch (truncated or altered)")
            saved = saved["measured"]
        return {int(k): list(v) for k, v in saved.items()}
    except (ValueError, TypeError, AttributeError, KeyError, UnicodeDecodeError) as err:
        raise CheckpointError(f"{path}: unreadable ({err})") from None


def take_measures(measures, take, errors: dict, step: int) -> list[dict]:
    """``take(measure)`` -> rows for each measure; a measure that raises adds its error to
    ``errors[step]`` (the other measures and the run's records are kept)."""
    rows = []
    for m in measures:
        try:
            rows += take(m)
        except Exception as err:  # noqa: BLE001 -- recorded; the run is stored as failed
            errors.setdefault(step, []).append(f"measure {m.name!r}: {type(err).__name__}: "
                                               f"{err}")
    return rows


def measure_error_summary(errors: dict) -> dict:
    """The summary keys of measures that raised (``{step: [errors]}``): ``measure_errors``
    and ``error`` (so the run is stored as failed, its records kept)."""
    if not errors:
        return {}
    first = errors[min(errors)][0]
    n = sum(len(v) for v in errors.values())
    return {"measure_errors": {str(k): v for k, v in sorted(errors.items())},
            "error": f"{n} measure(s) raised; first, at step {min(errors)}: {first}"}


def save_measured(path: Path, measured: dict[int, list[dict]]) -> None:
    body = json.loads(json.dumps({str(k): v for k, v in sorted(measured.items())}))
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps({"measured": body, "sha256": _measured_digest(body)}))
    tmp.replace(path)


def layer_names(prun: PlannedRun) -> dict:
    """The experiment's renaming of the probe's layers for this run's config."""
    exp = prun.experiment
    return dict(exp.layer_names(prun.config)) if exp.layer_names is not None else {}


def run_rows(prun: PlannedRun, result, measured: dict[int, list[dict]]) -> list[dict]:
    """A finished training run's store rows: the probe's records, the measures taken
    (``{step: rows}``) and on layer ``model`` the final objective (``final/loss``...)."""
    rows = store_rows(result.records, layer_names(prun))
    for s, mrows in sorted(measured.items()):
        rows += [dict(r, step=s) for r in mrows]
    rows += [{"step": result.steps, "layer": "model", "metric": f"final/{k}", "value": float(v)}
             for k, v in (result.loss_parts or {}).items()]
    return rows


def train_summary(prun: PlannedRun, result, step: int, total: int, seconds: float,
                  resumed_at: int | None, **extra) -> dict:
    """The ``summary.json`` body of a finished training run."""
    return {
        "kind": "train",
        "steps": step,
        "total_steps": total,
        "diverged": result.diverged,
        "divergence": result.divergence,
        "loss_preset": result.loss_preset,
        "loss_parts": result.loss_parts,
        "resumed_at": resumed_at,
        "seconds": seconds,
        "final": final_by_layer(result.final_metrics, layer_names(prun)),
        **extra,
    }


def measure_rows(prun: PlannedRun, model, splits, step: int, total: int, measures,
                 final_metrics: dict, loss_parts: dict | None) -> list[dict]:
    """Rows ``{"layer", "metric", "value"}`` of ``measures`` on ``model`` at ``step``."""
    ctx = Context(
        model=model, config=prun.config, train=splits.train, test=splits.test,
        step=step, total=total, params=dict(prun.params), seed=prun.seed,
        final_metrics=final_metrics, loss_parts=loss_parts or {}, names=layer_names(prun),
    )
    rows = []
    for m in measures:
        for r in m.fn(ctx):
            layer = f"{r['layer']}@{step}" if m.tag_step else r["layer"]
            rows.append({"layer": layer, "metric": r["metric"], "value": float(r["value"])})
    return rows


def store_rows(records: list[dict], names: dict | None = None) -> list[dict]:
    """The probe's rows as store rows: the split folded into the metric (``test/accuracy``),
    layers renamed by ``names`` (weight rows, metrics ``w_*``, through ``"w:<layer>"``)."""
    names = names or {}
    out = []
    for r in records:
        metric = r["metric"] if r["split"] == "train" else f"{r['split']}/{r['metric']}"
        layer = r["layer"]
        key = f"w:{layer}" if r["metric"].startswith("w_") else layer
        out.append({"step": r["step"], "layer": names.get(key, layer), "metric": metric,
                    "value": r["value"]})
    return out


def final_by_layer(final: dict, names: dict | None = None) -> dict:
    names = names or {}
    out: dict[str, dict] = {}
    for (split, layer, metric), value in sorted(final.items()):
        name = metric if split == "train" else f"{split}/{metric}"
        key = f"w:{layer}" if metric.startswith("w_") else layer
        v = float(value)
        out.setdefault(names.get(key, layer), {})[name] = v if math.isfinite(v) else str(v)
    return out
