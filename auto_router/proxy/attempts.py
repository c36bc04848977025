"""The attempt layer: one request to one provider, and what came of it (an ``Outcome``).

An attempt sends, reads the answer's status (and a stream's first event, within
``first_token`` seconds, so a failure there still fails over) and judges an error
(``classify``). It returns an ``Answer`` or a ``Failure`` and writes nothing: not the rotation
state, not the request's record (``Exchange``, read here, never written). A ``Failure`` says
what the state must remember (``Failure.count``); the recording layer above writes it, and the
failover layer above that decides what comes next (docs/proxy.md, "Failure handling").
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass

from ..errors import TranslationError
from ..limits.headroom import Window, parse_headroom
from . import translation
from .classify import (
    CONTEXT,
    LIMIT,
    OUTAGE,
    PASS,
    TRANSIENT_STATUSES,
    Count,
    Failure,
    classify,
    failure,
)
from .endpoints import GEMINI, NESTED_TOO_DEEP
from .errors import error_body
from .exchange import Call, Exchange, without_key
from .routing import Target
from .streams import Head, malformed_head
from .translation import Route, Translation
from .upstream import Deadline, Upstream, UpstreamError, UpstreamResponse, UpstreamTimeout


@dataclass(slots=True)
class Answer:
    """The attempt that answered: its response and, unless streaming, its whole body."""

    target: Target
    resp: UpstreamResponse
    #: The body (non-streaming, or an error passed back); ``None``: a stream to relay.
    payload: bytes | None
    #: A stream's head, up to its first whole event (read before answering).
    head: bytes = b""
    #: The rate-limit windows its headers describe (issue 19; ``()``: none).
    headroom: tuple[Window, ...] = ()


#: What an attempt returns.
Outcome = Answer | Failure


def upstream_model(target: Target, ex: Exchange) -> str | None:
    """The model ``target`` is asked for: its ``model_map`` / ``model``, else (on another
    backend than the routed one) that backend's model, else the client's."""
    model = ex.client_model
    found = target.upstream_model(model)
    if found is None:
        other_backend = target.backend != ex.routed
        found = (target.backend_model if other_backend else None) or model
    return found


def upstream_request(
    target: Target, ex: Exchange, call: Call, upstream: Upstream, upstream_model: str | None
) -> tuple[str, list[tuple[str, str]], bytes | None, Upstream | Translation]:
    """The URL, headers and body of ``call`` for ``target`` (asked for ``upstream_model``),
    and what sends it. A provider of another protocol gets the request in its own, sent
    through a ``Translation`` whose answer reads as the client's protocol."""
    endpoint = ex.endpoint
    route = target.translate.get(endpoint.name)
    if route is not None:  # the translation hook; None (the common case) = untranslated
        bridge = _translation(route, ex, call, upstream_model, upstream)
        sender: Upstream | Translation = bridge
        url, body = bridge.url, bridge.body
        headers = bridge.headers(call.forwarded)
    else:
        url, body = _native_request(target, ex, call, upstream_model)
        headers, sender = call.forwarded, upstream
    if target.headers:
        names = target.header_names
        headers = [h for h in headers if h[0] not in names]
        headers.extend(target.headers)
    if target.passthrough:  # the client's own login, to the provider it is for alone
        headers = [*headers, *call.login]
    if target.default_headers:
        present = {h[0] for h in headers}
        headers = [*headers, *(h for h in target.default_headers if h[0] not in present)]
    return url, headers, body, sender


def _native_request(
    target: Target, ex: Exchange, call: Call, upstream_model: str | None
) -> tuple[str, bytes | None]:
    endpoint = ex.endpoint
    if endpoint.family == GEMINI:
        url = f"{target.gemini_prefix}{upstream_model}:{endpoint.upstream_path}"
        if call.query:
            url += "?" + without_key(call.query)
        return url, call.body
    url = target.urls[endpoint.name]
    if call.query and endpoint.name == "models":
        kept = without_key(call.query)
        if kept:
            url += ("&" if "?" in url else "?") + kept
    body = call.body if endpoint.has_body else None
    data = call.data
    if data is not None and upstream_model != ex.client_model:
        data["model"] = upstream_model
        try:
            body = json.dumps(data, ensure_ascii=False).encode()
        except RecursionError:  # parsed near the limit, deeper on this stack (issue 18)
            raise _nested_too_deep(ex) from None
    return url, body


def _nested_too_deep(ex: Exchange) -> Failure:
    error = error_body(ex.endpoint.error_format, 400, NESTED_TOO_DEEP, code="invalid_request")
    return Failure(f"cannot send: {NESTED_TOO_DEEP}", status=400, body=error, passback=True)


def _translation(
    route: Route, ex: Exchange, call: Call, upstream_model: str | None, upstream: Upstream
) -> Translation:
    try:
        return translation.prepare(
            route,
            ex.endpoint.name,
            call.data,
            call.body,
            upstream_model=upstream_model,
            client_model=ex.client_model,
            stream=ex.stream,
            query=call.query,
            upstream=upstream,
        )
    except TranslationError as exc:
        error = error_body(ex.endpoint.error_format, 400, exc.message, code=exc.code)
        raise Failure(f"cannot translate: {exc.message}", status=400, body=error) from None


class Attempts:
    """Makes single attempts (the layer above walks the plan and writes what came of them)."""

    def __init__(self, upstream: Upstream, clock: Callable[[], float]) -> None:
        self.upstream = upstream
        self.clock = clock

    async def attempt(
        self,
        target: Target,
        ex: Exchange,
        call: Call,
        model: str | None,
        *,
        may_retry: bool = False,
        may_wait: float = 0.0,
    ) -> Outcome:
        """Send ``call`` to ``target`` (asking for ``model``): an ``Answer``, or a ``Failure``
        (with ``retry`` when one more try may work, ``wait`` when a short wait would)."""
        try:  # the helpers raise ``Failure``; the caller gets it as a value
            if target.broken:
                raise Failure(f"not usable: {target.broken}", kind="config")
            url, headers, body, sender = upstream_request(target, ex, call, self.upstream, model)
            try:
                resp = await sender.send(
                    call.method, url, headers, body, target.timeouts, stream=ex.stream
                )
            except UpstreamError as exc:
                raise _outage(exc, may_retry) from None
            if resp.status >= 400:
                try:
                    error = await resp.read()
                except UpstreamError as exc:
                    error = str(exc).encode()
                self._judge(target, resp, error, may_retry, may_wait)
                return Answer(target, resp, error)  # a client error (400, 404, 422...)
            # Headroom is read once the answer is one (a failure above says more itself).
            headroom = parse_headroom(resp.raw_headers(), self.clock())
            if ex.stream:
                head = await _first_event(target, resp, may_retry)
                return Answer(target, resp, None, head, headroom)
            try:
                payload = await resp.read()
            except UpstreamError as exc:
                raise _outage(exc, may_retry) from None
            return Answer(target, resp, payload, headroom=headroom)
        except Failure as exc:
            return exc

    def _judge(
        self,
        target: Target,
        resp: UpstreamResponse,
        error: bytes,
        may_retry: bool,
        may_wait: float,
    ) -> None:
        """Raise ``Failure`` for an error that fails over; return for one passed back."""
        now = self.clock()
        verdict = classify(resp, error, target.markers, now)
        if verdict.kind == PASS or (target.passthrough and resp.status == 401):
            # A passthrough 401 is the client's login (expired, revoked), not the provider:
            # no cooldown, no circuit; the agent gets it and refreshes its login itself.
            return
        if verdict.kind == CONTEXT:  # the request's fault: no cooldown, no failure counted
            raise failure(resp, error, verdict, passback=True)
        if verdict.kind == LIMIT:
            wait = None if verdict.until is None else verdict.until - now
            if wait is not None and wait <= may_wait:
                raise failure(resp, error, verdict, wait=max(wait, 0.0))
            count = Count(LIMIT, verdict.reason, verdict.until)
            raise failure(resp, error, verdict, count=count)
        # OUTAGE counts toward the circuit breaker; FAILOVER (408) is counted, not held.
        count = Count(verdict.kind, verdict.reason)
        retry = may_retry and resp.status in TRANSIENT_STATUSES
        raise failure(resp, error, verdict, retry=retry, count=count)


async def _first_event(target: Target, resp: UpstreamResponse, may_retry: bool) -> bytes:
    """The stream's head up to its first event, read before answering (so a failure there
    still fails over), within the provider's first-token limit."""
    sse = "event-stream" in (resp.header("content-type") or "")
    limits = target.timeouts
    # The client's socket limit is the larger of first-token and idle. When it is the
    # first-token one it already bounds the first read, the common whole head: a deadline
    # of our own is armed only for a shorter limit, or for a head that comes in pieces.
    loop = asyncio.get_running_loop()
    started = loop.time()
    deadline = (
        None if limits.first_token >= limits.stream_read else Deadline.after(limits.first_token)
    )
    head = Head()  # linear however the head is cut (issue 18)
    try:
        while True:
            chunk = await resp.readany()
            if not chunk:
                break
            if head.add(chunk) or not sse:
                break
            if deadline is None:
                deadline = Deadline(started + limits.first_token)
    except UpstreamError as exc:
        await resp.abort()
        if exc.kind == "timeout":  # the socket limit, here the first-token one
            exc = UpstreamTimeout(_NO_FIRST_TOKEN)
        raise _outage(exc, may_retry) from None
    except asyncio.CancelledError:  # our deadline, or the client went away: close the upstream
        expired = deadline is not None and deadline.stop()
        await resp.abort()
        if not expired:
            raise
        raise _outage(UpstreamTimeout(_NO_FIRST_TOKEN), may_retry) from None
    finally:
        if deadline is not None:
            deadline.stop()
    return await _checked_head(resp, head.bytes(), sse, may_retry)


_NO_FIRST_TOKEN = "no first token within the first-token limit"


async def _checked_head(resp: UpstreamResponse, head: bytes, sse: bool, may_retry: bool) -> bytes:
    """``head``, unless it is empty or malformed (then the attempt failed)."""
    if not head or (sse and malformed_head(head)):
        await resp.abort()
        reason = (
            "the upstream stream ended before any data"
            if not head
            else "the upstream stream began with a malformed event"
        )
        # Counted as an outage, but retried even when it opens the circuit (as it always was).
        count = Count(OUTAGE, reason, trips=False)
        raise Failure(reason, kind="connection", retry=may_retry, count=count)
    return head


def _outage(exc: UpstreamError, may_retry: bool) -> Failure:
    # A timeout is not retried here: it has already cost the client its full length.
    retry = may_retry and exc.kind == "connection"
    return Failure(str(exc), kind=exc.kind, retry=retry, count=Count(OUTAGE, str(exc)))
