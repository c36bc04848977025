"""``auto_router.__all__`` is the documented API, exactly, and every name in it is real.

As httpx's ``test_exported_members``: the names are compared both ways, so a name exported
without documentation fails, and so does a documented name that is not exported. The names of
docs/python-api.md are its ``### `name` `` headings.
"""

from __future__ import annotations

import ast
import importlib
import json
import re
import subprocess
import sys
from pathlib import Path

import auto_router

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "python-api.md"
INIT = ROOT / "auto_router" / "__init__.py"


def documented_names() -> list[str]:
    return re.findall(r"^### `(\w+)`$", DOC.read_text(encoding="utf-8"), re.M)


def type_checking_imports() -> dict[str, str]:
    """Each name the ``if TYPE_CHECKING:`` block of ``__init__.py`` imports -> its module."""
    tree = ast.parse(INIT.read_text(encoding="utf-8"))
    block = next(
        node
        for node in tree.body
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING"
    )
    found: dict[str, str] = {}
    for node in block.body:
        assert isinstance(node, ast.ImportFrom) and node.level == 1, ast.unparse(node)
        for alias in node.names:
            # ``X as X``: a type checker re-exports only what is imported under its own name.
            assert alias.asname == alias.name, ast.unparse(node)
            found[alias.name] = node.module or ""
    return found


def test_all_is_exactly_the_documented_names() -> None:
    documented = documented_names()
    assert len(documented) == len(set(documented)), "a name is documented twice"
    exported = set(auto_router.__all__)
    assert sorted(exported - set(documented)) == [], "exported but not in docs/python-api.md"
    assert sorted(set(documented) - exported) == [], "documented but not exported"
    assert auto_router.__all__ == sorted(auto_router.__all__)


def test_every_exported_name_resolves_to_its_home() -> None:
    for name in auto_router.__all__:
        value = getattr(auto_router, name)
        if name != "__version__":
            home = importlib.import_module(f"auto_router.{auto_router._MODULE_OF[name]}")
            assert value is getattr(home, name), name
    namespace: dict[str, object] = {}
    exec("from auto_router import *", namespace)
    assert set(namespace) - {"__builtins__"} == set(auto_router.__all__)


def test_type_checkers_see_the_same_names_in_the_same_modules() -> None:
    assert type_checking_imports() == auto_router._MODULE_OF


def test_an_unknown_name_is_an_attribute_error() -> None:
    try:
        auto_router.NoSuchName  # type: ignore[attr-defined]  # noqa: B018
    except AttributeError as exc:
        assert "NoSuchName" in str(exc)
    else:
        raise AssertionError("auto_router.NoSuchName resolved")


def test_importing_the_package_loads_none_of_its_modules() -> None:
    # `auto_router.cli` pays for `auto_router/__init__.py` on every command: it stays lazy.
    probe = (
        "import json, sys, auto_router\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('auto_router'))))\n"
        "auto_router.UsageLimitError\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('auto_router'))))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, check=True
    )
    before, after = (json.loads(line) for line in done.stdout.splitlines())
    assert before == ["auto_router"]
    assert after == ["auto_router", "auto_router.errors"]
