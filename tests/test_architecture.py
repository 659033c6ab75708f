"""Imports go one way (docs/ARCHITECTURE.md): every package and top-level module of nclab may
import only the units below it, and the unit-level import graph has no cycle.

A unit is a package (``nclab/metrics/``), a top-level module (``nclab/verify.py``, ``cli``
whether module or package) or the root ``nclab/__init__.py`` (``"__init__"``). Every import
counts: module level or inside a function (lazy), absolute or relative, ``import nclab.x``,
``from nclab import x`` and ``importlib.import_module("nclab.x")``.
"""

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "nclab"
ROOT = "__init__"  # nclab/__init__.py: __version__, the lazy ``nclab.analyze``

# unit -> the nclab units it may import (besides itself): the target layering of issue 13
PACKAGES = {
    "metrics": set(),
    "theory": {"metrics"},
    "data": set(),
    "models": set(),
    "train": {"data", "models", "metrics"},
    "analysis": {"metrics"},
    "store": {"metrics", ROOT},
    "experiments": {"train", "theory", "data", "models", "metrics", "analysis", "store"},
    "running": {"experiments", "store", "train", "data", "models", "metrics", "theory"},
    "report": {"experiments", "store", "metrics", "theory", ROOT},
    "integrations": {"analysis", "metrics", "store", "experiments"},
}
BELOW_TOP = set(PACKAGES) | {ROOT}
ALLOWED = {
    **PACKAGES,
    ROOT: {"analysis"},  # ``nclab.analyze``, loaded on first use
    "verify": BELOW_TOP,
    "console": BELOW_TOP,
    "demo": BELOW_TOP | {"console", "verify"},
    "cli": BELOW_TOP | {"console", "verify", "demo"},
}
# imports that break the rule today, each with the change that removes it; the test below fails
# once one is gone, so that it is taken off this list
KNOWN_VIOLATIONS: dict[tuple[str, str], str] = {}


def units(src: Path = SRC) -> set[str]:
    """The packages and top-level modules under ``src``, and the root."""
    found = {p.name for p in src.iterdir() if p.is_dir() and (p / "__init__.py").is_file()}
    found |= {p.stem for p in src.glob("*.py") if p.name != "__init__.py"}
    return found | {ROOT}


def unit_of(path: Path, src: Path = SRC) -> str:
    rel = path.relative_to(src)
    return ROOT if rel == Path("__init__.py") else rel.parts[0].removesuffix(".py")


def nclab_imports(path: Path, module: str | None = None, src: Path = SRC) -> set[str]:
    """The nclab units ``path`` imports. ``module``: its dotted name (default: from its place
    under ``src``), needed to resolve relative imports."""
    if module is None:
        rel = path.relative_to(src).with_suffix("")
        module = ".".join(("nclab", *rel.parts))
    parts = module.split(".")
    is_package = parts[-1] == "__init__"
    if is_package:
        parts = parts[:-1]
    package = parts if is_package else parts[:-1]
    known = units(src) if src.is_dir() else set()
    found: set[str] = set()

    def add(full: list[str], names=()):
        if not full or full[0] != "nclab":
            return
        if len(full) > 1:
            found.add(full[1])
        else:  # ``from nclab import x``: a unit, or a name of the root (``__version__``)
            found.update(name if name in known else ROOT for name in names or (None,))

    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                up = node.level - 1
                if up >= len(package):
                    continue  # beyond the top: not an nclab import
                base = package[:len(package) - up]
                full = base + (node.module.split(".") if node.module else [])
            else:
                full = (node.module or "").split(".")
            add(full, [a.name for a in node.names])
        elif isinstance(node, ast.Import):
            for alias in node.names:
                add(alias.name.split("."))
        elif (isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id",
                                                                                   None))
              == "import_module" and node.args and isinstance(node.args[0], ast.Constant)
              and isinstance(node.args[0].value, str)):
            add(node.args[0].value.split("."))
    return found


def import_graph(src: Path = SRC) -> dict[str, dict[str, list[str]]]:
    """``{unit: {imported unit: [files that import it]}}`` (self-imports left out)."""
    graph: dict[str, dict[str, list[str]]] = {u: {} for u in units(src)}
    for path in sorted(src.rglob("*.py")):
        unit = unit_of(path, src)
        for other in nclab_imports(path, src=src) - {unit}:
            graph[unit].setdefault(other, []).append(str(path.relative_to(src)))
    return graph


def find_cycle(graph) -> list[str] | None:
    """A cycle of ``graph`` (``{node: iterable of nodes}``) as ``[a, b, ..., a]``, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node):
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        state[node] = 2
        path.pop()
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


GRAPH = import_graph()


def test_every_unit_has_a_place_in_the_layering():
    missing = sorted(units() - set(ALLOWED))
    assert not missing, f"add {missing} to ALLOWED in tests/test_architecture.py"


@pytest.mark.parametrize("unit", sorted(ALLOWED))
def test_import_direction(unit):
    if unit not in GRAPH:
        pytest.skip(f"nclab has no {unit!r} (yet)")
    bad = {other: files for other, files in GRAPH[unit].items()
           if other not in ALLOWED[unit] and (unit, other) not in KNOWN_VIOLATIONS}
    assert not bad, f"{unit} may import only {sorted(ALLOWED[unit])}; it imports " + "; ".join(
        f"{other} (in {', '.join(files)})" for other, files in sorted(bad.items()))


def test_known_violations_are_still_there():
    gone = [pair for pair in KNOWN_VIOLATIONS if pair[1] not in GRAPH.get(pair[0], {})]
    assert not gone, f"{gone} no longer happen: take them off KNOWN_VIOLATIONS"


def test_no_circular_imports():
    graph = {u: {o for o in deps if (u, o) not in KNOWN_VIOLATIONS}
             for u, deps in GRAPH.items()}
    cycle = find_cycle(graph)
    assert cycle is None, "circular imports: " + " -> ".join(
        f"{a} ({GRAPH[a][b][0]})" for a, b in zip(cycle, cycle[1:], strict=False)) + \
        f" -> {cycle[-1]}"


# ---- the checks themselves -------------------------------------------------------------------
def test_detects_forbidden_import(tmp_path):
    f = tmp_path / "m.py"
    f.write_text("from nclab.train import run\nfrom ..models import MLP\n"
                 "def lazy():\n    import nclab.report.html\n    from nclab import verify\n"
                 "    from nclab import __version__\n")
    got = nclab_imports(f, module="nclab.experiments.m")
    assert got == {"train", "models", "report", "verify", ROOT}
    f.write_text("from . import checks\nfrom .. import demo\nfrom .x import y\n")
    assert nclab_imports(f, module="nclab.experiments.m") == {"experiments", "demo"}
    f.write_text("from . import analysis\n")
    assert nclab_imports(f, module="nclab.__init__") == {"analysis"}


def test_detects_a_cycle(tmp_path):
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    # two packages and a top-level module, one import lazy inside a function
    for name in ("store", "experiments"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text("")
    (tmp_path / "__init__.py").write_text("")
    (tmp_path / "store" / "ids.py").write_text("def f():\n    from nclab.experiments import x\n")
    (tmp_path / "experiments" / "spec.py").write_text("from ..store import ids\n")
    (tmp_path / "verify.py").write_text("import nclab.store\n")
    graph = import_graph(tmp_path)
    assert graph["verify"] == {"store": ["verify.py"]}
    assert find_cycle(graph) == ["experiments", "store", "experiments"]
    (tmp_path / "store" / "ids.py").write_text("")
    assert find_cycle(import_graph(tmp_path)) is None
