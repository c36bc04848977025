"""Durations and "since" times written as text, for the launcher, the proxy and the CLI.

One parser for every place a duration is read: an agent's ``resets in 2h13m``, an upstream's
``x-ratelimit-reset-tokens: 6m0s`` or ``try again in 90 seconds``, and ``--since 12h``.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Final

_UNIT_SECONDS: Final = {
    "ms": 0.001,
    "s": 1,
    "sec": 1,
    "secs": 1,
    "second": 1,
    "seconds": 1,
    "m": 60,
    "min": 60,
    "mins": 60,
    "minute": 60,
    "minutes": 60,
    "h": 3600,
    "hr": 3600,
    "hrs": 3600,
    "hour": 3600,
    "hours": 3600,
    "d": 86400,
    "day": 86400,
    "days": 86400,
    "w": 604800,
    "week": 604800,
    "weeks": 604800,
}
#: A unit word; ``ms`` is tried before ``m`` and ``s``, and no letter may follow.
UNIT: Final = r"(?:ms|seconds?|secs?|s|minutes?|mins?|m|hours?|hrs?|h|days?|d|weeks?|w)(?![a-z])"
_PART: Final = rf"\d+(?:\.\d+)?\s*{UNIT}"
#: One or more ``<number><unit>`` parts (``2h13m``, ``1 hour, 5 minutes and 3 seconds``).
DURATION: Final = rf"{_PART}(?:(?:\s*,\s*|\s+and\s+|\s*){_PART})*"
_PART_RE: Final = re.compile(rf"(\d+(?:\.\d+)?)\s*({UNIT})", re.IGNORECASE)
_AGO: Final = re.compile(r"(\d+(?:\.\d+)?)([smhdw])", re.IGNORECASE)


def parse_duration(text: str) -> float | None:
    """Seconds in ``2h13m``, ``6m0s``, ``20ms``, ``1 hour 5 minutes``, ``90 seconds``;
    ``None`` when the text names no duration."""
    parts = _PART_RE.findall(text)
    if not parts:
        return None
    return sum(float(n) * _UNIT_SECONDS[unit.lower()] for n, unit in parts)


def parse_since(text: str | None, now: float) -> float | None:
    """The epoch seconds ``--since`` / ``?since=`` mean: ``30m``, ``12h``, ``7d``, ``2w`` ago,
    epoch seconds, or an ISO date or date-time (local time when it names no zone).

    ``None`` for no text; ``ValueError`` (with a message for the user) for anything else.
    """
    if not text:
        return None
    ago = _AGO.fullmatch(text.strip())
    if ago:
        return now - float(ago.group(1)) * _UNIT_SECONDS[ago.group(2).lower()]
    try:
        return float(text)
    except ValueError:
        pass
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"expected 30m, 12h, 7d, epoch seconds or an ISO date, not {text!r}"
        ) from None
    if moment.tzinfo is None:
        moment = moment.astimezone()
    return moment.timestamp()
