"""A small OpenAI-compatible server on localhost that can be told to run out of quota.

Used by ``auto-router demo`` (no cloud account needed). It speaks the real wire format:
JSON and SSE chat completions, ``GET /v1/models``, and 429 with ``Retry-After`` and an
OpenAI-style error body.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

Behaviour = Literal["ok", "rate-limited", "down"]


@dataclass
class FakeProvider:
    name: str
    behaviour: Behaviour = "ok"
    retry_after: int = 3600
    calls: int = 0


def build_app(provider: FakeProvider) -> Starlette:
    async def chat(request: Request) -> Response:
        provider.calls += 1
        body = await request.json()
        if provider.behaviour == "rate-limited":
            wait = _duration(provider.retry_after)
            return JSONResponse(
                {
                    "error": {
                        "message": f"{provider.name}: Rate limit reached: you exceeded "
                        f"your current quota. Please try again in {wait}.",
                        "type": "insufficient_quota",
                        "code": "rate_limit_exceeded",
                    }
                },
                status_code=429,
                headers={"retry-after": str(provider.retry_after)},
            )
        if provider.behaviour == "down":
            return JSONResponse(
                {"error": {"message": "upstream unavailable", "type": "server_error"}},
                status_code=503,
            )
        text = f"Hello from {provider.name}."
        model = body.get("model", "demo-model")
        if body.get("stream"):
            return StreamingResponse(_stream(model, text), media_type="text/event-stream")
        return JSONResponse(
            {
                "id": "chatcmpl-demo",
                "object": "chat.completion",
                "created": 0,
                "model": model,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": text},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 5, "completion_tokens": 4, "total_tokens": 9},
            }
        )

    async def models(request: Request) -> Response:
        return JSONResponse({"object": "list", "data": [{"id": "demo-model", "object": "model"}]})

    return Starlette(
        routes=[
            Route("/v1/chat/completions", chat, methods=["POST"]),
            Route("/v1/models", models, methods=["GET"]),
        ]
    )


async def _stream(model: str, text: str) -> AsyncIterator[bytes]:
    for word in text.split(" "):
        chunk = {
            "id": "chatcmpl-demo",
            "object": "chat.completion.chunk",
            "created": 0,
            "model": model,
            "choices": [{"index": 0, "delta": {"content": word + " "}, "finish_reason": None}],
        }
        yield f"data: {json.dumps(chunk)}\n\n".encode()
        await asyncio.sleep(0)
    yield b"data: [DONE]\n\n"


def _duration(seconds: int) -> str:
    """OpenAI's way of writing a wait: ``1h0m0s``, ``10m0s``, ``37s``."""
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    return f"{minutes}m{secs}s" if minutes else f"{secs}s"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def serve(provider: FakeProvider) -> Iterator[str]:
    """Run the fake provider on a free localhost port; yields its base URL (with /v1)."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            build_app(provider), host="127.0.0.1", port=port, log_level="error", lifespan="off"
        )
    )
    thread = threading.Thread(target=server.run, name=f"fake-{provider.name}", daemon=True)
    thread.start()
    try:
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError(f"fake provider {provider.name} did not start")
            threading.Event().wait(0.01)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        server.should_exit = True
        thread.join(timeout=5)
