"""Atomic, safe checkpoints.

Layout of a run directory::

    out_dir/config.json                       the run's config (checked on resume)
    out_dir/checkpoints/step_000001000/
        model.safetensors                     parameters and buffers (safetensors: no code)
        state.pt                              step, optimiser, batch order, RNG, records

A checkpoint is written into a temporary directory next to its final name and moved into place
with ``os.replace`` (atomic on POSIX), so a killed process leaves either the complete checkpoint
or none; ``checksums.json`` inside it holds the sha256 of both files, so a checkpoint damaged
later (truncated, bit-flipped) is detected and a resume falls back to the newest intact one
(:func:`intact_checkpoint`; the damaged directory is renamed ``damaged-step_...``, never
deleted). Files are written with the process's default mode (``0666`` less the umask), like
every other file of a run. ``state.pt`` is read back only with ``torch.load(weights_only=True)``: tensors and
plain containers load, anything that would run code is refused with :class:`CheckpointError`.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import re
import shutil
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save
from torch import nn

WEIGHTS = "model.safetensors"
STATE = "state.pt"
CONFIG = "config.json"
CHECKSUMS = "checksums.json"
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


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _write_synced(path: Path, data: bytes) -> None:
    with open(path, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def verify_checkpoint(path: Path) -> None:
    """Raise :class:`CheckpointError` if a checkpoint directory's files do not match its
    ``checksums.json`` (checkpoints written before checksums existed are not checked)."""
    path = Path(path)
    sums_file = path / CHECKSUMS
    if not sums_file.is_file():
        return
    try:
        sums = json.loads(sums_file.read_text())
    except (ValueError, UnicodeDecodeError) as err:
        raise CheckpointError(f"{sums_file}: not valid JSON ({err})") from None
    for name in (WEIGHTS, STATE):
        file = path / name
        if not isinstance(sums, dict) or name not in sums:
            raise CheckpointError(f"{sums_file}: no checksum of {name}")
        if not file.is_file() or _sha256(file) != sums[name]:
            raise CheckpointError(f"{file}: checksum mismatch (truncated or altered)")


def intact_checkpoint(out_dir: Path, model: nn.Module | None = None,
                      damaged: list[str] | None = None) -> tuple[Path, dict] | None:
    """The newest checkpoint whose checksums match and whose state loads (and, given
    ``model``, whose weights load into it), as ``(path, state)``; None if there is none.
    Damaged newer checkpoints are renamed ``damaged-<name>`` (kept, never resumed from) and
    described in ``damaged``."""
    for _, path in reversed(list_checkpoints(out_dir)):
        try:
            verify_checkpoint(path)
            state = load_state(path)
            if model is not None:
                load_weights(model, path)
            return path, state
        except CheckpointError as err:
            if damaged is not None:
                damaged.append(str(err))
            os.replace(path, path.with_name(f"damaged-{path.name}-{os.getpid()}"))
    return None


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
        _write_synced(tmp / WEIGHTS, save(tensors, metadata={"step": str(step),
                                                             "format": "nclab.train"}))
        torch.save({**state, "step": step}, tmp / STATE)
        with open(tmp / STATE, "rb") as fh:
            os.fsync(fh.fileno())
        sums = {name: _sha256(tmp / name) for name in (WEIGHTS, STATE)}
        _write_synced(tmp / CHECKSUMS, json.dumps(sums, indent=2).encode())
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
    except (pickle.UnpicklingError, RuntimeError, AttributeError, TypeError, EOFError,
            ValueError, OSError) as err:
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
