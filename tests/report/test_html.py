"""write_html_report / build_report: figures, the final-metrics table, the claims."""

import base64
import json
import re
from html.parser import HTMLParser

import pytest
from report_synthetic import (
    CLAIMS,
    LAYERS,
    PANELS,
    SEEDS,
    STEPS,
    WDS,
    mean_std,
    nc1,
    synthetic_experiment,
    synthetic_rows,
)

from nclab.experiments.claims import evaluate
from nclab.experiments.spec import ClaimOutcome, Panel, Results
from nclab.report import build_report, write_html_report
from nclab.store import Store

WD_KEY = "optim.weight_decay"


class Page(HTMLParser):
    """The parts of the report the tests look at."""

    def __init__(self, text):
        super().__init__()
        self.imgs, self.links, self.claims, self.cells = [], [], [], {}
        self._cell, self._table, self.tags = None, None, set()
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.add(tag)
        if tag == "img":
            self.imgs.append(a["src"])
        elif tag == "a":
            self.links.append(a["href"])
        elif tag == "tr" and "data-status" in a:
            self.claims.append(a["data-status"])
        elif tag == "table" and a.get("class") == "final-metrics":
            self._table = a["data-point"]
        elif tag == "td" and "data-metric" in a:
            self._cell = (self._table, a["data-layer"], a["data-metric"])

    def handle_data(self, data):
        if self._cell is not None:
            self.cells[self._cell] = data
            self._cell = None


def point(wd):
    return json.dumps({WD_KEY: wd}, separators=(",", ":"))


def test_report_references_every_figure(report_path):
    page = Page(report_path.read_text())
    assert len(page.imgs) == len(PANELS)
    for src in page.imgs:
        assert src.startswith("figures/") and src.endswith(".png")
        assert (report_path.parent / src).is_file()
        assert (report_path.parent / src).with_suffix(".svg").is_file()
    assert [link for link in page.links if link.endswith(".svg")] == [
        s[:-4] + ".svg" for s in page.imgs
    ]
    assert "script" not in page.tags and "link" not in page.tags  # nothing external, no JS


def test_final_metrics_table(report_path):
    page = Page(report_path.read_text())
    for wd in WDS:
        for li, layer in enumerate(LAYERS):
            mean, std = mean_std([nc1(wd, s, li, STEPS[-1]) for s in SEEDS])
            assert page.cells[(point(wd), layer, "nc1_trace")] == f"{mean:.4g} ± {std:.4g}"
        assert (point(wd), "model", "loss") in page.cells
    # indexed metrics (spectra, Gram entries, projections) stay out of the table
    assert not any("[" in metric for _, _, metric in page.cells)


def test_claims_section(report_path):
    text = report_path.read_text()
    page = Page(text)
    assert page.claims == ["PASS", "FAIL", "NOT-RUN", "ERROR"]  # the last check raises
    assert "not meaningful at &#x27;cpu&#x27; scale" in text
    assert "check raised KeyError" in text
    assert "NC1 &lt;b&gt;falls&lt;/b&gt; below 1" in text  # claim text is escaped, not markup
    assert "1 PASS, 1 FAIL, 1 NOT-RUN, 1 ERROR" in text


def test_caller_outcomes_and_validation(results, tmp_path):
    exp = synthetic_experiment(panels=())
    given = [ClaimOutcome("FAIL", reason="r1"), ClaimOutcome("PASS"),
             ClaimOutcome("NOT-RUN"), ClaimOutcome("PASS")]
    path = write_html_report(exp, results, tmp_path, claims=given)
    text = path.read_text()
    assert Page(text).claims == ["FAIL", "PASS", "NOT-RUN", "PASS"]
    assert "This experiment defines no panels." in text
    with pytest.raises(ValueError, match="got 1 outcomes for 4 claims"):
        write_html_report(exp, results, tmp_path, claims=given[:1])
    with pytest.raises(ValueError, match="expected a ClaimOutcome"):
        write_html_report(exp, results, tmp_path, claims=["PASS"] * 4)
    with pytest.raises(ValueError, match="status must be one of"):
        ClaimOutcome("OK")
    with pytest.raises(ValueError, match="results are of experiment 'other'"):
        write_html_report(exp, Results("other", "cpu", []), tmp_path)


def test_inline_report_is_self_contained(results, tmp_path):
    exp = synthetic_experiment(panels=(PANELS[-1],))
    path = write_html_report(exp, results, tmp_path, inline=True)
    page = Page(path.read_text())
    (src,) = page.imgs
    prefix = "data:image/png;base64,"
    assert src.startswith(prefix)
    assert base64.b64decode(src[len(prefix):])[:8] == b"\x89PNG\r\n\x1a\n"
    assert not [link for link in page.links if link.endswith(".svg")]


def test_empty_results_render(tmp_path):
    exp = synthetic_experiment(panels=(Panel("NC1", "curve", "nc1_trace"),))
    empty = Results("synth", "cpu", [])
    assert {o.status for _, o in evaluate(exp, empty)} == {"NOT-RUN"}
    text = write_html_report(exp, empty, tmp_path).read_text()
    assert "No finished runs." in text and "no rows of metric" in text
    assert Page(text).claims == ["NOT-RUN"] * len(CLAIMS)


def test_build_report_from_store(tmp_path):
    store = Store(tmp_path / "runs")
    rows = synthetic_rows()
    for rid in sorted({r["run_id"] for r in rows}):
        mine = [r for r in rows if r["run_id"] == rid]
        run = store.start_run("synth", "cpu", mine[0]["params"], mine[0]["seed"], {"lr": 0.1})
        run.write_metrics([{k: r[k] for k in ("step", "layer", "metric", "value")} for r in mine])
        run.finish({"seconds": 1.0})
    crashed = store.start_run("synth", "cpu", {WD_KEY: 0.1}, 0, {"lr": 0.1})
    crashed.write_metrics([{"step": 0, "layer": "layer1/post", "metric": "nc1_trace",
                            "value": 1e6}])
    exp = synthetic_experiment(panels=(PANELS[1],))
    path = build_report(store, exp, "cpu")
    assert path == store.report_dir("synth", "cpu") / "report.html"
    text = path.read_text()
    page = Page(text)
    assert len(page.imgs) == 1 and (path.parent / page.imgs[0]).is_file()
    # the crashed run is listed as running, and its metrics are not in the table
    assert re.search(rf"{crashed.run_id}</code></td><td>0</td><td>[^<]*</td><td>running", text)
    assert not any(p == point(0.1) for p, _, _ in page.cells)
    mean, std = mean_std([nc1(0.01, s, 0, STEPS[-1]) for s in SEEDS])
    assert page.cells[(point(0.01), "layer1/post", "nc1_trace")] == f"{mean:.4g} ± {std:.4g}"
    with pytest.raises(ValueError, match="has no scale 'paper'"):
        build_report(store, exp, "paper")
