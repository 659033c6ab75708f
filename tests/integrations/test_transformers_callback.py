"""``NeuralCollapseCallback`` under a real Hugging Face ``Trainer`` (a BERT built from a tiny
config, no download, CPU)."""

import pytest
import torch

transformers = pytest.importorskip("transformers")
pytest.importorskip("accelerate")
from nclab.integrations.transformers import NeuralCollapseCallback  # noqa: E402


class _Tokens(torch.utils.data.Dataset):
    def __init__(self, K=3, n=16, T=6, seed=0):
        g = torch.Generator().manual_seed(seed)
        self.y = torch.arange(K).repeat(n)
        self.ids = (5 + 4 * self.y[:, None] + torch.randint(0, 4, (len(self.y), T), generator=g))

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        return {"input_ids": self.ids[i], "attention_mask": torch.ones_like(self.ids[i]),
                "labels": self.y[i]}


def test_hf_trainer_callback_on_evaluate(tmp_path):
    torch.manual_seed(0)
    cfg = transformers.BertConfig(vocab_size=20, hidden_size=16, num_hidden_layers=2,
                                  num_attention_heads=2, intermediate_size=32, num_labels=3,
                                  max_position_embeddings=16)
    model = transformers.BertForSequenceClassification(cfg)
    data = _Tokens()
    loader = torch.utils.data.DataLoader(data, batch_size=16)
    cb = NeuralCollapseCallback(loader, ["bert.pooler"], pool="tokens")
    args = transformers.TrainingArguments(
        output_dir=str(tmp_path), per_device_train_batch_size=16, per_device_eval_batch_size=16,
        num_train_epochs=1, report_to=[], use_cpu=True, save_strategy="no", logging_strategy="no",
        disable_tqdm=True,
    )
    trainer = transformers.Trainer(model=model, args=args, train_dataset=data, eval_dataset=data)
    cb.attach(trainer)
    trainer.train()
    metrics = trainer.evaluate()
    report = cb.reports[trainer.state.global_step]
    assert report.info["classifier"] == "classifier"
    assert metrics["eval_nc/bert.pooler/nc1_trace"] == report.rows[0]["nc1_trace"]
    logged = [h for h in trainer.state.log_history if "eval_nc/bert.pooler/nc1_trace" in h]
    assert logged and logged[-1]["eval_nc/bert.pooler/nc1_trace"] == report.rows[0]["nc1_trace"]
    # in eval mode the dropout between pooler and head passes the pooler's output itself
    assert report.info["classifier_row"] == "bert.pooler"
    assert "eval_nc/bert.pooler/nc4_ncc" in metrics and "eval_nc/classifier/w_stable_rank" in metrics
