"""The proxy on a real socket (uvicorn, uvloop, httptools) in front of fake providers on
real sockets, driven by the official openai and anthropic SDKs."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
import time

import anthropic
import httpx
import openai
import pytest

from auto_router.demo.fake_upstream import (
    Close,
    FakeProvider,
    FakeUpstream,
    Hang,
    Reply,
    Seen,
    Stream,
    free_port,
)
from auto_router.demo.wire import chat_chunks
from auto_router.paths import Paths
from auto_router.rotation.service import Rotator
from tests.helpers import closed_after_test, serve

from .conftest import Clock, make_app, two_providers, write_config

pytestmark = pytest.mark.integration

Pair = tuple[FakeUpstream, FakeUpstream]
MESSAGES = [{"role": "user", "content": "hi"}]


def sdk(base: str, **kwargs: object) -> openai.OpenAI:
    return closed_after_test(
        openai.OpenAI(base_url=f"{base}/v1", api_key="client-key", max_retries=0, **kwargs)
    )  # type: ignore[arg-type]


def test_openai_sdk_sync_and_streaming(
    home: Paths, upstreams: tuple[FakeUpstream, FakeUpstream]
) -> None:
    one, two = upstreams
    two_providers(home, one.url, two.url)
    with serve(make_app(home)) as base:
        client = sdk(base)
        reply = client.chat.completions.create(model="qwen3-coder", messages=MESSAGES)  # type: ignore[arg-type]
        assert reply.choices[0].message.content == "hello"
        assert reply.model == "one-model"  # the model that answered
        stream = client.chat.completions.create(
            model="qwen3-coder",
            messages=MESSAGES,  # type: ignore[arg-type]
            stream=True,
        )
        words = [c.choices[0].delta.content for c in stream if c.choices]
        assert words == ["Hel", "lo", "!"]
        models = client.models.list()
        assert [m.id for m in models] == ["fake-model"]
    assert one.seen[0].json()["model"] == "one-model"
    assert one.seen[0].headers["authorization"] == "Bearer sk-one-secret-key-123456"
    assert two.seen == []


def test_openai_sdk_async(home: Paths, upstreams: Pair) -> None:
    one, two = upstreams
    two_providers(home, one.url, two.url)

    async def run(base: str) -> list[str]:
        client = openai.AsyncOpenAI(base_url=f"{base}/v1", api_key="k", max_retries=0)
        replies = await asyncio.gather(
            *(
                client.chat.completions.create(model="m", messages=MESSAGES)  # type: ignore[arg-type]
                for _ in range(8)
            )
        )
        stream = await client.chat.completions.create(
            model="m",
            messages=MESSAGES,  # type: ignore[arg-type]
            stream=True,
        )
        text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
        await client.close()
        return [r.choices[0].message.content or "" for r in replies] + [text]

    with serve(make_app(home)) as base:
        results = asyncio.run(run(base))
    assert results == ["hello"] * 8 + ["Hello!"]


def test_refused_connection_fails_over(home: Paths) -> None:
    with FakeUpstream() as two:
        two_providers(home, f"http://127.0.0.1:{free_port()}/v1", two.url)
        with serve(make_app(home)) as base:
            reply = sdk(base).chat.completions.create(model="m", messages=MESSAGES)  # type: ignore[arg-type]
    assert reply.choices[0].message.content == "hello"
    assert len(two.seen) == 1
    assert Rotator(home).state("qwen").provider("one").failures == 2  # a try and one retry


def test_timeout_fails_over_and_closes_the_hung_request(home: Paths) -> None:
    with FakeUpstream(lambda seen: Hang()) as one, FakeUpstream() as two:
        two_providers(home, one.url, two.url, timeout_one=0.3)
        with serve(make_app(home)) as base:
            reply = sdk(base).chat.completions.create(model="m", messages=MESSAGES)  # type: ignore[arg-type]
        assert one.closed_by_peer.wait(10)
    assert reply.choices[0].message.content == "hello"
    assert "timed out" in (Rotator(home).state("qwen").provider("one").last_error or "")


def test_upstream_closing_without_answer_fails_over(home: Paths) -> None:
    with FakeUpstream(lambda seen: Close()) as one, FakeUpstream() as two:
        two_providers(home, one.url, two.url)
        with serve(make_app(home)) as base:
            reply = sdk(base).chat.completions.create(model="m", messages=MESSAGES)  # type: ignore[arg-type]
    assert reply.choices[0].message.content == "hello"


def test_429_with_retry_after_cools_down_in_shared_state(home: Paths, clock: Clock) -> None:
    limited = Reply(429, {"error": {"message": "Rate limit reached"}}, {"retry-after": "300"})
    with FakeUpstream(lambda seen: limited) as one, FakeUpstream() as two:
        two_providers(home, one.url, two.url)
        with serve(make_app(home, clock)) as base:
            client = sdk(base)
            for _ in range(3):
                client.chat.completions.create(model="m", messages=MESSAGES)  # type: ignore[arg-type]
        assert len(one.seen) == 1 and len(two.seen) == 3
    # what `auto-router status` and the launcher see
    status = {b.name: b for b in Rotator(home, clock=clock).status()}["qwen"]
    cooling = {p.name: p.cooldown_until for p in status.providers}
    assert cooling == {"one": clock.now + 300, "two": None}
    assert status.current == "two"


def test_401_fails_over(home: Paths) -> None:
    denied = Reply(401, {"error": {"message": "invalid api key"}})
    with FakeUpstream(lambda seen: denied) as one, FakeUpstream() as two:
        two_providers(home, one.url, two.url)
        with serve(make_app(home)) as base:
            reply = sdk(base).chat.completions.create(model="m", messages=MESSAGES)  # type: ignore[arg-type]
    assert reply.choices[0].message.content == "hello"


def test_500_everywhere_gives_503_with_attempts(home: Paths) -> None:
    broken = Reply(500, {"error": {"message": "internal"}})
    with FakeUpstream(lambda seen: broken) as one, FakeUpstream(lambda seen: broken) as two:
        two_providers(home, one.url, two.url)
        with serve(make_app(home)) as base, pytest.raises(openai.InternalServerError) as caught:
            sdk(base).chat.completions.create(model="m", messages=MESSAGES)  # type: ignore[arg-type]
    assert caught.value.status_code == 503
    body = caught.value.response.json()
    # each provider with its one retry (max_retries = 2): a retry spends no provider
    assert [a["provider"] for a in body["error"]["attempts"]] == ["one", "one", "two", "two"]
    assert "sk-" not in caught.value.response.text


def test_stream_dying_midway_ends_with_an_error_event(home: Paths) -> None:
    def script(seen: Seen) -> Stream:
        return Stream(chat_chunks("m", ["a", "b", "c", "d"]), die_after=2)

    with FakeUpstream(script) as one, FakeUpstream() as two:
        two_providers(home, one.url, two.url)
        with serve(make_app(home)) as base:
            stream = sdk(base).chat.completions.create(
                model="m",
                messages=MESSAGES,  # type: ignore[arg-type]
                stream=True,
            )
            got: list[str] = []
            with pytest.raises(openai.APIError, match="upstream stream broke"):
                for chunk in stream:
                    got.append(chunk.choices[0].delta.content or "")
        assert got == ["a", "b"]
        assert two.seen == []  # no failover after the first byte


def test_client_disconnect_mid_stream_closes_upstream(home: Paths) -> None:
    release = threading.Event()

    def script(seen: Seen) -> Stream:
        return Stream(chat_chunks("m", ["a", "b", "c"]), hold_at=1, release=release)

    with FakeUpstream(script) as one, FakeUpstream() as two:
        two_providers(home, one.url, two.url)
        with serve(make_app(home)) as base:
            with (
                httpx.Client() as client,
                client.stream(
                    "POST",
                    f"{base}/v1/chat/completions",
                    json={"model": "m", "messages": MESSAGES, "stream": True},
                ) as resp,
            ):
                first = next(resp.iter_raw())
                assert first.startswith(b"data: ")
                # leaving the block closes the client's connection mid-stream
            assert one.closed_by_peer.wait(10), "the proxy kept the upstream request open"
        release.set()


def test_anthropic_sdk_messages(home: Paths) -> None:
    events = [
        {"type": "message_start", "message": {"id": "m1", "type": "message", "role": "assistant",
         "model": "claude-x", "content": [], "stop_reason": None, "stop_sequence": None,
         "usage": {"input_tokens": 11, "output_tokens": 1}}},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hi"}},
        {"type": "content_block_stop", "index": 0},
        {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
         "usage": {"output_tokens": 6}},
        {"type": "message_stop"},
    ]  # fmt: skip

    def script(seen: Seen) -> Reply | Stream:
        data = seen.json()
        if data.get("stream"):
            return Stream(
                [json.dumps(e) for e in events], event_names=[str(e["type"]) for e in events]
            )
        return Reply(
            body={
                "id": "m1",
                "type": "message",
                "role": "assistant",
                "model": data["model"],
                "content": [{"type": "text", "text": "Hello"}],
                "stop_reason": "end_turn",
                "stop_sequence": None,
                "usage": {"input_tokens": 3, "output_tokens": 1},
            }
        )

    with FakeUpstream(script) as claude:
        write_config(
            home,
            '[backends.claude]\nproviders = ["direct"]\n',
            f'[claude.direct]\ntype = "anthropic"\nbase_url = "{claude.root}"\n'
            'api_key = "sk-ant-real-key-0000000"\nmodel = "claude-x"\n',
        )
        with serve(make_app(home)) as base:
            client = closed_after_test(
                anthropic.Anthropic(base_url=base, api_key="client", max_retries=0)
            )
            message = client.messages.create(
                model="claude-sonnet",
                max_tokens=10,
                messages=MESSAGES,  # type: ignore[list-item]
            )
            assert message.content[0].text == "Hello"  # type: ignore[union-attr]
            assert message.model == "claude-x"  # the model that answered
            with client.messages.stream(
                model="claude-sonnet",
                max_tokens=10,
                messages=MESSAGES,  # type: ignore[list-item]
            ) as stream:
                text = "".join(stream.text_stream)
            assert text == "Hi"
        assert claude.seen[0].headers["x-api-key"] == "sk-ant-real-key-0000000"
        assert claude.seen[0].json()["model"] == "claude-x"
        assert claude.seen[0].path == "/v1/messages"


def test_request_log_and_cli_views(
    home: Paths, upstreams: tuple[FakeUpstream, FakeUpstream]
) -> None:
    one, two = upstreams
    one.script = lambda seen: Reply(500, {"error": {"message": "down"}})
    two_providers(home, one.url, two.url)
    app = make_app(home)
    with serve(app) as base:
        client = sdk(base)
        client.chat.completions.create(model="m", messages=MESSAGES)  # type: ignore[arg-type]
        stream = client.chat.completions.create(
            model="m",
            messages=MESSAGES,  # type: ignore[arg-type]
            stream=True,
            stream_options={"include_usage": True},
        )
        list(stream)
        assert app.services.request_log is not None
        assert app.services.request_log.flush()
    cli = [sys.executable, "-m", "auto_router", "--config-dir", str(home.config_dir)]
    listing = json.loads(
        subprocess.run([*cli, "requests", "--json"], capture_output=True, check=True).stdout
    )["requests"]
    assert [r["stream"] for r in listing] == [True, False]
    streamed, plain = listing
    assert plain["provider"] == "two" and plain["attempts"] == 3  # one, its retry, two
    assert [(f["provider"], f["status"]) for f in plain["failed"]] == [("one", 500)] * 2
    # the third failure in a row opened one's circuit: no retry for the stream
    assert streamed["attempts"] == 2 and "circuit opened" in streamed["failed"][0]["reason"]
    assert (plain["prompt_tokens"], plain["total_tokens"]) == (7, 10)
    assert streamed["total_tokens"] == 9  # from the final stream chunk
    assert plain["upstream_model"] == "two-model" and plain["client_model"] == "m"
    stats = json.loads(
        subprocess.run([*cli, "stats", "--json"], capture_output=True, check=True).stdout
    )
    by = {s["provider"]: s for s in stats["providers"]}
    assert by["two"]["requests"] == 2 and by["two"]["total_tokens"] == 19
    assert by["one"]["failovers"] == 3 and by["one"]["requests"] == 0
    text = subprocess.run([*cli, "stats"], capture_output=True, check=True, text=True).stdout
    assert "two" in text and "p50" in text
    filtered = subprocess.run(
        [*cli, "requests", "--provider", "one"], capture_output=True, check=True, text=True
    )
    assert "no requests" in filtered.stdout


def test_non_loopback_bind_without_admin_token_is_refused(home: Paths) -> None:
    env = {k: v for k, v in os.environ.items() if k != "AUTO_ROUTER_ADMIN_TOKEN"}
    result = subprocess.run(
        [sys.executable, "-m", "auto_router", "proxy", "--host", "0.0.0.0", "--upstream",
         "http://127.0.0.1:9/v1", "--port", str(free_port())],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )  # fmt: skip
    assert result.returncode == 78
    assert "refusing to listen on 0.0.0.0" in result.stderr
    assert "AUTO_ROUTER_ADMIN_TOKEN" in result.stderr


def test_cli_proxy_with_adhoc_upstream(tmp_path: object) -> None:
    port = free_port()
    env = {**os.environ, "MY_KEY": "sk-adhoc-secret-key-42", "AUTO_ROUTER_HOME": str(tmp_path)}
    with FakeUpstream(FakeProvider()) as up:
        proc = subprocess.Popen(
            [sys.executable, "-m", "auto_router", "proxy", "--port", str(port),
             "--upstream", up.url, "--api-key-env", "MY_KEY", "--log-json"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )  # fmt: skip
        try:
            reply = _first_reply(f"http://127.0.0.1:{port}", proc)
            assert reply["model"] == "mock-gpt"
            assert up.seen[-1].headers["authorization"] == "Bearer sk-adhoc-secret-key-42"
        finally:
            proc.terminate()
            _, err = proc.communicate(timeout=30)
    lines = [json.loads(line) for line in err.decode().splitlines() if line.startswith("{")]
    requests = [line for line in lines if line["event"] == "request"]
    assert requests and requests[-1]["status"] == 200
    assert b"sk-adhoc-secret" not in err
    # No files written: the management token's file (in the runtime directory) went with it.
    assert [p.name for p in tmp_path.iterdir()] in ([], ["run"])  # type: ignore[attr-defined]
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []  # type: ignore[attr-defined]


def _first_reply(base: str, proc: subprocess.Popen[bytes]) -> dict[str, object]:
    body = {"model": "mock-gpt", "messages": MESSAGES}
    deadline = time.monotonic() + 60
    while True:
        try:
            resp = httpx.post(f"{base}/v1/chat/completions", json=body, timeout=10)
            result: dict[str, object] = resp.json()
            return result
        except httpx.TransportError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def test_a_variables_only_provider_is_skipped_without_spending_an_attempt(home: Paths) -> None:
    """A table of UPPERCASE variables that name no endpoint is direct-only: the standalone
    proxy never guesses a host for it, and with one attempt the named provider still answers."""
    with FakeUpstream() as named:
        write_config(
            home,
            """
[backends.qwen]
providers = ["vars", "named"]
[message_backend]
default = "qwen"
[proxy]
max_attempts = 1
""",
            f"""
[qwen.vars]
FEATURE_FLAG = "1"
[qwen.named]
base_url = "{named.url}"
api_key = "sk-named-secret-key-123456"
model = "named-model"
""",
        )
        with serve(make_app(home)) as base:
            reply = sdk(base).chat.completions.create(model="m", messages=MESSAGES)  # type: ignore[arg-type]
        assert reply.model == "named-model"
        assert len(named.seen) == 1


def test_a_request_pinned_to_a_variables_only_provider_is_refused(home: Paths) -> None:
    with FakeUpstream() as named:
        write_config(
            home,
            '[backends.qwen]\nproviders = ["vars", "named"]\n[message_backend]\ndefault = "qwen"\n',
            f'[qwen.vars]\nFEATURE_FLAG = "1"\n[qwen.named]\nbase_url = "{named.url}"\n'
            'api_key = "sk-named-secret-key-123456"\n',
        )
        with serve(make_app(home)) as base:
            reply = httpx.post(
                f"{base}/v1/chat/completions",
                json={"model": "m", "messages": MESSAGES},
                headers={"X-Auto-Router-Provider": "vars"},
            )
        assert reply.status_code >= 400
        assert "variables-only provider" in reply.text
        assert named.seen == []
