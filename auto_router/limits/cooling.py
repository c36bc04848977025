"""The line an agent and the person both read when every provider is cooling down."""

from __future__ import annotations

import datetime as dt


def cooling_line(
    backend: str,
    earliest: str | None,
    available_at: float | None,
    now: float,
    tz: dt.tzinfo | None = None,
) -> str:
    """``all providers of claude are cooling down; anth is available again at 15:00``."""
    line = f"all providers of {backend} are cooling down"
    if earliest is None or available_at is None:
        return line
    return f"{line}; {earliest} is available again at {clock_time(available_at, now, tz)}"


def clock_time(timestamp: float, now: float, tz: dt.tzinfo | None = None) -> str:
    """``15:00`` today, else ``2026-11-30 15:00`` (local time unless ``tz``)."""
    moment = dt.datetime.fromtimestamp(timestamp, tz)
    if moment.date() == dt.datetime.fromtimestamp(now, tz).date():
        return moment.strftime("%H:%M")
    return moment.strftime("%Y-%m-%d %H:%M")
