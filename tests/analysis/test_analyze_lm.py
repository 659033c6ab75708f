"""``nclab.analyze`` on a causal language model (issue 16): the last hidden state with next-token
labels, every vocabulary token a class, rare tokens excluded by ``min_count`` and reported."""

import pytest
import torch

import nclab
from nclab import metrics as m

transformers = pytest.importorskip("transformers")

V, D = 50, 16


def _lm():
    torch.manual_seed(0)
    cfg = transformers.GPT2Config(vocab_size=V, n_positions=32, n_embd=D, n_layer=2, n_head=2,
                                  bos_token_id=0, eos_token_id=0)
    return transformers.GPT2LMHeadModel(cfg).eval()


def _corpus(n=24, T=16):
    """Zipf(1.1) token ids (n, T) and next-token labels (the last position has none: -100)."""
    g = torch.Generator().manual_seed(0)
    p = 1.0 / torch.arange(1, V + 1, dtype=torch.float64) ** 1.1
    ids = torch.multinomial(p / p.sum(), n * T, replacement=True, generator=g).reshape(n, T)
    labels = torch.full_like(ids, -100)
    labels[:, :-1] = ids[:, 1:]
    return ids, labels


def test_causal_lm_last_hidden_state_with_next_token_labels():
    model, (ids, labels) = _lm(), _corpus()
    batches = [{"input_ids": ids[i : i + 8], "labels": labels[i : i + 8]} for i in range(0, 24, 8)]
    rep = nclab.analyze(model, batches, ["transformer.ln_f"], pool="tokens", weights=None,
                        min_count=2, batch_fn=lambda b: ({"input_ids": b["input_ids"]}, b["labels"]))
    # by hand: GPT-2's last hidden state (after ln_f, the lm_head's input), positions with a target
    with torch.no_grad():
        H = model(ids, output_hidden_states=True).hidden_states[-1].reshape(-1, D)
    keep = labels.reshape(-1) != -100
    H, y = H[keep], labels.reshape(-1)[keep]
    counts = torch.bincount(y, minlength=V)
    rare = ((counts > 0) & (counts < 2)).nonzero().flatten().tolist()
    assert rare, "the corpus should have tokens seen once"
    W = model.lm_head.weight.detach()
    ref = m.layer_report({"h": H}, y, K=V, classifier=W, classifier_input="h", min_count=2)
    assert rep.info["classifier"] == "lm_head" and rep.info["min_count"] == 2
    assert rep.excluded_classes == ref.excluded_classes == tuple(rare)
    assert not rep.skipped
    row = next(r for r in rep.rows if r["layer"] == "lm_head:input")
    assert row["classes_excluded"] == len(rare)
    assert row["classes_empty"] == int((counts == 0).sum())
    assert row["excluded_share"] == pytest.approx(len(rare) / len(y))
    for key, value in ref.rows[0].items():
        if key not in ("layer", "kind"):
            assert row[key] == pytest.approx(value, rel=1e-6, abs=1e-12), key
    # the strict default refuses the single-token classes, naming them, and says so
    strict = nclab.analyze(model, batches, ["transformer.ln_f"], pool="tokens", weights=None,
                           batch_fn=lambda b: ({"input_ids": b["input_ids"]}, b["labels"]))
    assert str(rare[:3])[1:-1] in strict.skipped[("lm_head:input", "features", "nc1_trace")]
    assert "classes_excluded" not in strict.rows[0]
