#!/usr/bin/env python3
"""CPU per request of the server protocol alone (proxy/server.py), in process, no sockets.

What the bounds of issue 18 (head timer, the connections waiting for a head, the limit
check) cost per request: kept-alive requests go through the proxy's uvicorn protocol class
on a stand-in transport to a do-nothing ASGI app, on uvloop, one after the other; the
figure is the minimum over ``--rounds`` of process CPU per request (the round least
disturbed on a shared machine). Run it with each tree first on ``PYTHONPATH`` to compare:

    PYTHONPATH=<tree> python benchmarks/bench_server_protocol.py [--requests 20000] [--rounds 9]

Prints the protocol class measured and microseconds of process CPU per request, also for
uvicorn's plain ``HttpToolsProtocol`` as the reference.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

import uvicorn
import uvloop
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from auto_router.proxy import server

REQUEST = (
    b"POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1:3001\r\n"
    b"content-type: application/json\r\nauthorization: Bearer sk-bench\r\n"
    b"user-agent: OpenAI/Python 1.0\r\naccept: application/json\r\ncontent-length: 2\r\n\r\n{}"
)


class Transport(asyncio.Transport):
    """Takes what the protocol writes and drops it."""

    def __init__(self) -> None:
        super().__init__()
        self._closing = False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"sockname": ("127.0.0.1", 3001), "peername": ("127.0.0.1", 40000)}.get(name)

    def write(self, data: bytes | bytearray | memoryview) -> None:
        pass

    def is_closing(self) -> bool:
        return self._closing

    def close(self) -> None:
        self._closing = True

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


async def app(scope: Any, receive: Any, send: Any) -> None:
    await receive()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"{}"})


def protocol_and_limit() -> tuple[type[asyncio.Protocol], int | None]:
    """This tree's protocol class and connection limit, as its server configures them."""
    if hasattr(server, "protocol_for"):
        bounds = server.Bounds(head_timeout=10.0, keep_alive=30.0, max_connections=4096)
        return server.protocol_for(bounds), bounds.max_connections + 1
    return server.LimitedHttpTools, None  # before issue 18


async def per_request(cls: type[Any], limit: int | None, requests: int) -> float:
    config = uvicorn.Config(app, http=cls, lifespan="off", limit_concurrency=limit, log_config=None)
    config.load()
    state = ServerState()
    protocol = cls(config=config, server_state=state, app_state={})
    protocol.connection_made(Transport())
    start = time.process_time()
    for _ in range(requests):
        protocol.data_received(REQUEST)
        (task,) = state.tasks  # one request in flight at a time
        await task
        await asyncio.sleep(0)  # its done callbacks (uvicorn's bookkeeping) run
    took = time.process_time() - start
    protocol.connection_lost(None)
    return took / requests * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args()
    cls, limit = protocol_and_limit()
    for name, (klass, lim) in {
        "uvicorn HttpToolsProtocol": (HttpToolsProtocol, None),
        f"proxy {cls.__name__}": (cls, limit),
    }.items():
        best = min(uvloop.run(per_request(klass, lim, args.requests)) for _ in range(args.rounds))
        print(f"{name}: {best:.2f} us CPU per request")


if __name__ == "__main__":
    main()
