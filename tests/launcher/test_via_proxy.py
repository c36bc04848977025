"""``auto-router run --via-proxy``: the agent talks to the managed local proxy, which fails
over per request, so a session survives a provider's limit without a restart.

Real processes (the launcher, the proxy it starts, a fake agent using the official ``openai``
SDK), a real pseudo-terminal, real sockets; only the two cloud providers are fakes.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from auto_router.demo.fake_upstream import FakeUpstream, Reply, Seen
from auto_router.demo.wire import chat_completion
from auto_router.paths import Paths
from auto_router.runs import RuntimeDir, pid_alive

from .conftest import Home
from .terminal import terminal

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


RATE_LIMITED = Reply(
    429,
    {"error": {"message": "Rate limit reached", "type": "requests", "code": "rate_limit_exceeded"}},
    headers={"retry-after": "600"},
)


class Provider:
    """A fake provider numbering its answers; ``limited`` makes it answer 429."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.limited = threading.Event()
        self.answers = 0
        self.fake = FakeUpstream(self.script)

    def script(self, seen: Seen) -> Reply:
        if self.limited.is_set():
            return RATE_LIMITED
        self.answers += 1
        return Reply(body=chat_completion("m", f"{self.name}-{self.answers}"))


@pytest.fixture
def two() -> Iterator[tuple[Provider, Provider]]:
    first, second = Provider("one"), Provider("two")
    with first.fake, second.fake:
        yield first, second


def wait_for_proxy_exit(home: Home, pid: int) -> None:
    deadline = time.monotonic() + 30  # only stops a hang
    while pid_alive(pid):
        assert time.monotonic() < deadline, "the managed proxy outlived its launcher"
        time.sleep(0.05)
    assert RuntimeDir(Paths(home.path, home.path)).read_proxy() is None


def test_an_interactive_session_survives_a_limit_between_turns(
    home: Home, two: tuple[Provider, Provider]
) -> None:
    first, second = two
    home.write(LLM, providers(first.fake.url, second.fake.url))
    with terminal(home, "run", "--via-proxy", "--", "chat-agent") as term:
        term.expect("tty=True")
        term.expect("you> ")
        term.send(b"turn one\r")
        term.expect("assistant: one-1")
        term.send(b"turn two\r")
        term.expect("assistant: one-2")
        proxy = RuntimeDir(Paths(home.path, home.path)).read_proxy()
        assert proxy is not None
        first.limited.set()  # provider 1 runs out between turns 2 and 3
        term.send(b"turn three\r")
        term.expect("assistant: two-1")
        term.send(b"turn four\r")
        term.expect("assistant: two-2")
        term.send(b"/quit\r")
        assert term.wait() == 0
        screen = term.drain()
    # one agent process throughout, and it never saw the 429
    assert len(re.findall(r"chat-agent pid=\d+", screen)) == 1
    assert "429" not in screen.split("auto-router:")[0]
    assert "API Error" not in screen
    # turn 4 goes straight to provider 2: the proxy put provider 1 in cooldown
    assert "auto-router: 1 request failed over: one 429 -> two" in screen
    # provider 2 received the whole conversation of turns 1-3
    turn3 = second.fake.seen[0].json()["messages"]
    assert turn3 == [
        {"role": "user", "content": "turn one"},
        {"role": "assistant", "content": "one-1"},
        {"role": "user", "content": "turn two"},
        {"role": "assistant", "content": "one-2"},
        {"role": "user", "content": "turn three"},
    ]
    # the provider keys stayed in the proxy: the agent sent its run token
    assert all(
        s.headers["authorization"] == "Bearer sk-two-0123456789abcdef" for s in second.fake.seen
    )
    attempts = home.history()
    assert [(a["outcome"], a["exit_code"]) for a in attempts] == [("ok", 0)]
    wait_for_proxy_exit(home, proxy.pid)
    # history ties the run to the requests it made through the proxy (by its token)
    shown = home.run("history", "--run", str(attempts[0]["run_id"]), "--json")
    requests = json.loads(shown.stdout)["requests"]
    assert [(r["provider"], r["status"], r["run_id"]) for r in requests] == [
        ("two", 200, attempts[0]["run_id"]),
        ("two", 200, attempts[0]["run_id"]),
        ("one", 200, attempts[0]["run_id"]),
        ("one", 200, attempts[0]["run_id"]),
    ]
    assert requests[1]["failed"][0]["provider"] == "one"
    assert requests[1]["failed"][0]["status"] == 429


def test_everything_cooling_down_gives_the_agent_a_429_and_run_exits_75(
    home: Home, two: tuple[Provider, Provider]
) -> None:
    first, second = two
    first.limited.set()
    second.limited.set()
    home.write(LLM, providers(first.fake.url, second.fake.url))
    result = home.run("run", "--via-proxy", "--", "chat-agent", input="hello\n")
    assert result.returncode == 75, result.stderr
    agent_line = re.search(r"\[API Error: 429 (.*)\] retry-after=(\d+)", result.stdout)
    assert agent_line is not None, result.stdout
    message, retry_after = agent_line.groups()
    assert re.fullmatch(
        r"all providers of chat are cooling down; (one|two) is available again at (\d{4}-\d\d-\d\d )?\d\d:\d\d",
        message,
    )
    assert 590 <= int(retry_after) <= 600
    assert f"auto-router: {message}" in result.stderr.splitlines()
    assert "auto-router: 1 request failed over: one 429, two 429 -> none" in result.stderr


def test_claude_uses_the_proxy_by_default_with_only_a_token(home: Home) -> None:
    home.write(
        '[backends.claude]\nproviders = ["anth"]\n',
        '[claude.anth]\ntype = "anthropic"\napi_key = "sk-ant-secret-0123456789"\n',
    )
    result = home.run("run", "--dry-run", "--", "claude")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "via: the local proxy" in out
    assert "ANTHROPIC_BASE_URL=http://127.0.0.1:PORT" in out
    assert re.search(r"ANTHROPIC_AUTH_TOKEN=\*+", out)
    assert "sk-ant" not in out and "0123456789" not in out
    direct = home.run("run", "--dry-run", "--direct", "--", "claude")
    assert "via: direct" in direct.stdout
    assert "ANTHROPIC_BASE_URL" not in direct.stdout  # Anthropic's own API: no base URL


def test_a_provider_of_another_api_goes_through_translation_or_is_refused(home: Home) -> None:
    home.write(
        '[backends.claude]\nproviders = ["ds"]\n',
        '[claude.ds]\ntype = "openai"\nbase_url = "https://api.deepseek.invalid"\n'
        'api_key = "sk-ds-0123456789abcdef"\n',
    )
    for args in (("--provider", "ds"), (), ("--via-proxy",)):
        result = home.run("run", "--dry-run", "--backend", "claude", *args, "--", "claude")
        assert result.returncode == 0, (args, result.stderr)
        assert "via: the local proxy" in result.stdout, args
        assert "ANTHROPIC_BASE_URL=http://127.0.0.1:PORT" in result.stdout
    direct = home.run("run", "--direct", "--backend", "claude", "--", "claude")
    assert direct.returncode == 64, direct.stderr
    assert "reachable only through translation" in direct.stderr
    assert "--via-proxy" in direct.stderr
    assert "Traceback" not in direct.stderr
    home.write(
        '[backends.claude]\nproviders = ["ds"]\ntranslate = false\n',
        '[claude.ds]\ntype = "openai"\nbase_url = "https://api.deepseek.invalid"\n'
        'api_key = "sk-ds-0123456789abcdef"\n',
    )
    for args in (("--provider", "ds"), ("--direct",), ()):
        result = home.run("run", "--backend", "claude", *args, "--", "claude")
        assert result.returncode == 64, (args, result.stderr)
        assert "translate = false" in result.stderr
    forced = home.run("run", "--via-proxy", "--backend", "claude", "--", "claude")
    assert forced.returncode == 64
    assert "through the proxy" in forced.stderr
    assert home.log() == []  # the agent never started


ANTHROPIC_LIMITED = Reply(
    429,
    {"type": "error", "error": {"type": "rate_limit_error", "message": "Rate limited"}},
    headers={"retry-after": "600"},
)


def anthropic_answer(seen: Seen) -> Reply:
    return Reply(
        body={
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "model": seen.json()["model"],
            "content": [{"type": "text", "text": "hello through translation"}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": {"input_tokens": 3, "output_tokens": 4},
        }
    )


def test_auto_runs_an_agent_on_a_pool_of_another_api_through_translation(home: Home) -> None:
    # qwen's chat-speaking stand-in, a backend of Anthropic-type providers only, no mode flag
    with (
        FakeUpstream(lambda seen: ANTHROPIC_LIMITED) as one,
        FakeUpstream(anthropic_answer) as two,
    ):
        home.write(
            LLM,
            f"""
[chat.one]
type = "anthropic"
base_url = "{one.root}"
api_key = "sk-ant-one-0123456789abcdef"
model = "claude-one"
[chat.two]
type = "anthropic"
base_url = "{two.root}"
api_key = "sk-ant-two-0123456789abcdef"
model = "claude-two"
""",
        )
        result = home.run("run", "--", "chat-agent", input="hi there\n/quit\n")
    assert result.returncode == 0, result.stderr
    assert "assistant: hello through translation" in result.stdout
    assert "auto-router: 1 request failed over: one 429 -> two" in result.stderr
    assert [s.path for s in one.seen] == ["/v1/messages"]
    [sent] = two.seen
    assert sent.path == "/v1/messages"
    assert sent.headers["x-api-key"] == "sk-ant-two-0123456789abcdef"
    body = sent.json()
    assert body["model"] == "claude-two"
    assert body["messages"] == [{"role": "user", "content": [{"type": "text", "text": "hi there"}]}]
    assert isinstance(body["max_tokens"], int)  # Anthropic requires it; the agent sent none
    assert [(a["outcome"], a["exit_code"]) for a in home.history()] == [("ok", 0)]


def test_a_command_provider_runs_direct(home: Home, tmp_path: Path) -> None:
    home.write(
        '[backends.qwen]\nproviders = ["local"]\n',
        '[qwen.local]\ncommand = "qwen"\nargs = ["--behaviour", "ok"]\n',
    )
    result = home.run("run", "--dry-run")
    assert "via: direct: qwen/local is a command, not an API" in result.stdout
