"""Run ids: deterministic, distinct, path-safe."""

import pytest

from nclab.store import canonical_params, run_id
from nclab.store.ids import check_name


def test_run_id_is_deterministic_and_readable():
    rid = run_id({"optim.weight_decay": 0.004, "model.width": 64}, 3)
    assert rid.startswith("seed3-width64-weight_decay0.004-")
    assert rid == run_id({"model.width": 64, "optim.weight_decay": 0.004}, 3)  # key order
    assert len(rid.rsplit("-", 1)[1]) == 8


def test_run_ids_differ_by_point_and_seed():
    ids = {run_id({"wd": wd}, seed) for wd in (1e-3, 1e-2, 0.1) for seed in range(3)}
    assert len(ids) == 9
    # these read the same after shortening keys / replacing characters; the hash separates them
    a, b = run_id({"a.lr": 0.1}, 0), run_id({"b.lr": 0.1}, 0)
    assert a != b and a.rsplit("-", 1)[0] == b.rsplit("-", 1)[0]
    assert run_id({"x": "a/b"}, 0) != run_id({"x": "a_b"}, 0)
    assert run_id({"x": 1}, 0) != run_id({"x": "1"}, 0)


def test_run_id_is_path_safe():
    rid = run_id({"act": "leaky relu/0.1", "w": -1e-05, "long": "x" * 200}, 0)
    assert check_name(rid, "run_id") == rid
    assert "/" not in rid and " " not in rid and len(rid) <= 80 + 9
    assert run_id(None, 2) == run_id({}, 2) and run_id({}, 2).startswith("seed2-")


@pytest.mark.parametrize(
    "params, seed, message",
    [
        ([1, 2], 0, "params must be a dict"),
        ({"wd": float("nan")}, 0, "without NaN"),
        ({"wd": object()}, 0, "JSON-able"),
        ({1: 2}, 0, "keys must be strings"),
        ({}, 1.5, "seed must be an int"),
        ({}, True, "seed must be an int"),
    ],
)
def test_bad_inputs(params, seed, message):
    with pytest.raises(ValueError, match=message):
        run_id(params, seed)


def test_canonical_params_and_names():
    assert canonical_params({"b": 1, "a": [1, 2]}) == '{"a":[1,2],"b":1}'
    for bad in ("", ".hidden", "_report", "a/b", "a b", "../x", "x.", None):
        with pytest.raises(ValueError, match="run_id must be"):
            check_name(bad, "run_id")
