"""Atomic, safe checkpoints.

Layout of a run directory::

    out_dir/config.json                       the run's config (checked on resume)
    out_dir/checkpoints/step_000001000/
        model.safetensors                     parameters and buffers (safetensors: no code)
        state.pt                              step, optimiser, batch order, RNG, records

A checkpoint is written into a temporary directory next to its final name and moved into place
with ``os.replace`` (atomic on POSIX), so a killed process leaves either the complete checkpoint
or none. ``state.pt`` is read back only with ``torch.load(weights_only=True)``: tensors and
plain containers load, anything that would run code is refused with :class:`CheckpointError`.
"""

from __future__ import annotations

import json
import os
import pickle
import re
import shutil
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

WEIGHTS = "model.safetensors"
STATE = "state.pt"
CONFIG = "config.json"
_STEP_DIR = re.compile(r"^step_(\d+)$")


class CheckpointError(RuntimeError):
    """A checkpoint is missing, incomplete, inconsistent or holds unsafe content."""


def checkpoint_root(out_dir: Path) -> Path:
    return Path(out_dir) / "checkpoints"


def list_checkpoints(out_dir: Path) -> list[tuple[int, Path]]:
    """``[(step, path)]`` of the complete checkpoints in ``out_dir``, oldest first."""
    root = checkpoint_root(out_dir)
    if not root.is_dir():
        return []
    found = []
    for p in root.iterdir():
        m = _STEP_DIR.match(p.name)
        if m and (p / WEIGHTS).is_file() and (p / STATE).is_file():
            found.append((int(m.group(1)), p))
    return sorted(found)


def latest_checkpoint(out_dir: Path) -> Path | None:
    """The newest complete checkpoint directory of a run, or None."""
    found = list_checkpoints(out_dir)
    return found[-1][1] if found else None


def write_atomic(path: Path, write) -> None:
    """``write(tmp_path)`` then ``os.replace(tmp_path, path)``."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_json(path: Path, obj) -> None:
    write_atomic(path, lambda p: p.write_text(json.dumps(obj, indent=2, sort_keys=True)))


def save_checkpoint(out_dir: Path, step: int, model: nn.Module, state: dict, keep: int) -> Path:
    """Write the checkpoint of ``step`` atomically and keep only the newest ``keep``."""
    root = checkpoint_root(out_dir)
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"step_{step:09d}"
    tmp = root / f".tmp-{final.name}-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    try:
        tensors = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
        save_file(tensors, str(tmp / WEIGHTS), metadata={"step": str(step), "format": "nclab.train"})
        torch.save({**state, "step": step}, tmp / STATE)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if final.exists():  # rewriting a step (e.g. after a resume): move the old one aside first
        old = root / f".old-{final.name}-{os.getpid()}"
        os.replace(final, old)
        os.replace(tmp, final)
        shutil.rmtree(old)
    else:
        os.replace(tmp, final)
    for _, path in list_checkpoints(out_dir)[:-keep]:
        shutil.rmtree(path, ignore_errors=True)
    return final


def load_state(path: Path) -> dict:
    """``state.pt`` of a checkpoint directory, loaded with ``torch.load(weights_only=True)``."""
    file = Path(path) / STATE
    if not file.is_file():
        raise CheckpointError(f"{file}: missing")
    try:
        state = torch.load(file, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, AttributeError, TypeError, EOFError) as err:
        raise CheckpointError(
            f"{file}: refusing to load: not a plain checkpoint (only tensors and plain Python "
            f"containers are accepted; torch.load(weights_only=True) said: {err})"
        ) from None
    if not isinstance(state, dict) or "step" not in state:
        raise CheckpointError(f"{file}: not an nclab.train checkpoint state")
    return state


def read_weights(file: Path) -> dict[str, torch.Tensor]:
    """Tensors of a ``.safetensors`` file (the format holds no code, only data)."""
    try:
        return load_file(str(file), device="cpu")
    except (SafetensorError, OSError, ValueError) as err:
        raise CheckpointError(f"{file}: not a readable safetensors file ({err})") from None


def load_weights(model: nn.Module, source: Path) -> int | None:
    """Copy weights into ``model`` from a run directory (its newest checkpoint), a checkpoint
    directory or a ``.safetensors`` file; returns the checkpoint's step when known."""
    source = Path(source)
    if source.is_dir() and not (source / WEIGHTS).is_file():
        latest = latest_checkpoint(source)
        if latest is None:
            raise CheckpointError(f"{source}: no checkpoint found")
        source = latest
    file = source / WEIGHTS if source.is_dir() else source
    if not file.is_file():
        raise CheckpointError(f"{file}: missing")
    tensors = read_weights(file)
    try:
        model.load_state_dict(tensors, strict=True)
    except RuntimeError as err:
        raise CheckpointError(f"{file}: does not match the model: {err}") from None
    m = _STEP_DIR.match(file.parent.name)
    return int(m.group(1)) if m else None
