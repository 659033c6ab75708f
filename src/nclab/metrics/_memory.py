"""Memory estimates before large allocations: a request that cannot fit raises a ``ValueError``
naming its size instead of dying in the allocator (vocabulary-scale K, issue 16)."""

from __future__ import annotations

import torch

FLOAT64 = 8
# requests below this size are not checked (reading /proc/meminfo costs more than they do)
SMALL = 64 * 2**20


def available_bytes(device) -> int | None:
    """Free memory on ``device``: ``MemAvailable`` of /proc/meminfo on CPU (None where unknown),
    the allocator's free memory on CUDA."""
    device = torch.device(device)
    if device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0])
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:  # pragma: no cover - not Linux
        return None
    return None  # pragma: no cover


def gib(nbytes: float) -> str:
    return f"{nbytes / 2**30:.2f} GiB"


def check_fits(nbytes: int, what: str, device, hint: str = "") -> None:
    """Raise ``ValueError`` when ``nbytes`` exceed the free memory of ``device`` (requests under
    :data:`SMALL` are not checked)."""
    if nbytes < SMALL:
        return
    free = available_bytes(device)
    if free is not None and nbytes > free:
        raise ValueError(
            f"{what} needs about {gib(nbytes)} but only {gib(free)} is free on {device}"
            + (f"; {hint}" if hint else "")
        )
