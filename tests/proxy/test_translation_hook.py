"""The translation hook in the data path: model_map, refusals, logging, broken streams."""

from __future__ import annotations

import json

import httpx
import pytest
from structlog.testing import capture_logs

from auto_router.paths import Paths
from auto_router.providers.templates import get_template
from auto_router.proxy import translation
from auto_router.proxy.httpx_upstream import HttpxUpstream
from auto_router.proxy.translation import Route, prepare

from .conftest import Clock, write_config
from .test_forward import Recorder, client_for

pytestmark = pytest.mark.anyio

LLM = '[backends.pool]\nproviders = ["up"]\n\n[message_backend]\ndefault = "pool"\n'
META = """
[pool.up]
base_url = "https://up.example/v1"
api_key = "sk-up-secret-key-123456"
model = "fallback-model"
[pool.up.model_map]
"claude-*" = "glob-model"
"claude-exact" = "exact-model"
"""


def chat_reply(request: httpx.Request) -> httpx.Response:
    body = json.loads(request.content)
    return httpx.Response(200, json={
        "id": "c1", "object": "chat.completion", "created": 1, "model": body["model"],
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}})  # fmt: skip


async def test_model_map_exact_names_before_globs_then_the_providers_model(
    home: Paths, clock: Clock
) -> None:
    write_config(home, LLM, META)
    rec = Recorder({"up.example": chat_reply})
    async with client_for(home, rec, clock) as (client, _):
        for model in ("claude-exact", "claude-haiku", "gpt-4o"):
            body = {
                "model": model,
                "max_tokens": 5,
                "messages": [{"role": "user", "content": "hi"}],
            }
            resp = await client.post("/v1/messages", json=body)
            assert resp.status_code == 200
            assert resp.json()["model"] == model  # the client's name comes back
    sent = [json.loads(r.content)["model"] for r in rec.requests]
    assert sent == ["exact-model", "glob-model", "fallback-model"]


async def test_an_untranslatable_request_is_a_400_in_the_clients_format(
    home: Paths, clock: Clock
) -> None:
    write_config(home, LLM, META)
    rec = Recorder({"up.example": chat_reply})
    async with client_for(home, rec, clock) as (client, _):
        resp = await client.post(
            "/v1/messages", json={"model": "m", "max_tokens": 5, "messages": ["hi"]}
        )
    assert resp.status_code == 400
    assert resp.json()["type"] == "error"
    assert "messages[0]: expected an object" in resp.json()["error"]["message"]
    assert rec.requests == []


async def test_a_translated_stream_that_breaks_ends_with_the_clients_error_event(
    home: Paths, clock: Clock
) -> None:
    class Broken(httpx.AsyncByteStream):
        async def __aiter__(self):  # type: ignore[no-untyped-def]
            yield b'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"Hel"},"finish_reason":null}]}\n\n'
            raise httpx.ReadError("connection reset by peer")

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, stream=Broken())

    write_config(home, LLM, META)
    rec = Recorder({"up.example": handler})
    async with client_for(home, rec, clock) as (client, _):
        body = {
            "model": "m",
            "max_tokens": 5,
            "stream": True,
            "messages": [{"role": "user", "content": "hi"}],
        }
        resp = await client.post("/v1/messages", json=body)
    text = resp.text
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/event-stream")
    assert text.startswith("event: message_start")
    assert '"text":"Hel"' in text
    name, data = text.rstrip().splitlines()[-2:]
    assert name == "event: error"
    error = json.loads(data.removeprefix("data: "))
    assert error["type"] == "error" and "connection reset by peer" in error["error"]["message"]


def test_dropped_fields_are_logged_once_per_process() -> None:
    route = Route("chat", "https://up.example/v1/chat/completions")
    body = {"model": "m", "max_tokens": 5, "messages": [], "metadata": {"user_id": "u"}, "top_k": 3}
    translation._LOGGED.clear()
    with capture_logs() as logs:
        for _ in range(3):
            prepare(
                route,
                "messages",
                dict(body),
                b"",
                upstream_model="m",
                client_model="m",
                stream=False,
                query=b"",
                upstream=HttpxUpstream(httpx.MockTransport(chat_reply)),
            )
    dropped = [e for e in logs if e["event"] == "translate: fields dropped"]
    assert len(dropped) == 1
    assert dropped[0]["fields"] == ["metadata", "top_k"] and dropped[0]["client"] == "anthropic"


def test_openai_and_azure_templates_serve_responses_natively() -> None:
    assert get_template("openai").provider_settings()["responses"] is True
    assert get_template("azure-openai").provider_settings()["responses"] is True
    assert "responses" not in get_template("openrouter").provider_settings()
