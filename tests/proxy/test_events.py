"""In view, on real sockets: the ``x-auto-router-*`` headers of every answer, ``GET /v1/events``
(SSE) delivering a failover as it happens, and the ``[notify]`` command run once per event
without delaying a request."""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn

from auto_router.demo.fake_upstream import FakeUpstream, Reply, Seen
from auto_router.paths import Paths
from auto_router.proxy.server import ProxyServer
from auto_router.rotation.service import Rotator
from auto_router.secrets import Secret
from tests.helpers import free_port, serve

from .conftest import make_app, two_providers, write_config

pytestmark = pytest.mark.integration

CHAT = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
ADMIN = "adm-tok-0123456789abcdefXYZW"
AUTH = {"authorization": f"Bearer {ADMIN}"}


def limited(seen: Seen) -> Reply:
    """A usage limit that asks for longer than the proxy waits: the request fails over."""
    return Reply(429, {"error": {"message": "Rate limit reached"}}, {"retry-after": "300"})


def routed(resp: httpx.Response) -> dict[str, str | None]:
    return {
        name: resp.headers.get(f"x-auto-router-{name}")
        for name in ("backend", "provider", "attempts", "failed-over-from")
    }


def test_headers_on_chat_and_stream(home: Paths) -> None:
    with FakeUpstream() as one, FakeUpstream() as two:
        two_providers(home, one.url, two.url)
        with serve(make_app(home)) as base, httpx.Client(base_url=base, timeout=20) as client:
            plain = client.post("/v1/chat/completions", json=CHAT)
            with client.stream(
                "POST", "/v1/chat/completions", json={**CHAT, "stream": True}
            ) as streamed:
                streamed.read()
    want = {"backend": "qwen", "provider": "qwen/one", "attempts": "1", "failed-over-from": None}
    assert routed(plain) == want
    assert routed(streamed) == want
    assert "data:" in streamed.text


def test_headers_after_a_failover_and_on_the_503(home: Paths) -> None:
    with FakeUpstream(limited) as one, FakeUpstream() as two:
        two_providers(home, one.url, two.url)
        with serve(make_app(home)) as base, httpx.Client(base_url=base, timeout=20) as client:
            moved = client.post("/v1/chat/completions", json=CHAT)
            with client.stream(
                "POST", "/v1/chat/completions", json={**CHAT, "stream": True}
            ) as streamed:
                streamed.read()
    assert moved.status_code == 200
    assert routed(moved) == {
        "backend": "qwen",
        "provider": "qwen/two",
        "attempts": "2",
        "failed-over-from": "qwen/one",
    }
    # One is cooling now: the stream goes straight to two, with nothing failed on the way.
    assert routed(streamed)["provider"] == "qwen/two"
    assert routed(streamed)["failed-over-from"] is None

    with FakeUpstream(limited) as one, FakeUpstream(limited) as two:
        two_providers(home, one.url, two.url)
        Rotator(home).reset()  # one's cooldown above ends: both are tried
        with serve(make_app(home)) as base, httpx.Client(base_url=base, timeout=20) as client:
            both = client.post("/v1/chat/completions", json=CHAT)
            cooling = client.post("/v1/chat/completions", json=CHAT)
    assert both.status_code == 503  # both limited on the way
    assert routed(both) == {
        "backend": "qwen",
        "provider": None,  # nobody answered
        "attempts": "2",
        "failed-over-from": "qwen/one,qwen/two",
    }
    assert cooling.status_code == 503  # both cooling now: nothing tried
    assert routed(cooling) == {
        "backend": "qwen",
        "provider": None,
        "attempts": "0",
        "failed-over-from": None,
    }


def test_headers_on_anthropic_messages(home: Paths) -> None:
    def claude(seen: Seen) -> Reply:
        return Reply(
            body={
                "id": "m1",
                "type": "message",
                "role": "assistant",
                "model": "claude-x",
                "content": [{"type": "text", "text": "Hello"}],
                "stop_reason": "end_turn",
                "stop_sequence": None,
                "usage": {"input_tokens": 3, "output_tokens": 1},
            }
        )

    with FakeUpstream(limited) as first, FakeUpstream(claude) as second:
        write_config(
            home,
            '[backends.claude]\nproviders = ["a", "b"]\n',
            f'[claude.a]\ntype = "anthropic"\nbase_url = "{first.root}"\napi_key = "sk-ant-a-0000000"\n'
            f'[claude.b]\ntype = "anthropic"\nbase_url = "{second.root}"\napi_key = "sk-ant-b-0000000"\n',
        )
        body = {"model": "claude-x", "max_tokens": 5, "messages": CHAT["messages"]}
        with serve(make_app(home)) as base:
            resp = httpx.post(f"{base}/v1/messages", json=body, timeout=20)
    assert resp.status_code == 200, resp.text
    assert routed(resp) == {
        "backend": "claude",
        "provider": "claude/b",
        "attempts": "2",
        "failed-over-from": "claude/a",
    }


def _events(lines: Iterator[str]) -> Iterator[tuple[str, dict[str, object]]]:
    """(event name, data) of an SSE stream, comments skipped."""
    name = ""
    for line in lines:
        if line.startswith("event: "):
            name = line[7:]
        elif line.startswith("data: "):
            yield name, json.loads(line[6:])


def test_sse_delivers_a_failover_event(home: Paths) -> None:
    with FakeUpstream(limited) as one, FakeUpstream() as two:
        two_providers(home, one.url, two.url)
        app = make_app(home, admin_token=Secret(ADMIN))
        with serve(app) as base, httpx.Client(base_url=base, timeout=20) as client:
            assert client.get("/v1/events").status_code == 401  # token-protected
            with client.stream("GET", "/v1/events", headers=AUTH) as events:
                assert events.headers["content-type"].startswith("text/event-stream")
                lines = events.iter_lines()
                assert next(lines) == ": connected"
                answered: list[httpx.Response] = []
                request = threading.Thread(
                    target=lambda: answered.append(client.post("/v1/chat/completions", json=CHAT))
                )
                request.start()
                name, data = next(_events(lines))
                latency = time.time() - float(data["ts"])  # type: ignore[arg-type]
                request.join(20)
    assert answered[0].status_code == 200
    assert name == "rotation"
    assert data["backend"] == "qwen"
    assert (data["from"], data["to"]) == ("one", "two")
    assert data["message"] == "switched from one to two"
    # The figure, for the report; the bound is measured by benchmarks/bench_events.py.
    print(f"SSE delivery latency: {latency * 1000:.1f} ms")


def test_sse_stream_ends_when_the_server_shuts_down(home: Paths) -> None:
    with FakeUpstream() as one, FakeUpstream() as two:
        two_providers(home, one.url, two.url)
        app = make_app(home, admin_token=Secret(ADMIN))
        port = free_port()
        config = uvicorn.Config(
            app, host="127.0.0.1", port=port, log_config=None, lifespan="on", ws="none"
        )
        server = ProxyServer(config, app)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 30
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline
            time.sleep(0.01)
        url = f"http://127.0.0.1:{port}/v1/events"
        with httpx.stream("GET", url, headers=AUTH, timeout=20) as events:
            lines = events.iter_lines()
            assert next(lines) == ": connected"
            server.should_exit = True
            rest = list(lines)  # ends: the server closed the stream
        thread.join(20)
    assert not thread.is_alive()
    assert [line for line in rest if line.startswith("event:")] == []


NOTIFY_SCRIPT = """\
import os, sys, time
out, mode = sys.argv[1], sys.argv[2]
with open(out, "a") as f:
    f.write(f"{os.getpid()} {sys.argv[-1]}\\n")
if mode == "hang":
    time.sleep(600)
"""


def _notify_config(home: Paths, one: str, two: str, tmp: Path, mode: str) -> Path:
    script, out = tmp / "notify.py", tmp / "notified.txt"
    script.write_text(NOTIFY_SCRIPT)
    command = json.dumps([sys.executable, str(script), str(out), mode])
    two_providers(home, one, two, extra_llm=f"[notify]\ncommand = {command}\ntimeout = 300\n")
    return out


def _lines(path: Path, at_least: int) -> list[str]:
    deadline = time.monotonic() + 20  # a hang guard, nothing is timed
    while time.monotonic() < deadline:
        lines = path.read_text().splitlines() if path.exists() else []
        if len(lines) >= at_least:
            return lines
        time.sleep(0.02)
    raise AssertionError(f"the notify command ran fewer than {at_least} times")


def test_notify_runs_once_per_event(home: Paths, tmp_path: Path) -> None:
    with FakeUpstream(limited) as one, FakeUpstream() as two:
        out = _notify_config(home, one.url, two.url, tmp_path, "append")
        with serve(make_app(home)) as base, httpx.Client(base_url=base, timeout=20) as client:
            assert client.post("/v1/chat/completions", json=CHAT).status_code == 200
            lines = _lines(out, 1)
            assert client.post("/v1/chat/completions", json=CHAT).status_code == 200  # no event
        # The server is down: the notifier has stopped and every event it had was run.
    assert out.read_text().splitlines() == lines
    assert [line.split(" ", 1)[1] for line in lines] == ["rotation: qwen: switched from one to two"]


def test_a_hanging_notify_command_does_not_delay_requests(home: Paths, tmp_path: Path) -> None:
    with FakeUpstream(limited) as one, FakeUpstream() as two:
        out = _notify_config(home, one.url, two.url, tmp_path, "hang")
        with serve(make_app(home)) as base, httpx.Client(base_url=base, timeout=20) as client:
            assert client.post("/v1/chat/completions", json=CHAT).status_code == 200
            pid = int(_lines(out, 1)[0].split()[0])
            os.kill(pid, 0)  # the command is hanging now...
            for _ in range(5):  # ...and requests go on being answered
                assert client.post("/v1/chat/completions", json=CHAT).status_code == 200
            os.kill(pid, 0)
        # The server stopped: the notifier killed the command it was waiting for.
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.02)
    else:
        os.kill(pid, 9)
        raise AssertionError("the hanging notify command outlived the proxy")
