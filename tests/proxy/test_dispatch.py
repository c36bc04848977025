"""Which endpoint a request is for (resolved once, by the gate), and the app's own errors."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from structlog.testing import capture_logs

from auto_router.paths import Paths
from auto_router.proxy import ProxyApp, ProxyOptions, create_app
from auto_router.proxy.asgi import ENDPOINT, Message
from auto_router.proxy.endpoints import (
    ANTHROPIC_MODELS,
    CHAT,
    GEMINI_STREAM,
    MESSAGES,
    MODELS,
    Resolved,
    resolve,
)
from auto_router.proxy.httpx_upstream import HttpxUpstream

from .conftest import Clock, Pauses, write_config
from .test_forward import LLM, META

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    ("method", "path", "headers", "expected"),
    [
        ("POST", "/v1/chat/completions", [], Resolved(CHAT)),
        ("POST", "/v1/messages", [], Resolved(MESSAGES)),
        (
            "POST",
            "/v1beta/models/gemini-2.5:streamGenerateContent",
            [],
            Resolved(GEMINI_STREAM, "gemini-2.5"),
        ),
        ("POST", "/v1beta/models/gemini-2.5:unknownMethod", [], None),
        ("POST", "/v1beta/models/:generateContent", [], None),  # no model
        ("GET", "/v1/models", [], Resolved(MODELS)),
        ("GET", "/models", [(b"anthropic-version", b"2023-06-01")], Resolved(ANTHROPIC_MODELS)),
        ("GET", "/v1/chat/completions", [], None),
        ("GET", "/health", [], None),
        ("POST", "/admin/providers", [], None),
    ],
)
def test_resolve_names_the_data_path_endpoint(
    method: str, path: str, headers: list[tuple[bytes, bytes]], expected: Resolved | None
) -> None:
    assert resolve(method, path, headers) == expected


async def boom(request: Request) -> Response:
    raise RuntimeError("a bug in a route")


@pytest.fixture
async def app(home: Paths, clock: Clock) -> AsyncIterator[ProxyApp]:
    write_config(home, LLM, META)
    models = httpx.MockTransport(lambda r: httpx.Response(200, json={"data": []}))
    options = ProxyOptions(
        paths=home,
        config_interval=0.0,
        clock=clock,
        pacing=Pauses().pacing(),
        upstream_client=HttpxUpstream(models),
    )
    app = create_app(options, extra_routes=[Route("/boom", boom)])
    async with app.starlette.router.lifespan_context(app.starlette):
        yield app


def client(app: ProxyApp) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app)
    return httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1")


async def test_an_error_in_a_route_is_logged_once_with_the_id_the_client_got(
    app: ProxyApp,
) -> None:
    with capture_logs() as logs:
        async with client(app) as c:
            resp = await c.get("/boom")
    assert resp.status_code == 500
    message = resp.json()["error"]["message"]
    errors = [entry for entry in logs if entry["log_level"] == "error"]
    assert len(errors) == 1, errors
    assert errors[0]["request_id"] in message
    assert "a bug in a route" not in message  # the details are for the log only


async def test_the_app_serves_the_endpoint_the_gate_resolved(app: ProxyApp) -> None:
    """The app does not match the path again: without the gate's ``None`` a chat path
    would reach the data path; with it, it goes to Starlette (which has no such route)."""
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"{}", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    scope: dict[str, Any] = {
        "type": "http",
        "method": "POST",
        "path": "/v1/chat/completions",
        "headers": [(b"host", b"127.0.0.1")],
        "query_string": b"",
        "http_version": "1.1",
        ENDPOINT: None,
    }
    await app._dispatch(scope, receive, send)
    assert sent[0]["status"] == 404
    scope[ENDPOINT] = Resolved(MODELS)  # the app takes the gate's word for it
    sent.clear()
    await app._dispatch({**scope, "method": "GET", "headers": []}, receive, send)
    assert sent[0]["status"] == 200
    assert (b"x-auto-router-provider", b"qwen/one") in sent[0]["headers"]
