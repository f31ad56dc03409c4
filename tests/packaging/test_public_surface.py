"""Each package says what it exports (`__all__`), and says all of it.

As anyio and httpx test theirs: every name in `__all__` exists, and every public
name the package itself defines (a class or function of tracehound.PKG...) is in
`__all__`, so the surface only changes on purpose. Importing tracehound.agent
and tracehound.agent.tracer must stay free (they export nothing).
"""

from __future__ import annotations

import importlib
import subprocess
import sys
import types

import pytest

PACKAGES = [
    "tracehound",
    "tracehound.agent",
    "tracehound.agent.ecs",
    "tracehound.agent.tracer",
    "tracehound.config",
    "tracehound.filters",
    "tracehound.filters.falco",
    "tracehound.filters.falco.fields",
    "tracehound.sinks",
]


@pytest.mark.parametrize("name", PACKAGES)
def test_all_lists_exactly_the_public_names(name: str) -> None:
    pkg = importlib.import_module(name)
    exported = pkg.__all__
    assert len(set(exported)) == len(exported), "duplicates in __all__"
    missing = [n for n in exported if not hasattr(pkg, n)]
    assert not missing, f"{name}.__all__ names what the package lacks: {missing}"
    own = {
        n
        for n, v in vars(pkg).items()
        if not n.startswith("_")
        and not isinstance(v, types.ModuleType)
        and (getattr(v, "__module__", None) or "").startswith(name + ".")
    }
    unlisted = sorted(own - set(exported))
    assert not unlisted, f"{name} defines public names not in __all__: {unlisted}"


@pytest.mark.parametrize("name", ["tracehound", "tracehound.agent", "tracehound.agent.tracer"])
def test_importing_the_package_loads_no_submodule(name: str) -> None:
    code = f"import sys, {name}; print(sorted(m for m in sys.modules if m.startswith('{name}.')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout
