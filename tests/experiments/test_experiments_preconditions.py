"""Claims are scored only in their regime: preconditions (non-trivial solution, every class
learned, interpolation) and diverged runs make a claim NOT-RUN with the measured reason."""

import dataclasses
import math

import pytest
import torch

from nclab.experiments import checks as C
from nclab.experiments import preconditions as P
from nclab.experiments.claims import evaluate_claim
from nclab.experiments.spec import Claim, ClaimOutcome, Experiment, Requirement, Scale
from nclab.store import Results, Store
from nclab.train import LossConfig, zero_solution_loss

ALWAYS = C.custom(lambda res: (True, "measured", "threshold"))


def _results(per_run: dict[str, dict[str, float]], runs=None) -> Results:
    """Final values on layer ``model``: ``{run_id: {metric: value}}`` (one grid key ``lam``)."""
    rows = []
    for i, (run, metrics) in enumerate(per_run.items()):
        for metric, value in metrics.items():
            for step, v in ((0, value * 3 + 1), (100, value)):  # the last step counts
                rows.append({"experiment": "e", "scale": "cpu", "run_id": run, "seed": i,
                             "params": {"lam": 0.01 * (i + 1)}, "step": step,
                             "layer": "model", "metric": metric, "value": v})
    return Results("e", "cpu", rows, runs=runs)


def _status(claim: Claim, results: Results) -> ClaimOutcome:
    return evaluate_claim(claim, results)


def test_zero_solution_run_makes_the_claim_not_run():
    claim = Claim("rank trend", ALWAYS, requires=(P.below_zero_solution(),))
    fine = _results({"a": {"loss": 0.2, "ref/zero_loss": 0.5},
                     "b": {"loss": 0.3, "ref/zero_loss": 0.5}})
    assert _status(claim, fine).status == "PASS"
    # λ too large: the run sits at the zero solution (Súkeník et al. Fig 3 middle, λ = 2^-6)
    trivial = _results({"a": {"loss": 0.2, "ref/zero_loss": 0.5},
                        "b": {"loss": 0.49999, "ref/zero_loss": 0.5}})
    out = _status(claim, trivial)
    assert out.status == "NOT-RUN"
    assert "precondition not met" in out.reason and "zero solution" in out.reason
    assert "1/2 runs" in out.measured and "lam=0.02" in out.measured and "0.5" in out.measured


def test_a_dropped_class_makes_the_claim_not_run():
    claim = Claim("average rank < K", ALWAYS, requires=(P.every_class_learned(),))
    out = _status(claim, _results({"a": {"class_recall_min": 1.0},
                                   "b": {"class_recall_min": 0.0, "classes_predicted": 8}}))
    assert out.status == "NOT-RUN" and "every class learned" in out.reason
    assert "8 classes predicted" in out.measured
    assert _status(claim, _results({"a": {"class_recall_min": 0.9}})).status == "PASS"


def test_untrained_runs_make_the_claim_not_run():
    claim = Claim("bound decreases with N", ALWAYS, requires=(P.interpolates(0.01),))
    out = _status(claim, _results({"a": {"accuracy": 1.0}, "b": {"accuracy": 0.5}}))
    assert out.status == "NOT-RUN" and "interpolation" in out.reason and "0.5" in out.measured
    assert _status(claim, _results({"a": {"accuracy": 0.995}})).status == "PASS"


def test_missing_precondition_values_are_not_run_never_pass():
    claim = Claim("x", ALWAYS, requires=(P.every_class_learned(),))
    out = _status(claim, _results({"a": {"loss": 0.1}}))
    assert out.status == "NOT-RUN" and "class_recall_min" in out.measured
    # one run lacking it is enough
    out = _status(claim, _results({"a": {"class_recall_min": 1.0}, "b": {"loss": 0.1}}))
    assert out.status == "NOT-RUN"


def test_a_failing_claim_stays_fail_in_its_regime():
    fails = C.custom(lambda res: (False, "m", "t"))
    claim = Claim("x", fails, requires=(P.below_zero_solution(),))
    assert _status(claim, _results({"a": {"loss": 0.1, "ref/zero_loss": 0.5}})).status == "FAIL"


@pytest.mark.parametrize("runs", [
    {"b": {"status": "finished", "summary": {"diverged": True,
                                             "divergence": "diverged at step 7: loss is nan"}}},
    {"b": {"status": "diverged", "summary": {"divergence": "diverged at step 7: loss is nan"}}},
])
def test_diverged_runs_are_never_scored(runs):
    claim = Claim("x", ALWAYS)
    res = _results({"a": {"loss": 0.1}, "b": {"loss": 0.1}},
                   runs={"a": {"status": "finished", "summary": {"diverged": False}}, **runs})
    out = _status(claim, res)
    assert out.status == "NOT-RUN" and out.reason == "diverged runs are not scored"
    assert "b: diverged at step 7" in out.measured
    # a diverged run that the store left out of the records still counts
    res = _results({"a": {"loss": 0.1}}, runs={"a": {"status": "finished"}, **runs})
    assert _status(claim, res).status == "NOT-RUN"


def test_divergence_record_is_read_too():
    res = _results({"a": {"loss": 0.1, "diverged": 1.0}})
    assert res.diverged() == {"a": "diverged"}
    assert _status(Claim("x", ALWAYS), res).status == "NOT-RUN"
    assert _results({"a": {"loss": 0.1, "diverged": 0.0}}).diverged() == {}


def test_scale_comes_before_preconditions():
    claim = Claim("x", ALWAYS, scales=("paper",), why="needs long training",
                  requires=(P.interpolates(),))
    out = _status(claim, _results({"a": {"accuracy": 0.1}}))
    assert out.status == "NOT-RUN" and out.reason.startswith("not meaningful at 'cpu'")


def test_experiment_requirements_reach_every_claim_once():
    req = Requirement("r", lambda res: (False, "m"))
    own = Requirement("own", lambda res: (True, ""))
    exp = Experiment(id="e", paper="p", figure="f", title="t", base=object(),
                     scales={"cpu": Scale()}, requires=(req,),
                     claims=(Claim("a", ALWAYS), Claim("b", ALWAYS, requires=(own,))))
    assert [c.requires for c in exp.claims] == [(req,), (req, own)]
    again = dataclasses.replace(exp, scales={"cpu": Scale(seeds=2)})
    assert [c.requires for c in again.claims] == [(req,), (req, own)]


def test_store_results_carry_run_status_and_divergence(tmp_path):
    store = Store(tmp_path / "runs")
    for seed, diverged in ((0, False), (1, True)):
        run = store.start_run("e", "cpu", {"lam": 0.1}, seed, {})
        run.write_metrics([{"step": 5, "layer": "model", "metric": "loss", "value": 0.1}])
        run.finish({"diverged": diverged,
                     "divergence": "diverged at step 5: loss is inf" if diverged else None})
    res = store.results("e", "cpu")
    assert len(res.runs()) == 2
    (bad,) = res.diverged()
    assert res.diverged()[bad] == "diverged at step 5: loss is inf"
    assert evaluate_claim(Claim("x", ALWAYS), res).status == "NOT-RUN"


@pytest.mark.parametrize("preset, targets, expected", [
    ("p2_dufm", "auto", lambda N, K: 0.5),  # ||Y||²/(2N), one-hot Y
    ("p0_theory", "auto", lambda N, K: N / 2),  # ½||Y||² summed
    ("torch_mse", "auto", lambda N, K: 1 / K),  # ||Y||²/(NK)
    ("p1_eq3", "auto", lambda N, K: 1.0),
    ("cross_entropy", "auto", lambda N, K: math.log(K)),  # uniform softmax
])
def test_zero_solution_loss_from_the_preset(preset, targets, expected):
    y = torch.tensor([0, 1, 2, 3, 0, 1, 2, 3, 3])
    got = zero_solution_loss(y, 4, LossConfig(preset=preset, targets=targets))
    assert got == pytest.approx(expected(9, 4), rel=1e-12)


def test_zero_solution_loss_signed_and_scaled_targets():
    y = torch.tensor([0, 1, 1, 0, 1])
    assert zero_solution_loss(y, 2, LossConfig(preset="p3", targets="signed")) == 1.0
    cfg = LossConfig(preset="p2_dufm", target_scale=2.0)
    assert zero_solution_loss(y, 2, cfg) == pytest.approx(4 * 0.5)


def test_too_few_classes_make_the_claim_not_run():
    why = "equinorm fixed by the class sizes"
    claim = Claim("equinorm decreases", ALWAYS, requires=(P.at_least_classes(3, 2, why),))
    out = _status(claim, _results({"a": {"loss": 0.1}}))
    assert out.status == "NOT-RUN" and "at least 3 classes" in out.reason
    assert "K = 2" in out.measured and why in out.measured
    ok = Claim("equinorm decreases", ALWAYS, requires=(P.at_least_classes(3, 10, why),))
    assert _status(ok, _results({"a": {"loss": 0.1}})).status == "PASS"
    with pytest.raises(ValueError, match="number of classes"):
        P.at_least_classes(3, 0, why)


def test_xu2023_fig9_equinorm_claim_needs_three_classes():
    # the paper's Fig 9 is binary: its centred equinorm is |n1 - n2|/N for any features
    from nclab.experiments import get

    claim = next(c for c in get("xu2023-fig9").claims if "equinorm" in c.text)
    out = _status(claim, _results({"a": {"accuracy": 1.0}}))
    assert out.status == "NOT-RUN" and "at least 3 classes" in out.reason
    assert "K = 2" in out.measured and "|n1 - n2|/N" in out.measured
