"""Checkpoints are written atomically and read back only if they hold plain data."""

import os
import pickle

import pytest
import torch

from nclab.train import CheckpointError, TrainConfig, apply_overrides, load_state, load_weights, run
from nclab.train.checkpoint import (
    STATE,
    WEIGHTS,
    latest_checkpoint,
    read_weights,
    save_checkpoint,
    write_atomic,
)

CFG = ["data.name=labels", "data.K=3", "data.n_per_class=4", "model.arch=dufm",
       "model.widths=[5,5]", "optim.steps=6", "checkpoint.every=3"]


class Payload:
    """Unpickling this runs a shell command -- exactly what a safe loader must refuse."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.fixture
def run_dir(tmp_path):
    cfg = apply_overrides(TrainConfig(), CFG)
    run(cfg, out_dir=tmp_path, max_steps=3)
    return cfg, tmp_path, latest_checkpoint(tmp_path)


def test_checkpoint_holds_safetensors_weights_and_plain_state(run_dir):
    _, _, ckpt = run_dir
    assert (ckpt / WEIGHTS).read_bytes()[8:9] == b"{"  # safetensors: u64 header size, JSON
    state = load_state(ckpt)
    assert state["step"] == 3 and isinstance(state["optimizer"], dict)
    assert set(read_weights(ckpt / WEIGHTS)) == {"H1", "layers.0.weight", "layers.1.weight"}


def test_state_with_code_is_refused_and_never_executed(run_dir, tmp_path):
    cfg, out, ckpt = run_dir
    marker = tmp_path / "executed"
    state = load_state(ckpt)
    state["extra"] = Payload(marker)
    torch.save(state, ckpt / STATE)
    with pytest.raises(CheckpointError, match="refusing to load"):
        load_state(ckpt)
    result = run(cfg, out_dir=out, resume=True)  # set aside, never loaded: start afresh
    assert result.resumed_from is None and not marker.exists()
    assert (ckpt.parent / f"damaged-{ckpt.name}-{os.getpid()}" / STATE).is_file()


def test_weights_file_that_is_a_pickle_is_refused(run_dir, tmp_path):
    cfg, out, ckpt = run_dir
    marker = tmp_path / "executed"
    (ckpt / WEIGHTS).write_bytes(pickle.dumps(Payload(marker)))
    (ckpt / "checksums.json").unlink()  # even unchecked, it is refused
    with pytest.raises(CheckpointError, match="safetensors"):
        load_weights(torch.nn.Linear(2, 2), ckpt)
    result = run(cfg, out_dir=out, resume=True)
    assert result.resumed_from is None and not marker.exists()


def test_damaged_latest_checkpoint_falls_back_to_the_last_intact_one(tmp_path):
    cfg = apply_overrides(TrainConfig(), [*CFG, "checkpoint.keep=3", "checkpoint.every=2"])
    ref = run(cfg)
    run(cfg, out_dir=tmp_path, max_steps=6)
    newest = latest_checkpoint(tmp_path)
    data = (newest / STATE).read_bytes()
    (newest / STATE).write_bytes(data[: len(data) // 2])  # truncated
    result = run(cfg, out_dir=tmp_path, resume=True)
    assert result.resumed_from == 4
    assert torch.equal(torch.tensor(result.loss_trace), torch.tensor(ref.loss_trace))
    assert (newest.parent / f"damaged-{newest.name}-{os.getpid()}").is_dir()


def test_checkpoint_files_have_the_default_mode(run_dir):
    _, out, ckpt = run_dir
    umask = os.umask(0)
    os.umask(umask)
    modes = {p.name: p.stat().st_mode & 0o777 for p in ckpt.iterdir()}
    assert set(modes.values()) == {0o666 & ~umask}, modes


def test_weights_of_another_model_are_refused(run_dir):
    _, out, _ = run_dir
    other = torch.nn.Linear(3, 2)
    with pytest.raises(CheckpointError, match="does not match the model"):
        load_weights(other, out)


def test_incomplete_checkpoints_are_ignored(run_dir):
    _, out, ckpt = run_dir
    partial = ckpt.parent / "step_000000005"
    partial.mkdir()
    (partial / WEIGHTS).write_bytes((ckpt / WEIGHTS).read_bytes())  # no state.pt: killed mid-way
    assert latest_checkpoint(out) == ckpt


def test_atomic_write_keeps_the_old_file_when_writing_fails(tmp_path):
    target = tmp_path / "f.txt"
    target.write_text("old")

    def failing(path):
        path.write_text("half")
        raise OSError("disk full")

    with pytest.raises(OSError):
        write_atomic(target, failing)
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["f.txt"]  # the temporary file is removed


def test_rewriting_a_step_replaces_it(tmp_path):
    model = torch.nn.Linear(2, 2)
    save_checkpoint(tmp_path, 4, model, {"records": []}, keep=3)
    with torch.no_grad():
        model.weight.fill_(7.0)
    path = save_checkpoint(tmp_path, 4, model, {"records": []}, keep=3)
    assert torch.equal(read_weights(path / WEIGHTS)["weight"], torch.full((2, 2), 7.0))
    assert [p.name for p in path.parent.iterdir()] == ["step_000000004"]
