"""The run's record in the managed proxy, read by the launcher (issue 17).

Real processes (the launcher, the proxy it starts, fake agents), real sockets; only the
providers are fakes. An exhausted pool ends a non-interactive run whatever the agent does
with ``Retry-After``; an exit 0 with nothing served is not ``ok``; a live run is in
``history``; opencode on a pool mixing APIs goes through the proxy.
"""

from __future__ import annotations

import json
import subprocess
import time

import pytest

from auto_router.demo.fake_upstream import FakeUpstream, Reply, Seen
from auto_router.demo.wire import chat_completion
from auto_router.launcher.session import failover_summary

from .conftest import RATE_LIMITED, Home

pytestmark = pytest.mark.integration

LLM = """
[backends.chat]
agent = "{agent}"
providers = ["one", "two"]
[message_backend]
default = "chat"
"""

BROKEN = Reply(500, {"error": {"message": "upstream broke", "type": "server_error"}})


def providers(one: str, two: str, kind_two: str = "openai") -> str:
    return f"""
[chat.one]
base_url = "{one}"
api_key = "sk-one-0123456789abcdef"
model = "m-one"
[chat.two]
type = "{kind_two}"
base_url = "{two}"
api_key = "sk-two-0123456789abcdef"
model = "m-two"
"""


def answer(seen: Seen) -> Reply:
    return Reply(body=chat_completion("m", "hello from two"))


def anthropic_answer(seen: Seen) -> Reply:
    return Reply(
        body={
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "model": seen.json()["model"],
            "content": [{"type": "text", "text": "hello from anthropic"}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": {"input_tokens": 3, "output_tokens": 4},
        }
    )


def test_an_exhausted_pool_ends_an_agent_that_would_wait_out_retry_after(home: Home) -> None:
    # opencode (the fake, like the real one) sleeps Retry-After: 3600 between its retries
    with FakeUpstream(lambda s: RATE_LIMITED) as one, FakeUpstream(lambda s: RATE_LIMITED) as two:
        home.write(LLM.format(agent="opencode"), providers(one.url, two.url))
        started = time.monotonic()
        result = home.run("run", "--via-proxy", "--", "opencode", "run", "say hi", timeout=60)
        took = time.monotonic() - started
    assert result.returncode == 75, result.stderr
    assert took < 30, took  # a hang guard: 2 s grace, then SIGTERM
    lines = result.stderr.splitlines()
    assert any(
        line.startswith("auto-router: all providers of chat are cooling down") for line in lines
    )
    [attempt] = home.history()
    assert attempt["outcome"] == "usage-limit"
    assert attempt["marker"] == "the local proxy: every provider cooling down"


def test_an_exit_0_with_nothing_served_is_failed_not_ok(home: Home) -> None:
    # chat-agent prints the API error, reads EOF and exits 0, like aider after its retries
    with FakeUpstream(lambda s: BROKEN) as one, FakeUpstream(lambda s: BROKEN) as two:
        home.write(LLM.format(agent="qwen"), providers(one.url, two.url))
        result = home.run("run", "--via-proxy", "--", "chat-agent", input="hello\n")
    assert result.returncode == 1, result.stderr
    assert (
        "the agent exited 0, but the local proxy answered none of its 1 request(s)" in result.stderr
    )
    [attempt] = home.history()
    assert (attempt["outcome"], attempt["exit_code"]) == ("failed", 0)


def test_a_run_with_answers_stays_ok(home: Home) -> None:
    with FakeUpstream(answer) as one, FakeUpstream(answer) as two:
        home.write(LLM.format(agent="qwen"), providers(one.url, two.url))
        result = home.run("run", "--via-proxy", "--", "chat-agent", input="hello\n")
    assert result.returncode == 0, result.stderr
    assert [(a["outcome"], a["exit_code"]) for a in home.history()] == [("ok", 0)]


def test_a_live_run_shows_in_history_as_running(home: Home) -> None:
    with FakeUpstream(answer) as one, FakeUpstream(answer) as two:
        home.write(LLM.format(agent="qwen"), providers(one.url, two.url))
        proc = subprocess.Popen(
            home.command("run", "--via-proxy", "--", "chat-agent"),
            env=home.env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert proc.stdout is not None and proc.stdin is not None
            assert "chat-agent pid=" in proc.stdout.readline()  # the child runs
            live = home.history()
            _, err = proc.communicate("/quit\n", timeout=60)
            assert proc.returncode == 0, err
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    assert [(a["outcome"], a["exit_code"]) for a in live] == [("running", None)]
    assert [(a["outcome"], a["exit_code"]) for a in home.history()] == [("ok", 0)]


def test_opencode_on_a_mixed_pool_goes_through_the_proxy_and_fails_over(home: Home) -> None:
    with FakeUpstream(lambda s: RATE_LIMITED) as one, FakeUpstream(anthropic_answer) as two:
        home.write(LLM.format(agent="opencode"), providers(one.url, two.root, "anthropic"))
        dry = home.run("run", "--dry-run", "--", "opencode", "run", "hi")
        result = home.run("run", "--", "opencode", "run", "say hi")
    assert "via: the local proxy" in dry.stdout and "1 through translation" in dry.stdout
    assert result.returncode == 0, result.stderr
    assert "hello from anthropic" in result.stdout
    # opencode talked OpenAI to the proxy (the first of its APIs); the proxy translated
    assert "npm=@ai-sdk/openai-compatible url=http://127.0.0.1:" in result.stderr
    assert "auto-router: 1 request failed over: one 429 -> two" in result.stderr
    [sent] = two.seen
    assert sent.path == "/v1/messages" and sent.json()["model"] == "m-two"
    assert sent.headers["x-api-key"] == "sk-two-0123456789abcdef"


def test_the_summary_does_not_name_a_provider_that_failed_after_answering() -> None:
    events = [
        {"failed": [["c-limited", 429]], "provider": "c-ok", "status": 200},
        {"failed": [], "provider": "c-ok", "status": 200},
        {"failed": [["c-ok", 429]], "provider": "c-openai", "status": 200},
    ]
    summary = failover_summary(events)
    assert summary == "2 requests failed over: c-limited 429, c-ok 429 -> c-openai"
    assert failover_summary([{"failed": [], "provider": "a", "status": 200}]) is None
    nothing = [{"failed": [["a", 429], ["b", 429]], "provider": None, "status": 429}]
    assert failover_summary(nothing) == "1 request failed over: a 429, b 429 -> none"
    assert json.dumps(events)  # plain data, as the proxy writes it


def test_dry_run_of_an_unknown_command_names_the_model_the_run_gives(home: Home) -> None:
    home.write(
        LLM.format(agent="generic"), providers("http://127.0.0.1:9/v1", "http://127.0.0.1:9/v1")
    )
    result = home.run("run", "--dry-run", "--via-proxy", "--", "some-script")
    assert result.returncode == 0, result.stderr
    assert "OPENAI_MODEL=m-one" in result.stdout
    assert "OPENAI_BASE_URL=http://127.0.0.1:PORT/v1" in result.stdout
