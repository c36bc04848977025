"""Headroom (issue 19): golden rate-limit headers of each vendor, as its own pages show them,
parsed into windows; the mark; the Z.ai and Gemini usage-limit bodies' resets; the state
file keeping the windows (and reading rows written before they existed)."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from pathlib import Path

import pytest

from auto_router.limits.headroom import Mark, Window, below_mark, changed, parse_headroom
from auto_router.limits.upstream import next_day, reset_time, zai_reset
from auto_router.rotation.policy import BackendState, record_headroom
from auto_router.rotation.state import SQLiteStateStore

NOW = dt.datetime(2025, 10, 25, 11, 59, 30, tzinfo=dt.UTC).timestamp()

#: (vendor, headers as the vendor's page shows them, expected (name, remaining, limit, reset in s)).
GOLDEN = [
    (
        # https://docs.anthropic.com/en/api/rate-limits ("Response headers")
        "anthropic",
        {
            "anthropic-ratelimit-requests-limit": "50",
            "anthropic-ratelimit-requests-remaining": "49",
            "anthropic-ratelimit-requests-reset": "2025-10-25T12:00:00Z",
            "anthropic-ratelimit-tokens-limit": "50000",
            "anthropic-ratelimit-tokens-remaining": "49500",
            "anthropic-ratelimit-tokens-reset": "2025-10-25T12:01:00Z",
            "anthropic-ratelimit-input-tokens-limit": "40000",
            "anthropic-ratelimit-input-tokens-remaining": "39000",
            "anthropic-ratelimit-input-tokens-reset": "2025-10-25T12:00:30Z",
            "anthropic-ratelimit-output-tokens-limit": "8000",
            "anthropic-ratelimit-output-tokens-remaining": "7600",
            "anthropic-ratelimit-output-tokens-reset": "2025-10-25T12:00:30Z",
            "retry-after": "60",
        },
        [
            ("input-tokens", 39000, 40000, 60.0),
            ("output-tokens", 7600, 8000, 60.0),
            ("requests", 49, 50, 30.0),
            ("tokens", 49500, 50000, 90.0),
        ],
    ),
    (
        # https://platform.openai.com/docs/guides/rate-limits ("Rate limits in headers")
        "openai",
        {
            "x-ratelimit-limit-requests": "60",
            "x-ratelimit-limit-tokens": "150000",
            "x-ratelimit-remaining-requests": "59",
            "x-ratelimit-remaining-tokens": "149984",
            "x-ratelimit-reset-requests": "1s",
            "x-ratelimit-reset-tokens": "6m0s",
        },
        [("requests", 59, 60, 1.0), ("tokens", 149984, 150000, 360.0)],
    ),
    (
        # https://community.openai.com/t/1268905 (live headers, ms resets)
        "openai-ms",
        {
            "x-ratelimit-limit-requests": "5000",
            "x-ratelimit-remaining-requests": "4999",
            "x-ratelimit-reset-requests": "12ms",
            "x-ratelimit-limit-tokens": "160000",
            "x-ratelimit-remaining-tokens": "159976",
            "x-ratelimit-reset-tokens": "1h2m3.5s",
        },
        [("requests", 4999, 5000, 0.012), ("tokens", 159976, 160000, 3723.5)],
    ),
    (
        # https://console.groq.com/docs/rate-limits ("Rate limit headers"): requests per DAY
        "groq",
        {
            "retry-after": "2",
            "x-ratelimit-limit-requests": "14400",
            "x-ratelimit-limit-tokens": "18000",
            "x-ratelimit-remaining-requests": "14370",
            "x-ratelimit-remaining-tokens": "17997",
            "x-ratelimit-reset-requests": "2m59.56s",
            "x-ratelimit-reset-tokens": "7.66s",
        },
        [("requests", 14370, 14400, 179.56), ("tokens", 17997, 18000, 7.66)],
    ),
    (
        # https://openrouter.ai/docs/api-reference/limits: X-RateLimit-Reset in epoch ms
        "openrouter",
        {
            "X-RateLimit-Limit": "20",
            "X-RateLimit-Remaining": "3",
            "X-RateLimit-Reset": str(int((NOW + 42) * 1000)),
        },
        [("requests", 3, 20, 42.0)],
    ),
]


@pytest.mark.parametrize(("vendor", "headers", "expected"), GOLDEN, ids=[g[0] for g in GOLDEN])
def test_golden_headers_of_each_vendor(
    vendor: str, headers: dict[str, str], expected: list[tuple[str, int, int, float]]
) -> None:
    raw = [(k.encode(), v.encode()) for k, v in headers.items()]
    windows = parse_headroom(raw, NOW)
    got = [(w.name, w.remaining, w.limit, round((w.reset_at or 0) - NOW, 3)) for w in windows]
    assert got == [(n, r, lim, pytest.approx(s, abs=0.01)) for n, r, lim, s in expected]
    assert all(w.seen_at == NOW for w in windows)
    assert parse_headroom(list(headers.items()), NOW) == windows  # str pairs read the same


def test_no_rate_limit_headers_no_windows_and_garbage_is_left_out() -> None:
    assert (
        parse_headroom([(b"content-type", b"application/json"), (b"x-request-id", b"1")], NOW) == ()
    )
    odd = [
        (b"x-ratelimit-remaining-requests", b"many"),  # no count: no window
        (b"x-ratelimit-remaining-tokens", b"10"),
        (b"x-ratelimit-reset-tokens", b"soon"),  # unreadable reset: left out
        (b"anthropic-ratelimit-requests-bogus", b"1"),
    ]
    assert parse_headroom(odd, NOW) == (Window("tokens", 10, None, None, NOW),)


def test_utilization_and_freshness() -> None:
    window = Window("requests", 3, 100, NOW + 10, NOW)
    assert window.utilization == pytest.approx(0.97)
    assert window.fresh(NOW + 9) and not window.fresh(NOW + 10)
    assert Window("tokens", 5).utilization is None


MARK_CASES = [
    ("fraction: 3 of 100 < 5 %", Mark(0.05), [Window("requests", 3, 100, NOW + 60)], "requests"),
    ("fraction: 5 of 100 is not below", Mark(0.05), [Window("requests", 5, 100, NOW + 60)], None),
    (
        "absolute requests",
        Mark(None, requests=10),
        [Window("requests", 9, 1000, NOW + 9)],
        "requests",
    ),
    (
        "absolute tokens",
        Mark(None, tokens=5000),
        [Window("tokens", 4999, 10**6, NOW + 9)],
        "tokens",
    ),
    ("no reset time: never", Mark(0.05), [Window("requests", 0, 100, None)], None),
    ("reset passed: ignored", Mark(0.05), [Window("requests", 0, 100, NOW - 1)], None),
    (
        "the later reset decides",
        Mark(0.5),
        [Window("requests", 1, 10, NOW + 5), Window("tokens", 1, 10, NOW + 50)],
        "tokens",
    ),
]


@pytest.mark.parametrize(
    ("why", "mark", "windows", "hit"), MARK_CASES, ids=[c[0] for c in MARK_CASES]
)
def test_below_the_mark(why: str, mark: Mark, windows: list[Window], hit: str | None) -> None:
    found = below_mark(windows, mark, NOW)
    assert (found.name if found else None) == hit


def test_a_write_only_when_the_windows_moved() -> None:
    before = (Window("requests", 900, 1000, NOW + 60, NOW),)
    assert not changed(before, (Window("requests", 905, 1000, NOW + 61, NOW + 1),))
    assert changed(before, (Window("requests", 889, 1000, NOW + 60, NOW + 1),))  # 1 %
    assert changed(before, (Window("requests", 900, 1000, NOW + 70, NOW + 1),))  # reset moved
    assert changed(before, (Window("requests", 900, 1000, NOW + 60, NOW + 60),))  # stale
    assert changed(before, ())


# -- usage-limit bodies that carry their reset --------------------------------------------

#: Z.ai (https://docs.z.ai/api-reference/api-code), bodies as hugalafutro/model-hotel#955,
#: can1357/oh-my-pi#11014 and openclaw/openclaw#33785 recorded them; the time is UTC+8.
ZAI_1308 = (
    '{"error":{"code":"1308","message":"Usage limit reached for 5 hour. '
    'Your limit will reset at 2026-09-09 05:38:28"}}'
)
ZAI_1308_ANTHROPIC = (
    '{"type":"error","error":{"type":"rate_limit_error","code":"1308","message":"[1308]'
    "[Usage limit reached for 5 hour. Your limit will reset at 2026-09-12 00:35:41]"
    '[20260912001903b4955568412247d7]"}}'
)
ZAI_1310 = (
    '{"error":{"code":"1310","message":"Weekly/Monthly Limit Exhausted. '
    'Your limit will reset at 2026-03-06 22:19:54"}}'
)


def utc(text: str) -> float:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC).timestamp()


@pytest.mark.parametrize(
    ("body", "at"),
    [
        (ZAI_1308, utc("2026-09-08 21:38:28")),
        (ZAI_1308_ANTHROPIC, utc("2026-09-11 16:35:41")),
        (ZAI_1310, utc("2026-03-06 14:19:54")),
    ],
)
def test_zai_plan_limits_reset_at_the_time_they_name_in_beijing_time(body: str, at: float) -> None:
    assert zai_reset(body) == at
    assert reset_time({}, body, at - 3600) == at  # the cooldown ends then, not in 5 minutes


def test_another_zai_code_is_not_read_as_a_plan_reset() -> None:
    assert zai_reset('{"error":{"code":"1302","message":"reset at 2026-09-09 05:38:28"}}') is None


#: google-gemini/gemini-cli#22486 (limit: 0) and #2020-style QuotaFailure details.
GEMINI_ZERO = json.dumps(
    {
        "error": {
            "code": 429,
            "message": "You exceeded your current quota.\n* Quota exceeded for metric: "
            "generativelanguage.googleapis.com/generate_content_free_tier_requests, limit: 0, "
            "model: gemini-3.1-pro\nPlease retry in 25.465784708s.",
            "status": "RESOURCE_EXHAUSTED",
            "details": [
                {
                    "@type": "type.googleapis.com/google.rpc.QuotaFailure",
                    "violations": [
                        {
                            "quotaId": "GenerateRequestsPerDayPerProjectPerModel-FreeTier",
                            "quotaValue": "0",
                        }
                    ],
                },
                {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "25s"},
            ],
        }
    }
)
GEMINI_20 = GEMINI_ZERO.replace("limit: 0", "limit: 20").replace(
    '"quotaValue": "0"', '"quotaValue": "20"'
)


def test_gemini_limit_zero_cools_down_for_the_day_and_a_real_quota_waits_its_delay() -> None:
    until = reset_time({}, GEMINI_ZERO, NOW)
    assert until == next_day(NOW)
    assert 0 < until - NOW <= 86400 + 3600  # the next midnight Pacific
    assert reset_time({}, GEMINI_20, NOW) == NOW + 25  # RetryInfo.retryDelay
    only_quota_value = GEMINI_ZERO.replace("limit: 0", "limit: 5")
    assert reset_time({}, only_quota_value, NOW) == next_day(NOW)


# -- the state file ---------------------------------------------------------------------


def test_windows_are_kept_in_the_state_file_and_old_rows_read(tmp_path: Path) -> None:
    store = SQLiteStateStore(tmp_path / "state.db")
    windows = (Window("requests", 3, 100, NOW + 60, NOW), Window("tokens", 10, None, None, NOW))
    store.update("b", lambda s: record_headroom(s, "p", windows))
    store.close()
    again = SQLiteStateStore(tmp_path / "state.db")
    assert again.get("b").provider("p").headroom == windows
    again.close()
    db = sqlite3.connect(tmp_path / "state.db")  # a row as an older version left it, and junk
    db.execute("UPDATE provider_state SET headroom = NULL")
    db.execute(
        "INSERT INTO provider_state (backend, provider, headroom) VALUES ('b', 'q', ?)",
        ('[{"name": 1}, "x", {"name": "requests", "remaining": 2}]',),
    )
    db.commit()
    db.close()
    old = SQLiteStateStore(tmp_path / "state.db").get("b")
    assert old.provider("p").headroom == ()
    assert old.provider("q").headroom == (Window("requests", 2),)
    assert record_headroom(BackendState("b"), "p", ()) == BackendState("b")


def test_an_upstream_cannot_flood_the_state_with_windows() -> None:
    many = [(f"x-ratelimit-remaining-w{i:02}".encode(), b"1") for i in range(50)]
    odd = [(b"x-ratelimit-remaining-" + b"a" * 41, b"1"), (b"x-ratelimit-remaining-\xff<b>", b"1")]
    windows = parse_headroom(many + odd, NOW)
    assert [w.name for w in windows] == [f"w{i:02}" for i in range(8)]
    huge = [
        (b"x-ratelimit-remaining-requests", b"9" * 5000),
        (b"x-ratelimit-remaining-tokens", b"1e999"),
    ]
    assert parse_headroom(huge, NOW) == ()  # unreadable counts: no window, no traceback
