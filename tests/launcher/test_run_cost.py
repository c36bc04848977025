"""Tokens and cost of a run through the managed proxy: the summary line, ``history --run``.

Real processes (the launcher, the managed proxy it starts, the fake chat agent on the official
``openai`` SDK), real sockets, the real request log; only the providers are fakes. The first
provider is rate-limited, so the run's requests are answered by the second after a failover.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from auto_router.demo.fake_upstream import FakeUpstream, Reply, Seen
from auto_router.demo.wire import chat_completion

from .conftest import RATE_LIMITED, Home

pytestmark = pytest.mark.integration

LLM = """
[backends.chat]
agent = "qwen"
providers = ["one", "two"]
[message_backend]
default = "chat"
"""


def answer(seen: Seen) -> Reply:
    return Reply(body=chat_completion("m", "hello from two"))  # usage: 7 in, 3 out


def providers(one: str, two: str, prices: str) -> str:
    return f"""
[chat.one]
base_url = "{one}"
api_key = "sk-one-0123456789abcdef"
model = "m"
price_input = 1
price_output = 1
[chat.two]
base_url = "{two}"
api_key = "sk-two-0123456789abcdef"
model = "m"
{prices}
"""


def run_two_turns(home: Home, prices: str) -> str:
    with FakeUpstream(lambda s: RATE_LIMITED) as one, FakeUpstream(answer) as two:
        home.write(LLM, providers(one.url, two.url, prices))
        result = home.run("run", "--via-proxy", "--", "chat-agent", input="hello\nagain\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("assistant: hello from two") == 2
    return result.stderr


def test_the_summary_line_gives_tokens_and_cost(home: Home) -> None:
    stderr = run_two_turns(home, "price_input = 2000\nprice_output = 5000")
    # 2 x (7 in, 3 out) at $2000 / $5000 per million: 2 x (0.014 + 0.015)
    assert "auto-router: 2 requests, 14 tokens in / 6 out, $0.0580 (two 2)" in stderr
    assert "auto-router: 1 request failed over: one 429 -> two" in stderr
    usage = run_usage(home)
    assert [(a["attempt"], a["provider"], a["requests"]) for a in usage["attempts"]] == [
        (1, "two", 2)
    ]
    [two] = usage["providers"]
    assert (two["prompt_tokens"], two["completion_tokens"]) == (14, 6)
    assert two["cost_usd"] == pytest.approx(0.058)
    shown = home.run("history", "--run", run_id(home), "--source", "proxy")
    assert shown.returncode == 0, shown.stderr
    assert "per attempt:" in shown.stdout and "attempt 1:" in shown.stdout
    assert "chat/two" in shown.stdout and "$0.0580" in shown.stdout


def test_without_prices_the_summary_says_tokens_only(home: Home) -> None:
    stderr = run_two_turns(home, "")
    assert "auto-router: 2 requests, 14 tokens in / 6 out (two 2)" in stderr
    assert "$" not in stderr
    [two] = run_usage(home)["providers"]
    assert two["cost_usd"] is None and two["prompt_tokens"] == 14


def run_id(home: Home) -> str:
    [attempt] = home.history()
    return str(attempt["run_id"])


def run_usage(home: Home) -> dict[str, Any]:
    """``history --run ID --json``'s usage, once the managed proxy has written its log (it
    flushes as it exits, after the launcher left)."""
    identifier = run_id(home)
    deadline = time.monotonic() + 30  # only stops a hang
    while True:
        shown = home.run("history", "--run", identifier, "--json")
        assert shown.returncode == 0, shown.stderr
        usage: dict[str, Any] = json.loads(shown.stdout)["usage"]
        if sum(u["requests"] for u in usage["providers"]) >= 2:
            return usage
        assert time.monotonic() < deadline, usage
        time.sleep(0.1)
