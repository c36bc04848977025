"""``GET /v1/events``: the rotation events of this proxy as Server-Sent Events.

Each event is ``event: <kind>`` and ``data: <JSON>`` (``rotation.events.Event.to_json``); a
comment (``: heartbeat``) goes out every ``HEARTBEAT`` seconds so proxies and clients keep an
idle stream open, and ``: connected`` first, so a client knows it is subscribed. ``?kinds=``
(comma-separated) keeps only those kinds; ``?feed=1`` adds one ``request`` event per proxied
request as it finishes (the dashboard's live feed; ``proxy/feed.py``: no body, header or
credential), which no one gets without asking. A subscriber that falls behind gets a ``dropped``
event with the count of events it missed (its queue is bounded; the publisher never waits).
The stream ends when the client goes away or the server shuts down (``EventBus.close``).
SSE framing: https://html.spec.whatwg.org/multipage/server-sent-events.html
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Collection
from typing import Final

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from ...rotation.events import KINDS, REQUEST, Event, Subscription
from ._base import admin_endpoint, invalid, services

#: Seconds between heartbeat comments on an idle stream.
HEARTBEAT: float = 15.0
_HEADERS: Final = {"cache-control": "no-cache", "x-accel-buffering": "no"}


@admin_endpoint
async def stream_events(request: Request) -> Response:
    """``?kinds=rotation,exhaustion`` (default: all), ``&feed=1``: the requests too."""
    kinds = _kinds(request.query_params.get("kinds"))
    if request.query_params.get("feed") in ("1", "true"):
        kinds |= {REQUEST}
    loop = asyncio.get_running_loop()
    ready = asyncio.Event()

    def wake() -> None:  # from any thread (state writes run in threads)
        loop.call_soon_threadsafe(ready.set)

    # Subscribed before the answer starts: nothing published after ``: connected`` is missed.
    sub = services(request).rotator.events.subscribe(wake, kinds=kinds)
    return StreamingResponse(
        _stream(sub, ready, kinds), media_type="text/event-stream", headers=_HEADERS
    )


def _kinds(text: str | None) -> frozenset[str]:
    if not text:
        return frozenset(KINDS)
    asked = frozenset(k.strip() for k in text.split(",") if k.strip())
    unknown = sorted(asked - set(KINDS))
    if unknown:
        raise invalid(f"unknown event kind {unknown[0]!r} (known: {', '.join(KINDS)})")
    return asked


async def _stream(
    sub: Subscription, ready: asyncio.Event, kinds: Collection[str]
) -> AsyncIterator[bytes]:
    reported = 0
    try:
        yield b": connected\n\n"
        while not sub.closed:
            try:
                await asyncio.wait_for(ready.wait(), HEARTBEAT)
            except TimeoutError:
                yield b": heartbeat\n\n"
                continue
            ready.clear()
            for event in sub.drain():
                if event.kind in kinds:
                    yield frame(event)
            if sub.dropped != reported:
                missed, reported = sub.dropped - reported, sub.dropped
                yield b"event: dropped\ndata: " + json.dumps({"missed": missed}).encode() + b"\n\n"
    finally:
        sub.close()


def frame(event: Event) -> bytes:
    """One SSE message (JSON holds no newline, so one ``data:`` line)."""
    data = json.dumps(event.to_json(), separators=(",", ":"))
    return f"event: {event.kind}\ndata: {data}\n\n".encode()
