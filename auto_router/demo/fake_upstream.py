"""A fake cloud provider on a real socket: HTTP/1.1, JSON and SSE, scripted per request.

The one fake upstream of the project: ``auto-router demo`` runs three of them, the tests run
them behind the proxy, and ``scripts/verify_real_agents.py`` points the real agent CLIs at
one. It is a raw HTTP/1.1 server on the standard library's asyncio, not an ASGI app, so a
script can fail in the ways a real provider does: cut a stream mid-event, hang, stall, close
or reset the connection before the head.

Runs its own asyncio loop in a thread. Each request is answered by ``script(request)``
(``FakeProvider`` by default: every endpoint in its real wire format), which returns one of
the actions in ``actions``. Everything seen is recorded (requests, and the connections the
proxy closed) so tests can assert on it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import struct
import threading
from http import HTTPStatus

from .actions import (
    Action,
    Close,
    Dwindling,
    Hang,
    Late,
    Pour,
    Reply,
    Reset,
    Script,
    Seen,
    Stream,
)
from .provider import FakeProvider

__all__ = [
    "Action",
    "Close",
    "Dwindling",
    "FakeProvider",
    "FakeUpstream",
    "Hang",
    "Late",
    "Pour",
    "Reply",
    "Reset",
    "Script",
    "Seen",
    "Stream",
    "free_port",
]


class FakeUpstream:
    """``with FakeUpstream(script) as up:`` serves on ``up.url`` (with ``/v1``) until the end."""

    def __init__(self, script: Script | None = None, port: int = 0) -> None:
        self.script: Script = FakeProvider() if script is None else script
        self.seen: list[Seen] = []
        self.closed_by_peer = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._server: asyncio.base_events.Server | None = None
        sock = socket.socket()
        sock.bind(("127.0.0.1", port))
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
        """One connection: requests one after another (keep-alive) until an action ends it."""
        try:
            while (seen := await _read_request(reader)) is not None:
                self.seen.append(seen)
                if not await self._act(self.script(seen), writer, reader):
                    return
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        except asyncio.CancelledError:
            # Shutdown cancels idle keep-alive connections. Python 3.11's start_server callback
            # calls task.exception() on a cancelled task and logs a traceback; ending quietly
            # here keeps the demo's and the real-agent scripts' output clean.
            return
        finally:
            writer.close()

    async def _act(
        self, action: Action, writer: asyncio.StreamWriter, reader: asyncio.StreamReader
    ) -> bool:
        """Carry ``action`` out; ``False`` when the connection is over."""
        if isinstance(action, Close):
            return False
        if isinstance(action, Reset):
            sock = writer.get_extra_info("socket")
            if sock is not None:  # SO_LINGER 0: close sends RST, not FIN
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()
            return False
        if isinstance(action, Hang):
            return await self._wait_for_close(reader)
        if isinstance(action, Late):
            if await _until_closed(reader, action.delay):
                self.closed_by_peer.set()
                return False
            return await self._act(action.then, writer, reader)
        if isinstance(action, Pour):
            return await _pour(action, writer)
        if isinstance(action, Reply):
            writer.write(_reply_bytes(action))
            await writer.drain()
            return True
        return await self._stream(action, writer, reader)

    async def _wait_for_close(self, reader: asyncio.StreamReader) -> bool:
        await reader.read()  # until the proxy gives up and closes
        self.closed_by_peer.set()
        return False

    async def _stream(
        self, action: Stream, writer: asyncio.StreamWriter, reader: asyncio.StreamReader
    ) -> bool:
        head = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
        writer.write((head + "transfer-encoding: chunked\r\n\r\n").encode())
        if action.first_delay and await _until_closed(reader, action.first_delay):
            self.closed_by_peer.set()
            return False
        for i, event in enumerate(action.events):
            if action.stall_at == i:
                await writer.drain()
                return await self._wait_for_close(reader)
            if action.hold_at == i and not await self._hold(action, writer, reader):
                return False
            if action.die_after is not None and i >= action.die_after:
                writer.transport.abort()
                return False
            name = action.event_names[i] if action.event_names else None
            data = ((f"event: {name}\n" if name else "") + f"data: {event}\n\n").encode()
            writer.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            await writer.drain()
            if action.gap:
                await asyncio.sleep(action.gap)
        writer.write(b"0\r\n\r\n")
        await writer.drain()
        return True

    async def _hold(
        self, action: Stream, writer: asyncio.StreamWriter, reader: asyncio.StreamReader
    ) -> bool:
        """Wait for ``action.release``; ``False`` when the proxy closed meanwhile."""
        if action.release is None:
            return True
        await writer.drain()
        while not action.release.is_set() and not reader.at_eof():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(reader.read(1), 0.05)
        if reader.at_eof():
            self.closed_by_peer.set()
            return False
        return True


async def _read_request(reader: asyncio.StreamReader) -> Seen | None:
    """The next request on the connection; ``None`` when the client closed it."""
    line = await reader.readline()
    if not line:
        return None
    method, target, _ = line.decode("latin-1").split(" ", 2)
    headers: dict[str, str] = {}
    while header := (await reader.readline()).decode("latin-1").rstrip("\r\n"):
        name, _, value = header.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    body = await reader.readexactly(length) if length else b""
    return Seen(method, target, headers, body)


async def _pour(action: Pour, writer: asyncio.StreamWriter) -> bool:
    """Send a ``Pour``: the pieces made one by one, so a 1 GiB answer costs the fake one
    piece of memory. ``False``: the proxy hung up (a capped answer)."""
    size = len(action.lead) + len(action.head) + len(action.piece) * action.times
    size += len(action.tail)
    head = f"HTTP/1.1 {action.status} {_phrase(action.status)}\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in action.headers.items())
    head += "transfer-encoding: chunked\r\n" if action.chunked else f"content-length: {size}\r\n"
    writer.write(head.encode() + b"\r\n")
    pieces = [action.head, *([action.piece] * action.times), action.tail]
    try:
        if action.lead:
            await _send_piece(writer, action.lead, action.chunked)
            await asyncio.sleep(0.05)
        for piece in pieces:
            if piece:
                await _send_piece(writer, piece, action.chunked)
                if action.pause:
                    await asyncio.sleep(action.pause)
        if action.chunked:
            writer.write(b"0\r\n\r\n")
        await writer.drain()
    except ConnectionError:
        return False
    return True


async def _send_piece(writer: asyncio.StreamWriter, piece: bytes, chunked: bool) -> None:
    writer.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n" if chunked else piece)
    await writer.drain()


def _reply_bytes(reply: Reply) -> bytes:
    raw = reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body).encode()
    head = f"HTTP/1.1 {reply.status} {_phrase(reply.status)}\r\n"
    head += f"content-type: application/json\r\ncontent-length: {len(raw)}\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in reply.headers.items())
    return head.encode() + b"\r\n" + raw


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:  # a status no standard names (a provider's 529)
        return "Unknown"


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
