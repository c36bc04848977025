"""A fake cloud provider on a real socket: HTTP/1.1, JSON and SSE, scripted per request.

Runs its own asyncio loop in a thread. Each request is answered by ``script(request)``,
which returns one of the actions below. Everything seen is recorded (requests, and the
connections the proxy closed) so tests can assert on it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.types import ASGIApp


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Reply:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Stream:
    """SSE events (already without the ``data: `` framing); ``die_after`` cuts the socket."""

    events: list[str]
    die_after: int | None = None
    #: Wait for ``release`` (a threading.Event) before sending event number ``hold_at``.
    hold_at: int | None = None
    release: threading.Event | None = None
    event_names: list[str | None] | None = None
    gap: float = 0.0
    #: Wait this long after the head before the first event (a slow first token).
    first_delay: float = 0.0
    #: Stop sending (without closing) before event number ``stall_at``.
    stall_at: int | None = None


@dataclass
class Hang:
    """Never answer (the proxy's read timeout fires)."""


@dataclass
class Close:
    """Close the connection without answering."""


@dataclass
class Reset:
    """Reset the connection (RST) before the response head."""


Action = Reply | Stream | Hang | Close | Reset
Script = Callable[[Seen], Action]


def chat_completion(model: str, content: str = "hello", **extra: Any) -> dict[str, Any]:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": 1700000000,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10},
        **extra,
    }


def chat_chunks(model: str, words: list[str], *, usage: bool = True) -> list[str]:
    events = []
    for i, word in enumerate(words):
        delta = {"role": "assistant", "content": word} if i == 0 else {"content": word}
        events.append(
            json.dumps(
                {
                    "id": "chatcmpl-fake",
                    "object": "chat.completion.chunk",
                    "created": 1700000000,
                    "model": model,
                    "choices": [
                        {
                            "index": 0,
                            "delta": delta,
                            "finish_reason": "stop" if i == len(words) - 1 else None,
                        }
                    ],
                }
            )
        )
    if usage:
        events.append(
            json.dumps(
                {
                    "id": "chatcmpl-fake",
                    "object": "chat.completion.chunk",
                    "created": 1700000000,
                    "model": model,
                    "choices": [],
                    "usage": {"prompt_tokens": 5, "completion_tokens": 4, "total_tokens": 9},
                }
            )
        )
    events.append("[DONE]")
    return events


def default_script(seen: Seen) -> Action:
    if seen.path.endswith("/chat/completions"):
        data = seen.json()
        if data.get("stream"):
            return Stream(chat_chunks(data["model"], ["Hel", "lo", "!"]))
        return Reply(body=chat_completion(data["model"]))
    if seen.path.endswith("/models"):
        return Reply(body={"object": "list", "data": [{"id": "fake-model", "object": "model"}]})
    return Reply(404, {"error": {"message": f"no route {seen.path}", "type": "not_found"}})


class FakeUpstream:
    def __init__(self, script: Script = default_script) -> None:
        self.script = script
        self.seen: list[Seen] = []
        self.closed_by_peer = threading.Event()
        self.connections_closed = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._server: asyncio.base_events.Server | None = None
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self._sock = sock
        self.port = sock.getsockname()[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> FakeUpstream:
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._stop)
        self._thread.join(10)

    def _stop(self) -> None:
        self._loop.stop()

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)

        async def start() -> None:
            self._server = await asyncio.start_server(self._handle, sock=self._sock)

        self._loop.run_until_complete(start())
        self._ready.set()
        self._loop.run_forever()
        if self._server is not None:
            self._server.close()
        tasks = asyncio.all_tasks(self._loop)
        for task in tasks:
            task.cancel()
        self._loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
        self._loop.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                line = await reader.readline()
                if not line:
                    return
                method, target, _ = line.decode("latin-1").split(" ", 2)
                headers: dict[str, str] = {}
                while True:
                    h = (await reader.readline()).decode("latin-1").rstrip("\r\n")
                    if not h:
                        break
                    name, _, value = h.partition(":")
                    headers[name.strip().lower()] = value.strip()
                length = int(headers.get("content-length", "0"))
                body = await reader.readexactly(length) if length else b""
                seen = Seen(method, target, headers, body)
                self.seen.append(seen)
                action = self.script(seen)
                if not await self._act(action, writer, reader):
                    return
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            self.connections_closed += 1
            writer.close()

    async def _act(
        self, action: Action, writer: asyncio.StreamWriter, reader: asyncio.StreamReader
    ) -> bool:
        if isinstance(action, Close):
            return False
        if isinstance(action, Reset):
            sock = writer.get_extra_info("socket")
            if sock is not None:  # SO_LINGER 0: close sends RST, not FIN
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()
            return False
        if isinstance(action, Hang):
            await reader.read()  # until the proxy gives up and closes
            self.closed_by_peer.set()
            return False
        if isinstance(action, Reply):
            raw = (
                action.body if isinstance(action.body, bytes) else json.dumps(action.body).encode()
            )
            head = f"HTTP/1.1 {action.status} X\r\ncontent-type: application/json\r\n"
            head += f"content-length: {len(raw)}\r\n"
            head += "".join(f"{k}: {v}\r\n" for k, v in action.headers.items())
            writer.write(head.encode() + b"\r\n" + raw)
            await writer.drain()
            return True
        head = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
        head += "transfer-encoding: chunked\r\n\r\n"
        writer.write(head.encode())
        if action.first_delay and await _until_closed(reader, action.first_delay):
            self.closed_by_peer.set()
            return False
        for i, event in enumerate(action.events):
            if action.stall_at == i:
                await writer.drain()
                await reader.read()  # until the proxy gives up and closes
                self.closed_by_peer.set()
                return False
            if action.hold_at == i and action.release is not None:
                await writer.drain()
                while not action.release.is_set():
                    if reader.at_eof():
                        break
                    try:
                        await asyncio.wait_for(reader.read(1), 0.05)
                    except TimeoutError:
                        continue
                if reader.at_eof():
                    self.closed_by_peer.set()
                    return False
            if action.die_after is not None and i >= action.die_after:
                writer.transport.abort()
                return False
            name = action.event_names[i] if action.event_names else None
            frame = (f"event: {name}\n" if name else "") + f"data: {event}\n\n"
            data = frame.encode()
            writer.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            await writer.drain()
            if action.gap:
                await asyncio.sleep(action.gap)
        writer.write(b"0\r\n\r\n")
        await writer.drain()
        return True


async def _until_closed(reader: asyncio.StreamReader, seconds: float) -> bool:
    """Wait ``seconds``; ``True`` as soon as the peer closes the connection."""
    try:
        await asyncio.wait_for(reader.read(), seconds)
    except TimeoutError:
        return False
    return True


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextlib.contextmanager
def serve(app: ASGIApp) -> Iterator[str]:
    """Run ``app`` on uvicorn (uvloop + httptools) on a free port; yields the base URL."""
    port = free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        loop="uvloop",
        http="httptools",
        ws="none",
        lifespan="on",
        log_config=None,
        log_level="warning",
        access_log=False,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the proxy did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)
