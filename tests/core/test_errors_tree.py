"""The exception tree drawn in ``auto_router/errors.py`` is the whole tree, and a true one.

Every module of the package is imported, then every exception class it defines (any subclass
of ``BaseException`` whose module is in ``auto_router``) must be drawn once, under its real
base class, with the module it lives in and marked internal exactly when it is no
``AutoRouterError`` (the CLI only catches those). The drawing may name nothing that does not
exist. So adding an exception without drawing it, or moving one, fails here.
"""

from __future__ import annotations

import builtins
import importlib
import pkgutil
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import auto_router
from auto_router import errors
from auto_router.errors import AutoRouterError

ROOT = Path(__file__).resolve().parents[2]
HOME = "auto_router.errors"  # the module of a class drawn without [module]

_ROOT_LINE = re.compile(r"^    (\w+)$")
_NODE_LINE = re.compile(r"^    ((?:[│ ]   )*)[├└]── (\w+)(?: +\[([\w.]+)\])?(.*)$")


@dataclass(frozen=True)
class Drawn:
    name: str
    parent: str | None
    module: str
    internal: bool


def import_every_module() -> None:
    for info in pkgutil.walk_packages(auto_router.__path__, "auto_router."):
        if info.name != "auto_router.__main__":  # importing it runs the CLI
            importlib.import_module(info.name)


def defined_exceptions() -> list[type[BaseException]]:
    """Every exception class of the package that is alive now (imported, or defined since)."""
    found: list[type[BaseException]] = []
    seen: set[type] = set()
    todo: list[type] = [BaseException]
    while todo:
        for sub in type.__subclasses__(todo.pop()):
            if sub not in seen:
                seen.add(sub)
                todo.append(sub)
                if sub.__module__.split(".")[0] == "auto_router":
                    found.append(sub)
    return found


def parse_drawing(doc: str) -> list[Drawn]:
    """The nodes of the drawings in ``doc``: a root line, then ``├── Name [module] text`` lines."""
    drawn: list[Drawn] = []
    path: list[Drawn] = []  # the current node's ancestors, root first
    for line in doc.splitlines():
        if root := _ROOT_LINE.match(line):
            name = root.group(1)
            node = Drawn(name, None, "builtins" if hasattr(builtins, name) else HOME, False)
            path = [node]
            drawn.append(node)
        elif (branch := _NODE_LINE.match(line)) and path:
            indent, name, module, text = branch.groups()
            depth = len(indent) // 4 + 1
            parent = path[depth - 1]
            internal = parent.internal or text.strip().startswith("internal:")
            node = Drawn(
                name, parent.name, f"auto_router.{module}" if module else parent.module, internal
            )
            path = [*path[:depth], node]
            drawn.append(node)
    return drawn


def problems(doc: str, classes: list[type[BaseException]]) -> list[str]:
    """What is wrong with the drawing in ``doc`` for these classes; empty when it is true."""
    drawn = [node for node in parse_drawing(doc) if node.module != "builtins"]
    by_name = {cls.__name__: cls for cls in classes}
    found = [f"{n} is defined twice" for n in by_name if [c.__name__ for c in classes].count(n) > 1]
    found += [f"{n.name} is drawn twice" for i, n in enumerate(drawn) if n in drawn[:i]]
    found += [
        f"{cls.__module__}.{cls.__name__} is not drawn"
        for cls in classes
        if cls.__name__ not in {n.name for n in drawn}
    ]
    for node in drawn:
        cls = by_name.get(node.name)
        if cls is None:
            found.append(f"{node.name} is drawn but no such exception exists")
            continue
        if node.module != cls.__module__:
            found.append(f"{node.name} is drawn in {node.module}, lives in {cls.__module__}")
        if node.parent is not None and node.parent not in [b.__name__ for b in cls.__bases__]:
            found.append(f"{node.name} is drawn under {node.parent}, its bases are {cls.__bases__}")
        if node.internal and issubclass(cls, AutoRouterError):
            found.append(f"{node.name} is an AutoRouterError, yet drawn as internal")
        if not node.internal and not issubclass(cls, AutoRouterError):
            found.append(f"{node.name} is no AutoRouterError: draw it as internal")
    return found


def test_every_exception_of_the_package_is_drawn_where_it_lives() -> None:
    import_every_module()
    classes = defined_exceptions()
    assert AutoRouterError in classes and len(classes) > 30  # the walk does find them
    assert problems(errors.__doc__ or "", classes) == []


def test_the_drawing_marks_the_internal_ones() -> None:
    import_every_module()
    internal = {n.name for n in parse_drawing(errors.__doc__ or "") if n.internal}
    assert internal == {
        "Failure",
        "ClientError",
        "UpstreamError",
        "UpstreamTimeout",
        "UpstreamConnectionError",
        "UpstreamRefused",
        "_Fallback",
        "ExpansionError",
    }


def test_a_new_exception_that_is_not_drawn_fails_the_check() -> None:
    # In a fresh interpreter, so the extra class never joins this one's subclass lists.
    probe = (
        "from auto_router.errors import AutoRouterError, __doc__ as doc\n"
        "from tests.core.test_errors_tree import defined_exceptions, import_every_module, problems\n"
        "import_every_module()\n"
        "class Sneaky(AutoRouterError): pass\n"
        "Sneaky.__module__ = 'auto_router.proxy.forward'\n"
        "print(problems(doc, defined_exceptions()))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, check=True
    )
    assert done.stdout.strip() == "['auto_router.proxy.forward.Sneaky is not drawn']"


def test_the_check_notices_a_wrong_drawing() -> None:
    import_every_module()
    classes = defined_exceptions()
    doc = errors.__doc__ or ""
    assert doc.count("├── RoutingError                [proxy.routing]") == 1
    moved = doc.replace("├── RoutingError                [proxy.routing]", "├── RoutingError")
    assert problems(moved, classes) == [
        "RoutingError is drawn in auto_router.errors, lives in auto_router.proxy.routing"
    ]
    invented = doc.replace(
        "│   └── TemplateNotFoundError", "│   ├── TemplateNotFoundError\n    │   └── GhostError"
    )
    assert problems(invented, classes) == ["GhostError is drawn but no such exception exists"]
    misplaced = doc.replace("    │   └── MissingVariableError", "    ├── MissingVariableError")
    assert problems(misplaced, classes) == [
        f"MissingVariableError is drawn under AutoRouterError, its bases are {(errors.ConfigError,)}"
    ]
    unmarked = doc.replace("[proxy.exchange] internal:", "[proxy.exchange]")
    assert problems(unmarked, classes) == ["ClientError is no AutoRouterError: draw it as internal"]
