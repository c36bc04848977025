#!/usr/bin/env python3
"""CPU per proxied request, in-process: the ASGI app with a canned upstream, no sockets.

For comparing two versions on a loaded machine, where the socket benchmark drowns in
noise: run it with each tree first on ``PYTHONPATH`` and compare the figures.

    PYTHONPATH=<tree> python benchmarks/bench_hotpath.py chat|stream [requests]

Prints microseconds of process CPU per request on stderr (the proxy's log lines go to
stdout: send them to /dev/null).
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from auto_router.paths import Paths
from auto_router.proxy import ProxyOptions, create_app

CHAT = json.dumps(
    {
        "id": "x",
        "object": "chat.completion",
        "model": "m",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
    }
).encode()
EVENTS = [
    b'data: {"id":"x","object":"chat.completion.chunk","model":"m","choices":[{"index":0,'
    b'"delta":{"content":"w%d"},"finish_reason":null}]}\n\n' % i
    for i in range(20)
] + [
    b'data: {"id":"x","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n',
    b"data: [DONE]\n\n",
]


class _Response:
    def __init__(self, stream: bool) -> None:
        self.status = 200
        self._i = 0
        kind = b"text/event-stream" if stream else b"application/json"
        self._headers = [(b"content-type", kind)]

    def raw_headers(self) -> Sequence[tuple[bytes, bytes]]:
        return self._headers

    def header(self, name: str) -> str | None:
        return self._headers[0][1].decode() if name == "content-type" else None

    async def read(self) -> bytes:
        return CHAT

    async def readany(self) -> bytes:
        if self._i >= len(EVENTS):
            return b""
        self._i += 1
        return EVENTS[self._i - 1]

    async def release(self) -> None:
        pass

    async def abort(self) -> None:
        pass


class _Upstream:
    async def open(self) -> None:
        pass

    async def aclose(self) -> None:
        pass

    async def send(self, method: str, url: str, *args: Any, **kw: Any) -> _Response:
        body: bytes | None = args[1]
        return _Response(b'"stream": true' in (body or b""))


async def measure(requests: int, stream: bool) -> float:
    home = Path(tempfile.mkdtemp())
    (home / "llm_config.toml").write_text(
        '[backends.q]\nproviders = ["a"]\n[message_backend]\ndefault = "q"\n'
        "[proxy.request_log]\nenabled = false\n"
    )
    (home / "provider_metadata.toml").write_text(
        '[q.a]\nbase_url = "http://127.0.0.1:9/v1"\napi_key = "sk-aaaaaaaaaaaaaaaa"\nmodel = "m"\n'
    )
    options = ProxyOptions(
        paths=Paths(config_dir=home, data_dir=home),
        upstream_client=_Upstream(),  # type: ignore[arg-type]
        config_interval=1.0,
    )
    app = create_app(options)
    messages = [{"role": "user", "content": "hi"}]
    body = json.dumps({"model": "m", "messages": messages, "stream": stream}).encode()
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/v1/chat/completions",
        # A Host the gate serves: without one every request is refused (a 403 measured).
        "headers": [(b"host", b"127.0.0.1"), (b"content-type", b"application/json")],
        "query_string": b"",
        "http_version": "1.1",
    }

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: Any) -> None:
        pass

    statuses: list[int] = []

    async def first(message: Any) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    async with app.starlette.router.lifespan_context(app.starlette):
        await app(dict(scope), receive, first)
        assert statuses == [200], f"the proxy answered {statuses}: nothing to measure"
        for _ in range(200):
            await app(dict(scope), receive, send)
        started = time.process_time()
        for _ in range(requests):
            await app(dict(scope), receive, send)
        return (time.process_time() - started) / requests * 1e6


if __name__ == "__main__":
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 3000
    print(f"{asyncio.run(measure(count, sys.argv[1] == 'stream')):.1f}", file=sys.stderr)
