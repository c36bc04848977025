"""What the fake provider saw, and what it may do in answer: reply, stream, hang, close, reset.

A script (``Script``) turns each request seen into one of these actions; the fake server
(``fake_upstream``) carries it out on the socket, faults included, exactly as scripted.
"""

from __future__ import annotations

import json
import struct
import threading
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

#: The headers and query parameter a provider key may come in, in the order they are looked at.
KEY_HEADERS = ("x-api-key", "x-goog-api-key", "api-key")


@dataclass
class Seen:
    """One request as it reached the fake: ``path`` is the request target, query included."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def document(self) -> dict[str, Any]:
        """The body as a JSON object; ``{}`` when it is empty or not an object."""
        try:
            data = json.loads(self.body) if self.body else {}
        except ValueError:
            return {}
        return data if isinstance(data, dict) else {}

    @property
    def route(self) -> str:
        """The path without its query string."""
        return urlsplit(self.path).path

    def query(self) -> dict[str, list[str]]:
        return parse_qs(urlsplit(self.path).query)

    def key(self) -> tuple[str, str]:
        """(where the provider key came, the key): a bearer token, a key header or ``?key=``."""
        auth = self.headers.get("authorization")
        if auth:
            return "authorization", auth.removeprefix("Bearer ").strip()
        for name in KEY_HEADERS:
            if self.headers.get(name):
                return name, self.headers[name]
        keys = self.query().get("key")
        return ("?key", keys[0]) if keys else ("none", "")


@dataclass
class Reply:
    """A whole answer: JSON (or ``bytes`` as they are) with a ``content-length``."""

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

    @classmethod
    def of(cls, events: list[tuple[str | None, str]]) -> Stream:
        """A stream of ``(event name or None, data)`` pairs, as ``wire`` builds them."""
        return cls([data for _, data in events], event_names=[name for name, _ in events])


@dataclass
class Hang:
    """Never answer (the proxy's read timeout fires)."""


@dataclass
class Close:
    """Close the connection without answering."""


@dataclass
class Reset:
    """Reset the connection (RST) before the response head."""


# -- hostile upstreams (issue 18): answers too big, too deep, too late, or elsewhere ------


@dataclass
class Pour:
    """A big answer made as it is sent, never held whole: ``head``, then ``piece`` ``times``
    times, then ``tail``. Chunked (a stream that never ends on time) or with a
    ``content-length``; ``pause`` seconds between pieces."""

    head: bytes
    piece: bytes
    times: int
    tail: bytes = b""
    status: int = 200
    headers: dict[str, str] = field(default_factory=lambda: {"content-type": "application/json"})
    chunked: bool = False
    #: A chunk sent before ``head``, on its own (a first event), then a 50 ms pause.
    lead: bytes = b""
    #: Seconds to wait after each piece (``head`` included): each arrives on its own.
    pause: float = 0.0


@dataclass
class Late:
    """Send the response head only after ``delay`` seconds, then act as ``then``."""

    delay: float
    then: Reply | Stream | Pour


def gzip_bomb(inflated: int, piece: bytes = b"a" * (1 << 20)) -> bytes:
    """A gzip body that inflates to a JSON chat answer of about ``inflated`` bytes (1 GiB
    compresses to ~1 MB), made in well under a second: ``piece`` is compressed once, as
    deflate blocks that stand alone (a full flush), and those repeated (RFC 1951 s. 3.2.3,
    RFC 1952 for the wrapper and its CRC-32 / size trailer)."""
    head = b'{"choices":[{"index":0,"message":{"role":"assistant","content":"'
    tail = b'"},"finish_reason":"stop"}]}'
    times = max(1, (inflated - len(head) - len(tail)) // len(piece))
    crc = zlib.crc32(head)
    for _ in range(times):
        crc = zlib.crc32(piece, crc)
    crc = zlib.crc32(tail, crc)
    size = len(head) + len(piece) * times + len(tail)
    wrapper = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"  # gzip, deflate, no name
    blocks = _deflate(head, zlib.Z_FULL_FLUSH) + _deflate(piece, zlib.Z_FULL_FLUSH) * times
    end = _deflate(tail, zlib.Z_FINISH) + struct.pack("<II", crc, size & 0xFFFFFFFF)
    return wrapper + blocks + end


def _deflate(data: bytes, mode: int) -> bytes:
    """Raw deflate blocks of ``data`` that refer to nothing before them."""
    pack = zlib.compressobj(9, zlib.DEFLATED, -15)
    return pack.compress(data) + pack.flush(mode)


def redirect(location: str, status: int = 307) -> Reply:
    """A 3xx pointing elsewhere (an SDK that follows it re-POSTs the prompt there)."""
    return Reply(status, {"error": "moved"}, headers={"location": location})


def deep_json(depth: int) -> bytes:
    """A chat answer whose content nests ``depth`` arrays deep."""
    nested = b"[" * depth + b"]" * depth
    return b'{"choices":[{"index":0,"message":{"role":"assistant","content":' + nested + b"}}]}"


def long_event(size: int, piece: bytes = b"a" * 65536, *, event: str | None = None) -> Pour:
    """An SSE stream whose one event carries ``size`` bytes of text (a chat delta), then
    ends properly; chunked, one piece a chunk."""
    name = f"event: {event}\n".encode() if event else b""
    return Pour(
        head=name + b'data: {"choices":[{"index":0,"delta":{"content":"',
        piece=piece,
        times=max(1, size // len(piece)),
        tail=b'"},"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n',
        headers={"content-type": "text/event-stream"},
        chunked=True,
    )


def keep_alive(seconds: float, every: float, events: list[str]) -> Pour:
    """An SSE stream that sends only ``: keep-alive`` comments for about ``seconds`` (one
    every ``every`` seconds), then ``events`` (each a ``data:`` payload) and ends: what
    DeepSeek sends while a request waits in its queue
    (https://api-docs.deepseek.com/quick_start/rate_limit, checked 2026-12-02)."""
    body = b"".join(b"data: " + event.encode() + b"\n\n" for event in events)
    return Pour(
        head=b": keep-alive\n\n",
        piece=b": keep-alive\n\n",
        times=max(0, round(seconds / every) - 1),
        tail=body,
        headers={"content-type": "text/event-stream"},
        chunked=True,
        pause=every,
    )


Action = Reply | Stream | Hang | Close | Reset | Pour | Late
Script = Callable[[Seen], Action]


# -- headroom (issue 19): a provider whose window runs down answer by answer ---------------


@dataclass
class Dwindling:
    """A script around ``inner`` whose whole answers carry OpenAI-style rate-limit headers:
    ``x-ratelimit-remaining-requests`` one lower on every answer, the window full again
    ``window`` seconds after it began (on ``clock``, which a test moves by hand)."""

    inner: Script
    clock: Callable[[], float]
    limit: int = 10
    window: float = 5.0
    answered: int = 0
    started: float | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def __call__(self, seen: Seen) -> Action:
        action = self.inner(seen)
        if not isinstance(action, Reply) or action.status >= 400:
            return action
        with self._lock:
            now = self.clock()
            if self.started is None or now >= self.started + self.window:
                self.started, self.answered = now, 0  # a new window
            self.answered += 1
            left = max(self.limit - self.answered, 0)
            reset_in = self.started + self.window - now
        headers = {
            **action.headers,
            "x-ratelimit-limit-requests": str(self.limit),
            "x-ratelimit-remaining-requests": str(left),
            "x-ratelimit-reset-requests": f"{reset_in:g}s",
        }
        return Reply(action.status, action.body, headers)
