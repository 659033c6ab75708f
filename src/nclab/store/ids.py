"""Run ids and directory names: deterministic, path-safe, readable.

A run id is ``seed<seed>`` followed by ``-<key><value>`` for each grid key in sorted order (the
key's last dotted segment, so ``optim.weight_decay`` reads ``weight_decay``), with characters
outside ``[A-Za-z0-9._+]`` replaced by ``_``, then ``-`` and the first 8 hex digits of the SHA-1
of the canonical JSON of ``{"params": ..., "seed": ...}``::

    run_id({"optim.weight_decay": 0.004}, 3)  ->  "seed3-weight_decay0.004-<8 hex>"

The readable part can collide (shortened keys, replaced characters, truncation past 80
characters); the hash cannot in practice, so two grid points never share a directory. The same
point and seed always give the same id, whatever the key order of ``params``.
"""

from __future__ import annotations

import hashlib
import json
import re

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")
_UNSAFE = re.compile(r"[^A-Za-z0-9._+]")
_READABLE_MAX = 80


def canonical_params(params) -> str:
    """The grid point as compact JSON with sorted keys (the ``params`` column of the records)."""
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise ValueError(f"params must be a dict (the grid point), got {type(params).__name__}")
    bad = [k for k in params if not isinstance(k, str)]
    if bad:
        raise ValueError(f"params keys must be strings, got {bad!r}")
    try:
        return json.dumps(params, sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as err:
        raise ValueError(f"params must be JSON-able without NaN/Inf: {err}") from None


def check_seed(seed) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError(f"seed must be an int, got {seed!r}")
    return seed


def run_id(params: dict | None, seed: int) -> str:
    """The deterministic id of the run of grid point ``params`` with ``seed`` (see module doc);
    the runner names every run with it. ``ValueError`` for params that are not a JSON-able dict
    with string keys, or a seed that is not an int."""
    canon = canonical_params(params)
    seed = check_seed(seed)
    params = json.loads(canon)
    parts = [f"seed{seed}"]
    for key in sorted(params):
        value = json.dumps(params[key], separators=(",", ":")).strip('"')
        parts.append(_UNSAFE.sub("_", key.rsplit(".", 1)[-1] + value))
    readable = "-".join(parts)[:_READABLE_MAX]
    digest = hashlib.sha1(
        json.dumps({"params": params, "seed": seed}, sort_keys=True).encode()
    ).hexdigest()[:8]
    return f"{readable}-{digest}"


def check_name(value, what: str) -> str:
    """``value`` if it is a safe single path component (``[A-Za-z0-9][A-Za-z0-9._+-]*``)."""
    if not isinstance(value, str) or not _NAME.match(value) or value.endswith("."):
        raise ValueError(
            f"{what} must be a non-empty name of letters, digits and . _ + - that starts with a "
            f"letter or digit (it names a directory), got {value!r}"
        )
    return value
