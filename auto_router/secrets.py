"""A string type for credentials that never shows itself by accident."""

from __future__ import annotations

import re
from typing import Final

_REFERENCE_DEFAULT: Final = re.compile(r"(\$\{[A-Za-z_][A-Za-z0-9_]*:-)([^}]*)(\})")
_SECRET_NAME: Final = re.compile(r"KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|AUTH", re.I)


class Secret:
    """Holds a credential. ``repr``/``str`` are masked; ``reveal()`` is the only way out."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    @property
    def masked(self) -> str:
        return mask(self._value)

    def __repr__(self) -> str:
        return f"Secret({self.masked!r})"

    def __str__(self) -> str:
        return self.masked

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __bool__(self) -> bool:
        return bool(self._value)


def mask(value: str) -> str:
    """Show only enough of a credential to tell two apart: the last four of a long one."""
    if len(value) >= 16:
        return "****" + value[-4:]
    return "****" if value else ""


def masked_value(name: str, value: str) -> str:
    """A config value fit to show: ${VAR} references as written, literal secrets masked."""
    if not looks_secret(name):
        return value
    if "${" in value:
        return _REFERENCE_DEFAULT.sub(
            lambda m: m.group(1) + (mask(m.group(2)) if m.group(2) else "") + m.group(3), value
        )
    return mask(value)


def looks_secret(name: str) -> bool:
    """True for variable or header names that usually carry credentials (API_KEY, x-api-key...)."""
    return bool(_SECRET_NAME.search(name))
