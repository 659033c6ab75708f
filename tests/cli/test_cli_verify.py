"""``nclab verify``: runs or reuses stored runs, evaluates claims, writes reproduction.html,
updates the README block; the exit code is 0 only if every evaluated claim passes."""

import dataclasses
import json
import re
from pathlib import Path

import pytest

from nclab.cli import main
from nclab.experiments import checks as C
from nclab.experiments import registry
from nclab.experiments.spec import Claim
from nclab.store import Store
from nclab.verify import (
    END,
    START,
    ClaimCheck,
    ExperimentCheck,
    check_experiment,
    claim_figure,
    exit_code,
    status_markdown,
    update_readme,
    verify,
    write_reproduction_html,
)

FAST = ["sukenik2024-fig1", "sukenik2024-fig3-left"]  # theory computations: seconds


def test_verify_runs_then_reuses_and_links_claims_to_figures(tmp_path, capsys):
    code = main(["verify", *FAST, "--scale", "smoke", "--out", str(tmp_path), "--json",
                 "--quiet"])
    got = json.loads(capsys.readouterr().out)
    assert code == 0
    assert got["wall_seconds"] > 0
    exps = {e["experiment"]: e for e in got["experiments"]}
    assert set(exps) == set(FAST)
    assert all(e["counts"]["PASS"] >= 4 and e["counts"]["FAIL"] == 0 for e in exps.values())
    assert exps["sukenik2024-fig3-left"]["trained"] == 21
    page = (tmp_path / "reproduction.html").read_text()
    assert page.count('class="PASS"') >= 11
    links = re.findall(r'href="([^"]+)"', page)
    assert any(link.endswith("report.html#fig-0") for link in links)
    for link in links:  # every link resolves to a report with that figure
        path, _, anchor = link.partition("#")
        text = (tmp_path / path).read_text()
        assert not anchor or f'id="{anchor}"' in text

    code = main(["verify", *FAST, "--scale", "smoke", "--out", str(tmp_path), "--json",
                 "--no-run", "--quiet"])
    again = json.loads(capsys.readouterr().out)
    assert code == 0
    assert all(e["trained"] == 0 and e["runs"] >= 1 for e in again["experiments"])


def test_verify_evaluates_in_worker_processes_with_the_same_verdicts(tmp_path, capsys):
    got = {}
    for jobs in ("1", "2"):
        code = main(["verify", *FAST, "--scale", "smoke", "--out", str(tmp_path / jobs),
                     "--json", "--quiet", "--jobs", jobs])
        assert code == 0
        got[jobs] = json.loads(capsys.readouterr().out)["experiments"]
    assert [e["experiment"] for e in got["2"]] == FAST  # in the order asked for
    for one, two in zip(got["1"], got["2"], strict=True):
        assert one["trained"] == two["trained"] == (21 if "fig3" in one["experiment"] else 1)
        assert one["runs"] == two["runs"] and one["report"] and two["report"]
        assert [(c["status"], c["measured"]) for c in one["claims"]] == \
            [(c["status"], c["measured"]) for c in two["claims"]]


def test_verify_evaluates_here_what_a_worker_could_not(tmp_path, monkeypatch):
    import concurrent.futures as cf

    class Broken:  # every worker dies (e.g. killed for memory)
        def __init__(self, *args, **kwargs):
            pass

        def submit(self, *args, **kwargs):
            future = cf.Future()
            future.set_exception(cf.process.BrokenProcessPool("a worker died"))
            return future

        def shutdown(self, **kwargs):
            pass

    monkeypatch.setattr(cf, "ProcessPoolExecutor", Broken)
    checks = verify([registry.get(e) for e in FAST], Store(tmp_path), "smoke", jobs=2)
    assert [c.experiment for c in checks] == FAST
    assert all(c.counts["PASS"] >= 4 and c.counts["FAIL"] == 0 for c in checks)
    assert checks[1].trained == 21  # what the runs made for it say is kept


def test_verify_trains_vectorised_groups_and_maps_crashed_checks_to_error(tmp_path, capsys):
    code = main(["verify", "sukenik2024-fig9-left", "--scale", "smoke", "--out", str(tmp_path),
                 "--json", "--quiet"])
    got = json.loads(capsys.readouterr().out)["experiments"][0]
    assert code == 0 and got["trained"] == 2 and got["runs"] == 2
    runs = list((tmp_path / "sukenik2024-fig9-left" / "smoke").glob("*/summary.json"))
    assert len(runs) == 2 and all('"group_size": 2' in p.read_text() for p in runs)

    exp = registry.get("sukenik2024-fig3-left")

    def boom(results):
        raise KeyError("ratio")

    broken = dataclasses.replace(exp, claims=(
        dataclasses.replace(exp.claims[0], check=boom, scales=("smoke",)), *exp.claims[1:]))
    check = check_experiment(broken, Store(tmp_path), "smoke", report=False)
    assert check.claims[0].status == "ERROR" and "KeyError" in check.claims[0].reason
    assert exit_code([check]) == 1


def test_a_diverged_run_is_never_scored(tmp_path):
    from nclab.running import replace_scale

    exp = registry.get("sukenik2024-fig2-top")
    exp = replace_scale(exp, "smoke", overrides=(*exp.scales["smoke"].overrides, "optim.lr=1e6"))
    always = C.custom(lambda res: (True, "measured", "threshold"))
    exp = dataclasses.replace(exp, claims=(Claim("always true", always, scales=("smoke",)),))
    check = check_experiment(exp, Store(tmp_path), "smoke", report=False)
    (claim,) = check.claims
    assert claim.status == "NOT-RUN" and claim.reason == "diverged runs are not scored"
    assert "diverged at step" in claim.measured


def test_verify_without_runs_is_not_run_and_passes(tmp_path, capsys):
    code = main(["verify", "jacot2025-fig4", "--scale", "smoke", "--out", str(tmp_path),
                 "--no-run", "--json", "--quiet"])
    got = json.loads(capsys.readouterr().out)["experiments"][0]
    assert code == 0 and got["runs"] == 0
    assert {c["status"] for c in got["claims"]} == {"NOT-RUN"}
    assert all(c["reason"] for c in got["claims"])


def test_verify_bad_experiment_is_a_usage_error(tmp_path, capsys):
    assert main(["verify", "nope-fig1", "--out", str(tmp_path)]) == 2
    assert "nope-fig1" in capsys.readouterr().err


def _check(*statuses, failed=0):
    ch = ExperimentCheck("x-fig1", "x", "Fig 1", "t", "cpu", seconds=3.0, runs=2,
                         failed=failed)
    ch.claims = [ClaimCheck(f"claim {i} | with a pipe", "src", s, "1.0", "< 2",
                            "" if s != "NOT-RUN" else "not meaningful")
                 for i, s in enumerate(statuses)]
    return ch


def test_exit_code_counts_only_evaluated_claims():
    assert exit_code([_check("PASS", "NOT-RUN")]) == 0
    assert exit_code([_check("PASS", "FAIL")]) == 1
    assert exit_code([_check("PASS", failed=1)]) == 1  # a failed run is not a pass
    assert exit_code([_check("PASS", "ERROR")]) == 1  # a check that crashed is not a pass


def test_status_markdown_and_readme_block(tmp_path):
    block = status_markdown([_check("PASS", "FAIL", "NOT-RUN")], "nclab verify --scale cpu")
    assert "1 PASS, 1 FAIL, 1 NOT-RUN" in block
    assert "claim 1 \\| with a pipe" in block and "not meaningful" in block
    assert "wall time 2.0 min" in status_markdown([_check("PASS")], "c", wall_seconds=120.0)
    readme = tmp_path / "README.md"
    readme.write_text(f"# t\n{START}\nSTALE BLOCK\n{END}\nafter\n")
    update_readme(readme, block)
    text = readme.read_text()
    assert "STALE BLOCK" not in text and block in text and text.endswith(f"{END}\nafter\n")
    plain = tmp_path / "plain.md"
    plain.write_text("no markers\n")
    with pytest.raises(ValueError, match="markers"):
        update_readme(plain, block)
    assert not list(tmp_path.glob(".*.tmp"))  # written through a temporary file, renamed


@pytest.mark.parametrize("content", [None, "no markers\n"])
def test_a_bad_readme_is_refused_before_anything_runs(tmp_path, capsys, content):
    readme = tmp_path / "README.md"
    if content is not None:
        readme.write_text(content)
    code = main(["verify", "sukenik2024-fig1", "--scale", "smoke", "--out",
                 str(tmp_path / "runs"), "--quiet", "--readme", str(readme)])
    err = " ".join(capsys.readouterr().err.split())  # the console wraps lines
    assert code == 2 and str(readme) in err
    assert ("no such file" if content is None else "markers") in err
    assert not (tmp_path / "runs").exists()  # nothing was run or stored


def test_reproduction_html_escapes_and_counts(tmp_path):
    ch = _check("PASS", "FAIL")
    ch.claims[0].text = "<script>alert(1)</script>"
    page = write_reproduction_html([ch], tmp_path / "r.html").read_text()
    assert "<script>" not in page and "1 PASS" in page and "1 FAIL" in page


def test_claim_figure_finds_the_panel_of_the_checked_metric():
    exp = registry.get("sukenik2024-fig2-top")
    found = [claim_figure(exp, c) for c in exp.claims]
    assert any(k is not None for k in found)
    metrics = [p.metric for p in exp.panels]
    for k in found:
        assert k is None or 0 <= k < len(metrics)
    fake = Claim("x", C.decreases(metrics[-1], ("model",)))
    assert claim_figure(exp, fake) == metrics.index(metrics[-1])
    assert claim_figure(exp, Claim("y", C.decreases("no_such_metric", ("no_such_layer",)))) is None


def test_verify_scores_only_the_runs_of_the_current_plan(tmp_path):
    """Issue 12: runs of an older grid stay in the store; verify and the report leave them out
    of the claims and say how many."""
    from nclab.experiments.spec import Experiment, Scale

    def compute(params, seed):
        return [{"step": 0, "layer": "model", "metric": "m", "value": 0.1 * params["a"]}]

    below = C.custom(lambda res: (res.final("m", "model").max() < 1, "max m", "< 1"))
    exp = Experiment(id="tiny-theory", paper="P", figure="F", title="t", base=None,
                     compute=compute, scales={"smoke": Scale(grid={"a": [1, 2]})},
                     claims=(Claim("every m is below 1", below, scales=("smoke",)),))
    store = Store(tmp_path)
    before = check_experiment(exp, store, "smoke")
    old = store.start_run(exp.id, "smoke", {"a": 50}, 0, {})  # m = 5 would flip the claim
    old.write_metrics([{"step": 0, "layer": "model", "metric": "m", "value": 5.0}])
    old.finish({})
    after = check_experiment(exp, store, "smoke", run=False)
    assert [c.status for c in before.claims] == [c.status for c in after.claims] == ["PASS"]
    assert (before.runs, before.left_out) == (2, 0) and (after.runs, after.left_out) == (2, 1)
    assert "1 stored run not in the current plan left out" in Path(after.report).read_text()
    page = write_reproduction_html([after], tmp_path / "r.html").read_text()
    assert "1 stored run not in the current plan left out" in page
    assert "| 2 (+1 not in the plan, left out) |" in status_markdown([after], "c")
