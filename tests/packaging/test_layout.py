"""The house's floors: imports run down, packages keep their private modules, modules
stay small, and a syscall family is spelled out in one place.

Read from the source with `ast`, so a violation names the file and the line.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
# Source folder -> the package it installs as (pyproject.toml's package-dir).
PACKAGES = {
    "src/tracehound": "tracehound",
    "agent": "tracehound.agent",
    "sinks": "tracehound.sinks",
    "filters": "tracehound.filters",
    "config": "tracehound.config",
}
MAX_LINES = 500


def _modules() -> Iterator[tuple[Path, str]]:
    """(file, dotted module name) for every Python module of the installed package."""
    for folder, package in PACKAGES.items():
        for path in sorted((REPO / folder).rglob("*.py")):
            rel = path.relative_to(REPO / folder).with_suffix("")
            parts = [p for p in rel.parts if p != "__init__"]
            yield path, ".".join([package, *parts])


def _imports(path: Path) -> Iterator[tuple[int, str]]:
    """(line, imported module) for every import in the file, lazy ones included."""
    tree = ast.parse(path.read_text(), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.lineno, node.module
            for alias in node.names:  # `from tracehound.filters import _x` imports a module
                yield node.lineno, f"{node.module}.{alias.name}"


def _top_package(module: str) -> str:
    """tracehound.filters.falco.engine -> tracehound.filters; tracehound.event -> tracehound."""
    parts = module.split(".")
    if len(parts) >= 2 and f"tracehound.{parts[1]}" in PACKAGES.values():
        return f"tracehound.{parts[1]}"
    return "tracehound"


MODULES = list(_modules())


def test_the_walk_sees_every_package() -> None:
    names = {name for _, name in MODULES}
    for expected in ("tracehound.event", "tracehound.filters.falco.engine", "tracehound.sinks"):
        assert expected in names


@pytest.mark.parametrize("floor", ["tracehound.filters", "tracehound.sinks", "tracehound"])
def test_lower_floors_do_not_import_the_agent(floor: str) -> None:
    bad = [
        f"{path.relative_to(REPO)}:{line}: {mod}"
        for path, name in MODULES
        if _top_package(name) == floor
        for line, mod in _imports(path)
        if mod == "tracehound.agent" or mod.startswith("tracehound.agent.")
    ]
    assert not bad, "\n".join(bad)


def test_the_ground_floor_imports_no_package_above_it() -> None:
    above = tuple(p + "." for p in PACKAGES.values() if p != "tracehound")
    bad = [
        f"{path.relative_to(REPO)}:{line}: {mod}"
        for path, name in MODULES
        if _top_package(name) == "tracehound"
        for line, mod in _imports(path)
        if (mod + ".").startswith(above)
    ]
    assert not bad, "\n".join(bad)


def test_no_package_imports_another_packages_private_module() -> None:
    bad = []
    for path, name in MODULES:
        home = _top_package(name)
        for line, mod in _imports(path):
            if not mod.startswith("tracehound."):
                continue
            private = any(p.startswith("_") and not p.endswith("__") for p in mod.split(".")[1:])
            if private and _top_package(mod) != home:
                bad.append(f"{path.relative_to(REPO)}:{line}: {mod}")
    assert not bad, "\n".join(bad)


def test_no_module_is_over_the_size_limit() -> None:
    big = {
        str(path.relative_to(REPO)): n
        for path, _ in MODULES
        if (n := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert not big, big


def test_the_exec_family_is_written_once() -> None:
    """Only src/tracehound/families.py may name execve and execveat together in one literal
    (a set, tuple or list): every other module imports the family from there."""
    family = {"execve", "execveat"}
    found = []
    for path, _ in MODULES:
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Set | ast.Tuple | ast.List):
                texts = {e.value for e in node.elts if isinstance(e, ast.Constant)}
                if family <= texts:
                    found.append(f"{path.relative_to(REPO)}:{node.lineno}")
    assert found == [f"src/tracehound/families.py:{_line_of('EXEC = ')}"], found


def _line_of(prefix: str) -> int:
    lines = (REPO / "src/tracehound/families.py").read_text().splitlines()
    return next(i for i, line in enumerate(lines, 1) if line.startswith(prefix))
