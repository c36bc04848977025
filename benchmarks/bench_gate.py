#!/usr/bin/env python3
"""What the security gate (proxy/gate.py) adds per request, measured in-process.

The end-to-end benchmark (bench_proxy.py) needs a quiet machine; this one isolates the
gate: the same request goes through ``Gate`` around a do-nothing app and straight to that
app, with realistic SDK headers, a non-streamed answer and a streamed one (20 chunks). The
minimum over several rounds of process CPU per request is reported (the least
disturbed by other processes).

    python benchmarks/bench_gate.py [--requests 20000] [--rounds 7]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

from auto_router.config.proxy import ProxySettings
from auto_router.proxy.gate import Gate
from auto_router.redaction import Redactor

HEADERS = [
    (b"host", b"127.0.0.1:3001"),
    (b"accept-encoding", b"gzip, deflate"),
    (b"connection", b"keep-alive"),
    (b"accept", b"application/json"),
    (b"content-type", b"application/json"),
    (b"user-agent", b"OpenAI/Python 1.99.0"),
    (b"x-stainless-lang", b"python"),
    (b"x-stainless-package-version", b"1.99.0"),
    (b"x-stainless-os", b"Linux"),
    (b"x-stainless-arch", b"x64"),
    (b"x-stainless-runtime", b"CPython"),
    (b"x-stainless-runtime-version", b"3.11.7"),
    (b"authorization", b"Bearer client-key"),
    (b"x-stainless-retry-count", b"0"),
    (b"content-length", b"92"),
]
ANSWER_HEADERS = [
    (b"content-type", b"application/json"),
    (b"x-request-id", b"req-0123456789abcdef"),
    (b"openai-processing-ms", b"12"),
    (b"x-auto-router-provider", b"qwen/one"),
    (b"content-length", b"300"),
]


def scope() -> dict[str, Any]:
    return {
        "type": "http",
        "method": "POST",
        "path": "/v1/chat/completions",
        "headers": HEADERS,
        "server": ("127.0.0.1", 3001),
        "client": ("127.0.0.1", 50000),
        "query_string": b"",
    }


def make_app(chunks: int) -> Any:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": ANSWER_HEADERS})
        for _ in range(chunks - 1):
            await send({"type": "http.response.body", "body": b"x" * 100, "more_body": True})
        await send({"type": "http.response.body", "body": b"x" * 100})

    return app


async def run(app: Any, n: int) -> float:
    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Any) -> None:
        return None

    started = time.process_time()
    for _ in range(n):
        await app(scope(), receive, send)
    return (time.process_time() - started) / n


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=20000)
    ap.add_argument("--rounds", type=int, default=15)
    args = ap.parse_args()
    settings = ProxySettings()
    redactor = Redactor([f"sk-provider-key-{i:04d}-abcdefghijkl" for i in range(8)])
    for label, chunks in (("chat (1 body)", 1), ("stream (20 chunks)", 20)):
        inner = make_app(chunks)
        gate = Gate(inner, lambda: settings, lambda: redactor)
        bare = min(asyncio.run(run(inner, args.requests)) for _ in range(args.rounds))
        gated = min(asyncio.run(run(gate, args.requests)) for _ in range(args.rounds))
        print(
            f"{label:20} bare {bare * 1e6:6.2f} us  gated {gated * 1e6:6.2f} us  "
            f"gate adds {(gated - bare) * 1e6:5.2f} us per request"
        )


if __name__ == "__main__":
    main()
