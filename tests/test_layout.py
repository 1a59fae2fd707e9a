"""The backend's shape: no module over 500 lines, and no two modules that import each other.

Imports are read with ``ast``, both at module level and inside functions (a lazy import is still
a dependency). Importing ``a.b.c`` counts as depending on ``a.b.c`` only, not on its parents.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MAX_LINES = 500


def modules(root: Path, package: str) -> dict[str, Path]:
    """``{dotted name: file}`` of every module under ``root/package``."""
    out = {}
    for path in sorted((root / package).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def import_graph(root: Path, package: str) -> dict[str, set[str]]:
    """Module -> the modules of the same package it imports (any depth in the file)."""
    mods = modules(root, package)

    def owner(name: str) -> str | None:
        while name and name not in mods:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {m: set() for m in mods}
    for mod, path in mods.items():
        is_pkg = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    pkg = mod if is_pkg else mod.rpartition(".")[0]
                    for _ in range(node.level - 1):
                        pkg = pkg.rpartition(".")[0]
                    base = f"{pkg}.{base}".rstrip(".")
                names = [
                    f"{base}.{a.name}" if f"{base}.{a.name}" in mods else base for a in node.names
                ]
            else:
                continue
            graph[mod].update(o for o in map(owner, names) if o is not None and o != mod)
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(found)


@pytest.mark.parametrize("package", ["backend", "nlf_client"])
def test_no_import_circles(package: str) -> None:
    assert circles(import_graph(ROOT, package)) == []


def long_modules(root: Path, package: str) -> dict[str, int]:
    """``{module: lines}`` of the hand-written modules over ``MAX_LINES`` lines."""
    out = {}
    for name, path in modules(root, package).items():
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if "proto" not in path.parts and lines > MAX_LINES:
            out[name] = lines
    return out


@pytest.mark.parametrize("package", ["backend", "nlf_client"])
def test_no_module_over_500_lines(package: str) -> None:
    assert long_modules(ROOT, package) == {}


def test_the_checks_can_fail(tmp_path: Path) -> None:
    """A two-module circle (one import lazy) and a 501-line module are both caught."""
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from pkg import b\n")
    (pkg / "b.py").write_text("def f():\n    from pkg.a import x\n" + "\n" * 499)
    (pkg / "c.py").write_text("from . import a\n")
    assert circles(import_graph(tmp_path, "pkg")) == [["pkg.a", "pkg.b"]]
    assert long_modules(tmp_path, "pkg") == {"pkg.b": 501}
