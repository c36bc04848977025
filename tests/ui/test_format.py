"""The page's pure logic (proxy/ui/format.js), each function alone, in the real browser that
runs it: the module is imported from the proxy as the page imports it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from scripts.dashboard_screenshot import Scene

Call = Callable[..., Any]
NOW = 1_800_000_000.0


@pytest.fixture(scope="module")
def call(browser: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Call]:
    directory: Path = tmp_path_factory.mktemp("format")
    with Scene(directory).running() as scene:
        page = browser.new_page()
        page.goto(f"{scene.url}/ui/favicon.svg")  # same origin, and no app.js running

        def call(name: str, *args: Any) -> Any:
            return page.evaluate(
                "async ([name, args]) => (await import('/ui/format.js'))[name](...args)",
                [name, list(args)],
            )

        try:
            yield call
        finally:
            page.close()


def hhmm(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts).strftime("%H:%M")


def test_the_token_comes_from_the_fragment_only(call: Call) -> None:
    assert call("tokenFromFragment", "#token=ara_abc-_1") == "ara_abc-_1"
    assert call("tokenFromFragment", "#x=1&token=ara_b") == "ara_b"
    assert call("tokenFromFragment", "") is None
    assert call("tokenFromFragment", "#token=") is None
    assert call("tokenFromFragment", "#other=1") is None


def test_countdowns(call: Call) -> None:
    assert call("countdown", 0) == "0s"
    assert call("countdown", -5) == "0s"
    assert call("countdown", 45.4) == "45s"
    assert call("countdown", 192) == "3m12s"
    assert call("countdown", 3720) == "1h02m"
    assert call("countdown", 2 * 86400 + 3 * 3600) == "2d03h"


def test_costs_tokens_and_latency_read_as_the_cli_writes_them(call: Call) -> None:
    assert call("formatCost", None) == "?"
    assert call("formatCost", 0) == "$0.00"
    assert call("formatCost", 0.21) == "$0.21"
    assert call("formatCost", 0.0042) == "$0.0042"
    assert call("formatCost", 0.00001) == "<$0.0001"  # priced and small, not "free"
    assert call("formatTokens", 950) == "950"
    assert call("formatTokens", 48_200) == "48.2k"
    assert call("formatTokens", 1_300_000) == "1.3M"
    assert call("formatTokens", None) == "-"
    assert call("formatMs", 412.4) == "412 ms"
    assert call("formatMs", 2300) == "2.3 s"
    assert call("formatMs", None) == "-"


def test_windows_of_any_name_with_or_without_counts(call: Call) -> None:
    counted = {"name": "requests", "remaining": 48, "limit": 100, "reset_at": NOW + 192}
    view = call("windowView", counted, NOW)
    assert view["usedPercent"] == 52
    assert view["detail"] == "48% left (48 of 100)"
    assert view["reset"] == f"resets in 3m12s ({hhmm(NOW + 192)})"
    assert view["level"] == "ok"
    # A subscription's window may carry only a utilization (issue 20's 5h / 7d).
    weekly = call("windowView", {"name": "7d", "utilization": 0.97}, NOW)
    assert (weekly["name"], weekly["usedPercent"], weekly["level"]) == ("7d", 97, "low")
    assert weekly["reset"] == ""
    assert call("windowView", {"name": "5h", "used_percent": 85}, NOW)["level"] == "warn"
    unknown = call("windowView", {"name": "tokens", "remaining": 5}, NOW)
    assert (unknown["usedPercent"], unknown["detail"]) == (None, "usage unknown")
    assert call("windowView", {}, NOW)["name"] == "window"
    # Past its reset the provider has refilled it: full again, no countdown.
    stale = {"name": "requests", "remaining": 0, "limit": 10, "reset_at": NOW - 5}
    refilled = call("windowView", stale, NOW)
    assert (refilled["usedPercent"], refilled["reset"]) == (0, "")
    assert refilled["detail"] == f"full again (reset at {hhmm(NOW - 5)})"
    assert (
        call("windowView", {**stale, "reset_at": NOW + 5, "fresh": False}, NOW)["usedPercent"] == 0
    )


def test_a_providers_state_in_one_word(call: Call) -> None:
    assert call("providerState", {"enabled": False, "current": True}, NOW)["label"] == "disabled"
    assert call("providerState", {"disabled": True, "current": True}, NOW)["kind"] == "disabled"
    cooling = call("providerState", {"enabled": True, "cooldown_until": NOW + 60}, NOW)
    assert (cooling["label"], cooling["until"]) == ("cooling", NOW + 60)
    # A cooldown that has passed is over, even before the next poll says so.
    assert call("providerState", {"cooldown_until": NOW - 1, "current": True}, NOW)["label"] == (
        "current"
    )
    opened = call("providerState", {"circuit": "open", "circuit_until": NOW + 30}, NOW)
    assert (opened["label"], opened["until"]) == ("circuit open", NOW + 30)
    assert call("providerState", {"status": "ready"}, NOW)["label"] == "ready"
    assert call("providerState", None, NOW)["label"] == "unknown"
    assert call("untilText", NOW + 3720, NOW) == f"back in 1h02m ({hhmm(NOW + 3720)})"


def test_the_overflow_line(call: Call) -> None:
    overflow = {"from": "sub", "to": "api", "back_at": NOW + 600}
    assert call("overflowText", overflow, NOW) == f"overflowing to api, back at {hhmm(NOW + 600)}"
    assert call("overflowText", {"from": "sub", "to": "api"}, NOW) == "overflowing to api"
    assert call("overflowText", None, NOW) == ""


def test_a_feed_row_with_failovers_and_missing_fields(call: Call) -> None:
    row = {
        "ts": NOW,
        "endpoint": "chat",
        "stream": True,
        "backend": "qwen",
        "provider": "two",
        "client_model": "qwen3",
        "upstream_model": "two-model",
        "status": 200,
        "duration_ms": 12.3,
        "total_tokens": 1500,
        "cost_usd": 0.25,
        "failed": [{"provider": "one", "status": 429}, {"provider": "x", "reason": "timeout"}],
    }
    cells = call("requestCells", row)
    assert cells[1:] == [
        "chat (stream)",
        "qwen/two",
        "qwen3 → two-model",
        "200",
        "12 ms",
        "1.5k",
        "$0.25",
        "one (429), x (timeout)",
    ]
    assert call("requestCells", {}) == ["-", "-", "-/-", "-", "-", "-", "-", "?", ""]


def test_events_of_unknown_kinds_are_shown_as_named(call: Call) -> None:
    known = call("eventCells", {"kind": "return", "backend": "b", "provider": "p", "ts": NOW})
    assert known[1:] == ["back to preferred", "b/p", ""]
    assert call("eventCells", {"kind": "brand-new", "message": "m"})[1:] == ["brand-new", "-", "m"]
    assert call("eventCells", {"kind": "dropped", "missed": 3})[3] == "3 events were missed"


def test_sse_framing_keeps_partial_messages_for_the_next_chunk(call: Call) -> None:
    text = ': connected\n\nevent: rotation\ndata: {"a":1}\n\nevent: x\r\ndata: 1\r\ndata: 2\r\n\r\nevent: cut'
    parsed = call("parseSSE", text)
    assert parsed["events"] == [
        {"event": "rotation", "data": '{"a":1}'},
        {"event": "x", "data": "1\n2"},
    ]
    assert parsed["rest"] == "event: cut"
    assert call("parseSSE", ": heartbeat\n\n") == {"events": [], "rest": ""}


def test_key_pools_whatever_they_carry(call: Call) -> None:
    assert call("keysOf", {}) == []
    assert call("keysOf", {"keys": "not a list"}) == []
    keys = call("keysOf", {"keys": [{"id": "k1", "masked": "****abcd"}, {"cooldown_until": 5}, 7]})
    assert [(k["id"], k["masked"]) for k in keys] == [("k1", "****abcd"), ("1", "key 2")]


def test_stats_and_sparklines(call: Call) -> None:
    summary = {"providers": [{"backend": "q", "provider": "b", "requests": 2}, {"provider": "a"}]}
    assert [r["name"] for r in call("statsRows", summary)] == ["-/a", "q/b"]
    assert call("statsRows", None) == []
    assert call("statCells", None) == ["0", "-", "-", "-", "-", "-", "-"]
    cells = call("statCells", {"requests": 3, "errors": 1, "p50_ms": 5, "cost_usd": None})
    assert cells == ["3", "1", "0", "5 ms", "-", "-", "?"]
    assert call("sparkline", [1], 80, 20) == ""
    assert call("sparkline", [0, 10, None], 80, 20) == "0.0,19.0 80.0,1.0"


def test_error_messages_from_api_bodies(call: Call) -> None:
    body = {"error": {"message": "provider qwen/x is disabled", "hint": "enable it first"}}
    assert call("errorMessage", 409, body) == "provider qwen/x is disabled (enable it first)"
    assert call("errorMessage", 502, None) == "the proxy answered 502"


def test_a_request_from_the_stream_and_its_log_row_are_one_feed_row(call: Call) -> None:
    row = {"id": 7, "ts": NOW, "endpoint": "chat", "status": 200, "backend": "b",
           "provider": "p", "duration_ms": 12.5}  # fmt: skip
    event = {k: v for k, v in row.items() if k != "id"} | {"kind": "request"}
    assert call("feedKey", row) == call("feedKey", event)
    assert call("feedKey", row) != call("feedKey", {**row, "duration_ms": 12.6})
    older = {**row, "ts": NOW - 5, "duration_ms": 3}
    merged = call("mergeFeed", [event], [row, older], 50)
    assert [r["ts"] for r in merged] == [NOW, NOW - 5]
    newer = [{**row, "ts": NOW + i} for i in range(1, 4)]
    assert [r["ts"] for r in call("mergeFeed", newer, merged, 3)] == [NOW + 3, NOW + 2, NOW + 1]
    assert call("mergeFeed", [], [], 5) == []


def test_bars_scale_to_the_tallest_or_to_a_given_top(call: Call) -> None:
    got = call("bars", [1, 0, None, 4], 100, 20)
    assert [b["h"] for b in got] == [5, 0, 0, 20]
    assert [b["x"] for b in got] == [0, 25, 50, 75]
    assert got[3]["y"] == 0 and got[0]["y"] == 15 and got[0]["w"] == 24
    assert [b["h"] for b in call("bars", [1, 2], 10, 20, 4)] == [5, 10]
    assert [b["h"] for b in call("bars", [0, 0], 10, 20)] == [0, 0]
    assert call("bars", [], 10, 20) == []


def test_charts_of_a_series_say_their_totals(call: Call) -> None:
    buckets = [
        {"requests": 2, "errors": 1, "p50_ms": 100, "p95_ms": 900, "total_tokens": 1500,
         "cost_usd": 0.25},
        {"requests": 0, "errors": 0, "p50_ms": None, "p95_ms": None, "total_tokens": 0,
         "cost_usd": 0},
    ]  # fmt: skip
    charts = call("chartsOf", {"buckets": buckets})
    assert [c["name"] for c in charts] == ["requests", "latency", "tokens", "cost"]
    assert charts[0]["values"] == [2, 0] and charts[0]["over"] == [1, 0]
    assert [c["total"] for c in charts] == [
        "2 requests, 1 errors",
        "p95 up to 900 ms, p50 up to 100 ms",
        "1.5k tokens",
        "$0.25",
    ]
    unpriced = [{**buckets[0], "cost_usd": None}]
    assert call("chartsOf", {"buckets": unpriced})[3]["total"] == "cost unknown (no price)"
    assert call("chartsOf", {})[0]["total"] == "0 requests, 0 errors"


def test_session_and_run_cells(call: Call) -> None:
    run = {"id": "a1b2c3d4e5f6", "kind": "run", "run_id": "r1", "command": "claude",
           "routed": "c", "backend": "c", "provider": "sub", "key_id": None, "last_seen": NOW}  # fmt: skip
    assert call("sessionCells", run)[:4] == ["a1b2c3d4e5f6", "run r1 · claude", "c", "c/sub"]
    client = {**run, "kind": "client", "key_id": "k9"}
    assert call("sessionCells", client)[1:4] == ["client session", "c", "c/sub (key k9)"]
    assert call("sessionCells", {"kind": "run"})[1] == "run (ended)"
    row = {"started_at": NOW, "run_id": "r1", "command": "qwen", "backend": "q", "attempts": 2,
           "outcome": "ok", "exit_code": 0}  # fmt: skip
    day = dt.datetime.fromtimestamp(NOW).strftime("%Y-%m-%d")
    assert call("runCells", row) == [
        f"{day} {hhmm(NOW)}",
        "r1",
        "qwen",
        "q",
        "2 attempts",
        "ok, exit 0",
    ]
    assert call("runCells", {**row, "attempts": 1, "exit_code": None})[4:] == ["1 attempt", "ok"]
