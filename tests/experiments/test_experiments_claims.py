"""Claims are evaluated in one place (nclab.experiments.claims): an explicit ERROR for a check or
precondition that raised, and scoring on the runs of the current plan only."""

import pytest

from nclab.experiments import checks as C
from nclab.experiments.claims import evaluate, evaluate_claim, planned_results, planned_run_ids
from nclab.experiments.spec import Claim, ClaimOutcome, Experiment, Missing, Requirement, Scale
from nclab.running import plan, run_experiment
from nclab.store import Results, Store

ALWAYS = C.custom(lambda res: (True, "measured", "threshold"))


def _rows(values: dict[str, float], scale="cpu") -> list[dict]:
    return [{"experiment": "e", "scale": scale, "run_id": run, "seed": 0, "params": {},
             "step": 1, "layer": "model", "metric": "m", "value": v}
            for run, v in values.items()]


def _raise(exc):
    def fn(results):
        raise exc

    return fn


@pytest.mark.parametrize("claim, status, reason", [
    (Claim("x", _raise(KeyError("nc9"))), "ERROR", "check raised KeyError: 'nc9'"),
    (Claim("x", _raise(Missing("no nc9 rows"))), "NOT-RUN", "no nc9 rows"),
    (Claim("x", lambda res: "PASS"), "ERROR", "not a ClaimOutcome"),
    (Claim("x", ALWAYS, requires=(Requirement("r", _raise(ZeroDivisionError("z"))),)), "ERROR",
     "precondition 'r' raised ZeroDivisionError: z"),
    (Claim("x", ALWAYS, requires=(Requirement("r", _raise(Missing("no m"))),)), "NOT-RUN",
     "precondition not met: r"),
    (Claim("x", ALWAYS, requires=(Requirement("r", lambda res: (True, "ok")),)), "PASS", ""),
    (Claim("x", _raise(KeyError("nc9")), scales=("paper",)), "NOT-RUN", "not meaningful"),
])
def test_status_is_explicit(claim, status, reason):
    out = evaluate_claim(claim, Results("e", "cpu", _rows({"a": 0.5})))
    assert out.status == status and reason in out.reason


def test_no_runs_and_bad_statuses():
    (text, out), = evaluate(Experiment("e", "P", "F", "t", None, {}, claims=(Claim("c", ALWAYS),)),
                            Results("e", "cpu", []))
    assert text == "c" and out.status == "NOT-RUN" and out.reason == "no finished runs"
    with pytest.raises(ValueError, match="status must be one of"):
        ClaimOutcome("CRASHED")
    with pytest.raises(ValueError, match="results are of experiment 'other'"):
        evaluate(Experiment("e", "P", "F", "t", None, {}), Results("other", "cpu", []))


def _compute(params, seed):
    return [{"step": 0, "layer": "model", "metric": "m", "value": 0.1 * params["a"] + seed}]


def _below_one(results):
    top = float(results.final("m", "model").max())
    return top < 1, f"max m = {top:.3g}", "< 1"


EXP = Experiment(
    id="tiny-theory", paper="P", figure="F", title="t", base=None, compute=_compute,
    scales={"smoke": Scale(grid={"a": [1, 2]}, seeds=1)},
    claims=(Claim("every m is below 1", C.custom(_below_one), scales=("smoke",)),),
)


def test_planned_run_ids_are_those_of_the_runner_plan():
    assert planned_run_ids(EXP, "smoke") == [p.run_id for p in plan(EXP, "smoke")]
    assert planned_run_ids(EXP, "smoke", seeds=3) == [p.run_id for p in plan(EXP, "smoke",
                                                                              seeds=3)]
    records = Experiment("user-runs", "user", "", "t", None, {"cpu": Scale()})
    assert records.kind == "records" and planned_run_ids(records, "cpu") is None
    with pytest.raises(ValueError, match="has no scale 'paper'"):
        planned_run_ids(EXP, "paper")


def test_runs_not_in_the_plan_are_never_scored(tmp_path):
    """Issue 12: an older grid's runs stay in the store; they must not change a claim."""
    store = Store(tmp_path)
    run_experiment(EXP, store, "smoke")
    before = evaluate(EXP, planned_results(store, EXP, "smoke"))
    assert [o.status for _, o in before] == ["PASS"]
    # a run of an older grid (a = 50) whose value flips the claim, and a diverged one
    old = store.start_run(EXP.id, "smoke", {"a": 50}, 0, {})
    old.write_metrics([{"step": 0, "layer": "model", "metric": "m", "value": 5.0}])
    old.finish({})
    store.start_run(EXP.id, "smoke", {"a": 60}, 0, {}).finish({"diverged": True},
                                                              status="diverged")
    everything = evaluate(EXP, store.results(EXP.id, "smoke"))
    assert [o.status for _, o in everything] == ["NOT-RUN"]  # scoring every run: diverged
    with_old = store.results(EXP.id, "smoke", run_ids=[*planned_run_ids(EXP, "smoke"),
                                                       old.run_id])
    assert [o.status for _, o in evaluate(EXP, with_old)] == ["FAIL"]  # the old run flips it
    res = planned_results(store, EXP, "smoke")
    after = evaluate(EXP, res)
    assert after == before and len(res.excluded) == 2
    assert sorted(res.runs()) == sorted(planned_run_ids(EXP, "smoke"))
    # another plan (3 seeds: seeds 1, 2 give m >= 1) is scored on its own runs
    run_experiment(EXP, store, "smoke", seeds=3)
    three = planned_results(store, EXP, "smoke", seeds=3)
    assert [o.status for _, o in evaluate(EXP, three)] == ["FAIL"]
    assert [o.status for _, o in evaluate(EXP, planned_results(store, EXP, "smoke"))] == ["PASS"]
