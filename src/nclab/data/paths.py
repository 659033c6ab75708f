"""Where on-disk datasets are looked for when no ``data_dir`` is given."""

from __future__ import annotations

import os
from pathlib import Path

DATA_DIR_ENV = "NCLAB_DATA_DIR"


def env_data_root() -> Path | None:
    """The folder named by ``$NCLAB_DATA_DIR``, or None when the variable is unset or empty."""
    value = os.environ.get(DATA_DIR_ENV, "")
    return Path(value) if value else None
