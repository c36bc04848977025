#!/usr/bin/env python3
"""CPU per proxied request, in-process: the ASGI app with a canned upstream, no sockets.

For comparing two versions on a loaded machine, where the socket benchmark drowns in
noise: run it with each tree first on ``PYTHONPATH`` and compare the figures.

    PYTHONPATH=<tree> python benchmarks/bench_hotpath.py chat|stream [requests]
    PYTHONPATH=<tree> python benchmarks/bench_hotpath.py chat|stream --upstream [--rounds 15]

The default runs from a configuration file (one provider, request log off) with the
short canned answers below, one event per read. ``--upstream`` is what the shared
throughput harness runs (``auto-router proxy --upstream URL``): its mock's answers (a
366-byte completion, 20 chunks + ``[DONE]`` written at once and so read at once), the log
configured as the CLI does (logfmt, redacted, to ``/dev/null`` here), the Host header
of a real client. The figure is the *minimum* over ``--rounds`` rounds of process CPU per
request: the round least disturbed by other processes on a shared machine.

Prints microseconds of process CPU per request on stderr (in the default mode the
proxy's log lines go to stdout: send them to /dev/null).
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import json
import os
import shutil
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
#: What the shared harness's mock answers (mock_upstream.py, 20 chunks, no usage asked).
_MOCK_HEAD = b'{"id":"chatcmpl-mock","object":"chat.completion.chunk","created":1700000000,'
MOCK_EVENTS = [
    b"data: "
    + _MOCK_HEAD
    + b'"model":"m","system_fingerprint":"fp_mock","choices":[{"index":0,"delta":{%s},'
    b'"logprobs":null,"finish_reason":%s}]}\n\n'
    % (
        (b'"role":"assistant","content":"tok0 "' if i == 0 else b'"content":"tok%d "' % i),
        b'"stop"' if i == 19 else b"null",
    )
    for i in range(20)
] + [b"data: [DONE]\n\n"]
MOCK_CHAT = (
    b'{"id":"chatcmpl-mock","object":"chat.completion","created":1700000000,"model":"m",'
    b'"system_fingerprint":"fp_mock","choices":[{"index":0,"message":{"role":"assistant",'
    b'"content":"Hello! This is a mock completion from the benchmark upstream.",'
    b'"refusal":null},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":12,'
    b'"completion_tokens":13,"total_tokens":25}}'
)


#: ``BENCH_HEADROOM=1``: every canned answer also carries OpenAI-style rate-limit headers
#: (issue 19), with plenty left, so the proxy parses them on every answer (and writes nothing).
_RATE_LIMIT_HEADERS: list[tuple[bytes, bytes]] = (
    [
        (b"x-ratelimit-limit-requests", b"5000"),
        (b"x-ratelimit-limit-tokens", b"160000"),
        (b"x-ratelimit-remaining-requests", b"4999"),
        (b"x-ratelimit-remaining-tokens", b"159976"),
        (b"x-ratelimit-reset-requests", b"12ms"),
        (b"x-ratelimit-reset-tokens", b"6m0s"),
    ]
    if os.environ.get("BENCH_HEADROOM") == "1"
    else []
)


class _Response:
    def __init__(self, stream: bool, chat: bytes, events: list[bytes]) -> None:
        self.status = 200
        self._i = 0
        self._chat = chat
        self._events = events
        kind = b"text/event-stream" if stream else b"application/json"
        self._headers = [(b"content-type", kind), *_RATE_LIMIT_HEADERS]

    def raw_headers(self) -> Sequence[tuple[bytes, bytes]]:
        return self._headers

    def header(self, name: str) -> str | None:
        return self._headers[0][1].decode() if name == "content-type" else None

    async def read(self) -> bytes:
        return self._chat

    async def readany(self) -> bytes:
        if self._i >= len(self._events):
            return b""
        self._i += 1
        return self._events[self._i - 1]

    async def release(self) -> None:
        pass

    async def abort(self) -> None:
        pass


class _Upstream:
    def __init__(self, chat: bytes, events: list[bytes]) -> None:
        self._chat = chat
        self._events = events

    async def open(self) -> None:
        pass

    async def aclose(self) -> None:
        pass

    async def send(self, method: str, url: str, *args: Any, **kw: Any) -> _Response:
        body: bytes | None = args[1]
        stream = b'"stream": true' in (body or b"")
        return _Response(stream, self._chat, self._events)


def _configured(upstream: _Upstream) -> ProxyOptions:
    home = Path(tempfile.mkdtemp(prefix="bench-hotpath-"))
    atexit.register(shutil.rmtree, home, ignore_errors=True)  # nothing left in /tmp
    (home / "llm_config.toml").write_text(
        '[backends.q]\nproviders = ["a"]\n[message_backend]\ndefault = "q"\n'
        "[proxy.request_log]\nenabled = false\n"
    )
    (home / "provider_metadata.toml").write_text(
        '[q.a]\nbase_url = "http://127.0.0.1:9/v1"\napi_key = "sk-aaaaaaaaaaaaaaaa"\nmodel = "m"\n'
    )
    return ProxyOptions(
        paths=Paths(config_dir=home, data_dir=home),
        upstream_client=upstream,  # type: ignore[arg-type]
        config_interval=1.0,
    )


def _log_like_the_cli(app: Any) -> None:
    from auto_router.proxy.logs import configure_logging

    out = open(os.devnull, "w")  # noqa: SIM115 - open for the whole run
    try:
        configure_logging(stream=out, redactor=lambda: app.services.redactors.current)
    except TypeError:  # a tree from before the redactor (to compare with it)
        configure_logging(stream=out)


async def measure(requests: int, stream: bool, *, upstream: bool = False, rounds: int = 1) -> float:
    """Process CPU per request in microseconds (the least disturbed of ``rounds``)."""
    if upstream:
        fake = _Upstream(MOCK_CHAT, [b"".join(MOCK_EVENTS)])
        options = ProxyOptions(upstream="http://127.0.0.1:9/v1", upstream_client=fake)  # type: ignore[arg-type]
    else:
        options = _configured(_Upstream(CHAT, EVENTS))
    app = create_app(options)
    if upstream:
        _log_like_the_cli(app)
    model = "mock-gpt" if upstream else "m"
    messages = [{"role": "user", "content": "hi"}]
    body = json.dumps({"model": model, "messages": messages, "stream": stream}).encode()
    # A Host the gate serves: without one every request is refused (a 403 measured).
    headers = [(b"host", b"127.0.0.1:18101"), (b"content-type", b"application/json")]
    if upstream:
        headers += [
            (b"authorization", b"Bearer sk-bench"),
            (b"content-length", str(len(body)).encode()),
        ]
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/v1/chat/completions",
        "headers": headers,
        "query_string": b"",
        "http_version": "1.1",
        "server": ("127.0.0.1", 18101),
        "client": ("127.0.0.1", 50000),
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
            await asyncio.sleep(0)  # background tasks (a first state write) run, as served
        best = float("inf")
        for _ in range(rounds):
            started = time.process_time()
            for _ in range(requests):
                await app(dict(scope), receive, send)
            best = min(best, (time.process_time() - started) / requests * 1e6)
            await asyncio.sleep(0)
        return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("kind", choices=("chat", "stream"))
    parser.add_argument("requests", nargs="?", type=int)
    parser.add_argument("--upstream", action="store_true", help="as the throughput harness")
    parser.add_argument("--rounds", type=int)
    args = parser.parse_args()
    requests = args.requests or (500 if args.upstream else 3000)
    rounds = args.rounds or (15 if args.upstream else 1)
    run = asyncio.run
    if args.upstream:  # the loop the proxy runs on (uvicorn's loop="uvloop")
        import uvloop

        run = uvloop.run
    result = run(measure(requests, args.kind == "stream", upstream=args.upstream, rounds=rounds))
    print(f"{result:.1f}", file=sys.stderr)


if __name__ == "__main__":
    main()
