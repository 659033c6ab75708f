"""``NeuralCollapse`` under torchmetrics and ``NeuralCollapseCallback`` under a real Lightning
Trainer (CPU, tiny models)."""

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from nclab import metrics as m

torchmetrics = pytest.importorskip("torchmetrics")
from nclab.integrations.torchmetrics import NeuralCollapse  # noqa: E402


def _data(seed=0, K=3, n=30, D=5, offset=0.0):
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(K).repeat(n)
    H = offset + 3 * torch.randn(K, D, generator=g)[y] + torch.randn(len(y), D, generator=g)
    return H, y, torch.randn(K, D, generator=g)


def test_neural_collapse_metric_equals_the_functions_and_merges():
    H, y, W = _data()
    metric = NeuralCollapse(3, 5, scatter=True)
    for i in range(0, len(y), 16):
        metric.update(H[i:i + 16], y[i:i + 16], classifier=W)
    out = metric.compute()
    assert float(out["nc1_trace"]) == pytest.approx(m.nc1_trace(H, y), rel=1e-10)
    assert float(out["cdnv"]) == pytest.approx(m.cdnv(H, y), rel=1e-10)
    assert float(out["nc2_cond"]) == pytest.approx(m.nc2_cond(H, y), rel=1e-10)
    assert float(out["nc3_cos"]) == pytest.approx(m.nc3_cos(H, y, W), rel=1e-10)
    assert float(out["nc3_duality"]) == pytest.approx(m.nc3_duality(H, y, W), rel=1e-10)
    assert float(out["nc1_pinv"]) == pytest.approx(m.nc1_pinv(H, y), rel=1e-8)
    # sum states: two shards merged as a process group would (dist_reduce_fx="sum")
    a, b = NeuralCollapse(3, 5), NeuralCollapse(3, 5)
    a.update(H[:40], y[:40])
    b.update(H[40:], y[40:])
    a.merge_state(b)
    assert float(a.compute()["nc1_trace"]) == pytest.approx(m.nc1_trace(H, y), rel=1e-10)
    for key in ("counts", "sums", "sq_sums", "unit_sums"):  # what a process group applies
        gathered = torch.stack([torch.ones(2), 2 * torch.ones(2)])
        assert torch.equal(a._reductions[key](gathered), 3 * torch.ones(2)), key
    assert "nc3_cos" in a.skipped
    a.reset()
    with pytest.warns(UserWarning), pytest.raises(ValueError, match="no data"):
        a.compute()


def test_neural_collapse_metric_large_offset_and_collection():
    H, y, W = _data(1, offset=100.0)
    col = torchmetrics.MetricCollection({"nc": NeuralCollapse(3, 5, classifier=W)})
    col.update(H, y)
    out = col.compute()
    key = next(k for k in out if k.endswith("nc1_trace"))
    assert float(out[key]) == pytest.approx(m.nc1_trace(H, y), rel=1e-9)


def test_neural_collapse_metric_bad_input():
    metric = NeuralCollapse(3, 5)
    with pytest.raises(ValueError, match="columns"):
        metric.update(torch.randn(4, 6), torch.zeros(4, dtype=torch.long))
    with pytest.raises(ValueError, match="out of range"):
        metric.update(torch.randn(4, 5), torch.full((4,), 3))
    with pytest.raises(ValueError, match="classifier"):
        NeuralCollapse(3, 5, classifier=torch.randn(2, 5))
    with pytest.raises(ValueError, match="num_classes"):
        NeuralCollapse(1, 5)


def test_lightning_callback_logs_through_the_trainer(tmp_path):
    L = pytest.importorskip("lightning.pytorch")
    from nclab.integrations.lightning import NeuralCollapseCallback

    H, y, _ = _data(2, n=20)

    class Module(L.LightningModule):
        def __init__(self):
            super().__init__()
            self.net = nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Linear(8, 3))

        def forward(self, x):
            return self.net(x)

        def training_step(self, batch, _):
            x, t = batch
            return nn.functional.cross_entropy(self(x), t)

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.1)

    loader = DataLoader(TensorDataset(H, y), batch_size=20)
    cb = NeuralCollapseCallback((H, y), ["net.1"], every_n_epochs=2)
    trainer = L.Trainer(max_epochs=4, callbacks=[cb], accelerator="cpu", logger=False,
                        enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, default_root_dir=str(tmp_path))
    module = Module()
    trainer.fit(module, loader)
    assert sorted(cb.reports) == [1, 3]
    logged = trainer.callback_metrics
    assert float(logged["nc/net.1/nc1_trace"]) == pytest.approx(cb.reports[3].rows[0]["nc1_trace"])
    assert "nc/net.1/nc4_ncc" in logged  # net.1's output is the classifier's input
    assert module.training  # analyze restored the mode
