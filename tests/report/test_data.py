"""report.data.collect against a plain scan of every row (the index it builds once per Results
must give the same series, in the same order, and follow a replaced row list)."""

import json
from collections import defaultdict

import pytest
from report_synthetic import LAYERS, WDS, synthetic_rows

from nclab.experiments.spec import Results
from nclab.report.data import NoData, collect, split_indexed


def reference(results, metric, indexed, layers=None, point=None):
    found = defaultdict(lambda: defaultdict(list))
    for r in results.rows:
        parts = split_indexed(r["metric"])
        if indexed and (parts is None or parts[0] != metric):
            continue
        if not indexed and r["metric"] != metric:
            continue
        if layers is not None and r["layer"] not in layers:
            continue
        if point and any(r["params"].get(k) != v for k, v in point.items()):
            continue
        key = (r["layer"], json.dumps(r["params"], sort_keys=True, separators=(",", ":")))
        found[key][r["run_id"]].append((r["step"], parts[1] if indexed else None, r["value"]))
    return {k: dict(v) for k, v in found.items()}


def as_dict(series):
    return {(s.layer, json.dumps(s.params, sort_keys=True, separators=(",", ":"))): dict(s.runs)
            for s in series}


@pytest.mark.parametrize("metric,indexed", [("nc1_trace", False), ("sv", True), ("G", True),
                                            ("P", True), ("margin", True)])
@pytest.mark.parametrize("layers", [None, LAYERS[::-1], (LAYERS[1],)])
@pytest.mark.parametrize("point", [None, {"reg.weight_decay": WDS[1]}])
def test_collect_equals_a_scan_of_every_row(metric, indexed, layers, point):
    res = Results("synth", "cpu", synthetic_rows())
    want = reference(res, metric, indexed, layers, point)
    if not want:  # e.g. margin[...] lives on layer "model" only
        with pytest.raises(NoData, match=metric):
            collect(res, metric, indexed, layers, point)
        return
    got = collect(res, metric, indexed, layers, point)
    assert as_dict(got) == want
    if layers is not None:  # series come in the order of ``layers``
        order = [s.layer for s in got]
        assert order == sorted(order, key=list(layers).index)


def test_collect_follows_replaced_rows_and_names_missing_metrics():
    res = Results("synth", "cpu", synthetic_rows())
    assert collect(res, "nc1_trace", False)
    res.rows = [r for r in res.rows if r["metric"] != "nc1_trace"]
    with pytest.raises(NoData, match="nc1_trace"):
        collect(res, "nc1_trace", False)
