"""The reset phrases both readers share (``limits/phrases.py``), and where they differ.

The launcher (``limits.resets``) reads an agent's terminal output; the proxy
(``limits.upstream``) reads an upstream's error body. One table, both readers: what both
accept, what only the launcher accepts (its wider prose and field names), what neither does.
"""

from __future__ import annotations

import datetime as dt

import pytest

from auto_router.limits.resets import parse_reset_in_line
from auto_router.limits.upstream import reset_time

NOW = 1_750_000_000.0
BOTH = "both"
LAUNCHER = "launcher only"

#: (text, seconds from now, who reads it)
CASES = [
    ("please try again in 5 minutes", 300, BOTH),
    ("TRY AGAIN IN 5 MINUTES", 300, BOTH),
    ("rate limited, retry after 1h2m3.5s", 3723.5, BOTH),
    ("Your quota will reset after 17h45m29s.", 63929, BOTH),
    ("the limit resets in 2 hours", 7200, BOTH),
    ("Please retry in 37.5s.", 37.5, BOTH),
    ('{"error": {"details": [{"retryDelay": "37s"}]}}', 37, BOTH),
    ('{"retryDelay":"2.5s"}', 2.5, BOTH),
    ("available again in 3 hours", 10800, LAUNCHER),
    ("please wait in 10 minutes", 600, LAUNCHER),
    ("try again in about 5 minutes", 300, LAUNCHER),
    ('{"retry_after": 30}', 30, LAUNCHER),
    ('{"resets_in_seconds": 600}', 600, LAUNCHER),
    ("Retry-After: 120", 120, LAUNCHER),
    ('{"RetryDelay": "37s"}', 37, LAUNCHER),
    ('{"retryDelay": 37}', 37, LAUNCHER),
]


@pytest.mark.parametrize(("text", "seconds", "who"), CASES)
def test_each_reader_accepts_what_it_did(text: str, seconds: float, who: str) -> None:
    launcher = parse_reset_in_line(text, NOW, dt.UTC)
    proxy = reset_time({}, text, NOW)
    assert launcher == pytest.approx(NOW + seconds)
    if who == BOTH:
        assert proxy == pytest.approx(NOW + seconds)
    else:
        assert proxy is None


@pytest.mark.parametrize(
    "text", ["we retry in a while", "the test took 37s", "retry 5 minutes", "resets in soon", ""]
)
def test_neither_reads_a_time_where_none_is_named(text: str) -> None:
    assert parse_reset_in_line(text, NOW, dt.UTC) is None
    assert reset_time({}, text, NOW) is None


def test_a_zero_wait_is_a_reset_now_for_the_launcher_and_nothing_for_the_proxy() -> None:
    """The proxy falls back to its cooldown rather than retrying at once."""
    assert parse_reset_in_line("try again in 0s", NOW, dt.UTC) == NOW
    assert reset_time({}, "try again in 0s", NOW) is None


def test_the_proxy_reads_gemini_retry_delay_before_the_words() -> None:
    body = 'Resource exhausted, try again in 5 minutes. {"retryDelay": "7s"}'
    assert reset_time({}, body, NOW) == NOW + 7
    assert parse_reset_in_line(body, NOW, dt.UTC) == NOW + 7  # the latest mention
