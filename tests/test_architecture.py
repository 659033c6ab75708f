"""Imports go one way: metrics is a leaf, theory uses only metrics, nothing imports from above."""

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "nclab"

# package -> nclab packages it may import (besides itself)
ALLOWED = {
    "metrics": set(),
    "theory": {"metrics"},
    "data": set(),
    "models": set(),
    "train": {"data", "models", "metrics"},
    "analysis": {"metrics"},
    "integrations": {"analysis", "metrics", "store", "experiments"},
    "experiments": {"train", "theory", "data", "models", "metrics", "analysis"},
    "store": {"experiments", "metrics"},
    "report": {"experiments", "store", "metrics", "theory"},
    "sweep": {"experiments", "store", "train", "data", "models", "metrics", "theory"},
}


def nclab_imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level == 0 and node.module and node.module.startswith("nclab."):
                found.add(node.module.split(".")[1])
            elif node.level >= 2 and node.module:
                found.add(node.module.split(".")[0])
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("nclab."):
                    found.add(alias.name.split(".")[1])
    return found


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_import_direction(package):
    for path in sorted((SRC / package).rglob("*.py")):
        bad = nclab_imports(path) - ALLOWED[package] - {package}
        assert not bad, f"{path.relative_to(SRC)} imports {sorted(bad)} (not allowed for {package})"


def test_detects_forbidden_import(tmp_path):
    f = tmp_path / "m.py"
    f.write_text("from nclab.train import run\nfrom ..models import MLP\n")
    assert nclab_imports(f) == {"train", "models"}
