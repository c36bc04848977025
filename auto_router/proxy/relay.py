"""Answering the client: a whole body, a relayed stream, or the error when nothing answered.

Streamed chunks go out the moment they arrive. After the first byte a failure can no
longer become an HTTP status: the stream ends with an error event in the client
protocol's own format, and ``relay`` returns what broke, for the layer above to record.
These functions answer from what they are given (the outcome, a fresh plan); they never
plan, attempt or write the rotation state themselves.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import structlog

from ..errors import AllProvidersExhaustedError
from .asgi import Receive, Send
from .attempts import Answer
from .classify import Failure
from .errors import error_body, stream_error_event, upstream_error_body
from .exchange import (
    JSON_TYPE,
    Exchange,
    iso,
    respond,
    response_headers,
    routed_headers,
    summary,
    token_usage,
)
from .routing import Plan
from .upstream import Deadline, Timeouts, UpstreamError, UpstreamResponse, UpstreamTimeout

log = structlog.get_logger("auto_router.proxy")


async def answer(send: Send, ex: Exchange, done: Answer) -> None:
    """A whole (non-streamed) body, or an upstream error passed back."""
    resp, payload = done.resp, done.payload or b""
    status = resp.status
    ex.status = status
    ex.ttfb = time.perf_counter() - ex.started
    headers = response_headers(resp, ex, done.target.backend, done.target.key)
    if status >= 400:
        payload = upstream_error_body(ex.endpoint.error_format, status, payload)
        headers = [h for h in headers if h[0] != b"content-type"]
        headers.append(JSON_TYPE)
        ex.error = f"HTTP {status}: {summary(payload.decode('utf-8', 'replace'))}"
    ex.usage = token_usage(payload[-8192:])
    if ex.request_body is not None:
        ex.response_body = payload
    headers.append((b"content-length", str(len(payload)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


async def relay(send: Send, ex: Exchange, done: Answer) -> str | None:
    """Relay a stream whose first chunk (``done.head``) was read before answering; what broke
    after the first byte (the client got an error event), else ``None``."""
    resp, target = done.resp, done.target
    first = done.head
    ex.status = resp.status
    headers = response_headers(resp, ex, target.backend, target.key)
    await send({"type": "http.response.start", "status": resp.status, "headers": headers})
    await send({"type": "http.response.body", "body": first, "more_body": True})
    ex.ttfb = time.perf_counter() - ex.started
    head = first[:16384]
    tail: list[bytes] = [b"", b""]
    gone = Disconnect(resp)
    assert ex.receive is not None
    gone.arm(ex.receive)
    try:
        await _pump(send, resp, target.timeouts, tail)
    except UpstreamError as exc:
        if gone.happened:
            ex.status, ex.error = 499, "client disconnected mid-stream"
            return None
        ex.error = f"stream broke after the first byte: {exc}"
        log.warning("upstream stream broke", provider=target.key, error=str(exc))
        await resp.abort()
        sent = tail[0][-4096:] + tail[1] if tail[1] else first
        fmt = ex.endpoint.error_format
        sse = fmt != "gemini" or "event-stream" in (resp.header("content-type") or "")
        event = stream_error_event(fmt, f"upstream stream broke: {exc}", tail=sent, sse=sse)
        await send({"type": "http.response.body", "body": event, "more_body": False})
        return ex.error
    finally:
        gone.stop()
        ex.usage = token_usage(head, tail[0][-8192:] + tail[1])
    if gone.happened:
        ex.status, ex.error = 499, "client disconnected mid-stream"
        return None
    await resp.release()
    await send({"type": "http.response.body", "body": b"", "more_body": False})
    return None


async def _pump(send: Send, resp: UpstreamResponse, timeouts: Timeouts, tail: list[bytes]) -> None:
    """Relay ``resp`` to its end (the last two chunks kept in ``tail``). The socket limit
    is the largest of the stream's limits (``Timeouts.stream_read``): when idle is shorter,
    one timer holds it, pushed before each read and held while the client is written to."""
    idle = timeouts.idle
    deadline = Deadline.after(idle) if idle < timeouts.stream_read else None
    try:
        while True:
            if deadline is not None:
                deadline.push(idle)
                chunk = await resp.readany()
                deadline.hold()
            else:
                chunk = await resp.readany()
            if not chunk:
                return
            tail[0], tail[1] = tail[1], chunk
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
    except asyncio.CancelledError:
        if deadline is None or not deadline.stop():
            raise
        raise UpstreamTimeout(f"no data for {idle:g}s") from None
    finally:
        if deadline is not None:
            deadline.stop()


async def exhausted(
    send: Send, ex: Exchange, plan: Plan, last: Failure | None, fresh: Plan | None, now: float
) -> None:
    """Nothing answered: the one failure as it was (or one the client must see as it came,
    like a context-length error no larger window could take), else a 503 listing them.
    ``fresh`` is the plan made again now (``None``: it could not be), for when to retry."""
    fmt = ex.endpoint.error_format
    tried = {(f.backend, f.provider) for f in ex.failed}
    if last is not None and (
        last.passback or (len(tried) == 1 and len(plan.candidates) <= len(tried))
    ):
        await _only_failure(send, ex, last, routed_headers(ex, plan.backend, None))
        return
    earliest = fresh.earliest if fresh is not None and not fresh.candidates else None
    earliest = earliest or (plan.earliest if not plan.candidates else None)
    message = AllProvidersExhaustedError(plan.backends, earliest).message
    if ex.failed:
        message = f"no provider could serve the request ({len(ex.failed)} attempts failed)" + (
            f"; {message.split('; ', 1)[1]}" if earliest else ""
        )
    available = earliest.available_at if earliest else None
    extra: dict[str, Any] = {
        "attempts": [
            {"backend": f.backend, "provider": f.provider, "status": f.status, "reason": f.reason}
            for f in ex.failed
        ],
        "available_at": iso(available),
    }
    # Which backend was tried, how often, and which providers failed (no provider answered).
    headers = routed_headers(ex, plan.backend, None)
    if available is not None:
        retry = max(1, int(available - now + 0.999))
        extra["retry_after"] = retry
        headers.append((b"retry-after", str(retry).encode()))
    ex.status, ex.error = 503, message
    body = error_body(fmt, 503, message, code="ALL_PROVIDERS_EXHAUSTED", extra=extra)
    await respond(send, 503, body, headers)


async def _only_failure(
    send: Send, ex: Exchange, last: Failure, routed: list[tuple[bytes, bytes]]
) -> None:
    """One provider failed (maybe after a retry): the client gets what it said (or 502/504)."""
    fmt = ex.endpoint.error_format
    if last.status is not None:
        ex.status, ex.error = last.status, last.reason
        body = upstream_error_body(fmt, last.status, last.body)
        passed = [h for h in last.headers if h[0] != b"content-type"]
        passed += [JSON_TYPE, (b"content-length", str(len(body)).encode()), *routed]
        await send({"type": "http.response.start", "status": last.status, "headers": passed})
        await send({"type": "http.response.body", "body": body})
        return
    status = 504 if last.kind == "timeout" else 502
    ex.status, ex.error = status, last.reason
    await respond(send, status, error_body(fmt, status, last.reason, code=last.kind), routed)


#: How long the upstreams may think (``Guard``), or a stream may last (``Disconnect``),
#: before a watcher starts looking for a client that went away (seconds). Shorter ones, the
#: common case, create no task at all.
WATCH_AFTER: float = 0.2


class Guard:
    """Cancels the request's task when the client disconnects while it waits on upstreams.

    A timer arms it; only when it fires does a task wait on ``receive()`` for
    ``http.disconnect``. ``stop()`` must run before anything else reads ``receive()``.
    """

    __slots__ = ("_receive", "_task", "_timer", "_watcher", "fired")

    def __init__(self, receive: Receive | None) -> None:
        self.fired = False
        self._receive = receive
        self._task = asyncio.current_task()
        self._watcher: asyncio.Task[None] | None = None
        self._timer = (
            asyncio.get_running_loop().call_later(WATCH_AFTER, self._start)
            if receive is not None and self._task is not None
            else None
        )

    def _start(self) -> None:
        self._timer = None
        self._watcher = asyncio.ensure_future(self._watch())

    async def _watch(self) -> None:
        assert self._receive is not None and self._task is not None
        while True:
            message = await self._receive()
            if message["type"] == "http.disconnect":
                self.fired = True
                self._task.cancel()
                return

    def uncancel(self) -> None:
        if self._task is not None:
            self._task.uncancel()

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        if self._watcher is not None:
            self._watcher.cancel()


class Disconnect:
    """Watches ``receive`` during a stream; on ``http.disconnect`` aborts the upstream
    (``resp``: the one being relayed now, which a continuation replaces).

    Like ``Guard``, a timer arms it (``arm``): only a stream that lasts ``WATCH_AFTER``
    seconds gets a task waiting on ``receive()``, so a short stream costs one timer, not a
    task. The server drops what is sent to a client that left, so a client gone sooner is
    noticed when the watcher starts (at once: the server already holds the disconnect) and
    the upstream is aborted then, at most ``WATCH_AFTER`` later.
    """

    __slots__ = ("_task", "_timer", "happened", "resp")

    def __init__(self, resp: UpstreamResponse | None = None) -> None:
        self.happened = False
        self.resp = resp
        self._timer: asyncio.TimerHandle | None = None
        self._task: asyncio.Task[None] | None = None

    def arm(self, receive: Receive) -> None:
        """Start watching ``receive`` once the stream has lasted ``WATCH_AFTER`` seconds."""
        self._timer = asyncio.get_running_loop().call_later(WATCH_AFTER, self._start, receive)

    def _start(self, receive: Receive) -> None:
        self._timer = None
        self._task = asyncio.ensure_future(self.watch(receive))

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._task is not None:
            self._task.cancel()
            self._task = None

    async def watch(self, receive: Receive) -> None:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                self.happened = True
                if self.resp is not None:
                    await self.resp.abort()
                return
