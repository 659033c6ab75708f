"""Run ids of the runner: deterministic, path-safe, readable (passed to the store explicitly).

``seed<seed>`` then ``-<key><value>`` per grid key in sorted order (the key's last dotted
segment), characters outside ``[A-Za-z0-9._+]`` replaced by ``_``, truncated to 80 characters,
then ``-`` and 8 hex digits of the SHA-1 of the canonical JSON of ``{"params", "seed"}``::

    run_id({"reg.weight_decay": 0.004}, 3) -> "seed3-weight_decay0.004-<8 hex>"

The same rule as ``nclab.store.run_id`` (the store takes whatever id it is given; the runner
always gives this one, so the two can never disagree about a directory).
"""

from __future__ import annotations

import hashlib
import json
import re

_UNSAFE = re.compile(r"[^A-Za-z0-9._+]")
_READABLE_MAX = 80


def run_id(params: dict | None, seed: int) -> str:
    """The id of the run of grid point ``params`` with ``seed``."""
    params = dict(params or {})
    canon = json.dumps(params, sort_keys=True, separators=(",", ":"), allow_nan=False)
    parts = [f"seed{seed}"]
    for key in sorted(params):
        value = json.dumps(params[key], separators=(",", ":")).strip('"')
        parts.append(_UNSAFE.sub("_", key.rsplit(".", 1)[-1] + value))
    readable = "-".join(parts)[:_READABLE_MAX]
    digest = hashlib.sha1(
        json.dumps({"params": json.loads(canon), "seed": seed}, sort_keys=True).encode()
    ).hexdigest()[:8]
    return f"{readable}-{digest}"
