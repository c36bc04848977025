from __future__ import annotations

import datetime as dt

import pytest

from auto_router.limits.resets import parse_reset, parse_reset_in_line

UTC = dt.UTC
# 2025-06-01 10:00:00 UTC
NOW = dt.datetime(2025, 6, 1, 10, 0, tzinfo=UTC).timestamp()


def at(hour: int, minute: int = 0, day: int = 1) -> float:
    return dt.datetime(2025, 6, day, hour, minute, tzinfo=UTC).timestamp()


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("5-hour limit reached ∙ resets 3pm", at(15)),
        ("limit reached · resets 3:30 pm", at(15, 30)),
        ("resets at 15:00", at(15)),
        ("resets 9am", at(9, day=2)),  # already past today: tomorrow
        ("resets 12am", at(0, day=2)),
        ("resets 3pm (Europe/Berlin)", at(13)),  # CEST is UTC+2 in June
        ("Usage limit, reset after 2h13m", NOW + 2 * 3600 + 13 * 60),
        ("Your quota will reset after 17h45m29s.", NOW + 17 * 3600 + 45 * 60 + 29),
        ("Please retry in 37s.", NOW + 37),
        ("Please retry in 37.829188733s.", NOW + 37.829188733),
        ("try again in 1s", NOW + 1),
        ("Try again in 2 days 3 hours 5 minutes.", NOW + 2 * 86400 + 3 * 3600 + 5 * 60),
        ("retry after 30 seconds", NOW + 30),
        ("Retry-After: 120", NOW + 120),
        ('{"resets_in_seconds": 600}', NOW + 600),
        ("quota resets at 2025-06-01T18:30:00Z", at(18, 30)),
    ],
)
def test_reset_phrases(line: str, expected: float) -> None:
    assert parse_reset_in_line(line, NOW, UTC) == pytest.approx(expected)


@pytest.mark.parametrize(
    "line",
    [
        "resets 3",  # no am/pm and no minutes: not a time
        "resets 13pm",
        "we retry in a while",
        "the test took 37s",
        "",
    ],
)
def test_no_reset_time(line: str) -> None:
    assert parse_reset_in_line(line, NOW, UTC) is None


def test_latest_mention_wins() -> None:
    lines = ["Please retry in 10s", "noise", "try again in 1h", "more noise"]
    assert parse_reset(lines, NOW, UTC) == NOW + 3600
