"""The naming rule for backends and providers."""

from __future__ import annotations

import re
from typing import Final

from ..errors import InvalidIdentifierError

IDENTIFIER_RULE: Final = (
    "names must match ^[a-z0-9][a-z0-9._-]*$ "
    "(lowercase letters, digits, '.', '_' and '-', starting with a letter or digit)"
)
_IDENTIFIER: Final = re.compile(r"^[a-z0-9][a-z0-9._-]*$")


def is_identifier(name: str) -> bool:
    return bool(_IDENTIFIER.match(name))


def check_identifier(name: str, what: str = "name") -> str:
    """Return ``name`` or raise ``InvalidIdentifierError`` quoting the rule."""
    if not is_identifier(name):
        raise InvalidIdentifierError(f"invalid {what} {name!r}: {IDENTIFIER_RULE}")
    return name
