"""Checks of edit arguments made before any file is read (names, keys, positions)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Final

from ..config import BACKEND_KEYS, PROVIDER_KEYS
from ..errors import ConfigValidationError

_ENV_NAME: Final = re.compile(r"^[A-Z_][A-Z0-9_]*$")

Settings = Mapping[str, Any]


def split_settings(settings: Settings) -> tuple[dict[str, Any], dict[str, str]]:
    lower: dict[str, Any] = {}
    upper: dict[str, Any] = {}
    for key, value in settings.items():
        (upper if key.isupper() else lower)[key] = value
    return lower, upper


def check_provider_keys(values: Settings) -> None:
    unknown = [k for k in values if k not in PROVIDER_KEYS]
    if unknown:
        raise ConfigValidationError(
            f"unknown provider setting {unknown[0]!r}",
            hint="settings: "
            + ", ".join(PROVIDER_KEYS)
            + "; UPPERCASE keys are exported variables (--env KEY=VALUE)",
        )


def check_backend_keys(values: Settings) -> None:
    unknown = [k for k in values if k not in BACKEND_KEYS]
    if unknown:
        raise ConfigValidationError(
            f"unknown backend setting {unknown[0]!r}",
            hint="settings: " + ", ".join(BACKEND_KEYS),
        )


def check_env(variables: Mapping[str, Any]) -> None:
    for key, value in variables.items():
        if not _ENV_NAME.match(key):
            raise ConfigValidationError(
                f"invalid variable name {key!r}",
                hint="exported variables are UPPERCASE: letters, digits and '_' (like API_KEY)",
            )
        if not isinstance(value, str):
            raise ConfigValidationError(f"variable {key} must be a string")


def check_unique(names: Sequence[str], what: str) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ConfigValidationError(f"{what} {name!r} is listed twice")
        seen.add(name)


def check_position(position: int | None) -> None:
    if position is not None and position < 1:
        raise ConfigValidationError(
            f"invalid position {position}", hint="positions start at 1 (the first provider)"
        )
