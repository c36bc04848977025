"""Subscription windows (issue 20): the 5-hour and weekly windows of a Claude or ChatGPT login,
read from the headers its upstream sends, and the reset its usage-limit refusal names.

None of these headers is in the vendors' public API documentation. What is read here is what
public client code reads (checked 2026-12-02):

- **Anthropic, a Claude Pro / Max login** (api.anthropic.com):
  ``anthropic-ratelimit-unified-status`` (``allowed``, ``allowed_warning``, ``rejected``),
  ``-unified-reset`` (Unix seconds), ``-unified-representative-claim`` (``five_hour``,
  ``seven_day``: the window that decides), and per window ``-unified-5h-`` /
  ``-unified-7d-`` ``utilization`` (a fraction, 0-1), ``reset`` (Unix seconds) and
  ``status``; besides them ``-unified-fallback-percentage`` and the overage fields
  (``-unified-overage-status``, ``-overage-reset``...). Sources: CLIProxyAPI's Claude
  rate-limit parser (router-for-me/CLIProxyAPI ``internal/runtime/executor/helps/
  claude_ratelimit.go``, commit a7e3596b of 2026-08-22: a ``rejected`` status of the
  unified, 5h or 7d set cools the account until the latest of their resets; the ``7d_oi``
  set is model-scoped) and better-ccflare's Anthropic provider (tombii/better-ccflare
  ``packages/providers/src/providers/anthropic/provider.ts``, ``parseRateLimit``, commit
  056055a9: ``-unified-status`` and ``-unified-reset`` in Unix seconds).
- **Codex on a ChatGPT login** (chatgpt.com/backend-api/codex): ``x-codex-primary-`` and
  ``x-codex-secondary-`` ``used-percent`` (0-100), ``window-minutes`` (300: five hours,
  10080: a week), ``reset-at`` (Unix seconds) and ``reset-after-seconds``; a 429 whose body
  is ``{"error": {"type": "usage_limit_reached", "resets_at": <Unix s>, "resets_in_seconds":
  n}}``. Source: openai/codex ``codex-rs/codex-api/src/rate_limits.rs``
  (``parse_rate_limit_for_limit``, commit 5d24c10b) and ``codex-rs/codex-api/src/
  api_bridge.rs`` (``map_api_error``, commit 02fbf027).

A subscription window counts in percent: ``Window(name, remaining=percent left, limit=100,
used=the exact fraction)``, so the rest of auto-router (the mark, the state, ``status``)
reads it like any window. Only the shared windows are kept (``5h``, ``7d``, and a Codex
window of other length as ``<n>m``); the model-scoped ones (``7d_opus``, ``7d_sonnet``,
``7d_oi``) and the overage budget do not stop the provider as a whole. The golden header
sets live in tests/core/test_subscription_windows.py.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import lru_cache
from typing import Final, NamedTuple

#: ``anthropic-ratelimit-`` is taken off by the caller; these are what follow it.
UNIFIED: Final = "unified"
CODEX: Final = "x-codex-"
FIVE_HOURS: Final = "5h"
WEEK: Final = "7d"
_UNIFIED_WINDOWS: Final = {"unified-5h": FIVE_HOURS, "unified-7d": WEEK}
_WINDOW_FIELDS: Final = frozenset({"utilization", "reset", "status"})
_COMMON_FIELDS: Final = frozenset({"status", "reset", "representative-claim"})
#: ``-representative-claim`` -> the window it names.
_CLAIMS: Final = {"five_hour": FIVE_HOURS, "seven_day": WEEK}
_CODEX_SETS: Final = ("primary", "secondary")
_CODEX_FIELDS: Final = frozenset(
    {"used-percent", "window-minutes", "reset-at", "reset-after-seconds"}
)
_MINUTES: Final = {300: FIVE_HOURS, 10080: WEEK}
REJECTED: Final = "rejected"


def unified_part(rest: str) -> tuple[str, str] | None:
    """(key, field) of an ``anthropic-ratelimit-unified-*`` header (``rest``: the name after
    ``anthropic-ratelimit-``): ``("unified-5h", "utilization")``, ``("unified", "status")``;
    ``None`` for what is not read (model-scoped windows, overage, fallback)."""
    for key in _UNIFIED_WINDOWS:
        if rest.startswith(key) and rest[len(key) : len(key) + 1] == "-":
            field = rest[len(key) + 1 :]
            return (key, field) if field in _WINDOW_FIELDS else None
    field = rest[len(UNIFIED) + 1 :]
    return (
        (UNIFIED, field)
        if rest[len(UNIFIED) : len(UNIFIED) + 1] == "-" and (field in _COMMON_FIELDS)
        else None
    )


def codex_part(name: str) -> tuple[str, str] | None:
    """(key, field) of an ``x-codex-{primary,secondary}-*`` header: ``("codex-primary",
    "used-percent")``; ``None`` for any other ``x-codex-`` header."""
    rest = name[len(CODEX) :]
    kind, _, field = rest.partition("-")
    return (f"codex-{kind}", field) if kind in _CODEX_SETS and field in _CODEX_FIELDS else None


Fields = Mapping[str, bytes | str]


class Reading(NamedTuple):
    """One subscription window as read: its name, the used fraction (0-1) and its reset
    (``headroom`` makes it a ``Window``; this module does not import that one back)."""

    name: str
    used: float
    reset_at: float | None


def unified_window(key: str, fields: Fields, common: Fields | None) -> Reading | None:
    """The 5h or 7d window of a Claude login: its utilization, or full when it (or, by the
    representative claim, the whole set) is ``rejected``."""
    name = _UNIFIED_WINDOWS[key]
    rejected = _text(fields.get("status")) == REJECTED or (
        common is not None
        and _text(common.get("status")) == REJECTED
        and _CLAIMS.get(_text(common.get("representative-claim")) or "") == name
    )
    used = 1.0 if rejected else _number(fields.get("utilization"))
    if used is None:
        return None
    return Reading(name, used, _epoch(fields.get("reset")))


def codex_window(key: str, fields: Fields, now: float) -> Reading | None:
    """A Codex window: named from its length (``5h``, ``7d``, ``<n>m``), else ``primary`` /
    ``secondary``; the reset from ``reset-at``, else ``reset-after-seconds`` from now."""
    percent = _number(fields.get("used-percent"))
    if percent is None:
        return None
    minutes = _number(fields.get("window-minutes"))
    name = key[len("codex-") :]
    if minutes is not None and minutes > 0:
        name = _MINUTES.get(int(minutes), f"{int(minutes)}m")
    reset_at = _epoch(fields.get("reset-at"))
    if reset_at is None:
        after = _number(fields.get("reset-after-seconds"))
        reset_at = None if after is None else now + after
    return Reading(name, percent / 100.0, reset_at)


class Unified(NamedTuple):
    """The whole ``anthropic-ratelimit-unified-*`` set of one answer, as text."""

    status: str | None
    claim: str | None
    reset_at: float | None
    #: Per window: (status, reset) of ``5h`` and ``7d``.
    windows: Mapping[str, tuple[str | None, float | None]]
    fallback_percentage: float | None
    overage_status: str | None


def read_unified(headers: Mapping[str, str]) -> Unified | None:
    """The unified set in lower-case ``headers``; ``None`` when there is none."""
    prefix = "anthropic-ratelimit-unified-"
    if not any(name.startswith(prefix) for name in headers):
        return None
    windows = {
        name: (headers.get(f"{prefix}{name}-status"), _epoch(headers.get(f"{prefix}{name}-reset")))
        for name in (FIVE_HOURS, WEEK)
    }
    return Unified(
        headers.get(f"{prefix}status"),
        headers.get(f"{prefix}representative-claim"),
        _epoch(headers.get(f"{prefix}reset")),
        windows,
        _number(headers.get(f"{prefix}fallback-percentage")),
        headers.get(f"{prefix}overage-status"),
    )


def limit_reset(headers: Mapping[str, str], body: str, now: float) -> float | None:
    """When a refused subscription works again: the latest reset of the ``rejected`` unified
    windows (as CLIProxyAPI does), or a Codex ``usage_limit_reached`` body's ``resets_at`` /
    ``resets_in_seconds``; ``None`` when the answer is neither."""
    unified = read_unified(headers)
    if unified is not None:
        resets = [reset for status, reset in unified.windows.values() if status == REJECTED]
        if unified.status == REJECTED:
            resets.append(unified.reset_at)
        found = [r for r in resets if r is not None and r > now]
        if found:
            return max(found)
    if "usage_limit_reached" in body[:4096]:
        return _usage_limit_body(body, now)
    return None


def _usage_limit_body(body: str, now: float) -> float | None:
    try:
        error = json.loads(body).get("error")
    except (ValueError, AttributeError, RecursionError):
        return None
    if not isinstance(error, dict) or error.get("type") != "usage_limit_reached":
        return None
    at, after = error.get("resets_at"), error.get("resets_in_seconds")
    if isinstance(at, int | float) and not isinstance(at, bool) and at > now:
        return float(at)
    if isinstance(after, int | float) and not isinstance(after, bool) and after >= 0:
        return now + float(after)
    return None


# The values repeat answer after answer (a window's length, its reset for hours, its use
# moving a percent at a time): read once each, they cost a look-up (bench_headroom.py).
@lru_cache(maxsize=512)
def _text(value: bytes | str | None) -> str | None:
    if value is None:
        return None
    return (value.decode("latin-1") if isinstance(value, bytes) else value).strip().lower()


@lru_cache(maxsize=512)
def _number(value: bytes | str | None) -> float | None:
    text = _text(value)
    if not text:
        return None
    try:
        number = float(text)
    except ValueError:
        return None
    return number if number == number and abs(number) != float("inf") else None


def _epoch(value: bytes | str | None) -> float | None:
    """A reset in Unix seconds (a number after 2001); anything else is not read."""
    number = _number(value)
    return number if number is not None and number > 1e9 else None
