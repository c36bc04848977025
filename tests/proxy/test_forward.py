"""The data path through ``httpx.ASGITransport`` with ``httpx.MockTransport`` upstreams."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from auto_router.paths import Paths
from auto_router.proxy import ProxyApp, ProxyOptions, create_app
from auto_router.proxy.httpx_upstream import HttpxUpstream
from auto_router.rotation.service import Rotator

from .conftest import Clock, Pauses, write_config

pytestmark = pytest.mark.anyio

Handler = Callable[[httpx.Request], httpx.Response]

LLM = """
[backends.qwen]
model = "qwen3-coder-plus"
providers = ["one", "two"]

[backends.claude]
providers = ["anthropic-direct"]

[backends.gem]
providers = ["google"]

[message_backend]
default = "qwen"
order = ["qwen"]

[proxy.models]
"claude-sonnet" = "claude"
"pinned-two" = "qwen/two"
"""
META = """
[qwen.one]
base_url = "https://one.example/v1"
api_key = "sk-one-secret-key-123456"
model = "one-model"

[qwen.two]
base_url = "https://two.example/v1"
api_key = "sk-two-secret-key-654321"
headers = { "X-Title" = "auto-router" }

[claude.anthropic-direct]
type = "anthropic"
base_url = "https://anthropic.example"
api_key = "sk-ant-secret-key-999999"

[gem.google]
type = "gemini"
api_key = "AIzaSecretGoogleKey1234567890"
model = "gemini-2.5-pro"
base_url = "https://gemini.example"
"""


def ok_chat(request: httpx.Request) -> httpx.Response:
    data = json.loads(request.content)
    return httpx.Response(
        200,
        json={
            "id": "x",
            "object": "chat.completion",
            "model": data["model"],
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}}],
            "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
        },
        headers={"x-request-id": "req-1", "set-cookie": "session=abc"},
    )


class Recorder:
    def __init__(self, routes: dict[str, Handler | list[Handler]]) -> None:
        self.routes = routes
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        handler = self.routes.get(request.url.host, ok_chat)
        if isinstance(handler, list):
            handler = handler.pop(0) if len(handler) > 1 else handler[0]
        return handler(request)

    def hosts(self) -> list[str]:
        return [r.url.host for r in self.requests]


@contextlib.asynccontextmanager
async def client_for(
    home: Paths, recorder: Recorder, clock: Clock, **options: Any
) -> AsyncIterator[tuple[httpx.AsyncClient, ProxyApp]]:
    app = create_app(
        ProxyOptions(
            paths=home,
            config_interval=0.0,
            clock=clock,
            upstream_client=HttpxUpstream(httpx.MockTransport(recorder)),
            **{"pacing": Pauses().pacing(), **options},
        )
    )
    async with app.starlette.router.lifespan_context(app.starlette):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://proxy") as client:
            yield client, app
        await app.proxy.drain()


@pytest.fixture
def configured(home: Paths) -> Paths:
    write_config(home, LLM, META)
    return home


CHAT = {"model": "qwen3-coder", "messages": [{"role": "user", "content": "hi"}]}


async def test_credentials_injected_client_auth_and_cookies_dropped(
    configured: Paths, clock: Clock
) -> None:
    rec = Recorder({})
    async with client_for(configured, rec, clock) as (client, _):
        resp = await client.post(
            "/v1/chat/completions",
            json=CHAT,
            headers={
                "authorization": "Bearer client-key",
                "cookie": "a=b",
                "x-custom": "kept",
                "x-auto-router-backend": "qwen",
            },
        )
    assert resp.status_code == 200
    sent = rec.requests[0]
    assert str(sent.url) == "https://one.example/v1/chat/completions"
    assert sent.headers["authorization"] == "Bearer sk-one-secret-key-123456"
    assert "cookie" not in sent.headers
    assert sent.headers["x-custom"] == "kept"
    assert "x-auto-router-backend" not in sent.headers
    # the provider's model upstream, and the response says which model answered
    assert json.loads(sent.content)["model"] == "one-model"
    assert resp.json()["model"] == "one-model"
    assert resp.headers["x-auto-router-model"] == "one-model"
    assert "set-cookie" not in resp.headers
    assert resp.headers["x-request-id"] == "req-1"
    assert resp.headers["x-auto-router-provider"] == "qwen/one"


async def test_body_unchanged_when_no_model_rewrite_needed(configured: Paths, clock: Clock) -> None:
    rec = Recorder({})
    body = b'{"model":  "whatever",\n "messages": []}'
    async with client_for(configured, rec, clock) as (client, _):
        resp = await client.post(
            "/v1/chat/completions",
            content=body,
            headers={"x-auto-router-provider": "two", "content-type": "application/json"},
        )
    assert resp.status_code == 200
    assert rec.requests[0].content == body  # provider two has no model: bytes untouched
    assert rec.requests[0].headers["x-title"] == "auto-router"


async def test_500_is_retried_once_then_fails_over(configured: Paths, clock: Clock) -> None:
    rec = Recorder({"one.example": lambda r: httpx.Response(500, json={"error": "boom"})})
    pauses = Pauses()
    async with client_for(configured, rec, clock, pacing=pauses.pacing()) as (client, app):
        resp = await client.post("/v1/chat/completions", json=CHAT)
    assert resp.status_code == 200
    assert rec.hosts() == ["one.example", "one.example", "two.example"]
    assert pauses.asked == [0.25]  # the jitter's low end, injected
    assert resp.headers["x-auto-router-provider"] == "qwen/two"
    state = app.services.rotator.state("qwen")
    assert state.provider("one").failures == 2
    assert state.provider("one").cooldown_until is None  # an outage is not a usage limit
    assert state.current is None  # ... and moves nothing


@pytest.mark.parametrize(("status", "tries"), [(401, 1), (403, 1), (502, 2), (503, 2), (504, 1)])
async def test_auth_and_server_errors_fail_over(
    configured: Paths, clock: Clock, status: int, tries: int
) -> None:
    rec = Recorder({"one.example": lambda r: httpx.Response(status, text="nope")})
    async with client_for(configured, rec, clock) as (client, _):
        resp = await client.post("/v1/chat/completions", json=CHAT)
    assert resp.status_code == 200
    assert rec.hosts() == ["one.example"] * tries + ["two.example"]


async def test_429_puts_provider_in_cooldown_until_retry_after(
    configured: Paths, clock: Clock
) -> None:
    rec = Recorder(
        {
            "one.example": lambda r: httpx.Response(
                429, json={"error": {"message": "slow down"}}, headers={"retry-after": "120"}
            )
        }
    )
    async with client_for(configured, rec, clock) as (client, _):
        first = await client.post("/v1/chat/completions", json=CHAT)
        second = await client.post("/v1/chat/completions", json=CHAT)
    assert first.status_code == second.status_code == 200
    # the second request went straight to provider two: one is cooling down
    assert rec.hosts() == ["one.example", "two.example", "two.example"]
    # the state other processes see: a separate Rotator on the same files
    other = Rotator(configured, clock=clock)
    state = other.state("qwen")
    assert state.provider("one").cooldown_until == clock.now + 120
    assert other.current_provider_name("qwen") == "two"


async def test_usage_limit_body_without_429_rotates(configured: Paths, clock: Clock) -> None:
    rec = Recorder(
        {
            "one.example": lambda r: httpx.Response(
                403,
                json={"error": {"message": "You exceeded your current quota. Try again in 1m30s"}},
            )
        }
    )
    async with client_for(configured, rec, clock) as (client, app):
        resp = await client.post("/v1/chat/completions", json=CHAT)
    assert resp.status_code == 200
    assert app.services.rotator.state("qwen").provider("one").cooldown_until == clock.now + 90


async def test_client_error_is_passed_through_without_failover(
    configured: Paths, clock: Clock
) -> None:
    error = {"error": {"message": "bad messages", "type": "invalid_request_error"}}
    rec = Recorder({"one.example": lambda r: httpx.Response(400, json=error)})
    async with client_for(configured, rec, clock) as (client, _):
        resp = await client.post("/v1/chat/completions", json=CHAT)
    assert resp.status_code == 400
    assert resp.json() == error
    assert rec.hosts() == ["one.example"]


async def test_non_json_upstream_error_becomes_openai_shape(
    configured: Paths, clock: Clock
) -> None:
    rec = Recorder({"one.example": lambda r: httpx.Response(404, text="<html>nope</html>")})
    async with client_for(configured, rec, clock) as (client, _):
        resp = await client.post("/v1/chat/completions", json=CHAT)
    assert resp.status_code == 404
    assert resp.json()["error"]["message"] == "<html>nope</html>"


async def test_everything_failing_gives_503_listing_attempts(
    configured: Paths, clock: Clock
) -> None:
    def limited(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            429, json={"error": {"message": "quota"}}, headers={"retry-after": "60"}
        )

    rec = Recorder({"one.example": limited, "two.example": limited})
    async with client_for(configured, rec, clock) as (client, _):
        resp = await client.post("/v1/chat/completions", json=CHAT)
        again = await client.post("/v1/chat/completions", json=CHAT)
    assert resp.status_code == 503
    error = resp.json()["error"]
    assert error["code"] == "ALL_PROVIDERS_EXHAUSTED"
    assert [(a["provider"], a["status"]) for a in error["attempts"]] == [("one", 429), ("two", 429)]
    assert error["retry_after"] == 60
    assert resp.headers["retry-after"] == "60"
    assert again.status_code == 503  # nothing tried: both cooling
    assert again.json()["error"]["attempts"] == []
    assert again.json()["error"]["available_at"] is not None
    assert len(rec.requests) == 2
    assert "sk-one" not in resp.text and "sk-two" not in resp.text


async def test_connection_error_on_last_provider_is_502(configured: Paths, clock: Clock) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused")

    rec = Recorder({"one.example": refuse})
    async with client_for(configured, rec, clock) as (client, _):
        resp = await client.post(
            "/v1/chat/completions", json=CHAT, headers={"x-auto-router-provider": "one"}
        )
    assert resp.status_code == 502
    assert "connection refused" in resp.json()["error"]["message"]


async def test_timeout_on_last_provider_is_504(configured: Paths, clock: Clock) -> None:
    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out")

    rec = Recorder({"one.example": slow})
    async with client_for(configured, rec, clock) as (client, _):
        resp = await client.post(
            "/v1/chat/completions", json=CHAT, headers={"x-auto-router-provider": "qwen/one"}
        )
    assert resp.status_code == 504


async def test_stream_first_chunk_failure_fails_over(configured: Paths, clock: Clock) -> None:
    class Broken(httpx.AsyncByteStream):
        async def __aiter__(self) -> AsyncIterator[bytes]:
            raise httpx.ReadError("reset")
            yield b""  # pragma: no cover

    def broken(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, stream=Broken())

    def good(request: httpx.Request) -> httpx.Response:
        body = (
            b'data: {"choices":[]}\n\n'
            b'data: {"usage":{"prompt_tokens":4,"completion_tokens":2}}\n\n'
            b"data: [DONE]\n\n"
        )
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=body)

    rec = Recorder({"one.example": broken, "two.example": good})
    async with client_for(configured, rec, clock) as (client, _):
        resp = await client.post("/v1/chat/completions", json={**CHAT, "stream": True})
    assert resp.status_code == 200
    assert resp.text.endswith("data: [DONE]\n\n")
    assert rec.hosts() == ["one.example", "one.example", "two.example"]  # a reset: one retry


async def test_model_map_header_and_anthropic_endpoint(configured: Paths, clock: Clock) -> None:
    def anthropic(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, json={"type": "message", "model": "claude-sonnet", "content": []}
        )

    rec = Recorder({"anthropic.example": anthropic})
    async with client_for(configured, rec, clock) as (client, _):
        resp = await client.post(
            "/v1/messages",
            json={"model": "claude-sonnet", "max_tokens": 5, "messages": []},
            headers={"x-api-key": "client-key", "anthropic-version": "2023-01-01"},
        )
    assert resp.status_code == 200
    sent = rec.requests[0]
    assert str(sent.url) == "https://anthropic.example/v1/messages"
    assert sent.headers["x-api-key"] == "sk-ant-secret-key-999999"
    assert sent.headers["anthropic-version"] == "2023-01-01"  # the client's own wins
    assert "authorization" not in sent.headers


async def test_a_model_mapped_to_backend_slash_provider_goes_to_that_provider(
    configured: Paths, clock: Clock
) -> None:
    rec = Recorder({"one.example": ok_chat, "two.example": ok_chat})
    async with client_for(configured, rec, clock) as (client, _):
        pinned = await client.post("/v1/chat/completions", json={"model": "pinned-two"})
        other = await client.post("/v1/chat/completions", json={"model": "qwen3-coder-plus"})
    assert pinned.status_code == other.status_code == 200
    assert rec.hosts() == ["two.example", "one.example"]  # "one" stays current for the rest


async def test_messages_with_no_anthropic_provider_is_503_in_anthropic_format(
    configured: Paths, clock: Clock
) -> None:
    # translate = false: only providers of the client's own protocol may answer
    llm = configured.llm_config.read_text()
    configured.llm_config.write_text(
        llm.replace("[backends.qwen]\n", "[backends.qwen]\ntranslate = false\n")
    )
    rec = Recorder({})
    async with client_for(configured, rec, clock) as (client, _):
        resp = await client.post("/v1/messages", json={"model": "qwen3-coder", "messages": []})
    assert resp.status_code == 503
    body = resp.json()
    assert body["type"] == "error" and body["error"]["type"] == "overloaded_error"
    assert rec.requests == []


async def test_gemini_native_endpoint(configured: Paths, clock: Clock) -> None:
    def gemini(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200,
            json={"candidates": [], "usageMetadata": {"promptTokenCount": 2, "totalTokenCount": 3}},
        )

    rec = Recorder({"gemini.example": gemini})
    async with client_for(configured, rec, clock) as (client, _):
        resp = await client.post(
            "/v1beta/models/gemini-flash:generateContent?key=client-key&alt=json",
            json={"contents": []},
            headers={"x-goog-api-key": "client-key", "x-auto-router-backend": "gem"},
        )
    assert resp.status_code == 200
    sent = rec.requests[0]
    assert sent.url.path == "/v1beta/models/gemini-2.5-pro:generateContent"
    assert sent.url.query == b"alt=json"
    assert sent.headers["x-goog-api-key"] == "AIzaSecretGoogleKey1234567890"


async def test_unknown_backend_header_is_400(configured: Paths, clock: Clock) -> None:
    async with client_for(configured, Recorder({}), clock) as (client, _):
        resp = await client.post(
            "/v1/chat/completions", json=CHAT, headers={"x-auto-router-backend": "nope"}
        )
        missing = await client.post(
            "/v1/chat/completions", json=CHAT, headers={"x-auto-router-provider": "nope"}
        )
        bad = await client.post("/v1/chat/completions", content=b"{not json")
    assert resp.status_code == 400
    assert resp.json()["error"]["code"] == "BACKEND_NOT_FOUND"
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "PROVIDER_NOT_FOUND"
    assert bad.status_code == 400


async def test_probes_health_and_unknown_paths(configured: Paths, clock: Clock) -> None:
    async with client_for(configured, Recorder({}), clock) as (client, _):
        head = await client.head("/")
        ws = await client.get("/v1/responses", headers={"upgrade": "websocket"})
        health = await client.get("/health")
        unknown = await client.post("/v1/nothing", json={})
    assert head.status_code == 200
    assert ws.status_code == 426
    assert health.status_code == 200
    backends = {b["name"]: b for b in health.json()["backends"]}
    assert backends["qwen"]["current"] == "one"
    assert [p["status"] for p in backends["qwen"]["providers"]] == ["current", "ready"]
    assert "secret" not in health.text.lower()
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "not_found"


async def test_client_tokens_are_enforced(home: Paths, clock: Clock) -> None:
    write_config(home, LLM + '\n[proxy]\nclient_tokens = ["tok-123"]\n', META)
    async with client_for(home, Recorder({}), clock) as (client, _):
        refused = await client.post("/v1/chat/completions", json=CHAT)
        wrong = await client.post(
            "/v1/chat/completions", json=CHAT, headers={"authorization": "Bearer nope"}
        )
        allowed = await client.post(
            "/v1/chat/completions", json=CHAT, headers={"authorization": "Bearer tok-123"}
        )
        anthropic_style = await client.post(
            "/v1/chat/completions", json=CHAT, headers={"x-api-key": "tok-123"}
        )
    assert refused.status_code == wrong.status_code == 401
    assert allowed.status_code == anthropic_style.status_code == 200


async def test_switch_by_another_process_changes_the_very_next_request(
    configured: Paths, clock: Clock
) -> None:
    rec = Recorder({})
    async with client_for(configured, rec, clock) as (client, _):
        await client.post("/v1/chat/completions", json=CHAT)
        code = (
            "import sys; from auto_router import Rotator, resolve_paths; "
            "Rotator(resolve_paths(sys.argv[1])).set_current('qwen', 'two')"
        )
        subprocess.run([sys.executable, "-c", code, str(configured.config_dir)], check=True)
        await client.post("/v1/chat/completions", json=CHAT)
        Rotator(configured).set_current("qwen", "one")  # and back, from this process
        await client.post("/v1/chat/completions", json=CHAT)
    assert rec.hosts() == ["one.example", "two.example", "one.example"]


async def test_config_edit_is_picked_up(configured: Paths, clock: Clock) -> None:
    rec = Recorder({})
    async with client_for(configured, rec, clock) as (client, _):
        await client.post("/v1/chat/completions", json=CHAT)
        text = configured.provider_metadata.read_text().replace("one.example", "uno.example")
        configured.provider_metadata.write_text(text + "\n# edited\n")
        await client.post("/v1/chat/completions", json=CHAT)
    assert rec.hosts() == ["one.example", "uno.example"]


async def test_repeated_outages_open_the_circuit_and_move_nothing(
    home: Paths, clock: Clock
) -> None:
    write_config(home, LLM + "\n[proxy]\nfailure_threshold = 2\nfailure_cooldown = 30\n", META)
    rec = Recorder({"one.example": lambda r: httpx.Response(500, text="down")})
    async with client_for(home, rec, clock) as (client, app):
        for _ in range(3):
            assert (await client.post("/v1/chat/completions", json=CHAT)).status_code == 200
    # two failures in a row (a try and its retry) open one's circuit; then it is skipped
    assert rec.hosts() == [
        "one.example",
        "one.example",
        "two.example",
        "two.example",
        "two.example",
    ]
    state = app.services.rotator.state("qwen").provider("one")
    assert state.circuit_until == clock.now + 30 and state.circuit(clock.now) == "open"
    assert state.cooldown_until is None
    assert app.services.rotator.current_provider_name("qwen") == "one"  # still preferred


def test_secret_free_repr_of_targets(configured: Paths) -> None:
    app = create_app(ProxyOptions(paths=configured))
    snap = app.services.router.snapshot()
    text = repr(snap.targets)
    assert "sk-one-secret" not in text and "AIzaSecret" not in text


def test_bad_proxy_settings_fail_at_start(home: Paths) -> None:
    from auto_router.errors import ConfigValidationError

    write_config(home, LLM + "\n[proxy]\nmax_attempts = 0\n", META)
    with pytest.raises(ConfigValidationError, match="max_attempts"):
        create_app(ProxyOptions(paths=home))


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ('"qwen/nope"', "backend 'qwen' has no provider 'nope'"),
        ('"ghost"', "'ghost' is not defined"),
    ],
)
def test_model_map_entries_must_name_what_exists(home: Paths, target: str, message: str) -> None:
    from auto_router.errors import ConfigValidationError

    write_config(home, LLM.replace('"pinned-two" = "qwen/two"', f'"pinned-two" = {target}'), META)
    with pytest.raises(ConfigValidationError, match=message):
        create_app(ProxyOptions(paths=home))


THREE = """
[backends.qwen]
providers = ["one", "two", "three"]
"""
THREE_META = """
[qwen.one]
base_url = "https://one.example/v1"
[qwen.two]
base_url = "https://two.example/v1"
[qwen.three]
base_url = "https://three.example/v1"
"""


async def test_a_pinned_provider_running_out_leaves_the_backends_current_provider(
    home: Paths, clock: Clock
) -> None:
    write_config(home, THREE, THREE_META)

    def limited(request: httpx.Request) -> httpx.Response:
        return httpx.Response(429, json={"error": "quota"}, headers={"retry-after": "600"})

    rec = Recorder({"two.example": limited})
    async with client_for(home, rec, clock) as (client, app):
        rotator = app.services.rotator
        assert rotator.current_provider_name("qwen") == "one"
        resp = await client.post(
            "/v1/chat/completions", json=CHAT, headers={"x-auto-router-provider": "qwen/two"}
        )
        assert resp.status_code == 429
        assert rec.hosts() == ["two.example"]  # a pinned request goes nowhere else
        # "three" follows "two": it would be current now if the pin had moved the backend.
        assert rotator.current_provider_name("qwen") == "one"
        assert rotator.state("qwen").provider("two").cooldown_until == clock() + 600
        resp = await client.post("/v1/chat/completions", json=CHAT)
    assert resp.headers["x-auto-router-provider"] == "qwen/one"
