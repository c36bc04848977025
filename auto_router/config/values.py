"""Checking values read from TOML: each converter returns the value or raises ``ValueError``
saying what was expected (callers add the file, line and key).

Every number is checked for type, finiteness and range: ``inf``, ``nan``, negative and absurd
values are refused here, at load time, so nothing downstream ever turns a configured number into
a timestamp the platform cannot represent (a cooldown of ``1e300`` seconds used to crash every
``status`` after the first usage limit).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, Final
from urllib.parse import urlsplit

#: The longest duration any setting may hold: 366 days. Long enough for any real cooldown or
#: timeout, and ``now + MAX_SECONDS`` is a timestamp every platform can represent.
MAX_SECONDS: Final = 366 * 24 * 3600.0
#: The largest count any setting may hold (rows, bytes, attempts...).
MAX_COUNT: Final = 1_000_000_000


def as_str(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected a string, got {describe(value)}")
    return value


def http_url(value: Any) -> str:
    """A ``base_url``: ``http(s)://`` with a host. ``file:``, ``unix:`` and ``gopher:`` are no
    provider, and aiohttp asserts on ``//host/v1`` (an "internal proxy error"). A value with a
    ``${VAR}`` reference is only known where it is expanded, and passes here."""
    text = as_str(value)
    if "$" in text:
        return text
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError for a port that is no port
    except ValueError:
        parts = None
    odd = any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in text)
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname or odd:
        raise ValueError(f"expected an http:// or https:// URL with a host, got {text!r}")
    return text


def as_bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"expected true or false, got {describe(value)}")
    return value


def _number(value: Any, what: str, maximum: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"expected {what}, got {describe(value)}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"expected {what}, got {value!r} (must be a finite number)")
    if value <= 0:
        raise ValueError(f"expected {what}, got {value!r} (must be greater than 0)")
    if value > maximum:
        raise ValueError(f"expected {what}, got {value!r} (at most {maximum:g})")
    return float(value)


def positive_number(value: Any) -> float:
    return _number(value, "a positive number", MAX_COUNT)


def positive_seconds(value: Any) -> float:
    return _number(value, "a positive number of seconds", MAX_SECONDS)


def seconds_or_zero(value: Any) -> float:
    """Like ``positive_seconds`` but 0 is allowed (``max_retry_wait = 0``: never wait)."""
    if value == 0 and not isinstance(value, bool):
        return 0.0
    return positive_seconds(value)


def positive_days(value: Any) -> float:
    return _number(value, "a positive number of days", MAX_SECONDS / 86400)


def whole_number(value: Any, maximum: int = MAX_COUNT) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= maximum:
        raise ValueError(f"expected a whole number from 1 to {maximum}, got {describe(value)}")
    return value


def whole_number_up_to(maximum: int) -> Callable[[Any], int]:
    """A ``whole_number`` checker with a smaller upper bound (``max_attempts``: 100)."""

    def check(value: Any) -> int:
        return whole_number(value, maximum)

    return check


def count_up_to(maximum: int) -> Callable[[Any], int]:
    """A whole number from 0 to ``maximum`` (``max_retries = 0``: never retry)."""

    def check(value: Any) -> int:
        if value == 0 and not isinstance(value, bool):
            return 0
        return whole_number(value, maximum)

    return check


def true_false_or_auto(value: Any) -> bool | str:
    """``via_proxy``: a bool, or ``"auto"``."""
    if isinstance(value, bool):
        return value
    if value == "auto":
        return "auto"
    raise ValueError(f'expected true, false or "auto", got {describe(value)}')


def one_of(choices: tuple[str, ...]) -> Callable[[Any], str]:
    """A checker for a value that must be one of ``choices`` (quoted in the error)."""

    def check(value: Any) -> str:
        if value not in choices:
            listed = ", ".join(f'"{c}"' for c in choices)
            raise ValueError(f"expected one of {listed}, got {describe(value)}")
        return str(value)

    return check


def port_number(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 65536:
        raise ValueError(f"expected a port number (1-65535), got {describe(value)}")
    return value


def str_list(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"expected a list of strings, got {describe(value)}")
    return tuple(value)


def str_table(value: Any) -> Mapping[str, str]:
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise ValueError(f"expected a table of strings, got {describe(value)}")
    return MappingProxyType(dict(value))


def describe(value: Any) -> str:
    """What a value is, for error messages: ``a string ('yes')``, ``a list``."""
    names = {bool: "a boolean", int: "an integer", float: "a number", str: "a string"}
    for typ, name in names.items():
        if type(value) is typ:
            shown = repr(value)
            return f"{name} ({shown[:60]}{'...' if len(shown) > 60 else ''})"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a table"
    return type(value).__name__


#: A price above this (USD per million tokens) is a typo (a price per token, or cents).
MAX_PRICE: Final = 10_000.0


def price_per_million(value: Any) -> float:
    """``price_input`` / ``price_output``: USD per million tokens, 0 (a free model) allowed."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
        raise ValueError(f"expected USD per million tokens (a number >= 0), got {describe(value)}")
    if value > MAX_PRICE:
        raise ValueError(
            f"expected USD per million tokens (at most {MAX_PRICE:,.0f}), got {describe(value)}"
        )
    return float(value)


def fraction_below_one(value: Any) -> float:
    """A fraction from 0 to under 1 (``rotate_below = 0.05``: 5 % of a window left; 0: never)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
        raise ValueError(f"expected a fraction from 0 to under 1, got {describe(value)}")
    return float(value)


#: The headroom marks (issue 19): a backend's, which a provider may override.
ROTATE_BELOW_KEYS: Final[Mapping[str, Callable[[Any], Any]]] = {
    "rotate_below": fraction_below_one,
    "rotate_below_requests": whole_number,
    "rotate_below_tokens": whole_number,
}
#: A provider's prices (issue 19), USD per million tokens.
PRICE_KEYS: Final[Mapping[str, Callable[[Any], Any]]] = {
    "price_input": price_per_million,
    "price_output": price_per_million,
}


#: ``auth`` of a provider (issue 20): ``api-key`` (its own ``api_key``, the default) or
#: ``passthrough`` (the client's own login, forwarded to this provider alone).
API_KEY_AUTH: Final = "api-key"
PASSTHROUGH: Final = "passthrough"
AUTH_MODES: Final = (API_KEY_AUTH, PASSTHROUGH)
auth_mode: Final = one_of(AUTH_MODES)
