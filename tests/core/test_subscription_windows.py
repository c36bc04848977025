"""Golden header sets and bodies of the two subscriptions (issue 20), parsed into headroom
windows and usage-limit resets (limits/subscription.py; its docstring cites the public client
code each field comes from).

The sets are written as the upstreams send them (mixed case from Go clients' canonical
form, bytes as aiohttp hands them over) beside the ordinary headers of an answer."""

from __future__ import annotations

import json

import pytest

from auto_router.limits.headroom import Mark, Window, below_mark, parse_headroom, threshold_reason
from auto_router.limits.subscription import limit_reset, read_unified
from auto_router.limits.upstream import reset_time
from auto_router.rotation.state import _headroom, _headroom_json

NOW = 1_790_000_000.0
FIVE_H = int(NOW) + 3_600
WEEK = int(NOW) + 400_000

#: A Claude Max answer (the shape of CLIProxyAPI's claude_ratelimit_test.go fixtures and of
#: what Claude Code reads): the 5h window at 42 %, the week at 87.5 %, a model-scoped set
#: and the overage fields beside them.
CLAUDE_ALLOWED = [
    (b"content-type", b"application/json"),
    (b"request-id", b"req_011CXyz"),
    (b"anthropic-ratelimit-unified-status", b"allowed_warning"),
    (b"anthropic-ratelimit-unified-reset", str(FIVE_H).encode()),
    (b"anthropic-ratelimit-unified-representative-claim", b"seven_day"),
    (b"anthropic-ratelimit-unified-fallback-percentage", b"0.5"),
    (b"Anthropic-Ratelimit-Unified-5h-Status", b"allowed"),
    (b"Anthropic-Ratelimit-Unified-5h-Utilization", b"0.42"),
    (b"Anthropic-Ratelimit-Unified-5h-Reset", str(FIVE_H).encode()),
    (b"Anthropic-Ratelimit-Unified-7d-Status", b"allowed_warning"),
    (b"Anthropic-Ratelimit-Unified-7d-Utilization", b"0.875"),
    (b"Anthropic-Ratelimit-Unified-7d-Reset", str(WEEK).encode()),
    (b"Anthropic-Ratelimit-Unified-7d_oi-Utilization", b"0.5"),
    (b"anthropic-ratelimit-unified-overage-status", b"rejected"),
    (b"anthropic-ratelimit-unified-overage-disabled-reason", b"org_level_disabled"),
]
#: The 429 when the 5-hour window closes: status only, no utilization (CLIProxyAPI's
#: "rejected status without utilization means the window is exhausted").
CLAUDE_REJECTED = {
    "anthropic-ratelimit-unified-status": "rejected",
    "anthropic-ratelimit-unified-reset": str(FIVE_H),
    "anthropic-ratelimit-unified-representative-claim": "five_hour",
    "anthropic-ratelimit-unified-5h-status": "rejected",
    "anthropic-ratelimit-unified-5h-reset": str(FIVE_H),
    "anthropic-ratelimit-unified-7d-status": "allowed",
    "anthropic-ratelimit-unified-7d-reset": str(WEEK),
    "retry-after": "30",
}
CLAUDE_429_BODY = json.dumps(
    {"type": "error", "error": {"type": "rate_limit_error", "message": "usage limit reached"}}
)
#: A Codex answer on a ChatGPT Plus login (codex's rate_limits.rs reads these names).
CODEX_ALLOWED = [
    ("content-type", "text/event-stream"),
    ("x-codex-primary-used-percent", "96.5"),
    ("x-codex-primary-window-minutes", "300"),
    ("x-codex-primary-reset-after-seconds", "3600"),
    ("x-codex-primary-reset-at", str(FIVE_H)),
    ("x-codex-secondary-used-percent", "13"),
    ("x-codex-secondary-window-minutes", "10080"),
    ("x-codex-secondary-reset-after-seconds", "400000"),
    ("x-codex-active-limit", "codex"),
    ("x-codex-credits-has-credits", "false"),
]
CODEX_429_BODY = json.dumps(
    {
        "error": {
            "type": "usage_limit_reached",
            "message": "The usage limit has been reached",
            "plan_type": "plus",
            "resets_at": FIVE_H,
            "resets_in_seconds": 3600,
        }
    }
)


def by_name(windows: tuple[Window, ...]) -> dict[str, Window]:
    return {w.name: w for w in windows}


def test_a_claude_answer_gives_its_5h_and_7d_windows_only() -> None:
    windows = by_name(parse_headroom(CLAUDE_ALLOWED, NOW))
    assert set(windows) == {"5h", "7d"}  # not 7d_oi (model-scoped), not the overage
    five, week = windows["5h"], windows["7d"]
    assert five == Window("5h", 58, 100, float(FIVE_H), NOW, 0.42)
    assert week.utilization == 0.875 and week.remaining == 12 and week.reset_at == WEEK


def test_a_rejected_window_is_full_without_a_utilization() -> None:
    headers = [(k.encode(), v.encode()) for k, v in CLAUDE_REJECTED.items()]
    windows = by_name(parse_headroom(headers, NOW))
    assert windows["5h"].used == 1.0 and windows["5h"].remaining == 0
    assert "7d" not in windows  # allowed, and no utilization said: nothing to read
    # the representative claim marks its window full when only the set says rejected
    only_set = [
        (b"anthropic-ratelimit-unified-status", b"rejected"),
        (b"anthropic-ratelimit-unified-representative-claim", b"seven_day"),
        (b"anthropic-ratelimit-unified-7d-utilization", b"0.99"),
        (b"anthropic-ratelimit-unified-7d-reset", str(WEEK).encode()),
        (b"anthropic-ratelimit-unified-5h-utilization", b"0.2"),
    ]
    read = by_name(parse_headroom(only_set, NOW))
    assert read["7d"].used == 1.0 and read["5h"].used == 0.2


def test_codex_windows_are_named_from_their_length() -> None:
    windows = by_name(parse_headroom(CODEX_ALLOWED, NOW))
    assert set(windows) == {"5h", "7d"}
    assert windows["5h"] == Window("5h", 4, 100, float(FIVE_H), NOW, 0.965)
    assert windows["7d"].reset_at == NOW + 400_000  # reset-after-seconds without reset-at
    odd = [("x-codex-primary-used-percent", "50"), ("x-codex-primary-window-minutes", "60")]
    assert parse_headroom(odd, NOW)[0].name == "60m"
    bare = [("x-codex-secondary-used-percent", "12.5")]
    assert parse_headroom(bare, NOW)[0][:2] == ("secondary", 88)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ([("x-codex-primary-used-percent", "banana")], ()),
        ([("anthropic-ratelimit-unified-5h-utilization", "")], ()),
        ([("anthropic-ratelimit-unified-5h-reset", str(FIVE_H))], ()),  # a reset alone
        ([("x-codex-promo-message", "hi"), ("x-codex-primary-limit-name", "x")], ()),
    ],
)
def test_what_cannot_be_read_is_left_out(
    headers: list[tuple[str, str]], expected: tuple[Window, ...]
) -> None:
    assert parse_headroom(headers, NOW) == expected


def test_out_of_range_fractions_are_clamped() -> None:
    over = parse_headroom([("anthropic-ratelimit-unified-5h-utilization", "1.7")], NOW)
    assert over[0].used == 1.0 and over[0].remaining == 0
    under = parse_headroom([("x-codex-primary-used-percent", "-3")], NOW)
    assert under[0].used == 0.0


def test_rotate_below_applies_to_subscription_windows_and_full_is_always_below() -> None:
    windows = parse_headroom(CODEX_ALLOWED, NOW)  # 5h at 96.5 %
    hit = below_mark(windows, Mark(0.05), NOW)
    assert hit is not None and hit.name == "5h"
    assert below_mark(windows, Mark(0.03), NOW) is None
    # absolute marks count requests and tokens, never a percentage
    assert below_mark(windows, Mark(None, requests=10, tokens=100_000), NOW) is None
    full = parse_headroom([(k, v) for k, v in CLAUDE_REJECTED.items()], NOW)
    assert below_mark(full, Mark(0.0), NOW) is not None  # rotate_below = 0: still full
    assert threshold_reason(hit, "13:00") == "threshold: 5h 96% used, resets 13:00"


def test_a_rejected_429_cools_until_the_window_reset_not_the_retry_after() -> None:
    assert reset_time(CLAUDE_REJECTED, CLAUDE_429_BODY, NOW) == FIVE_H
    unified = read_unified(CLAUDE_REJECTED)
    assert unified is not None and unified.claim == "five_hour"
    assert unified.windows["5h"] == ("rejected", float(FIVE_H))
    # both windows rejected: the later reset decides (CLIProxyAPI's latest deadline)
    both = {**CLAUDE_REJECTED, "anthropic-ratelimit-unified-7d-status": "rejected"}
    assert limit_reset(both, "", NOW) == WEEK
    # allowed, or a reset already past: not a subscription refusal, the usual rules apply
    allowed = {**CLAUDE_REJECTED, "anthropic-ratelimit-unified-status": "allowed"}
    allowed["anthropic-ratelimit-unified-5h-status"] = "allowed"
    assert limit_reset(allowed, "", NOW) is None
    assert reset_time(allowed, "", NOW) == NOW + 30
    past = {k: v.replace(str(FIVE_H), str(int(NOW) - 5)) for k, v in CLAUDE_REJECTED.items()}
    assert limit_reset(past, "", NOW) is None


def test_a_codex_usage_limit_body_cools_until_resets_at_or_resets_in_seconds() -> None:
    assert reset_time({}, CODEX_429_BODY, NOW) == FIVE_H
    only_in = json.dumps({"error": {"type": "usage_limit_reached", "resets_in_seconds": 90}})
    assert reset_time({}, only_in, NOW) == NOW + 90
    other = json.dumps({"error": {"type": "rate_limit_exceeded", "resets_in_seconds": 90}})
    assert limit_reset({}, other, NOW) is None
    assert limit_reset({}, "usage_limit_reached but not JSON", NOW) is None


def test_stored_windows_keep_their_fraction_and_old_rows_stay_readable() -> None:
    windows = parse_headroom(CLAUDE_ALLOWED, NOW)
    assert _headroom(_headroom_json(windows)) == windows
    old = '[{"name": "requests", "remaining": 3, "limit": 10, "reset_at": 1.0, "seen_at": 2.0}]'
    (row,) = _headroom(old)
    assert row == Window("requests", 3, 10, 1.0, 2.0) and row.used is None
    assert row.utilization == 0.7
