"""What the fake provider saw, and what it may do in answer: reply, stream, hang, close, reset.

A script (``Script``) turns each request seen into one of these actions; the fake server
(``fake_upstream``) carries it out on the socket, faults included, exactly as scripted.
"""

from __future__ import annotations

import json
import threading
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


Action = Reply | Stream | Hang | Close | Reset
Script = Callable[[Seen], Action]
