"""Claim building blocks on hand-made results."""

import numpy as np

from nclab.experiments import checks as C
from nclab.experiments.claims import evaluate_claim
from nclab.experiments.spec import Claim
from nclab.store import Results


def rows(values_by_run, metric="m", layer="L", params=None):
    out = []
    for run, values in values_by_run.items():
        for step, v in enumerate(values):
            out.append({"experiment": "x", "scale": "cpu", "run_id": run, "seed": 0,
                        "params": (params or {}).get(run, {}), "step": step, "layer": layer,
                        "metric": metric, "value": v})
    return out


def test_compare_against_a_per_run_reference():
    res = Results("x", "cpu", rows({"a": [3, 1], "b": [3, 2]}, "loss", "model")
                  + rows({"a": [1.8], "b": [1.8]}, "ref/dnc", "model"))
    assert C.compare("loss", "model", "<", "ref/dnc")(res).status == "PASS"
    assert C.compare("loss", "model", "<", "ref/dnc", agg="all")(res).status == "FAIL"
    out = C.compare("loss", "model", "<", "nope")(res)
    assert out.status == "NOT-RUN" and "nope" in out.reason


def test_decreases_and_in_range():
    res = Results("x", "cpu", rows({"a": [1.0, 0.1], "b": [2.0, 0.5]}))
    assert C.decreases("m", ("L",))(res).status == "PASS"
    assert C.decreases("m", ("L",), factor=0.1)(res).status == "FAIL"
    assert C.in_range("m", ("L",), 0.1, 0.5)(res).status == "PASS"
    assert C.in_range("m", ("L",), 0.2, 0.5)(res).status == "FAIL"


def test_trend_over_a_grid_key():
    params = {f"r{i}": {"k": k} for i, k in enumerate([1, 2, 3, 4])}
    res = Results("x", "cpu", rows({f"r{i}": [v] for i, v in enumerate([4, 3, 3.5, 1])},
                                   params=params))
    assert C.trend("m", "L", "k", "decreasing")(res).status == "PASS"
    assert C.trend("m", "L", "k", "decreasing", monotone=True)(res).status == "FAIL"
    assert C.trend("m", "L", "k", "increasing")(res).status == "FAIL"
    assert C.trend("m", "L", "other")(res).status == "NOT-RUN"


def test_ordered_layers_and_matrices():
    res = Results("x", "cpu", rows({"a": [5.0]}, layer="Z1") + rows({"a": [2.0]}, layer="Z2")
                  + rows({"a": [1.0]}, layer="Z3"))
    assert C.ordered_layers("m", ("Z1", "Z2", "Z3"))(res).status == "PASS"
    assert C.ordered_layers("m", ("Z3", "Z1"))(res).status == "FAIL"
    mats = Results("x", "cpu", [
        {"experiment": "x", "scale": "cpu", "run_id": "a", "seed": 0, "params": {}, "step": s,
         "layer": "H", "metric": f"G[{i},{j}]", "value": float(s * 10 + i * 2 + j)}
        for s in (0, 1) for i in range(2) for j in range(2)])
    G = C.matrices(mats, "G", "H")["a"]
    assert np.array_equal(G, [[10, 11], [12, 13]])


def test_claims_are_not_run_outside_their_scales():
    claim = Claim("x", C.decreases("m", ("L",)))
    smoke = Results("x", "smoke", rows({"a": [1.0, 0.1]}))
    assert evaluate_claim(claim, smoke).status == "NOT-RUN"
    assert evaluate_claim(claim, Results("x", "cpu", smoke.rows)).status == "PASS"
