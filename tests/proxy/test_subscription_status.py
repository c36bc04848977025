"""``auto-router status`` sees a subscription's windows fill from real proxy traffic (issue 20,
"In view"): the proxy on a real socket answers through a fake subscription whose 5-hour
window fills on every answer, and ``auto-router status`` (a subprocess, on the same home)
shows the ``5h`` bar moving between two calls, the ``7d`` bar, the reset countdown, and
``overflowing to plan, back at HH:MM`` once the window is rejected. Once for Claude's unified
headers, once for Codex's ``x-codex-*`` ones.

The clock is the real one: the subprocess reads the same state at the same time."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import openai
import pytest

from auto_router.demo.fake_upstream import FakeProvider, FakeUpstream
from auto_router.paths import Paths
from tests.helpers import closed_after_test, serve

from .conftest import make_app
from .subscriptions import (
    CHATGPT_ACCOUNT,
    CHATGPT_LOGIN,
    CLAUDE_LOGIN,
    ClaudeSubscription,
    CodexSubscription,
)
from .test_subscription_overflow import PLAN, ask, claude_code, config, register

pytestmark = pytest.mark.integration

#: The window resets this far after it opens: long enough for a countdown in minutes.
RESET_IN = 600.0


def status(home: Path) -> str:
    """``auto-router status`` as a user runs it, on this home."""
    env = {**os.environ, "AUTO_ROUTER_HOME": str(home), "NO_COLOR": "1", "COLUMNS": "200"}
    done = subprocess.run(
        [sys.executable, "-m", "auto_router", "status"],
        env=env,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def left(text: str, window: str) -> int:
    """The percentage left on the ``window`` bar of ``sub`` (the only one with bars)."""
    found = re.findall(rf"^\s+{window}\s+\S+ (\d+)% left", text, re.MULTILINE)
    assert len(found) == 1, text
    return int(found[0])


def assert_watched(
    home: Path, ask_once: Callable[[], str], sub_window_used: Callable[[], None]
) -> None:
    """Two answers and a ``status`` after each; then the window closes and the next request
    overflows: the third ``status`` says where to and when it comes back."""
    ask_once()
    first = status(home)
    ask_once()
    second = status(home)
    assert (left(first, "5h"), left(second, "5h")) == (75, 50)  # 25 % per answer
    assert left(first, "7d") == left(second, "7d") > 80
    countdown = re.search(r"^\s+5h .* resets in (\d+)m", second, re.MULTILINE)
    assert countdown and 8 <= int(countdown.group(1)) <= 10, second
    assert re.search(r"^\s+7d .* resets in (6d|16\dh)", second, re.MULTILINE), second
    assert "overflowing" not in second
    sub_window_used()
    assert ask_once() == PLAN  # the 429 failed over: no error reached the client
    third = status(home)
    back = time.strftime("%H:%M", time.localtime(time.time() + RESET_IN))
    earlier = time.strftime("%H:%M", time.localtime(time.time() + RESET_IN - 60))
    line = next(x for x in third.splitlines() if "overflowing" in x)
    # the refusal's own headers say the window is used up: the bar shows it, not the 50 %
    # of the last answer before it
    assert left(third, "5h") == 0 and left(third, "7d") == left(second, "7d")
    assert re.search(rf"overflowing to plan, back at ({back}|{earlier}) \(in \d+m", line), third


def test_status_shows_a_claude_subscription_filling_and_overflowing(home: Paths) -> None:
    sub = ClaudeSubscription(time.time, step=0.25, reset_in=RESET_IN)
    with FakeUpstream(sub) as up_sub, FakeUpstream(FakeProvider("plan", text=PLAN)) as up_plan:
        config(
            home,
            "anthropic",
            up_sub.root,
            up_plan.root,
            rotate_below=0,
            proxy="max_retry_wait = 0\n",
        )
        token, tokens = register(home)
        with serve(make_app(home, run_tokens=tokens)) as base:
            client = claude_code(base, token)

            def close() -> None:
                sub.window.used = 1.0

            assert_watched(home.config_dir, lambda: ask(client), close)
    assert all(CLAUDE_LOGIN not in repr(s) for s in up_plan.seen)


def test_status_shows_a_chatgpt_subscription_filling_and_overflowing(home: Paths) -> None:
    sub = CodexSubscription(time.time, step=0.25, reset_in=RESET_IN)
    with FakeUpstream(sub) as up_sub, FakeUpstream(FakeProvider("plan", text=PLAN)) as up_plan:
        config(
            home, "openai", up_sub.url, up_plan.url, rotate_below=0, proxy="max_retry_wait = 0\n"
        )
        token, tokens = register(home)
        with serve(make_app(home, run_tokens=tokens)) as base:
            codex = closed_after_test(
                openai.OpenAI(
                    base_url=f"{base}/r/{token}/v1",
                    api_key=CHATGPT_LOGIN,
                    default_headers={"chatgpt-account-id": CHATGPT_ACCOUNT},
                    max_retries=0,
                )
            )

            def ask_codex() -> str:
                return codex.responses.create(model="gpt-5.5", input="hi").output_text

            def close() -> None:
                sub.window.used = 1.0

            assert_watched(home.config_dir, ask_codex, close)
    assert all(CHATGPT_LOGIN not in repr(s) for s in up_plan.seen)
