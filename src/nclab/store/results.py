"""The records of one experiment at one scale, with the queries claims and reports need.

:meth:`nclab.store.Store.results` returns a :class:`Results`; claims
(:mod:`nclab.experiments.claims`) and reports (:mod:`nclab.report`) read it.
"""

from __future__ import annotations

import json

import numpy as np


class Results:
    """The long records of one experiment at one scale, with the queries claims need.

    ``rows``: iterable of dicts with the record columns
    (:data:`nclab.store.schema.RECORD_COLUMNS`; ``params`` a JSON string or dict).
    ``runs``: ``{run_id: summary.json body}`` of the experiment's runs at this scale, finished
    or not (the store's ``status`` and the trainer's ``summary``), read by :meth:`diverged`.
    ``excluded``: run ids stored at this experiment and scale but left out on purpose
    (:meth:`nclab.store.Store.results` with ``run_ids=``: runs not in the current plan, e.g.
    of an older grid), so that a report can say how many.
    """

    def __init__(self, experiment: str, scale: str, rows, runs=None, excluded=()):
        self.experiment, self.scale = experiment, scale
        self.rows = [dict(r, params=_params(r.get("params"))) for r in rows]
        self.run_info: dict[str, dict] = dict(runs or {})
        self.excluded: tuple[str, ...] = tuple(sorted(excluded))

    def __repr__(self) -> str:
        return (f"Results({self.experiment!r}, {self.scale!r}: {len(self.runs())} runs, "
                f"{len(self.rows)} rows)")

    def diverged(self) -> dict[str, str]:
        """``{run_id: why}`` of the runs that diverged: the store's status ``"diverged"``, or a
        trainer summary with ``diverged`` true (a run stopped at a non-finite loss, parameter
        or feature), or a final ``diverged`` record > 0 on layer ``model``."""
        out = {}
        for run, info in self.run_info.items():
            inner = info.get("summary") if isinstance(info.get("summary"), dict) else {}
            if info.get("status") == "diverged" or inner.get("diverged") or info.get("diverged"):
                out[run] = str(inner.get("divergence") or info.get("divergence") or "diverged")
        last: dict[str, tuple] = {}
        for r in self.select("diverged", "model"):
            if r["run_id"] not in last or r["step"] > last[r["run_id"]][0]:
                last[r["run_id"]] = (r["step"], r["value"])
        for run, (_, value) in last.items():
            if value > 0:
                out.setdefault(run, "diverged")
        return out

    def runs(self) -> list[str]:
        return sorted({r["run_id"] for r in self.rows})

    def select(self, metric: str, layer: str | None = None, **params) -> list[dict]:
        """Rows of one metric (and layer), restricted to grid points matching ``params``."""
        return [
            r
            for r in self.rows
            if r["metric"] == metric
            and (layer is None or r["layer"] == layer)
            and all(r["params"].get(k) == v for k, v in params.items())
        ]

    def final(self, metric: str, layer: str | None = None, **params) -> np.ndarray:
        """The metric at each run's last recorded step (one value per run)."""
        last: dict[str, tuple[int, float]] = {}
        for r in self.select(metric, layer, **params):
            if r["run_id"] not in last or r["step"] > last[r["run_id"]][0]:
                last[r["run_id"]] = (r["step"], r["value"])
        return np.array([v for _, v in last.values()], dtype=float)

    def curve(self, metric: str, layer: str | None = None, **params) -> dict[str, tuple]:
        """run_id -> (steps, values) sorted by step."""
        out: dict[str, list] = {}
        for r in self.select(metric, layer, **params):
            out.setdefault(r["run_id"], []).append((r["step"], r["value"]))
        return {k: tuple(np.array(c, dtype=float).T) for k, c in ((k, sorted(v)) for k, v in out.items())}

    def param_values(self, key: str) -> list:
        return sorted({r["params"][key] for r in self.rows if key in r["params"]})


def _params(p) -> dict:
    if p is None:
        return {}
    return json.loads(p) if isinstance(p, str) else dict(p)
