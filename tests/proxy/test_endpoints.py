"""Each routed endpoint on its own, through ``httpx.ASGITransport`` with mock upstreams:
Responses API, embeddings, legacy completions, Gemini native, Anthropic rate limits,
``GET /v1/models``, and a client that goes away while the upstream is still thinking."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import structlog

from auto_router.limits import upstream as limits
from auto_router.paths import Paths
from auto_router.proxy import ProxyApp, ProxyOptions, create_app, relay
from auto_router.proxy.errors import stream_error_event
from auto_router.proxy.httpx_upstream import HttpxUpstream
from auto_router.rotation.service import Rotator
from auto_router.store.requests import RequestFilter, RequestRecord, read_requests

from . import wire
from .conftest import Clock, write_config
from .test_forward import Recorder, client_for

pytestmark = pytest.mark.anyio

LLM = """
[backends.qwen]
model = "qwen3-coder-plus"
providers = ["one", "two"]

[backends.claude]
providers = ["first", "second"]

[backends.gem]
providers = ["g1", "g2"]

[message_backend]
default = "qwen"
order = ["qwen"]

[proxy.models]
"claude-sonnet" = "claude"
"gemini-flash" = "gem"
"""
META = """
[qwen.one]
base_url = "https://one.example/v1"
api_key = "sk-one-secret-key-123456"
model = "one-model"
responses = true

[qwen.two]
base_url = "https://two.example/v1"
api_key = "sk-two-secret-key-654321"
responses = true

[claude.first]
type = "anthropic"
base_url = "https://first.example"
api_key = "sk-ant-first-key-111111"
model = "claude-upstream"

[claude.second]
type = "anthropic"
base_url = "https://second.example"
api_key = "sk-ant-second-key-222222"

[gem.g1]
type = "gemini"
base_url = "https://g1.example"
api_key = "AIzaFirstGoogleKey123456789012"
model = "gemini-2.5-pro"

[gem.g2]
type = "gemini"
base_url = "https://g2.example"
api_key = "AIzaSecondGoogleKey12345678901"
"""


@pytest.fixture
def configured(home: Paths) -> Paths:
    write_config(home, LLM, META)
    return home


def logged(home: Paths) -> list[RequestRecord]:
    """The request log, oldest first (the lifespan flushed it on the way out)."""
    return list(reversed(read_requests(home, RequestFilter(limit=100))))


def sse(body: bytes) -> httpx.Response:
    return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=body)


class Chunks(httpx.AsyncByteStream):
    """A streamed upstream body; ``fail`` raises after the chunks (a connection reset)."""

    def __init__(self, chunks: list[bytes], *, fail: bool = False) -> None:
        self.chunks = chunks
        self.fail = fail

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self.chunks:
            yield chunk
        if self.fail:
            raise httpx.ReadError("connection reset by peer")


def streamed(chunks: list[bytes], *, fail: bool = False, ctype: str = "text/event-stream") -> Any:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, headers={"content-type": ctype}, stream=Chunks(chunks, fail=fail)
        )

    return handler


def limited(request: httpx.Request) -> httpx.Response:
    return httpx.Response(
        429, json={"error": {"message": "Rate limit reached"}}, headers={"retry-after": "30"}
    )


# ------------------------------------------------------------------ Responses API


def responses_ok(request: httpx.Request) -> httpx.Response:
    data = json.loads(request.content)
    if data.get("stream"):
        return sse(wire.responses_sse(data["model"], ["Hel", "lo"]))
    return httpx.Response(
        200, json=wire.response_object(data["model"], "Hello", usage=wire.RESPONSES_USAGE)
    )


async def test_responses_model_rewritten_and_usage_logged(configured: Paths, clock: Clock) -> None:
    rec = Recorder({"one.example": responses_ok})
    async with client_for(configured, rec, clock) as (client, _):
        resp = await client.post("/v1/responses", json={"model": "qwen3-coder", "input": "hi"})
    assert resp.status_code == 200
    assert str(rec.requests[0].url) == "https://one.example/v1/responses"
    assert json.loads(rec.requests[0].content)["model"] == "one-model"
    assert resp.json()["model"] == "one-model"  # the model that answered
    assert resp.json()["output"][0]["content"][0]["text"] == "Hello"
    (row,) = logged(configured)
    assert (row.endpoint, row.client_model, row.upstream_model) == (
        "responses",
        "qwen3-coder",
        "one-model",
    )
    assert (row.prompt_tokens, row.completion_tokens, row.total_tokens) == (12, 5, 17)


async def test_responses_stream_usage_from_response_completed(
    configured: Paths, clock: Clock
) -> None:
    rec = Recorder({"one.example": responses_ok})
    body = {"model": "qwen3-coder", "input": "hi", "stream": True}
    async with client_for(configured, rec, clock) as (client, _):
        resp = await client.post("/v1/responses", json=body)
    assert resp.status_code == 200
    assert resp.content == wire.responses_sse("one-model", ["Hel", "lo"])  # relayed unchanged
    (row,) = logged(configured)
    assert row.stream is True
    # response.created carries "usage": null; the numbers come from response.completed
    assert (row.prompt_tokens, row.completion_tokens, row.total_tokens) == (12, 5, 17)


async def test_responses_stream_fails_over_on_429_before_the_first_byte(
    configured: Paths, clock: Clock
) -> None:
    rec = Recorder({"one.example": limited, "two.example": responses_ok})
    body = {"model": "qwen3-coder", "input": "hi", "stream": True}
    async with client_for(configured, rec, clock) as (client, _):
        resp = await client.post("/v1/responses", json=body)
    assert resp.status_code == 200
    assert rec.hosts() == ["one.example", "two.example"]
    assert b"event: response.completed" in resp.content
    state = Rotator(configured, clock=clock).state("qwen")
    assert state.provider("one").cooldown_until == clock.now + 30


async def test_responses_stream_dying_midway_ends_with_a_responses_error_event(
    configured: Paths, clock: Clock
) -> None:
    events = wire.responses_sse("m", ["a", "b", "c"]).split(b"\n\n")
    sent = [e + b"\n\n" for e in events[:4]]
    rec = Recorder({"one.example": streamed(sent, fail=True)})
    body = {"model": "qwen3-coder", "input": "hi", "stream": True}
    async with client_for(configured, rec, clock) as (client, _):
        resp = await client.post("/v1/responses", json=body)
    assert resp.status_code == 200
    assert resp.content.startswith(b"".join(sent))
    last = resp.content[len(b"".join(sent)) :]
    assert last.startswith(b"event: error\ndata: ")
    error = json.loads(last.split(b"data: ", 1)[1])
    assert error["type"] == "error"
    assert error["code"] == "upstream_stream_error"
    assert "connection reset" in error["message"]
    assert error["sequence_number"] == 4  # continues the upstream's numbering
    assert rec.hosts() == ["one.example"]  # no failover after the first byte
    (row,) = logged(configured)
    assert row.error is not None and "stream broke" in row.error


def test_error_event_after_a_partial_event_starts_a_new_event() -> None:
    cut = b'event: response.output_text.delta\ndata: {"type":"response.output_text.del'
    event = stream_error_event("responses", "broke", tail=cut)
    assert event.startswith(b"\n\nevent: error\n")
    whole = stream_error_event("responses", "broke", tail=b"data: {}\r\n\r\n")
    assert whole.startswith(b"event: error\n")
    assert (
        json.loads(stream_error_event("responses", "x").split(b"data: ")[1])["sequence_number"] == 0
    )


# ------------------------------------------------------- embeddings and completions


def openai_ok(request: httpx.Request) -> httpx.Response:
    data = json.loads(request.content)
    if request.url.path.endswith("/embeddings"):
        return httpx.Response(200, json=wire.embedding_response(data["model"], None))
    return httpx.Response(200, json=wire.completion_response(data["model"]))


@pytest.mark.parametrize(
    ("path", "body", "usage"),
    [
        ("/v1/embeddings", {"model": "qwen3-coder", "input": "hi"}, (8, None, 8)),
        ("/v1/completions", {"model": "qwen3-coder", "prompt": "hello"}, (4, 2, 6)),
    ],
)
async def test_embeddings_and_completions_pass_through(
    configured: Paths, clock: Clock, path: str, body: dict[str, Any], usage: tuple[int, ...]
) -> None:
    rec = Recorder({"one.example": openai_ok, "two.example": openai_ok})
    async with client_for(configured, rec, clock) as (client, _):
        rewritten = await client.post(path, json=body)
        untouched = await client.post(path, json=body, headers={"x-auto-router-provider": "two"})
    assert rewritten.status_code == untouched.status_code == 200
    first, second = rec.requests
    assert str(first.url) == f"https://one.example{path}"
    assert json.loads(first.content)["model"] == "one-model"
    assert rewritten.json()["model"] == "one-model"
    assert rewritten.headers["x-auto-router-model"] == "one-model"
    # provider two sets no model: the client's bytes go up and the answer comes back as is
    assert json.loads(second.content) == body
    assert untouched.json()["model"] == "qwen3-coder"
    rows = logged(configured)
    assert [(r.prompt_tokens, r.completion_tokens, r.total_tokens) for r in rows] == [usage] * 2
    assert rows[0].upstream_model == "one-model"


async def test_embeddings_fail_over_on_500(configured: Paths, clock: Clock) -> None:
    down = httpx.Response(500, json={"error": {"message": "internal"}})
    rec = Recorder({"one.example": lambda r: down, "two.example": openai_ok})
    async with client_for(configured, rec, clock) as (client, _):
        resp = await client.post("/v1/embeddings", json={"model": "qwen3-coder", "input": "x"})
    assert resp.status_code == 200
    assert rec.hosts() == ["one.example", "one.example", "two.example"]  # one retry first
    assert resp.json()["data"][0]["embedding"] == [0.25, -0.5, 1.0]


# ----------------------------------------------------------------- Gemini native


def gemini_ok(request: httpx.Request) -> httpx.Response:
    action = request.url.path.rsplit(":", 1)[1]
    if action == "countTokens":
        return httpx.Response(200, json={"totalTokens": 31})
    if action == "streamGenerateContent":
        if request.url.params.get("alt") == "sse":
            return httpx.Response(
                200,
                headers={"content-type": "text/event-stream"},
                stream=Chunks(wire.gemini_sse(["Hel", "lo"])),
            )
        return httpx.Response(
            200,
            headers={"content-type": "application/json"},
            stream=Chunks(wire.gemini_array(["Hel", "lo"])),
        )
    return httpx.Response(200, json=wire.gemini_chunk("Hello", 1))


GEMINI_BODY = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}


async def test_gemini_stream_with_alt_sse(configured: Paths, clock: Clock) -> None:
    rec = Recorder({"g1.example": gemini_ok})
    async with client_for(configured, rec, clock) as (client, _):
        resp = await client.post(
            "/v1beta/models/gemini-flash:streamGenerateContent?alt=sse",
            json=GEMINI_BODY,
            headers={"x-goog-api-key": "client-key"},
        )
    assert resp.status_code == 200
    assert resp.headers["content-type"] == "text/event-stream"
    assert resp.content == b"".join(wire.gemini_sse(["Hel", "lo"]))
    sent = rec.requests[0]
    assert sent.url.path == "/v1beta/models/gemini-2.5-pro:streamGenerateContent"
    assert sent.url.query == b"alt=sse"
    assert sent.headers["x-goog-api-key"] == "AIzaFirstGoogleKey123456789012"
    (row,) = logged(configured)
    assert (row.stream, row.client_model, row.upstream_model) == (
        True,
        "gemini-flash",
        "gemini-2.5-pro",
    )
    assert (row.prompt_tokens, row.completion_tokens, row.total_tokens) == (4, 2, 6)


async def test_gemini_stream_without_alt_is_a_json_array(configured: Paths, clock: Clock) -> None:
    rec = Recorder({"g1.example": gemini_ok})
    async with client_for(configured, rec, clock) as (client, _):
        resp = await client.post(
            "/v1beta/models/gemini-flash:streamGenerateContent", json=GEMINI_BODY
        )
    assert resp.status_code == 200
    assert [c["candidates"][0]["content"]["parts"][0]["text"] for c in resp.json()] == ["Hel", "lo"]
    assert rec.requests[0].url.query == b""


async def test_gemini_array_stream_dying_midway_ends_as_valid_json(
    configured: Paths, clock: Clock
) -> None:
    chunks = wire.gemini_array(["a", "b", "c"])[:2]
    rec = Recorder({"g1.example": streamed(chunks, fail=True, ctype="application/json")})
    async with client_for(configured, rec, clock) as (client, _):
        resp = await client.post(
            "/v1beta/models/gemini-flash:streamGenerateContent", json=GEMINI_BODY
        )
    elements = resp.json()  # still one JSON array: the error is its last element
    assert [e["candidates"][0]["content"]["parts"][0]["text"] for e in elements[:2]] == ["a", "b"]
    assert elements[2]["error"]["status"] == "UNAVAILABLE"
    assert "connection reset" in elements[2]["error"]["message"]


async def test_gemini_sse_stream_dying_midway_ends_with_an_error_event(
    configured: Paths, clock: Clock
) -> None:
    rec = Recorder({"g1.example": streamed(wire.gemini_sse(["a"]), fail=True)})
    async with client_for(configured, rec, clock) as (client, _):
        resp = await client.post(
            "/v1beta/models/gemini-flash:streamGenerateContent?alt=sse", json=GEMINI_BODY
        )
    last = resp.content.split(b"\r\n\r\n")[-1]
    assert last.startswith(b"data: ")
    assert json.loads(last[6:])["error"]["code"] == 502


async def test_gemini_count_tokens(configured: Paths, clock: Clock) -> None:
    rec = Recorder({"g1.example": gemini_ok})
    async with client_for(configured, rec, clock) as (client, _):
        resp = await client.post("/v1beta/models/gemini-flash:countTokens", json=GEMINI_BODY)
    assert resp.status_code == 200
    assert resp.json() == {"totalTokens": 31}
    assert rec.requests[0].url.path == "/v1beta/models/gemini-2.5-pro:countTokens"
    assert logged(configured)[0].stream is False


async def test_gemini_key_in_query_is_checked_but_never_forwarded_nor_logged(
    home: Paths, clock: Clock
) -> None:
    write_config(
        home,
        LLM + '\n[proxy]\nclient_tokens = ["tok-gemini-client-77"]\n'
        "[proxy.request_log]\nbodies = true\n",
        META,
    )
    rec = Recorder({"g1.example": gemini_ok})
    path = "/v1beta/models/gemini-flash:streamGenerateContent"
    with structlog.testing.capture_logs() as logs:
        async with client_for(home, rec, clock) as (client, _):
            ok = await client.post(f"{path}?alt=sse&key=tok-gemini-client-77", json=GEMINI_BODY)
            wrong = await client.post(f"{path}?key=nope&alt=sse", json=GEMINI_BODY)
    assert ok.status_code == 200
    assert wrong.status_code == 401
    assert wrong.json()["error"]["status"] == "UNAUTHENTICATED"  # Gemini's own error shape
    (sent,) = rec.requests
    assert sent.url.query == b"alt=sse"
    assert "tok-gemini-client-77" not in str(sent.url) + str(sent.headers)
    rows = logged(home)
    assert len(rows) == 2
    assert "tok-gemini" not in repr(logs) + repr([r.to_json() for r in rows])


def gemini_limited(request: httpx.Request) -> httpx.Response:
    return httpx.Response(429, content=json.dumps(wire.gemini_exhausted("38s"), indent=2))


async def test_gemini_429_resource_exhausted_cools_down_until_retry_delay(
    configured: Paths, clock: Clock
) -> None:
    rec = Recorder({"g1.example": gemini_limited, "g2.example": gemini_ok})
    async with client_for(configured, rec, clock) as (client, _):
        resp = await client.post(
            "/v1beta/models/gemini-flash:streamGenerateContent?alt=sse", json=GEMINI_BODY
        )
        again = await client.post("/v1beta/models/gemini-flash:generateContent", json=GEMINI_BODY)
    assert resp.status_code == again.status_code == 200
    assert rec.hosts() == ["g1.example", "g2.example", "g2.example"]
    # g2 sets no model: the model from the client's path goes up unchanged
    assert rec.requests[1].url.path == "/v1beta/models/gemini-flash:streamGenerateContent"
    state = Rotator(configured, clock=clock).state("gem")
    assert state.provider("g1").cooldown_until == clock.now + 38


async def test_gemini_nothing_left_is_a_gemini_format_503(configured: Paths, clock: Clock) -> None:
    # the OpenAI-type backend would answer through translation: not with translate = false
    llm = configured.llm_config.read_text()
    configured.llm_config.write_text(
        llm.replace("[backends.qwen]\n", "[backends.qwen]\ntranslate = false\n")
    )
    rec = Recorder({"g1.example": gemini_limited, "g2.example": gemini_limited})
    async with client_for(configured, rec, clock) as (client, _):
        resp = await client.post(
            "/v1beta/models/gemini-flash:streamGenerateContent?alt=sse", json=GEMINI_BODY
        )
    assert resp.status_code == 503
    error = resp.json()["error"]
    assert error["code"] == 503 and error["status"] == "UNAVAILABLE"
    assert [a["provider"] for a in error["attempts"]] == ["g1", "g2"]
    assert error["retry_after"] == 38
    assert resp.headers["retry-after"] == "38"
    assert "AIza" not in resp.text


async def test_gemini_single_provider_429_passes_google_body_through(
    configured: Paths, clock: Clock
) -> None:
    rec = Recorder({"g1.example": gemini_limited})
    async with client_for(configured, rec, clock) as (client, _):
        resp = await client.post(
            "/v1beta/models/gemini-flash:generateContent",
            json=GEMINI_BODY,
            headers={"x-auto-router-provider": "gem/g1"},
        )
    assert resp.status_code == 429
    assert resp.json()["error"]["status"] == "RESOURCE_EXHAUSTED"


# ------------------------------------------------------------------- Anthropic


def anthropic_ok(request: httpx.Request) -> httpx.Response:
    data = json.loads(request.content)
    return httpx.Response(200, json=wire.anthropic_message(data["model"]))


MESSAGE = {
    "model": "claude-sonnet",
    "max_tokens": 5,
    "messages": [{"role": "user", "content": "hi"}],
}


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"retry-after": "17"}, 17),
        (
            {
                "anthropic-ratelimit-requests-limit": "50",
                "anthropic-ratelimit-requests-remaining": "0",
                "anthropic-ratelimit-requests-reset": "2027-01-15T08:00:45Z",
                "anthropic-ratelimit-tokens-remaining": "9000",
                "anthropic-ratelimit-tokens-reset": "2027-01-15T08:00:05Z",
            },
            45,
        ),
    ],
)
async def test_anthropic_429_cools_down_until_its_reset(
    configured: Paths, headers: dict[str, str], seconds: int
) -> None:
    clock = Clock(1_800_000_000.0)  # 2027-01-15T08:00:00Z
    assert clock.now == 1_800_000_000

    def rate_limited(request: httpx.Request) -> httpx.Response:
        return httpx.Response(429, json=wire.anthropic_rate_limited(), headers=headers)

    rec = Recorder({"first.example": rate_limited, "second.example": anthropic_ok})
    async with client_for(configured, rec, clock) as (client, _):
        resp = await client.post("/v1/messages", json=MESSAGE)
    assert resp.status_code == 200
    assert resp.json()["model"] == "claude-sonnet"
    assert rec.hosts() == ["first.example", "second.example"]
    state = Rotator(configured, clock=clock).state("claude")
    assert state.provider("first").cooldown_until == clock.now + seconds


def test_rate_limit_headers_pick_the_exhausted_limit() -> None:
    now = 1_000.0
    openai_style = {"x-ratelimit-remaining-tokens": "0", "x-ratelimit-reset-tokens": "6m0s",
                    "x-ratelimit-remaining-requests": "10", "x-ratelimit-reset-requests": "20ms"}  # fmt: skip
    assert limits.ratelimit_reset(openai_style, now) == now + 360
    assert limits.reset_time({"x-ratelimit-reset-requests": "1.5s"}, "", now) == now + 1.5
    assert limits.ratelimit_reset({"anthropic-ratelimit-tokens-reset": "garbage"}, now) is None
    # Retry-After wins over everything else
    both = {"retry-after": "3", "anthropic-ratelimit-requests-reset": "2027-01-15T08:00:45Z"}
    assert limits.reset_time(both, "", now) == now + 3


async def test_anthropic_stream_dying_midway_ends_with_event_error(
    configured: Paths, clock: Clock
) -> None:
    data, names = wire.anthropic_events("claude-upstream", ["a", "b"])
    frames = [f"event: {n}\ndata: {d}\n\n".encode() for d, n in zip(data, names, strict=True)]
    rec = Recorder({"first.example": streamed(frames[:3], fail=True)})
    async with client_for(configured, rec, clock) as (client, _):
        resp = await client.post("/v1/messages", json={**MESSAGE, "stream": True})
    last = resp.content.split(b"\n\n")[-2]
    assert last.startswith(b"event: error\ndata: ")
    assert json.loads(last.split(b"data: ", 1)[1])["error"]["type"] == "api_error"
    # the second provider was asked to continue, but answered with no stream
    assert rec.hosts() == ["first.example", "second.example"]


# --------------------------------------------------------------------- models


async def test_models_list_query_forwarded_without_a_key(configured: Paths, clock: Clock) -> None:
    def models(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"object": "list", "data": [{"id": "m1"}]})

    rec = Recorder({"one.example": models})
    async with client_for(configured, rec, clock) as (client, _):
        resp = await client.get("/v1/models?limit=5&key=client-secret-key")
    assert resp.status_code == 200
    assert resp.json()["data"] == [{"id": "m1"}]
    assert str(rec.requests[0].url) == "https://one.example/v1/models?limit=5"


# ------------------------------------------- client gone while the upstream thinks


@contextlib.asynccontextmanager
async def thinking_app(home: Paths, clock: Clock, handler: Any) -> AsyncIterator[ProxyApp]:
    app = create_app(
        ProxyOptions(
            paths=home,
            config_interval=0.0,
            clock=clock,
            upstream_client=HttpxUpstream(httpx.MockTransport(handler)),
        )
    )
    async with app.starlette.router.lifespan_context(app.starlette):
        yield app
        await app.proxy.drain()


class AsgiClient:
    """Drives the app by hand: the request body, then ``http.disconnect`` once ``gone``."""

    def __init__(self, body: dict[str, Any]) -> None:
        self.messages = [{"type": "http.request", "body": json.dumps(body).encode()}]
        self.gone = asyncio.Event()
        self.sent: list[dict[str, Any]] = []

    async def receive(self) -> dict[str, Any]:
        if self.messages:
            return self.messages.pop(0)
        await self.gone.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: dict[str, Any]) -> None:
        self.sent.append(message)

    def call(self, app: ProxyApp) -> asyncio.Task[None]:
        scope = {
            "type": "http",
            "method": "POST",
            "path": "/v1/chat/completions",
            "query_string": b"",
            "headers": [(b"host", b"localhost"), (b"content-type", b"application/json")],
        }
        return asyncio.ensure_future(app(scope, self.receive, self.send))  # type: ignore[arg-type]


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("watch_after", [0.0, None])
async def test_client_gone_while_upstream_thinks_cancels_the_upstream_request(
    configured: Paths,
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
    stream: bool,
    watch_after: float | None,
) -> None:
    if watch_after is not None:
        monkeypatch.setattr(relay, "WATCH_AFTER", watch_after)
    asked = asyncio.Event()
    cancelled = asyncio.Event()

    async def thinking(request: httpx.Request) -> httpx.Response:
        asked.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise
        raise AssertionError("unreachable")  # pragma: no cover

    client = AsgiClient({"model": "m", "messages": [], "stream": stream})
    async with thinking_app(configured, clock, thinking) as app:
        task = client.call(app)
        await asyncio.wait_for(asked.wait(), 10)
        client.gone.set()
        await asyncio.wait_for(task, 10)  # the handler returned: nothing hangs
        assert cancelled.is_set(), "the upstream request was left running"
        assert client.sent == []  # nobody to answer
        assert Rotator(configured, clock=clock).state("qwen").provider("one").failures == 0
    (row,) = logged(configured)
    assert row.status == 499 and row.error == "client disconnected before the answer"
    assert row.attempts == 1


async def test_a_watched_request_still_answers_and_streams(
    configured: Paths, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The watcher is stopped before the answer: the stream's own watcher reads receive()."""
    monkeypatch.setattr(relay, "WATCH_AFTER", 0.0)

    async def slow(request: httpx.Request) -> httpx.Response:
        for _ in range(5):
            await asyncio.sleep(0)  # let the watcher start and wait on receive()
        body = json.loads(request.content)
        if body.get("stream"):
            return sse(b'data: {"choices":[]}\n\ndata: [DONE]\n\n')
        return httpx.Response(200, json={"model": body["model"], "choices": []})

    async with thinking_app(configured, clock, slow) as app:
        for stream in (False, True):
            client = AsgiClient({"model": "m", "messages": [], "stream": stream})
            await asyncio.wait_for(client.call(app), 10)
            assert client.sent[0]["status"] == 200
            assert not client.sent[-1].get("more_body")
    assert [r.status for r in logged(configured)] == [200, 200]


async def test_server_shutdown_cancellation_is_not_swallowed(
    configured: Paths, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(relay, "WATCH_AFTER", 0.0)
    asked = asyncio.Event()

    async def thinking(request: httpx.Request) -> httpx.Response:
        asked.set()
        await asyncio.Event().wait()
        raise AssertionError("unreachable")  # pragma: no cover

    client = AsgiClient({"model": "m", "messages": []})
    async with thinking_app(configured, clock, thinking) as app:
        task = client.call(app)
        await asyncio.wait_for(asked.wait(), 10)
        task.cancel()  # not the client: the server going down
        with pytest.raises(asyncio.CancelledError):
            await task
