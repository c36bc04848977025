"""Relaying an OpenAI chat or Anthropic messages stream, and rescuing it when it breaks.

The stream goes out one whole event at a time (a chunk that ends inside an event waits for
the rest), each event checked to be whole JSON. When the upstream breaks after the first
byte (reset, idle timeout, a malformed event, or a clean end without the protocol's final
event), the next candidate that accepts a prefill is asked to continue the answer; its
events are relayed as the rest of the same answer. If none can, the client gets the
protocol's error event: never a truncated answer presented as complete, and never the
continuation's own error in place of the real one.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, replace

import structlog

from ..config.proxy import ProxySettings
from ..store.requests import FailedAttempt
from .attempts import Answer, Attempts
from .classify import Failure
from .errors import stream_error_event
from .exchange import Call, Exchange, Send, response_headers, token_usage
from .recording import Recorder
from .relay import Disconnect
from .routing import Plan, Target
from .streams import Continuation, Framer, finished, needs_done, partial_answer, prefill_body
from .upstream import UpstreamError, UpstreamResponse

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
    """Relays one streamed answer, continuing it on another provider when it breaks."""

    def __init__(
        self,
        send: Send,
        ex: Exchange,
        plan: Plan,
        call: Call,
        settings: ProxySettings,
        attempts: Attempts,
        recorder: Recorder,
    ) -> None:
        self.send = send
        self.ex = ex
        self.plan = plan
        self.call = call
        self.settings = settings
        self.attempts = attempts
        self.recorder = recorder
        self.sent: list[bytes] = []
        self.gone = Disconnect()

    async def run(self, done: Answer) -> None:
        ex = self.ex
        first = ex.response_body or b""
        ex.response_body = None
        ex.status = done.resp.status
        headers = response_headers(done.resp, done.target.key, ex.upstream_model)
        await self.send({"type": "http.response.start", "status": ex.status, "headers": headers})
        leg = Leg(done.target, done.resp, Framer(first))
        await self._emit(leg, first[: len(first) - len(leg.framer.pending)])
        ex.ttfb = time.perf_counter() - ex.started
        assert ex.receive is not None
        self.gone.resp = leg.resp
        watcher = asyncio.ensure_future(self.gone.watch(ex.receive))
        try:
            await self._relay(leg)
        finally:
            watcher.cancel()

    async def _relay(self, leg: Leg) -> None:
        ex = self.ex
        while True:
            broken = await self._pump(leg)
            if self.gone.happened:
                ex.status, ex.error = 499, "client disconnected mid-stream"
                return
            if broken is None:
                break
            await leg.resp.abort()
            log.warning("upstream stream broke", provider=leg.target.key, error=broken)
            reason = f"stream broke after the first byte: {broken}"
            ex.failed.append(FailedAttempt(leg.target.backend, leg.target.provider, None, reason))
            self.recorder.spawn(self._failed(leg.target, reason))
            following = await self._continue(leg.target)
            if following is None:
                await self._fail(f"upstream stream broke: {broken}", reason)
                return
            leg = following
            self.gone.resp = leg.resp
            note = f"{reason}; continued on {leg.target.key}"
            ex.failed[-1] = replace(ex.failed[-1], reason=note)
        tail = b"".join(self.sent[-2:])
        if needs_done(ex.endpoint.name, tail):
            await self._emit(leg, b"data: [DONE]\n\n")
        await leg.resp.release()
        await self.send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _failed(self, target: Target, reason: str) -> None:
        await self.recorder.failed(target, reason, outage=True)

    async def _pump(self, leg: Leg) -> str | None:
        """Relay ``leg`` to its end: ``None`` when the answer is whole, else what broke."""
        timeouts = leg.target.timeouts
        idle = timeouts.idle if timeouts.idle < timeouts.stream_read else None
        try:
            while True:
                if idle is None:
                    chunk = await leg.resp.readany()
                else:  # the socket limit is the (longer) first-token one: hold idle here
                    async with asyncio.timeout(idle):
                        chunk = await leg.resp.readany()
                if not chunk:
                    break
                whole = leg.framer.feed(chunk)
                if whole is None:
                    return "the upstream sent a malformed event"
                if whole:
                    await self._emit(leg, whole)
        except UpstreamError as exc:
            return str(exc)
        except TimeoutError:
            return f"no data for {idle:g}s"
        finally:
            self.ex.usage = token_usage(leg.head, b"".join(self.sent[-2:])[-8192:])
        if leg.framer.pending.strip() or not finished(
            self.ex.endpoint.name, b"".join(self.sent[-2:])
        ):
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

    async def _fail(self, message: str, reason: str) -> None:
        ex = self.ex
        ex.error = reason
        tail = self.sent[-1] if self.sent else b""
        event = stream_error_event(ex.endpoint.error_format, message, tail=tail)
        await self.send({"type": "http.response.body", "body": event, "more_body": False})

    async def _continue(self, broke: Target) -> Leg | None:
        """The next candidate that takes the partial answer as a prefill, streaming."""
        ex, settings = self.ex, self.settings
        if not settings.continue_streams or self.call.data is None:
            return None
        partial = partial_answer(ex.endpoint.name, b"".join(self.sent))
        if partial is None:
            return None  # tool calls, thinking, or nothing to continue from
        data = prefill_body(self.call.data, partial)
        call = replace(self.call, body=json.dumps(data, ensure_ascii=False).encode(), data=data)
        candidates = self.plan.candidates
        start = candidates.index(broke) + 1 if broke in candidates else 0
        for target in candidates[start:]:
            if ex.attempts >= settings.max_attempts:
                break
            if not target.prefill or (target.backend, target.provider) in self.plan.probes:
                continue
            leg = await self._try(target, call)
            if leg is not None:
                leg.rewrite = Continuation(ex.endpoint.name, partial)
                first = leg.framer.pending
                leg.framer = Framer(first)
                await self._emit(leg, first[: len(first) - len(leg.framer.pending)])
                return leg
        return None

    async def _try(self, target: Target, call: Call) -> Leg | None:
        ex = self.ex
        ex.attempts += 1
        ex.provider, ex.backend = target.provider, target.backend
        try:
            done = await self.attempts.attempt(target, ex, call)
        except Failure as exc:
            ex.failed.append(FailedAttempt(target.backend, target.provider, exc.status, exc.reason))
            return None
        status = done.resp.status
        if done.payload is not None or "event-stream" not in (
            done.resp.header("content-type") or ""
        ):  # an error passed back (the prefill was refused), or no stream at all
            if done.payload is None:
                await done.resp.abort()
            reason = f"continuation refused: HTTP {status}" if status >= 400 else "not a stream"
            ex.failed.append(FailedAttempt(target.backend, target.provider, status, reason))
            return None
        head = ex.response_body or b""
        ex.response_body = None
        framer = Framer()
        framer.pending = head  # emitted by the caller, through the continuation's rewrite
        return Leg(target, done.resp, framer)
