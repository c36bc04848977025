"""The attempt loop: one request, the plan's candidates in order, until one answers.

Before the first byte goes to the client a failure is still free to handle (docs/proxy.md,
"Failure handling", has the whole table):

* a transient failure (refused, reset, 500/502/503) is tried once more on the same provider
  after a short jittered pause, then the next candidate has a go;
* a 429 that asks to wait no longer than ``max_retry_wait`` is waited out once;
* a usage limit cools the provider down (rotation), an outage counts toward its circuit
  breaker, a context-length error goes to a candidate with a larger window;
* a request error (400, 404, content policy) goes back unchanged, never retried.

No provider gets more than ``Pacing.per_window`` attempts within ``Pacing.window`` seconds,
and a request never makes more than ``max_attempts``. A stream's first event is read before
answering (within ``first_token`` seconds), so a failure there still fails over.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace

from ..config.proxy import ProxySettings
from ..errors import TranslationError
from ..store.requests import FailedAttempt
from . import translation
from .classify import (
    CONTEXT,
    LIMIT,
    OUTAGE,
    PASS,
    TRANSIENT_STATUSES,
    Failure,
    classify,
    failure,
)
from .endpoints import GEMINI
from .errors import error_body
from .exchange import Call, Exchange, without_key
from .recording import Recorder
from .routing import Plan, Target
from .streams import first_event_in, malformed
from .translation import Route, Translation
from .upstream import Upstream, UpstreamError, UpstreamResponse, UpstreamTimeout


@dataclass(frozen=True)
class Pacing:
    """The waits of the retry rules. Tests make them short; production keeps the defaults."""

    #: The pause before retrying a transient failure: uniform in this range (seconds).
    retry_pause: tuple[float, float] = (0.25, 1.0)
    #: Never more than ``per_window`` attempts on one provider within ``window`` seconds.
    per_window: int = 3
    window: float = 3.0
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    monotonic: Callable[[], float] = time.monotonic
    jitter: Callable[[float, float], float] = field(default=random.uniform)


@dataclass(slots=True)
class Answer:
    """The attempt that answered: its response and, unless streaming, its whole body."""

    target: Target
    resp: UpstreamResponse
    #: The body (non-streaming, or an error passed back); ``None``: a stream to relay.
    payload: bytes | None


def upstream_request(
    target: Target, ex: Exchange, call: Call, upstream: Upstream
) -> tuple[str, list[tuple[str, str]], bytes | None, Upstream | Translation]:
    """The URL, headers and body of ``call`` for ``target``, and what sends it (sets
    ``ex.upstream_model``). A provider of another protocol gets the request in its own,
    sent through a ``Translation`` whose answer reads as the client's protocol."""
    endpoint = ex.endpoint
    model = ex.client_model
    upstream_model = target.upstream_model(model)
    if upstream_model is None:
        other_backend = target.backend != ex.routed
        upstream_model = (target.backend_model if other_backend else None) or model
    ex.upstream_model = upstream_model
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
        body = json.dumps(data, ensure_ascii=False).encode()
    return url, body


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
    """Sends a request to the candidates of a plan, recording what happens to each."""

    def __init__(
        self,
        upstream: Upstream,
        recorder: Recorder,
        clock: Callable[[], float],
        pacing: Pacing | None = None,
    ) -> None:
        self.upstream = upstream
        self.recorder = recorder
        self.clock = clock
        self.pacing = pacing or Pacing()

    async def run(
        self, ex: Exchange, plan: Plan, call: Call, settings: ProxySettings
    ) -> Answer | Failure | None:
        """Try the candidates in turn: the first answer, else the last failure."""
        last: Failure | None = None
        window: int | None = None  # after a context-length error: only larger windows
        for target in plan.candidates:
            if ex.attempts >= settings.max_attempts:
                break
            if window is not None and (target.context_window or 0) <= window:
                continue
            probe = (target.backend, target.provider) in plan.probes
            if probe and not await self.recorder.claim_probe(target):
                continue  # another request is probing it; this one goes on
            try:
                return await self._on_provider(target, ex, call, settings, probe)
            except Failure as exc:
                last = exc
                if exc.kind == CONTEXT:
                    window = max(window or 0, target.context_window or 0)
        return last

    async def _on_provider(
        self, target: Target, ex: Exchange, call: Call, settings: ProxySettings, probe: bool
    ) -> Answer:
        """Attempts on one provider: the first, one retry of a transient failure, one wait."""
        tries: list[float] = []
        retried = waited = probe  # a probe is a single request
        while True:
            ex.attempts += 1
            ex.provider, ex.backend = target.provider, target.backend
            tries.append(self.pacing.monotonic())
            may_wait = settings.max_retry_wait if not waited else 0.0
            try:
                return await self.attempt(
                    target, ex, call, may_retry=not retried, may_wait=may_wait
                )
            except Failure as exc:
                ex.failed.append(
                    FailedAttempt(target.backend, target.provider, exc.status, exc.reason)
                )
                if ex.attempts >= settings.max_attempts or not (exc.retry or exc.wait is not None):
                    raise
                if exc.wait is not None:
                    waited, pause = True, exc.wait
                else:
                    retried, pause = True, self.pacing.jitter(*self.pacing.retry_pause)
                await self.pacing.sleep(max(pause, self._spacing(tries)))

    def _spacing(self, tries: list[float]) -> float:
        """How long to wait so that one provider never sees too many attempts too fast."""
        pacing = self.pacing
        if len(tries) < pacing.per_window:
            return 0.0
        return max(0.0, tries[-pacing.per_window] + pacing.window - pacing.monotonic())

    async def attempt(
        self,
        target: Target,
        ex: Exchange,
        call: Call,
        *,
        may_retry: bool = False,
        may_wait: float = 0.0,
    ) -> Answer:
        """Send to ``target``; raise ``Failure`` when it should be tried again or skipped."""
        if target.broken:
            raise Failure(f"not usable: {target.broken}", kind="config")
        url, headers, body, sender = upstream_request(target, ex, call, self.upstream)
        try:
            resp = await sender.send(
                call.method, url, headers, body, target.timeouts, stream=ex.stream
            )
        except UpstreamError as exc:
            raise await self._outage(target, exc, may_retry) from None
        if resp.status >= 400:
            try:
                error = await resp.read()
            except UpstreamError as exc:
                error = str(exc).encode()
            await self._judge(target, resp, error, may_retry, may_wait)
            return Answer(target, resp, error)  # a client error (400, 404, 422...)
        if ex.stream:
            ex.response_body = await self._first_event(target, resp, may_retry)
            return Answer(target, resp, None)
        try:
            payload = await resp.read()
        except UpstreamError as exc:
            raise await self._outage(target, exc, may_retry) from None
        return Answer(target, resp, payload)

    async def _first_event(self, target: Target, resp: UpstreamResponse, may_retry: bool) -> bytes:
        """The stream's head up to its first event, read before answering (so a failure there
        still fails over), within the provider's first-token limit."""
        sse = "event-stream" in (resp.header("content-type") or "")
        parts: list[bytes] = []
        try:
            async with asyncio.timeout(target.timeouts.first_token):
                while True:
                    chunk = await resp.readany()
                    if not chunk:
                        break
                    parts.append(chunk)
                    if not sse or first_event_in(b"".join(parts)):
                        break
        except (UpstreamError, TimeoutError) as exc:
            await resp.abort()
            if not isinstance(exc, UpstreamError):
                exc = UpstreamTimeout("no first token within the first-token limit")
            raise await self._outage(target, exc, may_retry) from None
        except asyncio.CancelledError:  # the client went away: close the upstream too
            await resp.abort()
            raise
        head = b"".join(parts)
        if not head or (sse and malformed(head)):
            await resp.abort()
            reason = (
                "the upstream stream ended before any data"
                if not head
                else "the upstream stream began with a malformed event"
            )
            await self.recorder.failed(target, reason, outage=True)
            raise Failure(reason, kind="connection", retry=may_retry)
        return head

    async def _outage(self, target: Target, exc: UpstreamError, may_retry: bool) -> Failure:
        opened = await self.recorder.failed(target, str(exc), outage=True)
        # A timeout is not retried here: it has already cost the client its full length.
        retry = may_retry and not opened and exc.kind == "connection"
        reason = f"{exc} (circuit opened)" if opened else str(exc)
        return Failure(reason, kind=exc.kind, retry=retry)

    async def _judge(
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
        if verdict.kind == PASS:
            return
        if verdict.kind == CONTEXT:  # the request's fault: no cooldown, no failure counted
            raise failure(resp, error, verdict, passback=True)
        if verdict.kind == LIMIT:
            wait = None if verdict.until is None else verdict.until - now
            if wait is not None and wait <= may_wait:
                raise failure(resp, error, verdict, wait=max(wait, 0.0))
            await self.recorder.usage_limit(target, verdict.until, verdict.reason)
            raise failure(resp, error, verdict)
        opened = await self.recorder.failed(target, verdict.reason, outage=verdict.kind == OUTAGE)
        if opened:
            verdict = replace(verdict, reason=f"{verdict.reason} (circuit opened)")
        retry = may_retry and not opened and resp.status in TRANSIENT_STATUSES
        raise failure(resp, error, verdict, retry=retry)
