"""Reading a reset time out of an agent's usage-limit message.

Understood, case-insensitively, with the clock injected:

- clock times: ``resets 3pm``, ``resets at 3:30 pm``, ``resets 15:00``, optionally followed by an
  IANA zone in parentheses (``resets 3pm (Europe/Berlin)``): the next such time from now;
- durations: ``reset after 2h13m``, ``resets in 5 hours``, ``Your quota will reset after
  17h45m29s``, ``Please retry in 37.5s``, ``try again in 1s``, ``try again in 2 days 3 hours
  5 minutes``, ``retry after 30 seconds``, ``Retry-After: 30``, ``"resets_in_seconds": 120``;
- timestamps: ``resets at 2025-06-01T15:00:00Z`` (ISO 8601).

The latest mention in the output wins (it is the freshest). The duration phrases and
seconds fields are shared with the proxy's reader, in ``phrases``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from typing import Final

from ..durations import parse_duration
from .phrases import PROSE_DURATION, SECONDS_FIELDS

_CLOCK: Final = re.compile(
    r"resets?\s+(?:at\s+)?(?P<hour>\d{1,2})(?::(?P<minute>\d{2}))?\s*(?P<ampm>[ap]\.?m\.?)?"
    r"(?![\d:])(?:\s*\((?P<zone>[A-Za-z_]+(?:/[A-Za-z0-9_+\-]+)*)\))?",
    re.IGNORECASE,
)
_ISO: Final = re.compile(
    r"(?:resets?|available again|retry|try again)\s+(?:at|after|on)\s+"
    r"(?P<iso>\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)",
    re.IGNORECASE,
)


def parse_reset_in_line(line: str, now: float, tz: dt.tzinfo | None = None) -> float | None:
    """The reset time (epoch seconds) one line names, or ``None``."""
    found: list[tuple[int, float]] = []
    for match in _ISO.finditer(line):
        value = _iso(match.group("iso"), tz)
        if value is not None:
            found.append((match.start(), value))
    for match in PROSE_DURATION.finditer(line):
        seconds = parse_duration(match.group("duration"))
        if seconds is not None:
            found.append((match.start(), now + seconds))
    for match in SECONDS_FIELDS.finditer(line):
        found.append((match.start(), now + float(match.group("seconds"))))
    for match in _CLOCK.finditer(line):
        if any(start == match.start() for start, _ in found):
            continue  # "resets in ..." / "resets at <ISO>" already read
        value = _clock(match, now, tz)
        if value is not None:
            found.append((match.start(), value))
    if not found:
        return None
    return max(found)[1]


def parse_reset(lines: Iterable[str], now: float, tz: dt.tzinfo | None = None) -> float | None:
    """The reset time named by the latest line that names one."""
    for line in reversed(list(lines)):
        value = parse_reset_in_line(line, now, tz)
        if value is not None:
            return value
    return None


def _clock(match: re.Match[str], now: float, tz: dt.tzinfo | None) -> float | None:
    hour = int(match.group("hour"))
    minute = int(match.group("minute") or 0)
    ampm = (match.group("ampm") or "").replace(".", "").lower()
    if not ampm and match.group("minute") is None:
        return None  # "resets 3" is not a time
    if ampm:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if ampm == "pm" else 0)
    if hour > 23 or minute > 59:
        return None
    zone = tz
    if match.group("zone"):
        # Imported here: zoneinfo loads sysconfig (~4 ms), and every `run` imports this module.
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            zone = ZoneInfo(match.group("zone"))
        except (ZoneInfoNotFoundError, ValueError):
            zone = tz
    current = dt.datetime.fromtimestamp(now, zone) if zone else dt.datetime.fromtimestamp(now)
    moment = current.replace(hour=hour, minute=minute, second=0, microsecond=0)
    if moment.timestamp() <= now:
        moment += dt.timedelta(days=1)
    return moment.timestamp()


def _iso(text: str, tz: dt.tzinfo | None) -> float | None:
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz) if tz else moment.astimezone()
    return moment.timestamp()
