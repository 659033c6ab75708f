"""Make the shared naive references (``metrics_naive.py``) importable under any pytest import
mode (the default "prepend" mode already puts this folder on sys.path)."""

import sys
from pathlib import Path

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)
