"""``auto-router status`` in view (issue 19): headroom bars per window with reset countdowns,
the cooldown and its reason, the circuit, today's tokens and cost, the overflow under
``priority``; real TOML files, a real SQLite state and request log, a fixed clock. Then the
real command: no secrets, no escape codes on a pipe, ASCII where the encoding has no blocks,
and ``--json`` with the same data."""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from auto_router.cli.status import render_status
from auto_router.cli.status_view import PLAIN, Style, style_for, today_usage
from auto_router.cli.watch import render
from auto_router.limits.headroom import Window
from auto_router.paths import Paths
from auto_router.rotation.policy import record_headroom
from auto_router.rotation.service import Rotator
from auto_router.store.db import connect
from auto_router.store.requests import RequestRecord, insert_batch
from tests.helpers import FakeClock

NOW = 1_800_000_000.0
KEY_ONE, KEY_TWO = "sk-one-secret-0000000000000001", "sk-two-secret-0000000000000002"
LLM = """
[backends.qwen]
providers = ["one", "two"]
strategy = "priority"
"""
META = f"""
[qwen.one]
base_url = "http://127.0.0.1:9/v1"
api_key = "{KEY_ONE}"
price_input = 1.0
price_output = 2.0
[qwen.two]
base_url = "http://127.0.0.1:9/v1"
api_key = "{KEY_TWO}"
"""


@pytest.fixture
def paths(tmp_path: Path) -> Paths:
    paths = Paths(config_dir=tmp_path, data_dir=tmp_path)
    paths.llm_config.write_text(LLM)
    paths.provider_metadata.write_text(META)
    return paths


def request(ts: float, provider: str, prompt: int, completion: int) -> RequestRecord:
    return RequestRecord(
        ts,
        "POST",
        "chat",
        200,
        "qwen",
        provider,
        prompt_tokens=prompt,
        completion_tokens=completion,
    )


def overflowing(paths: Paths, clock: FakeClock) -> Rotator:
    """one below its mark for 1h02m (two serves), windows on both, some requests today."""
    rotator = Rotator(paths, clock=clock)
    now = clock()
    reason = f"proxy: threshold: requests 3/100 left, resets 12:30 ({KEY_ONE})"
    rotator.record_usage_limit("qwen", "one", reset_at=now + 3720, reason=reason)
    one = (
        Window("requests", 3, 100, now + 3720, now),
        Window("tokens", 52_000, 100_000, now + 192, now),
    )
    two = (
        Window("5h", 60, 100, now + 7200, now),
        Window("7d", 12, 100, now + 86_400 * 3, now - 900),
        Window("tokens", 1, 10, now - 5, now - 60),  # reset already: says nothing any more
    )
    rotator.update("qwen", lambda s: record_headroom(s, "one", one))
    rotator.update("qwen", lambda s: record_headroom(s, "two", two))
    rotator.record_success("qwen", "two")
    db = connect(paths.database)
    yesterday = dt.datetime.fromtimestamp(now).astimezone().replace(hour=0) - dt.timedelta(hours=1)
    insert_batch(
        db,
        [
            request(now - 60, "one", 1000, 300),
            request(now - 30, "one", 200, 40),
            request(now - 10, "two", 50, 5),
            request(yesterday.timestamp(), "one", 99_999, 99_999),  # not today
        ],
    )
    db.close()
    return rotator


def draw(rotator: Rotator, style: Style = PLAIN) -> list[str]:
    usages = today_usage(rotator.paths, rotator.config, rotator.clock())
    return render_status(rotator, rotator.status(), usages, style).splitlines()


def test_status_draws_windows_countdowns_cooldown_and_today(paths: Paths) -> None:
    clock = FakeClock(NOW)
    lines = draw(overflowing(paths, clock))
    back = dt.datetime.fromtimestamp(NOW + 3720).astimezone().strftime("%H:%M")
    assert (
        lines[0] == f"qwen (default)  last used: two  overflowing to two, back at {back} (in 1h02m)"
    )
    assert lines[2].split() == ["one", "openai", "cooling", "until", *lines[2].split()[4:]]
    assert lines[2].endswith("(in 1h02m)")
    assert lines[4:8] == [
        # $0.0019: 1,200 in at $1/M and 340 out at $2/M; yesterday's request is not counted
        "      circuit closed, today 1.2k in / 340 out tokens, $0.0019",
        "      last error: proxy: threshold: requests 3/100 left, resets 12:30 (****)",
        "      requests ▕░░░░░░░░░░▏ 3% left (3/100)  resets in 1h02m",
        "      tokens   ▕█████░░░░░▏ 52% left (52.0k/100.0k)  resets in 3m12s",
    ]
    assert lines[8].startswith("  * two ") and lines[8].endswith("current")
    assert lines[10:] == [
        "      circuit closed, today 50 in / 5 out tokens, no price",  # two has no price
        "      5h ▕██████░░░░▏ 60% left (60/100)  resets in 2h00m",
        "      7d ▕█░░░░░░░░░▏ 12% left (12/100)  resets in 72h00m  (read 15m ago)",
    ]


def test_the_countdowns_run_on_the_clock(paths: Paths) -> None:
    clock = FakeClock(NOW)
    rotator = overflowing(paths, clock)
    clock.advance(190)
    assert "      tokens   ▕█████░░░░░▏ 52% left (52.0k/100.0k)  resets in 2s" in draw(rotator)
    clock.advance(3600)  # one's cooldown and windows are over: it serves, no overflow any more
    lines = draw(rotator)
    assert lines[0] == "qwen (default)  last used: two"
    assert lines[2].startswith("  * one ") and lines[2].endswith("current")
    assert not any(line.lstrip().startswith(("requests", "tokens", "last error")) for line in lines)


def test_watch_draws_the_same_pieces(paths: Paths) -> None:
    rotator = overflowing(paths, FakeClock(NOW))
    usages = today_usage(rotator.paths, rotator.config, NOW)
    lines = render(rotator.status(), usages, NOW).splitlines()
    assert lines[1].startswith("qwen  current: two  overflowing to two, back at ")
    assert lines[2].split()[:4] == ["one", "cooling", "1h02m", "circuit"]
    assert lines[2].endswith("today 1.2k in / 340 out tokens, $0.0019")
    assert "      requests ▕░░░░░░░░░░▏ 3% left (3/100)  resets in 1h02m" in lines
    assert "      5h ▕██████░░░░▏ 60% left (60/100)  resets in 2h00m" in lines


def test_ascii_and_colour(paths: Paths) -> None:
    rotator = overflowing(paths, FakeClock(NOW))
    plain = draw(rotator, Style(unicode=False))
    assert "      tokens   [#####-----] 52% left (52.0k/100.0k)  resets in 3m12s" in plain
    assert not any("\x1b" in line or "█" in line for line in plain)
    coloured = draw(rotator, Style(unicode=True, colour=True))
    assert "      5h ▕\x1b[32m██████\x1b[0m░░░░▏ 60% left (60/100)  resets in 2h00m" in coloured
    assert "▕\x1b[31m█\x1b[0m░░░░░░░░░▏ 12% left" in "\n".join(coloured)  # little left: red


def test_the_style_follows_the_stream_and_no_color() -> None:
    ascii_pipe = io.TextIOWrapper(io.BytesIO(), encoding="ascii")
    assert style_for(ascii_pipe, {}) == Style(unicode=False, colour=False)
    utf8_pipe = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    assert style_for(utf8_pipe, {}) == Style(unicode=True, colour=False)
    leader, follower = os.openpty()
    try:
        with open(follower, "w", encoding="utf-8", closefd=True) as tty:
            assert style_for(tty, {"TERM": "xterm"}) == Style(unicode=True, colour=True)
            assert style_for(tty, {"NO_COLOR": "1"}).colour is False
            assert style_for(tty, {"TERM": "dumb"}).colour is False
    finally:
        os.close(leader)


def test_sticky_says_no_overflow(paths: Paths) -> None:
    paths.llm_config.write_text(LLM.replace('"priority"', '"sticky"'))
    lines = draw(overflowing(paths, FakeClock(NOW)))
    assert lines[0] == "qwen (default)  last used: two"


def status(paths: Paths, *args: str, encoding: str = "utf-8") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTO_ROUTER")}
    env |= {"PYTHONIOENCODING": encoding, "AUTO_ROUTER_HOME": str(paths.config_dir / "unused")}
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "auto_router",
            "--config-dir",
            str(paths.config_dir),
            "status",
            *args,
        ],
        capture_output=True,
        text=True,
        encoding=encoding,
        env=env,
        timeout=60,
    )


@pytest.mark.integration
def test_the_command_shows_it_without_secrets_or_escapes(paths: Paths) -> None:
    overflowing(paths, FakeClock(dt.datetime.now().timestamp()))
    shown = status(paths)
    assert shown.returncode == 0, shown.stderr
    assert "overflowing to two, back at " in shown.stdout
    assert "requests ▕░░░░░░░░░░▏ 3% left (3/100)  resets in 1h0" in shown.stdout
    assert "\x1b" not in shown.stdout  # a pipe: no colour
    ascii_only = status(paths, encoding="ascii")
    assert ascii_only.returncode == 0, ascii_only.stderr
    assert "requests [----------] 3% left (3/100)" in ascii_only.stdout
    for text in (shown.stdout, shown.stderr, ascii_only.stdout):
        assert KEY_ONE not in text and KEY_TWO not in text


@pytest.mark.integration
def test_json_carries_the_same_data(paths: Paths) -> None:
    overflowing(paths, FakeClock(dt.datetime.now().timestamp()))
    shown = status(paths, "--json")
    assert shown.returncode == 0, shown.stderr
    assert KEY_ONE not in shown.stdout and KEY_TWO not in shown.stdout
    (backend,) = json.loads(shown.stdout)["backends"]
    assert backend["overflow"]["from"] == "one" and backend["overflow"]["to"] == "two"
    assert 3600 <= backend["overflow"]["back_in"] <= 3720
    one, two = backend["providers"]
    assert [w["name"] for w in one["headroom"]] == ["requests", "tokens"]
    assert one["headroom"][0] | {"reset_at": None, "seen_at": None, "resets_in": None} == {
        "name": "requests",
        "remaining": 3,
        "limit": 100,
        "utilization": 0.97,
        "reset_at": None,
        "resets_in": None,
        "seen_at": None,
    }
    assert one["today"] == {
        "requests": 2,
        "prompt_tokens": 1200,
        "completion_tokens": 340,
        "cost_usd": 0.00188,
    }
    assert one["cooldown_reason"].startswith("proxy: threshold: requests 3/100 left")
    assert [w["name"] for w in two["headroom"]] == ["5h", "7d"]  # the reset one is left out
    assert two["today"]["cost_usd"] is None and two["cooldown_reason"] is None


def test_a_pool_key_shows_its_own_windows(paths: Paths) -> None:
    paths.provider_metadata.write_text(
        META.replace(
            f'api_key = "{KEY_ONE}"', f'api_keys = ["{KEY_ONE}", "sk-one-other-00000000000000003"]'
        )
    )
    rotator = Rotator(paths, clock=FakeClock(NOW))
    first, second = rotator.rotation_names("qwen")[:2]
    assert first.startswith("one#") and second.startswith("one#")
    window = (Window("requests", 25, 100, NOW + 60, NOW),)
    rotator.update("qwen", lambda s: record_headroom(s, second, window))
    lines = draw(rotator)
    at = next(i for i, line in enumerate(lines) if "key 2" in line)
    assert lines[at + 1] == "          requests ▕███░░░░░░░▏ 25% left (25/100)  resets in 1m"
    assert "key 1" in lines[at - 1]  # the first key has no windows
    assert KEY_ONE not in "\n".join(lines)
