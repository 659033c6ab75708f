"""Nothing in nclab imports another package's private names: a name (or module) starting with one
underscore is for its own package (``nclab.metrics._classes`` for ``nclab.metrics``; a top-level
module such as ``nclab.demo`` is its own package)."""

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"


def owner(module: str) -> str:
    """``nclab.metrics.nc1`` -> ``nclab.metrics``; ``nclab.demo`` -> ``nclab.demo``."""
    return ".".join(module.split(".")[:2])


def module_of(path: Path, root: Path = SRC) -> tuple[str, bool]:
    parts = list(path.relative_to(root).with_suffix("").parts)
    is_package = parts[-1] == "__init__"
    return ".".join(parts[:-1] if is_package else parts), is_package


def private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def foreign_privates(path: Path, root: Path = SRC) -> list[str]:
    """``from nclab.x import _y``, ``from nclab.x._y import z``, ``import nclab.x._y`` and
    ``x._y`` for a module ``x`` imported from another nclab package, in the file ``path``."""
    module, is_package = module_of(path, root)
    found, modules = [], {}
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")[: len(module.split(".")) - node.level + is_package]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if not target.startswith("nclab.") or owner(target) == owner(module):
                continue
            for alias in node.names:
                modules[alias.asname or alias.name] = target
                if private(alias.name) or any(map(private, target.split("."))):
                    found.append(f"{node.lineno}: from {target} import {alias.name}")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("nclab.") and owner(alias.name) != owner(module):
                    if any(map(private, alias.name.split("."))):
                        found.append(f"{node.lineno}: import {alias.name}")
                    if alias.asname:
                        modules[alias.asname] = alias.name
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and private(node.attr)
                and isinstance(node.value, ast.Name) and node.value.id in modules):
            found.append(f"{node.lineno}: {node.value.id}.{node.attr}")
    return found


def test_no_package_imports_another_packages_private_names():
    bad = {str(p.relative_to(SRC)): found for p in sorted((SRC / "nclab").rglob("*.py"))
           if (found := foreign_privates(p))}
    assert not bad, bad


def test_detects_foreign_private_names(tmp_path):
    pkg = tmp_path / "nclab" / "cli"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    f = pkg / "run.py"
    f.write_text("from nclab.demo import _tables\nfrom nclab.metrics._classes import moments\n"
                 "from ..store import store\nimport nclab.train._x\nstore._closed\n"
                 "from . import _own\nfrom nclab.cli.common import _jsonable\n")
    assert foreign_privates(f, tmp_path) == [
        "1: from nclab.demo import _tables", "2: from nclab.metrics._classes import moments",
        "4: import nclab.train._x", "5: store._closed"]
