"""``nclab.analyze`` on networks that are not nclab's: equal to the metrics of features collected
by hand, and a clear error for every bad input."""

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import nclab
from nclab import metrics as m

K = 4


class Residual(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv1 = nn.Conv2d(c, c, 3, padding=1)
        self.bn = nn.BatchNorm2d(c)
        self.conv2 = nn.Conv2d(c, c, 3, padding=1)

    def forward(self, x):
        return torch.relu(x + self.conv2(torch.relu(self.bn(self.conv1(x)))))


class CNN(nn.Module):
    """Sequential stem (in-place ReLU), a residual block, global pooling, an MLP head."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, 6, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(2))
        self.block = Residual(6)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.flat = nn.Flatten()
        self.fc1 = nn.Linear(6, 12)
        self.act = nn.ReLU()
        self.drop = nn.Dropout(0.5)
        self.head = nn.Linear(12, K)

    def forward(self, x):
        h = self.act(self.fc1(self.flat(self.pool(self.block(self.stem(x))))))
        return self.head(self.drop(h))

    def by_hand(self, x):
        s = self.stem(x)
        b = self.block(s)
        z = self.fc1(self.flat(self.pool(b)))
        stem = s.mean((2, 3))  # float32 like analyze's avg pool: the cutoffs follow it
        return {"stem": stem, "block": b.flatten(1), "fc1": z, "act": torch.relu(z)}


class Tx(nn.Module):
    """Embedding + transformer encoder; a sequence classifier on the mean token (``head``) and a
    per-token classifier (``tok``, used with ``per_token=True``)."""

    def __init__(self, per_token=False, V=12, D=16):
        super().__init__()
        self.per_token = per_token
        self.emb = nn.Embedding(V, D)
        layer = nn.TransformerEncoderLayer(D, 2, 32, dropout=0.1, batch_first=True)
        self.enc = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(D)
        self.head = nn.Linear(D, K)
        self.tok = nn.Linear(D, K)

    def forward(self, ids):
        h = self.norm(self.enc(self.emb(ids)))
        return self.tok(h) if self.per_token else self.head(h.mean(1))


def _images(n=40, seed=0):
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(K).repeat(n)
    protos = torch.randn(K, 1, 8, 8, generator=g)
    return protos[y] + 0.7 * torch.randn(len(y), 1, 8, 8, generator=g), y


def _tokens(n=30, T=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(K).repeat(n)
    ids = (3 * y[:, None] + torch.randint(0, 3, (len(y), T), generator=g)) % 12
    return ids, y


def _compare(rep, ref, rel=1e-9):
    got = {(r["layer"], r["kind"]): r for r in rep.rows}
    want = {(r["layer"], r["kind"]): r for r in ref.rows}
    assert set(got) == set(want)
    for key, row in want.items():
        assert set(got[key]) == set(row), key
        for k, v in row.items():
            if k not in ("layer", "kind"):
                assert got[key][k] == pytest.approx(v, rel=rel, abs=1e-12), (key, k)


def test_cnn_equals_features_collected_by_hand():
    torch.manual_seed(0)
    model = CNN()
    X, y = _images()
    model.eval()
    with torch.no_grad():
        feats = model.by_hand(X)
    ref = m.layer_report(
        feats, y, [("fc1", model.fc1.weight.detach()), ("head", model.head.weight.detach())],
        K=K, classifier=model.head.weight.detach(), classifier_input="act",
        classifier_bias=model.head.bias.detach(),
    )
    model.train()
    model.block.bn.eval()  # a submodule in another mode: restored as it was
    loader = DataLoader(TensorDataset(X, y), batch_size=24, shuffle=True)
    rep = nclab.analyze(model, loader, ["stem", "block", "fc1", "act"],
                        pool={"stem": "avg", "block": "flatten"})
    _compare(rep, ref, rel=1e-6)  # float32 forward passes in batches of 24 vs all at once
    assert rep.info["classifier"] == "head" and rep.info["classifier_row"] == "act"
    assert rep.info["weights"] == ["fc1", "head"] and rep.info["passes"] == 2
    assert rep.info["layers"]["stem"]["pool"] == "avg" and rep.info["N"]["stem"] == len(y)
    assert rep.info["layers"]["stem"]["device"] == "cpu"
    assert model.training and not model.block.bn.training and model.drop.training
    assert all(not mod._forward_hooks and not mod._forward_pre_hooks for mod in model.modules())
    assert all(p.grad is None for p in model.parameters())


def test_same_numbers_from_tensors_lists_and_one_pass():
    torch.manual_seed(1)
    model = CNN()
    X, y = _images(seed=1)
    layers = ["fc1", "act"]
    base = nclab.analyze(model, (X, y), layers, batch_size=50)
    batches = [(X[i:i + 33], y[i:i + 33]) for i in range(0, len(y), 33)]
    _compare(nclab.analyze(model, batches, layers), base, rel=1e-10)
    one = nclab.analyze(model, iter(batches), layers, one_pass=True)
    rows = {r["layer"]: r for r in one.rows if r["kind"] == "features"}
    for r in base.rows:
        if r["kind"] == "features":
            for k in ("nc1_trace", "cdnv", "nc2_cond", "nc3_cos"):
                if k in r:
                    assert rows[r["layer"]][k] == pytest.approx(r[k], rel=1e-10)
            assert "nc1_pinv" not in rows[r["layer"]]
    assert "second pass" in one.skipped[("act", "features", "nc4_ncc")]
    assert "scatter" in one.skipped[("fc1", "features", "nc1_pinv")]
    sc = nclab.analyze(model, iter(batches), layers, one_pass=True, scatter=True)
    for r in base.rows:
        if r["kind"] == "features":
            got = next(s for s in sc.rows if s["layer"] == r["layer"])
            assert got["nc1_pinv"] == pytest.approx(r["nc1_pinv"], rel=1e-8)


def test_classifier_bias_and_extra_input_row():
    torch.manual_seed(2)
    model = CNN()
    X, y = _images(seed=2)
    model.eval()
    with torch.no_grad():
        model.head.bias.copy_(torch.tensor([0.0, 50.0, 0.0, 0.0]))
        H = model.by_hand(X)["act"]
    rep = nclab.analyze(model, (X, y), ["fc1"])  # head's input not among the layers
    row = {r["layer"]: r for r in rep.rows}["head:input"]
    ref = m.layer_report({"h": H}, y, classifier=model.head.weight.detach(), classifier_input="h",
                         classifier_bias=model.head.bias.detach())
    assert row["nc4_ncc"] == pytest.approx(ref.rows[0]["nc4_ncc"])
    assert row["nc4_ncc"] != pytest.approx(m.nc4_ncc(H, y, model.head.weight.detach()))
    assert rep.info["classifier_row"] == "head:input"
    # explicit classifier, and none at all
    rep = nclab.analyze(model, (X, y), ["fc1"], classifier="fc1", num_classes=None)
    assert rep.info["classifier"] == "fc1" and rep.info["K"] == 12
    none = nclab.analyze(model, (X, y), ["act"], classifier=False, num_classes=K, weights=None)
    assert ("classifier", "features", "nc3_cos") in none.skipped
    assert not any(r["kind"] == "weight" for r in none.rows)


def test_transformer_sequence_classifier_equals_by_hand():
    torch.manual_seed(3)
    model = Tx()
    ids, y = _tokens()
    model.eval()
    with torch.no_grad():
        e = model.emb(ids)
        l0 = model.enc.layers[0](e)
        n = model.norm(model.enc.layers[1](l0))
    feats = {"enc.layers.0": l0.mean(1), "norm": n.mean(1), "head:input": n.mean(1)}
    ref = m.layer_report(feats, y, [("head", model.head.weight.detach())], K=K,
                         classifier=model.head.weight.detach(), classifier_input="head:input",
                         classifier_bias=model.head.bias.detach())
    rep = nclab.analyze(model, DataLoader(TensorDataset(ids, y), batch_size=32),
                        ["enc.layers.0", "norm"], pool=lambda t: t.mean(1))
    _compare(rep, ref, rel=1e-4)
    assert rep.info["classifier"] == "head"


def test_per_token_labels_with_ignore_index_and_dict_batches():
    torch.manual_seed(4)
    model = Tx(per_token=True)
    ids, _ = _tokens(T=6, seed=4)
    labels = ids % K
    labels[:, 0] = -100  # e.g. padding / no target
    model.eval()
    with torch.no_grad():
        n = model.norm(model.enc(model.emb(ids)))
    keep = labels.reshape(-1) != -100
    H = n.reshape(-1, n.shape[-1])[keep]
    ref = m.layer_report({"norm": H}, labels.reshape(-1)[keep], K=K,
                         classifier=model.tok.weight.detach(), classifier_input="norm",
                         classifier_bias=model.tok.bias.detach())
    batches = [{"input_ids": ids[i:i + 40], "labels": labels[i:i + 40]} for i in range(0, len(ids), 40)]

    class Wrap(nn.Module):  # an HF-style model taking keyword arguments
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, input_ids):
            return self.inner(input_ids)

    rep = nclab.analyze(Wrap(model), batches, ["inner.norm"], pool="tokens", weights=None,
                        batch_fn=lambda b: ({"input_ids": b["input_ids"]}, b["labels"]))
    assert rep.info["classifier"] == "inner.tok" and rep.info["classifier_row"] == "inner.norm"
    got = rep.rows[0]
    for k, v in ref.rows[0].items():
        if k not in ("layer", "kind"):
            assert got[k] == pytest.approx(v, rel=1e-4), k


def test_errors_for_bad_input():
    torch.manual_seed(5)
    model = CNN()
    X, y = _images(n=10)
    data = (X, y)
    with pytest.raises(ValueError, match=r"no module 'fc_1'.*close matches: fc1"):
        nclab.analyze(model, data, ["fc_1"])
    with pytest.raises(ValueError, match=r"not called by the forward"):
        nclab.analyze(_Unused(), data, ["unused"])
    with pytest.raises(ValueError, match=r"feature maps of shape \(.*pool='avg'"):
        nclab.analyze(model, data, ["stem"])
    with pytest.raises(ValueError, match=r"one-shot iterator"):
        nclab.analyze(model, iter([data]), ["fc1"])
    with pytest.raises(ValueError, match=r"batch_fn"):
        nclab.analyze(model, [{"x": X, "y": y}], ["fc1"])
    with pytest.raises(ValueError, match=r"integer"):
        nclab.analyze(model, (X, y.float()), ["fc1"])
    with pytest.raises(ValueError, match=r"labels contain 7, but the classifier 'head' has K=4"):
        nclab.analyze(model, (X, y + 4), ["fc1"])
    with pytest.raises(ValueError, match=r"num_classes=3 but the classifier"):
        nclab.analyze(model, data, ["fc1"], num_classes=3)
    with pytest.raises(ValueError, match=r"not an nn.Linear"):
        nclab.analyze(model, data, ["fc1"], classifier="act")
    with pytest.raises(ValueError, match=r"classifier: .*no module 'haed'.*head"):
        nclab.analyze(model, data, ["fc1"], classifier="haed")
    with pytest.raises(ValueError, match=r"DataLoader"):
        nclab.analyze(model, TensorDataset(X, y), ["fc1"])
    with pytest.raises(ValueError, match=r"nn.Module"):
        nclab.analyze(lambda x: x, data, ["fc1"])
    with pytest.raises(ValueError, match=r"layers is empty"):
        nclab.analyze(model, data, [])
    with pytest.raises(ValueError, match=r"pool for 'stem' must be one of"):
        nclab.analyze(model, data, ["stem"], pool="max")
    with pytest.raises(ValueError, match=r"capture"):
        nclab.analyze(model, data, ["fc1"], capture="grad")
    with pytest.raises(ValueError, match=r"num_classes is needed"):
        nclab.analyze(model, data, ["fc1"], classifier=False)
    with pytest.raises(ValueError, match=r"rows .* labels of shape|feature rows"):
        nclab.analyze(model, (X, y[:, None].repeat(1, 3)), ["fc1"])
    with pytest.raises(ValueError, match=r"called more than once"):
        nclab.analyze(_Shared(), (torch.randn(12, 3), torch.arange(3).repeat(4)), ["lin"])
    with pytest.raises(ValueError, match=r"MultiheadAttention|tuple|capture='output:i'"):
        nclab.analyze(Tx(), _tokens(n=3), ["enc.layers.0.self_attn"], pool="tokens")
    with pytest.raises(ValueError, match=r"first pass and .* second"):
        nclab.analyze(model, _Shrinking(X, y), ["fc1"])
    with pytest.raises(ValueError, match=r"layer 'fc1'.*NaN"):
        bad = X.clone()
        bad[0] = float("nan")
        nclab.analyze(model, (bad, y), ["fc1"])
    # modes and hooks are restored even after an error
    assert model.training
    assert all(not mod._forward_hooks and not mod._forward_pre_hooks for mod in model.modules())


class _Unused(nn.Module):
    def __init__(self):
        super().__init__()
        self.used, self.unused = nn.Linear(64, K), nn.Linear(64, K)

    def forward(self, x):
        return self.used(x.flatten(1))


class _Shared(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(3, 3)

    def forward(self, x):
        return self.lin(self.lin(x))


class _Shrinking:
    """Re-iterable whose second pass loses a batch (like a sampler that drops samples)."""

    def __init__(self, X, y):
        self.X, self.y, self.n = X, y, 0

    def __iter__(self):
        self.n += 1
        stop = len(self.y) if self.n == 1 else len(self.y) - 8
        for i in range(0, stop, 8):
            yield self.X[i:i + 8], self.y[i:i + 8]


def test_long_format_and_weights_all():
    torch.manual_seed(6)
    model = CNN()
    X, y = _images(n=10, seed=6)
    rep = nclab.analyze(model, (X, y), ["act"], weights="all")
    assert rep.info["weights"] == ["stem.0", "block.conv1", "block.conv2", "fc1", "head"]
    assert "not a matrix" in rep.skipped[("block.conv2", "weight", "w_balancedness")]
    assert "w_balancedness" in {r["layer"]: r for r in rep.rows if r["kind"] == "weight"}["fc1"]
    long = rep.long(step=3)
    assert {e["layer"] for e in long} >= {"act", "head", "fc1"}
    assert all(e["step"] == 3 for e in long)


def test_import_nclab_is_light():
    import subprocess
    import sys

    code = ("import sys, nclab; heavy = [m for m in ('torch', 'lightning', 'transformers', "
            "'torchmetrics', 'nclab.analysis', 'nclab.metrics') if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    assert callable(nclab.analyze)


def test_tuple_output_element_and_bf16_features():
    torch.manual_seed(7)
    model = Tx().eval()
    ids, y = _tokens(n=8)
    # MultiheadAttention returns (output, weights): take element 0, mean over tokens
    rep = nclab.analyze(model, (ids, y), ["enc.layers.0.self_attn"], capture="output:0",
                        pool=lambda t: t.mean(1), weights=None)
    with torch.no_grad():
        e = model.emb(ids)
        a = model.enc.layers[0].self_attn(e, e, e, need_weights=False)[0].mean(1)
    row = {r["layer"]: r for r in rep.rows}["enc.layers.0.self_attn"]
    assert row["nc1_trace"] == pytest.approx(m.nc1_trace(a, y), rel=1e-4)
    # a bf16 model: features arrive in bf16, statistics are float64
    cnn = CNN().eval()
    X, yi = _images(n=10, seed=7)
    ref = {r["layer"]: r for r in nclab.analyze(cnn, (X, yi), ["stem", "act"], pool="avg").rows}
    low = nclab.analyze(cnn.to(torch.bfloat16), (X.to(torch.bfloat16), yi), ["stem", "act"], pool="avg")
    for r in low.rows:
        if r["kind"] == "features":
            assert r["nc1_trace"] == pytest.approx(ref[r["layer"]]["nc1_trace"], rel=0.05)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_features_and_statistics_stay_on_the_models_device():
    torch.manual_seed(8)
    model = CNN().cuda()
    X, y = _images(n=10, seed=8)  # CPU batches: moved to the model's device
    rep = nclab.analyze(model, (X, y), ["stem", "act"], pool="avg")
    assert all(v["device"].startswith("cuda") for v in rep.info["layers"].values())
    ref = nclab.analyze(model.cpu(), (X, y), ["stem", "act"], pool="avg")
    for a, b in zip(rep.rows, ref.rows, strict=True):
        assert a.get("nc1_trace", 0) == pytest.approx(b.get("nc1_trace", 0), rel=1e-4)
