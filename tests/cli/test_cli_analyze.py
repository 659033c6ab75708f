"""``nclab analyze --model pkg.module:factory --weights FILE.safetensors --data NAME --layers``."""

import json

import torch
from safetensors.torch import save_file

import nclab
from nclab.cli import main
from nclab.data import load_dataset

FACTORY = '''
from torch import nn

def build():
    return nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 16),
                         nn.ReLU(), nn.Linear(16, 10))
'''


def _module(tmp_path, monkeypatch):
    (tmp_path / "user_nets.py").write_text(FACTORY)
    monkeypatch.syspath_prepend(str(tmp_path))
    import user_nets

    torch.manual_seed(0)
    model = user_nets.build()
    save_file(model.state_dict(), str(tmp_path / "w.safetensors"))
    return model


def test_cli_analyze_json_equals_the_api(tmp_path, monkeypatch, capsys):
    model = _module(tmp_path, monkeypatch)
    argv = ["analyze", "--model", "user_nets:build", "--weights", str(tmp_path / "w.safetensors"),
            "--data", "digits", "--split", "test", "--shape", "1", "8", "8",
            "--layers", "1", "4", "--pool", "avg"]
    assert main(argv + ["--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    ds = load_dataset("digits", split="test")
    ref = nclab.analyze(model, (ds.X.reshape(-1, 1, 8, 8), ds.y), ["1", "4"], pool="avg")
    assert len(out["rows"]) == len(ref.rows)
    for got, want in zip(out["rows"], ref.rows, strict=True):  # JSON writes inf as "inf"
        assert set(got) == set(want)
        assert all(got[k] == want[k] if k in ("layer", "kind") else float(got[k]) == float(want[k])
                   for k in want)
    assert out["info"]["classifier"] == "5"
    assert main(argv) == 0
    table = capsys.readouterr().out
    assert "nc1_trace" in table and "classifier 5" in table


def test_cli_analyze_errors_exit_2(tmp_path, monkeypatch, capsys):
    _module(tmp_path, monkeypatch)
    base = ["analyze", "--data", "digits", "--shape", "1", "8", "8", "--layers", "1"]
    assert main(base + ["--model", "user_nets"]) == 2
    assert "package.module:factory" in capsys.readouterr().err
    assert main(base + ["--model", "user_nets:nope"]) == 2
    assert main(base + ["--model", "user_nets:build", "--weights", str(tmp_path / "x.safetensors")]) == 2
    assert main(base + ["--model", "user_nets:build"]) == 2  # rank-4 maps without --pool
    assert "pool" in capsys.readouterr().err
    assert main(["analyze", "--data", "digits", "--shape", "1", "8", "8", "--layers", "fc",
                 "--model", "user_nets:build", "--pool", "avg"]) == 2
    assert "no module 'fc'" in capsys.readouterr().err


def test_cli_measure_classifier_input_is_explicit(tmp_path, capsys):
    import numpy as np

    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(3), 10)
    h1, h2 = rng.normal(size=(30, 8)), rng.normal(size=(30, 8))  # same width: no guessing
    f = tmp_path / "feats.npz"
    np.savez(f, y=y, h1=h1, h2=h2, W=rng.normal(size=(3, 8)))
    assert main(["measure", str(f), "--weights", "W", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert not any("nc3_cos" in r for r in out["rows"])
    assert "classifier_input" in out["skipped"]["classifier/features/nc3_cos"]
    assert main(["measure", str(f), "--weights", "W", "--classifier-input", "h1", "--json"]) == 0
    rows = {r["layer"]: r for r in json.loads(capsys.readouterr().out)["rows"]}
    assert "nc3_cos" in rows["h1"] and "nc3_cos" not in rows["h2"]
