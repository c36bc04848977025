"""Where a run's session was, over time: the summary lines on its providers (issue 20).

From the run's record (one event per request the proxy served for it: ``ts``, the provider
that answered, if any), at the end of a run through the managed proxy:

- ``time per provider: claude-sub 1h12m, zai 25m``: the session is on the provider that
  answered last; the time until another provider answers counts for the one before, the time
  after the last answer (to the run's end) for the last one, and the time before the first
  answer for the first one;
- ``prompt cache lost once: moved from claude-sub to zai at 14:02``: said once, for the
  first move off the first provider (each move starts on a cold prompt cache, so every move
  is counted, a move back included).

Pure functions of the events and the clock's readings; the standard library only.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple


class Stay(NamedTuple):
    """The session on one provider, from the first answer there until it moved."""

    provider: str
    since: float


def stays(events: Iterable[Mapping[str, Any]]) -> list[Stay]:
    """The providers in the order the session moved between them (answered requests only)."""
    found: list[Stay] = []
    for event in sorted(_answered(events), key=lambda e: float(e["ts"])):
        who = str(event["provider"])
        if not found or found[-1].provider != who:
            found.append(Stay(who, float(event["ts"])))
    return found


def _answered(events: Iterable[Mapping[str, Any]]) -> Iterable[Mapping[str, Any]]:
    return (e for e in events if e.get("provider") and isinstance(e.get("ts"), int | float))


def time_per_provider(moves: Sequence[Stay], started: float, ended: float) -> dict[str, float]:
    """Seconds on each provider, in the order first used (see the module docstring)."""
    spent: dict[str, float] = {}
    for i, stay in enumerate(moves):
        begin = started if i == 0 else stay.since
        end = moves[i + 1].since if i + 1 < len(moves) else ended
        spent[stay.provider] = spent.get(stay.provider, 0.0) + max(0.0, end - begin)
    return spent


def time_line(moves: Sequence[Stay], started: float, ended: float) -> str | None:
    """``time per provider: a 1h12m, b 25m``; ``None`` before any answer."""
    if not moves:
        return None
    spent = time_per_provider(moves, min(started, moves[0].since), ended)
    return "time per provider: " + ", ".join(f"{p} {short(s)}" for p, s in spent.items())


def cache_line(moves: Sequence[Stay], tz: dt.tzinfo | None = None) -> str | None:
    """The prompt-cache loss, said once; ``None`` when the session never moved."""
    if len(moves) < 2:
        return None
    first, to = moves[0], moves[1]
    when = dt.datetime.fromtimestamp(to.since, tz).strftime("%H:%M")
    move = f"moved from {first.provider} to {to.provider} at {when}"
    count = len(moves) - 1
    if count == 1:
        return f"prompt cache lost once: {move}"
    return f"prompt cache lost {count} times; first: {move}"


def summary_lines(
    events: Iterable[Mapping[str, Any]],
    started: float,
    ended: float,
    tz: dt.tzinfo | None = None,
) -> list[str]:
    """The run's lines on its providers: the time on each (when it used more than one, or
    one all along: said either way), and the cache loss."""
    moves = stays(events)
    lines = [time_line(moves, started, ended), cache_line(moves, tz)]
    return [line for line in lines if line]


def short(seconds: float) -> str:
    """``40s``, ``25m``, ``1h12m``, ``2d3h``: two units at most, rounded down."""
    whole = int(seconds)
    if whole < 60:
        return f"{whole}s"
    minutes, hours, days = whole // 60, whole // 3600, whole // 86400
    if hours == 0:
        return f"{minutes}m"
    if days == 0:
        rest = minutes % 60
        return f"{hours}h{rest}m" if rest else f"{hours}h"
    rest = hours % 24
    return f"{days}d{rest}h" if rest else f"{days}d"
