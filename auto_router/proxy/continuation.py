"""Relaying an OpenAI chat or Anthropic messages stream, and rescuing it when it breaks.

The stream goes out one whole event at a time (a chunk that ends inside an event waits for
the rest), each event checked to be whole JSON. When the upstream breaks after the first
byte (reset, idle timeout, a stream past its cap, or a clean end without the protocol's final
event), the next candidate that accepts a prefill is asked to continue the answer; its
events are relayed as the rest of the same answer. If none can, the client gets the
protocol's error event: never a truncated answer presented as complete, and never the
continuation's own error in place of the real one.

``StreamRelay`` only relays: ``pump`` returns what broke, and the layer above records it and
finds the continuation (``Failover.resume``), which it hands back through ``resume``.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, replace

import structlog

from .asgi import Send
from .attempts import Answer
from .errors import stream_error_event
from .exchange import Call, Exchange, response_headers, token_usage
from .relay import Disconnect
from .routing import Target
from .streams import Continuation, Framer, finished, needs_done, partial_answer, prefill_body
from .upstream import Deadline, UpstreamError, UpstreamResponse

log = structlog.get_logger("auto_router.proxy")


@dataclass(slots=True)
class Leg:
    """One upstream stream relayed as (part of) the answer."""

    target: Target
    resp: UpstreamResponse
    framer: Framer
    rewrite: Continuation | None = None
    head: bytes = b""


class StreamRelay:
    """Relays one streamed answer, leg by leg: the first provider's, then each continuation's.

    ``open`` answers with the first leg, ``pump`` relays a leg until it ends or breaks,
    ``prefill`` makes the request a continuation sends, ``resume`` relays the continuation's
    answer as the rest, and ``finish`` or ``fail`` ends the stream; ``close`` always runs.
    """

    def __init__(self, send: Send, ex: Exchange) -> None:
        self.send = send
        self.ex = ex
        self.sent: list[bytes] = []
        self.gone = Disconnect()

    async def open(self, done: Answer) -> Leg:
        """Answer with ``done``'s headers and first events, and watch for the client leaving."""
        ex = self.ex
        first = done.head
        ex.status = done.resp.status
        headers = response_headers(done.resp, ex, done.target.backend, done.target.key)
        await self.send({"type": "http.response.start", "status": ex.status, "headers": headers})
        leg = Leg(done.target, done.resp, Framer(first))
        await self._emit(leg, first[: len(first) - len(leg.framer.pending)])
        ex.ttfb = time.perf_counter() - ex.started
        assert ex.receive is not None
        self.gone.resp = leg.resp
        self.gone.arm(ex.receive)
        return leg

    def close(self) -> None:
        self.gone.stop()

    async def pump(self, leg: Leg) -> str | None:
        """Relay ``leg`` to its end: what broke (the leg is aborted), else ``None`` (the answer
        is whole, or the client went away: ``finish`` tells which)."""
        broken = await self._pump(leg)
        if self.gone.happened:
            self.ex.status, self.ex.error = 499, "client disconnected mid-stream"
            return None
        if broken is not None:
            await leg.resp.abort()
            log.warning("upstream stream broke", provider=leg.target.key, error=broken)
        return broken

    async def finish(self, leg: Leg) -> None:
        """The answer is whole: end the stream (``[DONE]`` first where the client expects it)."""
        if self.gone.happened:
            return
        tail = b"".join(self.sent[-2:])
        if needs_done(self.ex.endpoint.name, tail):
            await self._emit(leg, b"data: [DONE]\n\n")
        await leg.resp.release()
        await self.send({"type": "http.response.body", "body": b"", "more_body": False})

    def prefill(self, call: Call) -> tuple[Call, Continuation] | None:
        """The request a continuation sends (``call`` plus the partial answer as a prefill),
        and the rewrite of its events; ``None`` when the answer cannot be continued."""
        if call.data is None:
            return None
        endpoint = self.ex.endpoint.name
        partial = partial_answer(endpoint, b"".join(self.sent))
        if partial is None:
            return None  # tool calls, thinking, or nothing to continue from
        data = prefill_body(call.data, partial)
        body = json.dumps(data, ensure_ascii=False).encode()
        return replace(call, body=body, data=data), Continuation(endpoint, partial)

    async def resume(self, done: Answer, rewrite: Continuation) -> Leg:
        """Relay ``done`` (a continuation's stream) as the rest of the same answer."""
        first = done.head
        leg = Leg(done.target, done.resp, Framer(first), rewrite)
        await self._emit(leg, first[: len(first) - len(leg.framer.pending)])
        self.gone.resp = leg.resp
        return leg

    async def _pump(self, leg: Leg) -> str | None:
        """Relay ``leg`` to its end: ``None`` when the answer is whole, else what broke."""
        timeouts = leg.target.timeouts
        idle = timeouts.idle
        # The socket limit is the (longer) first-token one: hold idle here, with one timer
        # for the whole leg (pushed before each read, held while the client is written to).
        deadline = Deadline.after(idle) if idle < timeouts.stream_read else None
        readany, feed = leg.resp.readany, leg.framer.feed
        try:
            while True:
                if deadline is not None:
                    deadline.push(idle)
                    chunk = await readany()
                    deadline.hold()
                else:
                    chunk = await readany()
                if not chunk:
                    break
                whole = feed(chunk)  # malformed events left out (and logged) by the framer
                if whole:
                    await self._emit(leg, whole)
        except UpstreamError as exc:
            return str(exc)
        except asyncio.CancelledError:
            if deadline is None or not deadline.stop():
                raise
            return f"no data for {idle:g}s"
        finally:
            if deadline is not None:
                deadline.stop()
            tail = b"".join(self.sent[-2:])
            self.ex.usage = token_usage(leg.head, tail[-8192:])
        if leg.framer.pending.strip() or not finished(self.ex.endpoint.name, tail):
            return "the upstream stream ended before the answer was complete"
        return None

    async def _emit(self, leg: Leg, events: bytes) -> None:
        if leg.rewrite is not None:
            events = leg.rewrite.rewrite(events)
        if not events:
            return
        if not leg.head:
            leg.head = events[:16384]
        self.sent.append(events)
        await self.send({"type": "http.response.body", "body": events, "more_body": True})

    async def fail(self, message: str, reason: str) -> None:
        """Nothing could continue: end the stream with the protocol's error event."""
        ex = self.ex
        ex.error = reason
        tail = self.sent[-1] if self.sent else b""
        event = stream_error_event(ex.endpoint.error_format, message, tail=tail)
        await self.send({"type": "http.response.body", "body": event, "more_body": False})
