"""The one duration parser (agents' messages, upstream headers and bodies) and ``--since``."""

from __future__ import annotations

import datetime as dt

import pytest

from auto_router.durations import parse_duration, parse_since
from auto_router.limits.upstream import reset_time


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("1h 30m", 5400),
        ("2h13m", 7980),
        ("17h45m29s", 63929),
        ("250ms", 0.25),
        ("6m0s", 360),  # OpenAI's x-ratelimit-reset-*
        ("1.5s", 1.5),
        ("90 seconds", 90),
        ("2 days 3 hours 5 minutes", 2 * 86400 + 3 * 3600 + 300),
        ("1 hour, 5 minutes and 3 seconds", 3903),
        ("2w", 2 * 604800),
        ("5 MINUTES", 300),
    ],
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["nothing", "", "30", "5 monkeys", "in a minute"])
def test_no_duration(text: str) -> None:
    assert parse_duration(text) is None


def test_the_proxy_reads_worded_durations_in_bodies_too() -> None:
    assert reset_time({}, "please try again in 5 minutes", 1000.0) == 1300.0
    assert reset_time({}, "rate limited, retry after 1h2m3.5s", 0.0) == 3723.5
    assert reset_time({"x-ratelimit-reset-tokens": "20ms"}, "", 0.0) == 0.02


def test_since() -> None:
    assert parse_since("90s", now=1000.0) == 910.0
    assert parse_since("2h", now=10_000.0) == 2800.0
    assert parse_since("1.5H", now=10_000.0) == 4600.0
    assert parse_since("1w", now=1_000_000.0) == 1_000_000.0 - 604800
    assert parse_since(None, now=5.0) is None
    assert parse_since("", now=5.0) is None
    assert parse_since("1767225600", now=5.0) == 1767225600.0
    assert parse_since("2026-01-01T00:00:00+00:00", now=5.0) == 1767225600.0
    local = dt.datetime(2026, 1, 1).astimezone().timestamp()
    assert parse_since("2026-01-01", now=5.0) == local


@pytest.mark.parametrize("text", ["soon", "30 minutes", "12x", "-"])
def test_since_rejects_what_it_cannot_read(text: str) -> None:
    with pytest.raises(ValueError, match="30m, 12h, 7d"):
        parse_since(text, now=0.0)
