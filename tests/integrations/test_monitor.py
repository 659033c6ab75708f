"""``Monitor`` in a plain loop: the store (queried by SQL, drawn by ``nclab report``),
TensorBoard and a wandb-style logger."""

import json
import subprocess
import sys

import pytest
import torch
from torch import nn

import nclab
from nclab.integrations.monitor import Monitor
from nclab.store import Store


def _setup(seed=0, K=3, n=20):
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(K).repeat(n)
    X = 2 * torch.randn(K, 6, generator=g)[y] + torch.randn(len(y), 6, generator=g)
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, K))
    return model, X, y


class _Logger:
    def __init__(self):
        self.calls = []

    def log(self, values, step=None):
        self.calls.append((step, dict(values)))


def _train(mon, model, X, y, steps=6):
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    for step in range(steps):
        loss = nn.functional.cross_entropy(model(X), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        mon(model, step, loss=loss.item())


def test_monitor_writes_the_store_tensorboard_and_a_logger(tmp_path):
    model, X, y = _setup()
    logger = _Logger()
    tb = pytest.importorskip("torch.utils.tensorboard")
    writer = tb.SummaryWriter(str(tmp_path / "tb"))
    with Monitor((X, y), ["1"], every=2, steps=[5], store=tmp_path / "runs", experiment="my-mlp",
                 params={"lr": 0.1}, tensorboard=writer, wandb=logger) as mon:
        _train(mon, model, X, y)
    assert sorted(mon.reports) == [0, 2, 4, 5]
    store = Store(tmp_path / "runs")
    runs = store.runs("my-mlp")
    assert len(runs) == 1 and runs[0]["status"] == "finished"
    got = store.query("SELECT step, value FROM metrics WHERE layer = '1' AND metric = 'nc1_trace' "
                      "ORDER BY step")
    assert [r["step"] for r in got] == [0, 2, 4, 5]
    assert got[-1]["value"] == {r["layer"]: r for r in mon.reports[5].rows}["1"]["nc1_trace"]
    loss = store.query("SELECT count(*) AS n FROM metrics WHERE layer = 'model' AND metric = 'loss'")
    assert loss[0]["n"] == 4
    assert [s for s, _ in logger.calls] == [0, 2, 4, 5]
    assert logger.calls[0][1]["nc/1/nc1_trace"] == mon.reports[0].rows[0]["nc1_trace"]
    assert "model/loss" in logger.calls[0][1]
    writer.close()
    assert any((tmp_path / "tb").iterdir())
    # the CLI sees the run: runs --sql and report
    env_py = [sys.executable, "-m", "nclab.cli"]
    out = subprocess.run(env_py + ["runs", "--out", str(tmp_path / "runs"), "--sql",
                                   "SELECT count(*) AS n FROM metrics WHERE experiment = 'my-mlp'",
                                   "--json"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    rep = subprocess.run(env_py + ["report", "my-mlp", "--out", str(tmp_path / "runs")],
                         capture_output=True, text=True)
    assert rep.returncode == 0, rep.stderr + rep.stdout
    assert (tmp_path / "runs" / "my-mlp" / "cpu" / "_report" / "report.html").is_file()


def test_monitor_marks_a_crashed_run_failed(tmp_path):
    model, X, y = _setup(1)
    with pytest.raises(RuntimeError):
        with Monitor((X, y), ["1"], every=1, store=tmp_path, experiment="crash") as mon:
            mon(model, 0)
            raise RuntimeError("boom")
    assert Store(tmp_path).runs("crash")[0]["status"] == "failed"


def test_monitor_bad_arguments(tmp_path):
    model, X, y = _setup(2)
    with pytest.raises(ValueError, match="every"):
        Monitor((X, y), ["1"])
    with pytest.raises(ValueError, match="every"):
        Monitor((X, y), ["1"], every=0)
    with pytest.raises(ValueError, match="wandb"):
        Monitor((X, y), ["1"], every=1, wandb="yes")
    mon = Monitor((X, y), ["1"], every=3)
    assert mon(model, 1) is None and mon(model, 3) is not None
    with pytest.raises(ValueError, match="step"):
        mon(model, 1.0)


def test_import_nclab_imports_no_framework():
    code = ("import sys, nclab, nclab.integrations; print([m for m in ('lightning', "
            "'transformers', 'torchmetrics', 'tensorboard', 'wandb') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    assert nclab.analyze is nclab.analysis.analyze
    json.dumps(None)
