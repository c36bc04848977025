"""The run summary's lines on providers: time on each, and the prompt cache lost once."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from auto_router.launcher.timeline import (
    cache_line,
    short,
    stays,
    summary_lines,
    time_per_provider,
)

UTC = dt.UTC
#: 2026-12-02 14:00:00 UTC
T0 = dt.datetime(2026, 12, 2, 14, 0, tzinfo=UTC).timestamp()


def event(minute: float, provider: str | None, status: int = 200) -> dict[str, Any]:
    return {"ts": T0 + minute * 60, "provider": provider, "status": status, "failed": []}


SESSION = [
    event(0, "claude-sub"),
    event(1, "claude-sub"),
    event(2, None, 429),  # a request nobody answered does not move the session
    event(2.5, "zai"),
    event(30, "zai"),
    event(62, "claude-sub"),  # back after the window reset
]


def test_the_session_moves_only_when_another_provider_answers() -> None:
    assert [(s.provider, s.since - T0) for s in stays(SESSION)] == [
        ("claude-sub", 0),
        ("zai", 150),
        ("claude-sub", 3720),
    ]


def test_time_per_provider_adds_every_stay_and_counts_the_run_to_its_end() -> None:
    spent = time_per_provider(stays(SESSION), T0 - 30, T0 + 90 * 60)
    # claude-sub: 30 s before the first answer + 2.5 min, then 62 -> 90 min
    assert spent == {"claude-sub": 30 + 150 + 28 * 60, "zai": (62 - 2.5) * 60}
    assert list(spent) == ["claude-sub", "zai"]  # in the order first used


def test_the_summary_says_the_time_and_the_cache_loss_once() -> None:
    lines = summary_lines(SESSION[:5], T0, T0 + 40 * 60, UTC)
    assert lines == [
        "time per provider: claude-sub 2m, zai 37m",
        "prompt cache lost once: moved from claude-sub to zai at 14:02",
    ]


def test_every_move_loses_the_cache_but_the_line_is_said_once() -> None:
    line = cache_line(stays(SESSION), UTC)
    assert line == "prompt cache lost 2 times; first: moved from claude-sub to zai at 14:02"


def test_a_run_on_one_provider_loses_no_cache() -> None:
    lines = summary_lines(SESSION[:2], T0, T0 + 3600, UTC)
    assert lines == ["time per provider: claude-sub 1h"]


@pytest.mark.parametrize(
    "events",
    [[], [event(0, None, 429)], [{"provider": "x"}], [{"ts": "soon", "provider": "x"}]],
)
def test_nothing_answered_or_unreadable_events_say_nothing(events: list[dict[str, Any]]) -> None:
    assert summary_lines(events, T0, T0 + 60, UTC) == []


def test_events_out_of_order_are_read_by_their_time() -> None:
    shuffled = [SESSION[3], SESSION[0], SESSION[1]]
    assert [s.provider for s in stays(shuffled)] == ["claude-sub", "zai"]


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (59.9, "59s"),
        (60, "1m"),
        (3599, "59m"),
        (3600, "1h"),
        (4320, "1h12m"),
        (86400, "1d"),
        (2 * 86400 + 3 * 3600 + 59, "2d3h"),
    ],
)
def test_short_durations(seconds: float, text: str) -> None:
    assert short(seconds) == text
