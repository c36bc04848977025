"""``${VAR}`` expansion in configuration values.

Supported: ``${VAR}``, ``${VAR:-default}`` (default when unset or empty) and ``$$`` for a
literal dollar. A ``$`` followed by anything else is kept as it is, so passwords and regexes
that contain a dollar need no escaping unless they contain ``${``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final

_TOKEN: Final = re.compile(r"\$\$|\$\{([^}]*)\}|\$\{")
_NAME: Final = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class ExpansionError(ValueError):
    """Raised with ``variable`` set when a variable is missing, unset otherwise (bad syntax)."""

    def __init__(self, message: str, variable: str | None = None) -> None:
        super().__init__(message)
        self.variable = variable


def references(value: str) -> list[str]:
    """The variable names a value refers to (syntax errors raise ``ExpansionError``)."""
    names: list[str] = []
    for match in _TOKEN.finditer(value):
        if match.group(0) == "$$":
            continue
        name, _ = _split(match)
        names.append(name)
    return names


def expand(value: str, environ: Mapping[str, str]) -> str:
    """Expand every reference in ``value`` from ``environ``."""

    def substitute(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, default = _split(match)
        found = environ.get(name)
        if found:
            return found
        if default is not None:
            return default
        if found is not None:  # set but empty, and no default: empty is what was asked for
            return found
        raise ExpansionError(f"environment variable {name} is not set", variable=name)

    return _TOKEN.sub(substitute, value)


def _split(match: re.Match[str]) -> tuple[str, str | None]:
    body = match.group(1)
    if body is None:
        raise ExpansionError("unclosed '${' (write '$$' for a literal dollar)")
    name, sep, default = body.partition(":-")
    if not _NAME.match(name):
        raise ExpansionError(f"'${{{body}}}' is not a valid variable reference")
    return name, default if sep else None
