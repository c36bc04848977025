"""The shape of the package: which way the imports point, and how large its pieces may grow.

The contract is ``LAYERS``: a unit (a top-level module or subpackage of ``auto_router``) may
import only units on a lower layer. So no two units import each other, library packages never
import ``proxy`` or ``cli``, and a new back-arrow fails here with the file and line that drew it.
Imports under ``TYPE_CHECKING`` and inside functions count: a reader follows them all the same.
"""

from __future__ import annotations

import ast
import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "auto_router"

#: Bottom first. A unit may import the units of any layer below its own, and nothing else.
LAYERS: tuple[frozenset[str], ...] = (
    frozenset({"errors", "secrets", "paths", "durations"}),
    frozenset({"config", "store", "runs", "limits", "translate"}),
    frozenset({"providers", "redaction"}),
    frozenset({"rotation", "agents"}),
    frozenset({"editing", "api"}),
    frozenset({"migrate", "launcher", "proxy"}),
    frozenset({"demo"}),
    frozenset({"cli", "__init__"}),
    frozenset({"__main__"}),
)

#: Units whose modules import the standard library alone when they load: the launcher and
#: ``status`` import them on every command, and ``translate`` is pure by design. (A function may
#: still import a third-party module when it runs, as ``paths`` does platformdirs off Linux.)
STANDARD_LIBRARY_ONLY = frozenset({"errors", "secrets", "durations", "translate", "runs", "limits"})

MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 60
MAX_LOOSE_MODULES = 12


@dataclass(frozen=True)
class Import:
    source: str  # module that imports
    target: str  # module imported (a submodule when ``from pkg import submodule``)
    where: str  # file:line


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _absolute(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def imports_of(path: Path, modules: Iterable[str]) -> list[Import]:
    """Every ``auto_router`` import in the file, wherever it stands."""
    text = path.read_text(encoding="utf-8")
    where = str(path.relative_to(PACKAGE.parent))
    return imports_in(text, module_name(path), path.name == "__init__.py", where, modules)


def imports_in(
    text: str, module: str, is_package: bool, filename: str, modules: Iterable[str]
) -> list[Import]:
    known = set(modules)
    found: list[Import] = []
    for node in ast.walk(ast.parse(text)):
        where = f"{filename}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.Import):
            found += [Import(module, a.name, where) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            target = _absolute(node, module, is_package)
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                found.append(Import(module, sub if sub in known else target, where))
    return [i for i in found if i.target.split(".")[0] == "auto_router"]


def package_imports() -> list[Import]:
    files = sorted(PACKAGE.rglob("*.py"))
    modules = [module_name(p) for p in files]
    return [i for path in files for i in imports_of(path, modules)]


def unit_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def back_arrows(imports: Iterable[Import], layers: tuple[frozenset[str], ...]) -> list[str]:
    """Imports that break the layers, and units that are in no layer."""
    layer_of = {unit: n for n, units in enumerate(layers) for unit in units}
    problems = []
    for imp in imports:
        source, target = unit_of(imp.source), unit_of(imp.target)
        if source == target:
            continue
        if source not in layer_of or target not in layer_of:
            problems.append(f"{imp.where}: {source} or {target} is in no layer of LAYERS")
        elif layer_of[target] >= layer_of[source]:
            problems.append(f"{imp.where}: {source} imports {target} ({imp.target})")
    return problems


def cycles(edges: Mapping[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in edges:
        if root in index:
            continue
        work = [(root, iter(sorted(edges.get(root, ()))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
            elif child not in index:
                index[child] = low[child] = len(index)
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(sorted(edges.get(child, ())))))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return found


def module_edges(imports: Iterable[Import]) -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {}
    for imp in imports:
        if imp.target != imp.source:
            edges.setdefault(imp.source, set()).add(imp.target)
    return edges


# -- the contract ----------------------------------------------------------------------------


def test_every_import_points_down_the_layers() -> None:
    assert back_arrows(package_imports(), LAYERS) == []


def test_no_module_imports_itself_back_through_others() -> None:
    assert cycles(module_edges(package_imports())) == []


def test_every_unit_is_in_exactly_one_layer() -> None:
    units = {unit_of(module_name(p)) for p in PACKAGE.rglob("*.py")}
    listed = [unit for layer in LAYERS for unit in layer]
    assert sorted(listed) == sorted(set(listed)), "a unit is listed twice"
    assert units == set(listed)


def test_standard_library_only_units_import_nothing_else() -> None:
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if unit_of(module_name(path)) not in STANDARD_LIBRARY_ONLY:
            continue
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top != "auto_router":
                    offenders.append(f"{path.name}:{node.lineno} imports {name}")
    assert offenders == []


# -- the checker itself notices what it is there for ------------------------------------------


def test_a_back_arrow_is_reported_with_its_place() -> None:
    arrow = Import("auto_router.config.model", "auto_router.proxy.app", "config/model.py:3")
    sideways = Import("auto_router.launcher.plan", "auto_router.proxy.app", "launcher/plan.py:9")
    fine = Import("auto_router.proxy.app", "auto_router.config", "proxy/app.py:1")
    assert back_arrows([arrow, sideways, fine], LAYERS) == [
        "config/model.py:3: config imports proxy (auto_router.proxy.app)",
        "launcher/plan.py:9: launcher imports proxy (auto_router.proxy.app)",
    ]


def test_a_unit_missing_from_the_layers_is_reported() -> None:
    stray = Import("auto_router.newthing", "auto_router.errors", "newthing.py:1")
    assert back_arrows([stray], LAYERS) == [
        "newthing.py:1: newthing or errors is in no layer of LAYERS"
    ]


def test_a_cycle_is_found_even_through_several_modules() -> None:
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(edges) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_type_checking_and_function_imports_count() -> None:
    text = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from ..proxy import app\n"
        "def later() -> None:\n    from .. import cli\n"
    )
    found = imports_in(
        text, "auto_router.config.model", False, "model.py", ["auto_router.proxy.app"]
    )
    assert [i.target for i in found] == ["auto_router.proxy.app", "auto_router"]
    assert back_arrows(found, LAYERS) == [
        "model.py:3: config imports proxy (auto_router.proxy.app)",
        "model.py:5: config imports __init__ (auto_router)",
    ]


# -- sizes ------------------------------------------------------------------------------------


def test_no_module_is_over_the_size_guide() -> None:
    large = {
        str(p.relative_to(PACKAGE)): n
        for p in PACKAGE.rglob("*.py")
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
    }
    assert large == {}


def test_no_function_is_over_the_size_guide() -> None:
    long = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    long.append(f"{path.relative_to(PACKAGE)}:{node.lineno} {node.name} {lines}")
    assert long == []


def test_the_top_level_holds_few_loose_modules() -> None:
    loose = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(loose) <= MAX_LOOSE_MODULES, loose


# -- the map in docs/architecture.md stays the map of the tree ---------------------------------

ARCHITECTURE = PACKAGE.parent / "docs" / "architecture.md"


def test_the_documented_layers_are_the_contract() -> None:
    rows = re.findall(r"^\| (\d+) \| (.+) \|$", ARCHITECTURE.read_text(encoding="utf-8"), re.M)
    documented = {int(n): frozenset(re.findall(r"`([\w]+)`", units)) for n, units in rows}
    assert documented == dict(enumerate(LAYERS))


def test_the_documented_tree_names_every_unit() -> None:
    text = ARCHITECTURE.read_text(encoding="utf-8")
    tree = text.split("```", 2)[1]
    named = set(re.findall(r"^  (\w+)(?:/|\.py)", tree, re.M))
    units = {p.stem for p in PACKAGE.glob("*.py")} | {
        p.parent.name for p in PACKAGE.glob("*/__init__.py")
    }
    assert named == units
