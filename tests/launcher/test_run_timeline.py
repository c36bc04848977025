"""The end of a run through the managed proxy: time per provider, the prompt cache lost once.

Real processes (the launcher, the managed proxy it starts, the fake chat agent on the official
``openai`` SDK), real sockets, the run's real record; only the providers are fakes. The first
provider answers the first turn and then hits its limit, so the session moves to the second.
"""

from __future__ import annotations

import re
from collections.abc import Callable

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


def providers(one: str, two: str) -> str:
    return f"""
[chat.one]
base_url = "{one}"
api_key = "sk-one-0123456789abcdef"
model = "m"
[chat.two]
base_url = "{two}"
api_key = "sk-two-0123456789abcdef"
model = "m"
"""


def answers(name: str) -> Callable[[Seen], Reply]:
    return lambda seen: Reply(body=chat_completion("m", f"hello from {name}"))


class OnceThenLimited:
    def __init__(self) -> None:
        self.answered = 0

    def __call__(self, seen: Seen) -> Reply:
        if self.answered:
            return RATE_LIMITED
        self.answered += 1
        return Reply(body=chat_completion("m", "hello from one"))


def test_the_summary_says_time_per_provider_and_the_cache_loss_once(home: Home) -> None:
    with FakeUpstream(OnceThenLimited()) as one, FakeUpstream(answers("two")) as two:
        home.write(LLM, providers(one.url, two.url))
        home.env["TZ"] = "UTC"
        result = home.run("run", "--via-proxy", "--", "chat-agent", input="hello\nagain\nmore\n")
    assert result.returncode == 0, result.stderr
    assert "assistant: hello from one" in result.stdout
    assert result.stdout.count("assistant: hello from two") == 2
    lines = [line for line in result.stderr.splitlines() if line.startswith("auto-router: ")]
    times = [line for line in lines if "time per provider" in line]
    assert len(times) == 1 and re.fullmatch(
        r"auto-router: time per provider: one \d+s, two \d+s", times[0]
    ), lines
    cache = [line for line in lines if "prompt cache" in line]
    assert len(cache) == 1 and re.fullmatch(
        r"auto-router: prompt cache lost once: moved from one to two at \d\d:\d\d", cache[0]
    ), lines


def test_a_session_that_never_moved_says_no_cache_loss(home: Home) -> None:
    with FakeUpstream(answers("one")) as one, FakeUpstream(answers("two")) as two:
        home.write(LLM, providers(one.url, two.url))
        result = home.run("run", "--via-proxy", "--", "chat-agent", input="hello\nagain\n")
    assert result.returncode == 0, result.stderr
    assert re.search(r"^auto-router: time per provider: one \d+s$", result.stderr, re.M)
    assert "prompt cache" not in result.stderr
