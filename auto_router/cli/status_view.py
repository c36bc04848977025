"""The pieces ``status`` and ``status --watch`` draw a provider with: headroom bars per window,
countdowns, the circuit, today's tokens and cost, the overflow under
``priority``. Small functions over plain values, so a row of another kind (a key of a pool)
is drawn with the same bar and countdown.

``requests ▕█████░░░░░▏ 52% left (52/100)  resets in 3m12s``: the bar shows what is *left*.
Block characters only where the output's encoding can show them (``[#####-----]`` else);
colour only on a terminal, never with ``NO_COLOR`` set (https://no-color.org) or
``TERM=dumb``. Windows are drawn by whatever name they carry (``requests``, ``tokens``, a
subscription's ``5h`` and ``7d``), with a bar when their utilization is known.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple, TextIO

from ..errors import AutoRouterError
from ..providers.pricing import format_cost, format_tokens
from ..rotation.policy import OPEN, fresh_headroom
from ._plain import format_duration, iso

if TYPE_CHECKING:
    from ..config import Config
    from ..limits.headroom import Window
    from ..paths import Paths
    from ..rotation.service import Overflow, ProviderStatus

BAR_WIDTH = 10
_UNICODE = ("▕", "█", "░", "▏")
_ASCII = ("[", "#", "-", "]")
_RESET = "\x1b[0m"
#: A reading older than this is said to be old (the window may have moved since).
OLD_READING = 300.0


class Style(NamedTuple):
    """How the output can be drawn: block characters, colour."""

    unicode: bool = True
    colour: bool = False


#: Blocks, no colour: what tests and a UTF-8 pipe get.
PLAIN = Style()


def style_for(stream: TextIO, environ: Mapping[str, str] | None = None) -> Style:
    """The style ``stream`` can show: blocks if its encoding has them, colour on a tty."""
    env = os.environ if environ is None else environ
    try:
        "".join(_UNICODE).encode(getattr(stream, "encoding", None) or "ascii")
        unicode = True
    except (UnicodeEncodeError, LookupError):
        unicode = False
    colour = _isatty(stream) and not env.get("NO_COLOR") and env.get("TERM", "") not in ("dumb",)
    return Style(unicode, colour)


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # closed, or no file behind it
        return False


def bar(left: float, style: Style, width: int = BAR_WIDTH) -> str:
    """``▕█████░░░░░▏`` for half left (``[#####-----]`` in ASCII)."""
    left = min(max(left, 0.0), 1.0)
    filled = int(left * width + 0.5)  # half up: a quarter left is 3 of 10, not 2
    opening, full, empty, closing = _UNICODE if style.unicode else _ASCII
    inner = full * filled
    if style.colour and inner:
        inner = f"{_colour(left)}{inner}{_RESET}"
    return f"{opening}{inner}{empty * (width - filled)}{closing}"


def _colour(left: float) -> str:
    if left >= 0.5:
        return "\x1b[32m"  # green
    return "\x1b[33m" if left >= 0.2 else "\x1b[31m"  # yellow, red


def countdown(seconds: float) -> str:
    """``3m12s``, ``1h02m``; never negative."""
    return format_duration(max(0.0, seconds))


def clock_at(timestamp: float, now: float) -> str:
    """``HH:MM`` local, with the date when it is not today."""
    moment = dt.datetime.fromtimestamp(timestamp).astimezone()
    today = dt.datetime.fromtimestamp(now).astimezone().date()
    return moment.strftime("%H:%M" if moment.date() == today else "%Y-%m-%d %H:%M")


# -- windows -------------------------------------------------------------------------------


def window_lines(windows: Sequence[Window], now: float, style: Style) -> list[str]:
    """One line per fresh window, names padded so the bars line up."""
    shown = [w for w in windows if w.fresh(now)]
    width = max((len(w.name) for w in shown), default=0)
    return [window_line(w, now, style, width) for w in shown]


def window_line(window: Window, now: float, style: Style, width: int = 0) -> str:
    used = window.utilization
    name = window.name.ljust(width)
    left = format_tokens(window.remaining)
    counts = f"{left}/{format_tokens(window.limit)}" if window.limit else left
    if used is None:
        text = f"{name} {counts} left"
    else:
        text = f"{name} {bar(1.0 - used, style)} {(1.0 - used) * 100:.0f}% left ({counts})"
    if window.reset_at is not None:
        text += f"  resets in {countdown(window.reset_at - now)}"
    if window.seen_at and now - window.seen_at > OLD_READING:
        text += f"  (read {countdown(now - window.seen_at)} ago)"
    return text


def window_json(window: Window, now: float) -> dict[str, Any]:
    used = window.utilization
    return {
        "name": window.name,
        "remaining": window.remaining,
        "limit": window.limit,
        "utilization": None if used is None else round(used, 4),
        "reset_at": iso(window.reset_at),
        "resets_in": None if window.reset_at is None else round(max(0.0, window.reset_at - now)),
        "seen_at": iso(window.seen_at or None),
    }


def headroom_of(provider: ProviderStatus, now: float) -> tuple[Window, ...]:
    """The windows that still describe ``provider`` (older than their reset: ignored)."""
    return fresh_headroom(provider.state, now)


# -- the provider's state -------------------------------------------------------------------


def circuit_text(provider: ProviderStatus, now: float) -> str:
    """``circuit closed``, ``circuit half-open``, ``circuit open 25s``."""
    text = f"circuit {provider.circuit}"
    if provider.circuit == OPEN and provider.circuit_until is not None:
        text += f" {countdown(provider.circuit_until - now)}"
    return text


# -- today's usage -----------------------------------------------------------------------


class Today(NamedTuple):
    """What one provider answered since local midnight, and what it cost (``None``: no price)."""

    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float | None = None


Usages = Mapping[tuple[str | None, str | None], Today]


def midnight(now: float) -> float:
    moment = dt.datetime.fromtimestamp(now).astimezone()
    return moment.replace(hour=0, minute=0, second=0, microsecond=0).timestamp()


def today_usage(
    paths: Paths, config: Config, now: float
) -> dict[tuple[str | None, str | None], Today]:
    """Tokens and cost per (backend, provider) since local midnight, from the request log
    (nothing when there is none or it cannot be read: status still shows the rest)."""
    from ..providers.pricing import cost, prices_in
    from ..store.usage import read_usage

    try:
        rows = read_usage(paths, since=midnight(now))
    except AutoRouterError:
        rows = []
    counted = {(r.backend, r.provider): r for r in rows}
    found: dict[tuple[str | None, str | None], Today] = {}
    for backend, providers in config.providers.items():
        for name in providers:
            row = counted.get((backend, name))
            prices = prices_in(config, backend, name)
            tokens = (row.prompt_tokens, row.completion_tokens) if row is not None else (0, 0)
            # Unpriced is "no price", even with no tokens: $0.00 would read as free.
            priced = prices.input is not None or prices.output is not None
            found[(backend, name)] = Today(
                row.requests if row is not None else 0,
                *tokens,
                cost(prices, *tokens) if priced else None,
            )
    return found


def today_text(today: Today | None) -> str:
    """``today 1.2k in / 340 out tokens, $0.0123`` (``no price`` when none is known)."""
    today = today or Today()
    tokens = (
        f"today {format_tokens(today.prompt_tokens)} in / "
        f"{format_tokens(today.completion_tokens)} out tokens"
    )
    return f"{tokens}, {'no price' if today.cost is None else format_cost(today.cost)}"


def today_json(today: Today | None) -> dict[str, Any]:
    today = today or Today()
    return {
        "requests": today.requests,
        "prompt_tokens": today.prompt_tokens,
        "completion_tokens": today.completion_tokens,
        "cost_usd": None if today.cost is None else round(today.cost, 6),
    }


# -- the overflow under priority -------------------------------------------------------------


def overflow_text(overflow: Overflow, now: float) -> str:
    """``overflowing to two, back at 14:05 (in 1h02m)``."""
    text = f"overflowing to {overflow.to}"
    if overflow.back_at is not None:
        text += (
            f", back at {clock_at(overflow.back_at, now)} (in {countdown(overflow.back_at - now)})"
        )
    return text


def overflow_json(overflow: Overflow | None, now: float) -> dict[str, Any] | None:
    if overflow is None:
        return None
    back = overflow.back_at
    return {
        "from": overflow.preferred,
        "to": overflow.to,
        "back_at": iso(back),
        "back_in": None if back is None else round(max(0.0, back - now)),
    }


def indent(lines: Iterable[str], by: str = "      ") -> list[str]:
    return [by + line for line in lines]
