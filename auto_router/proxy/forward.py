"""The data path: one client request -> providers in order -> one response, with failover.

Plain ASGI (no Request/Response objects) because this runs for every request. Before the
first byte goes to the client, a connection error, timeout, 429, 5xx, 401/403 or usage-limit
body moves on to the next candidate; a stream's first chunk is read before answering so a
failure there still fails over. After the first byte a failure ends the stream with an error
event in the client protocol's format.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hmac
import json
import re
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any, Final

import structlog

from ..errors import AllProvidersExhaustedError, AutoRouterError, NotFoundError, TranslationError
from ..rotator import Rotator
from ..store.requests import FailedAttempt, RequestRecord
from . import translation
from .endpoints import GEMINI, Endpoint
from .errors import error_body, stream_error_event, upstream_error_body
from .limits import is_usage_limit, reset_time, should_fail_over
from .reqlog import RequestLog, redact_body
from .routing import Plan, Router, RoutingError, Snapshot, Target
from .upstream import Upstream, UpstreamError, UpstreamResponse

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

log = structlog.get_logger("auto_router.proxy")

#: Client request headers never forwarded upstream (hop-by-hop, credentials, cookies, ours).
DROP_REQUEST: Final = frozenset(
    {
        b"host",
        b"connection",
        b"keep-alive",
        b"proxy-authorization",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
        b"content-length",
        b"accept-encoding",
        b"authorization",
        b"x-api-key",
        b"api-key",
        b"x-goog-api-key",
        b"cookie",
        b"x-auto-router-backend",
        b"x-auto-router-provider",
    }
)
#: Upstream response headers never passed to the client.
DROP_RESPONSE: Final = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
        b"content-length",
        b"content-encoding",
        b"set-cookie",
        b"date",
        b"server",
    }
)
_JSON: Final = (b"content-type", b"application/json")
_USAGE: Final = re.compile(
    rb'"(prompt_tokens|input_tokens|promptTokenCount|completion_tokens|output_tokens|'
    rb'candidatesTokenCount|total_tokens|totalTokenCount)"\s*:\s*(\d+)'
)
_PROMPT: Final = frozenset({b"prompt_tokens", b"input_tokens", b"promptTokenCount"})
_COMPLETION: Final = frozenset({b"completion_tokens", b"output_tokens", b"candidatesTokenCount"})
_MODEL_IN_BODY: Final = re.compile(rb'"model"\s*:\s*"((?:[^"\\]|\\.)*)"')


def token_usage(*parts: bytes) -> tuple[int | None, int | None, int | None]:
    """Prompt, completion and total tokens from a body or a stream's head and tail."""
    prompt = completion = total = None
    for part in parts:
        for name, value in _USAGE.findall(part):
            if name in _PROMPT:
                prompt = int(value)
            elif name in _COMPLETION:
                completion = int(value)
            else:
                total = int(value)
    if total is None and prompt is not None and completion is not None:
        total = prompt + completion
    return prompt, completion, total


@dataclass(slots=True)
class Exchange:
    """What one request did, for the request log and the log line."""

    endpoint: Endpoint
    method: str
    started: float
    ts: float
    client_model: str | None = None
    backend: str | None = None
    #: The backend the routing rules chose (``backend`` is the one that answered).
    routed: str | None = None
    provider: str | None = None
    upstream_model: str | None = None
    stream: bool = False
    status: int = 0
    attempts: int = 0
    failed: list[FailedAttempt] = field(default_factory=list)
    ttfb: float | None = None
    usage: tuple[int | None, int | None, int | None] = (None, None, None)
    error: str | None = None
    request_body: bytes | None = None
    response_body: bytes | None = None
    receive: Receive | None = None


class _Failure(Exception):
    """An attempt that failed before the first byte; ``failover`` says whether to go on."""

    def __init__(
        self,
        reason: str,
        *,
        status: int | None = None,
        body: bytes = b"",
        headers: list[tuple[bytes, bytes]] | None = None,
        kind: str = "http",
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.body = body
        self.headers = headers or []
        self.kind = kind


class Proxy:
    """Forwards requests. Holds the router, the upstream client, the state and the log."""

    def __init__(
        self,
        router: Router,
        rotator: Rotator,
        upstream: Upstream,
        *,
        request_log: RequestLog | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.router = router
        self.rotator = rotator
        self.upstream = upstream
        self.request_log = request_log
        self.clock = clock
        self._consecutive: dict[tuple[str, str], int] = {}
        self._background: set[asyncio.Task[Any]] = set()

    # ------------------------------------------------------------------ entry

    async def handle(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        endpoint: Endpoint,
        path_model: str | None = None,
    ) -> None:
        ex = Exchange(
            endpoint=endpoint,
            method=scope["method"],
            started=time.perf_counter(),
            ts=self.clock(),
            receive=receive,
        )
        fmt = endpoint.error_format
        try:
            await self._handle(scope, receive, send, ex, path_model)
        except _ClientError as exc:
            ex.status, ex.error = exc.status, exc.message
            await _respond(
                send, exc.status, error_body(fmt, exc.status, exc.message, code=exc.code)
            )
        except Exception as exc:  # the proxy's own bug: a 502 with a message, not a traceback
            log.exception("proxy error", path=scope.get("path"))
            ex.status, ex.error = 502, f"proxy error: {type(exc).__name__}: {exc}"
            await _respond(send, 502, error_body(fmt, 502, ex.error, code="proxy_error"))
        self._finish(ex)

    async def _handle(
        self, scope: Scope, receive: Receive, send: Send, ex: Exchange, path_model: str | None
    ) -> None:
        endpoint = ex.endpoint
        body = await _read_body(receive) if endpoint.has_body else b""
        forwarded: list[tuple[str, str]] = []
        want_backend = want_provider = credential = None
        for name, value in scope["headers"]:
            if name in DROP_REQUEST:
                if name == b"x-auto-router-backend":
                    want_backend = value.decode("latin-1")
                elif name == b"x-auto-router-provider":
                    want_provider = value.decode("latin-1")
                elif name in (b"authorization", b"x-api-key", b"x-goog-api-key", b"api-key"):
                    credential = credential or value.decode("latin-1")
                continue
            forwarded.append((name.decode("latin-1"), value.decode("latin-1")))
        snap = self.router.snapshot()
        if snap.settings.client_tokens:
            self._check_client(snap, credential, scope)

        data: dict[str, Any] | None = None
        if endpoint.family == GEMINI or not body:
            ex.client_model = path_model
            ex.stream = endpoint.name == "streamGenerateContent"
        else:
            try:
                parsed = json.loads(body)
            except ValueError:
                raise _ClientError(400, "the request body is not valid JSON") from None
            if not isinstance(parsed, dict):
                raise _ClientError(400, "the request body must be a JSON object")
            data = parsed
            model = data.get("model")
            ex.client_model = model if isinstance(model, str) else None
            ex.stream = data.get("stream") is True
        if self.request_log is not None and self.request_log.settings.bodies:
            ex.request_body = body
        try:
            backend = self.router.backend_for(snap, want_backend, ex.client_model)
            pinned = self.router.pinned_for(snap, want_backend, want_provider, ex.client_model)
            plan = self.router.plan(backend, endpoint.plan_family, pinned)
        except RoutingError as exc:
            raise _ClientError(400, exc.message, code=exc.code) from None
        except NotFoundError as exc:
            raise _ClientError(404 if want_provider else 400, exc.message, code=exc.code) from None
        except AutoRouterError as exc:
            raise _ClientError(503, exc.message, code=exc.code) from None
        ex.backend = ex.routed = plan.backend
        await self._forward(scope, send, ex, snap, plan, body, data, forwarded)

    def _check_client(self, snap: Snapshot, credential: str | None, scope: Scope) -> None:
        token = credential or ""
        if token.lower().startswith("bearer "):
            token = token[7:]
        if not token and scope.get("query_string"):
            for part in scope["query_string"].decode("latin-1").split("&"):
                if part.startswith("key="):
                    token = part[4:]
        allowed = [*snap.settings.client_tokens]
        if snap.settings.admin_token is not None:
            allowed.append(snap.settings.admin_token)
        if not any(hmac.compare_digest(token.encode(), t.reveal().encode()) for t in allowed):
            raise _ClientError(401, "missing or invalid client token", code="UNAUTHORIZED")

    # ---------------------------------------------------------------- attempts

    async def _forward(
        self,
        scope: Scope,
        send: Send,
        ex: Exchange,
        snap: Snapshot,
        plan: Plan,
        body: bytes,
        data: dict[str, Any] | None,
        forwarded: list[tuple[str, str]],
    ) -> None:
        # While the upstreams think, a client that goes away cancels this task (and so the
        # upstream request). The watcher only starts if the wait lasts: no task per request.
        guard = _Guard(ex.receive)
        try:
            answered = await self._attempts(ex, snap, plan, body, data, forwarded, scope)
        except asyncio.CancelledError:
            if not guard.fired:
                raise
            guard.uncancel()
            ex.status, ex.error = 499, "client disconnected before the answer"
            return
        finally:
            guard.stop()
        fmt = ex.endpoint.error_format
        if not isinstance(answered, tuple):
            await self._exhausted(send, ex, plan, answered)
            return
        target, resp, payload = answered
        if resp.status < 400:
            await self._succeeded(target, plan)
        if ex.stream and payload is None:
            await self._relay(send, ex, target, resp, fmt)
        else:
            await self._answer(send, ex, target, resp, payload or b"")

    async def _attempts(
        self,
        ex: Exchange,
        snap: Snapshot,
        plan: Plan,
        body: bytes,
        data: dict[str, Any] | None,
        forwarded: list[tuple[str, str]],
        scope: Scope,
    ) -> tuple[Target, UpstreamResponse, bytes | None] | _Failure | None:
        """Try the candidates in turn: the first answer, else the last failure."""
        last: _Failure | None = None
        max_attempts = snap.settings.max_attempts
        query = scope.get("query_string", b"")
        for target in plan.candidates:
            if ex.attempts >= max_attempts:
                break
            ex.attempts += 1
            ex.provider, ex.backend = target.provider, target.backend
            try:
                resp, payload = await self._attempt(
                    target, ex, body, data, forwarded, query, scope["method"]
                )
            except _Failure as failure:
                last = failure
                ex.failed.append(
                    FailedAttempt(target.backend, target.provider, failure.status, failure.reason)
                )
                continue
            return target, resp, payload
        return last

    async def _attempt(
        self,
        target: Target,
        ex: Exchange,
        body: bytes,
        data: dict[str, Any] | None,
        forwarded: list[tuple[str, str]],
        query: bytes,
        method: str,
    ) -> tuple[UpstreamResponse, bytes | None]:
        """Send to ``target``; return the response and, when not streaming, its body.

        For a stream the first chunk is read here (it is then the ``payload``'s job of the
        relay): a stream that fails before its first byte still fails over.
        """
        if target.broken:
            raise _Failure(f"not usable: {target.broken}", kind="config")
        endpoint = ex.endpoint
        model = ex.client_model
        upstream_model = target.upstream_model(model)
        if upstream_model is None:
            other_backend = target.backend != ex.routed
            upstream_model = (target.backend_model if other_backend else None) or model
        ex.upstream_model = upstream_model
        # Translation hook 1/2 (auto_router/proxy/translation.py): a provider of another
        # protocol gets the request in its own; None (the common case) = untranslated path.
        route = target.translate.get(endpoint.name)
        bridge = None
        send_body: bytes | None
        if route is not None:
            try:
                bridge = translation.prepare(
                    route,
                    endpoint.name,
                    data,
                    body,
                    upstream_model=upstream_model,
                    client_model=model,
                    stream=ex.stream,
                    query=query,
                    upstream=self.upstream,
                )
            except TranslationError as exc:
                error = error_body(endpoint.error_format, 400, exc.message, code=exc.code)
                raise _Failure(f"cannot translate: {exc.message}", status=400, body=error) from None
            url, send_body, forwarded = bridge.url, bridge.body, bridge.headers(forwarded)
        elif endpoint.family == GEMINI:
            url = f"{target.gemini_prefix}{upstream_model}:{endpoint.upstream_path}"
            if query:
                url += "?" + _without_key(query)
            send_body = body
        else:
            url = target.urls[endpoint.name]
            if query and endpoint.name == "models":
                kept = _without_key(query)
                if kept:
                    url += ("&" if "?" in url else "?") + kept
            send_body = body if endpoint.has_body else None
            if data is not None and upstream_model != model:
                data["model"] = upstream_model
                send_body = json.dumps(data, ensure_ascii=False).encode()
        headers = forwarded
        if target.headers:
            names = target.header_names
            headers = [h for h in forwarded if h[0] not in names]
            headers.extend(target.headers)
        if target.default_headers:
            present = {h[0] for h in headers}
            headers = [*headers, *(h for h in target.default_headers if h[0] not in present)]
        try:
            # translation hook 2/2: a bridge sends, and its answer reads as the client's protocol
            resp = await (bridge or self.upstream).send(
                method, url, headers, send_body, target.timeouts
            )
        except UpstreamError as exc:
            await self._failed(target, str(exc), outage=True)
            raise _Failure(str(exc), kind=exc.kind) from None
        status = resp.status
        if status >= 400:
            try:
                error = await resp.read()
            except UpstreamError as exc:
                error = str(exc).encode()
            await self._classify(target, resp, status, error)
            return resp, error  # a client error (400, 404, 422...): passed through
        if ex.stream:
            try:
                first = await resp.readany()
            except UpstreamError as exc:
                await resp.abort()
                await self._failed(target, str(exc), outage=True)
                raise _Failure(str(exc), kind=exc.kind) from None
            except asyncio.CancelledError:  # the client went away: close the upstream too
                await resp.abort()
                raise
            if not first:
                await resp.release()
                await self._failed(target, "the upstream stream ended before any data", outage=True)
                raise _Failure("the upstream stream ended before any data", kind="connection")
            ex.response_body = first
            return resp, None
        try:
            payload = await resp.read()
        except UpstreamError as exc:
            await self._failed(target, str(exc), outage=True)
            raise _Failure(str(exc), kind=exc.kind) from None
        return resp, payload

    async def _classify(
        self, target: Target, resp: UpstreamResponse, status: int, error: bytes
    ) -> None:
        """Raise ``_Failure`` for a status that fails over; return for one passed through."""
        text = error[:8192].decode("utf-8", "replace")
        headers = [(n.lower(), v) for n, v in resp.raw_headers() if n.lower() not in DROP_RESPONSE]
        reason = f"HTTP {status}: {_summary(text)}"
        if is_usage_limit(status, text, target.markers):
            now = self.clock()
            header_map = {n.decode("latin-1"): v.decode("latin-1") for n, v in resp.raw_headers()}
            header_map = {k.lower(): v for k, v in header_map.items()}
            until = reset_time(header_map, text, now)
            await self._run(
                self.rotator.record_usage_limit,
                target.backend,
                target.provider,
                reset_at=until,
                reason=f"proxy: {reason}",
            )
            raise _Failure(reason, status=status, body=error, headers=headers)
        if should_fail_over(status):
            await self._failed(target, reason, outage=status >= 500 or status in (401, 403))
            raise _Failure(reason, status=status, body=error, headers=headers)

    async def _failed(self, target: Target, reason: str, *, outage: bool) -> None:
        key = (target.backend, target.provider)
        count = self._consecutive.get(key, 0) + 1
        threshold = self.router.snapshot().settings.failure_threshold
        several = len(self.router.snapshot().rotation.get(target.backend, ())) > 1
        if outage and several and count >= threshold:
            self._consecutive[key] = 0
            cooldown = self.router.snapshot().settings.failure_cooldown
            await self._run(
                self.rotator.record_usage_limit,
                target.backend,
                target.provider,
                reset_at=self.clock() + cooldown,
                reason=f"proxy: {count} failures in a row, resting {cooldown:g}s: {reason}",
            )
            return
        self._consecutive[key] = count
        await self._run(self.rotator.record_failure, target.backend, target.provider, reason)

    async def _succeeded(self, target: Target, plan: Plan) -> None:
        key = (target.backend, target.provider)
        if self._consecutive.get(key):
            self._consecutive[key] = 0
        if plan.last_success.get(target.backend) != target.provider:
            # Only when it changes something: a write per request would cost the hot path.
            self._spawn(self._run(self.rotator.record_success, target.backend, target.provider))

    async def _run(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        """A state write, in a thread (SQLite may wait for another process's lock)."""
        try:
            await asyncio.to_thread(fn, *args, **kwargs)
        except AutoRouterError as exc:
            log.warning("rotation state write failed", error=str(exc))

    def _spawn(self, coro: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def drain(self) -> None:
        """Wait for background state writes (shutdown, tests)."""
        while self._background:
            await asyncio.gather(*list(self._background), return_exceptions=True)

    # --------------------------------------------------------------- answering

    async def _answer(
        self, send: Send, ex: Exchange, target: Target, resp: UpstreamResponse, payload: bytes
    ) -> None:
        status = resp.status
        ex.status = status
        ex.ttfb = time.perf_counter() - ex.started
        headers = _response_headers(resp, target)
        if status >= 400:
            payload = upstream_error_body(ex.endpoint.error_format, status, payload)
            headers = [h for h in headers if h[0] != b"content-type"]
            headers.append(_JSON)
            ex.error = f"HTTP {status}: {_summary(payload.decode('utf-8', 'replace'))}"
        elif (
            ex.client_model
            and ex.upstream_model != ex.client_model
            and ex.endpoint.family != GEMINI
        ):
            payload = _restore_model(payload, ex.client_model)
        ex.usage = token_usage(payload[-8192:])
        if ex.request_body is not None:
            ex.response_body = payload
        headers.append((b"content-length", str(len(payload)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": payload})

    async def _relay(
        self, send: Send, ex: Exchange, target: Target, resp: UpstreamResponse, fmt: str
    ) -> None:
        first = ex.response_body or b""
        ex.response_body = None
        ex.status = resp.status
        headers = _response_headers(resp, target)
        await send({"type": "http.response.start", "status": resp.status, "headers": headers})
        await send({"type": "http.response.body", "body": first, "more_body": True})
        ex.ttfb = time.perf_counter() - ex.started
        head = first[:16384]
        tail: list[bytes] = [b"", b""]
        gone = _Disconnect()
        assert ex.receive is not None
        watcher = asyncio.ensure_future(gone.watch(ex.receive, resp))
        try:
            while True:
                chunk = await resp.readany()
                if not chunk:
                    break
                tail[0], tail[1] = tail[1], chunk
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        except UpstreamError as exc:
            if gone.happened:
                ex.status, ex.error = 499, "client disconnected mid-stream"
                return
            ex.error = f"stream broke after the first byte: {exc}"
            log.warning("upstream stream broke", provider=target.key, error=str(exc))
            await resp.abort()
            sent = tail[0][-4096:] + tail[1] if tail[1] else first
            sse = fmt != "gemini" or "event-stream" in (resp.header("content-type") or "")
            event = stream_error_event(fmt, f"upstream stream broke: {exc}", tail=sent, sse=sse)
            await send({"type": "http.response.body", "body": event, "more_body": False})
            self._spawn(self._failed(target, ex.error, outage=True))
            return
        finally:
            watcher.cancel()
            ex.usage = token_usage(head, tail[0][-8192:] + tail[1])
        if gone.happened:
            ex.status, ex.error = 499, "client disconnected mid-stream"
            return
        await resp.release()
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _exhausted(self, send: Send, ex: Exchange, plan: Plan, last: _Failure | None) -> None:
        fmt = ex.endpoint.error_format
        if last is not None and len(ex.failed) == 1 and not _more_candidates(plan, ex):
            # One provider, one failure: the client gets what it said (or 502/504).
            if last.status is not None:
                ex.status = last.status
                ex.error = last.reason
                body = upstream_error_body(fmt, last.status, last.body)
                passed = [h for h in last.headers if h[0] != b"content-type"]
                passed += [_JSON, (b"content-length", str(len(body)).encode())]
                await send(
                    {"type": "http.response.start", "status": last.status, "headers": passed}
                )
                await send({"type": "http.response.body", "body": body})
                return
            status = 504 if last.kind == "timeout" else 502
            ex.status, ex.error = status, last.reason
            await _respond(send, status, error_body(fmt, status, last.reason, code=last.kind))
            return
        earliest = None
        try:
            fresh = self.router.plan(plan.backend, ex.endpoint.plan_family)
            if not fresh.candidates:
                earliest = fresh.earliest
        except AutoRouterError:
            pass
        earliest = earliest or (plan.earliest if not plan.candidates else None)
        exhausted = AllProvidersExhaustedError(plan.backends, earliest)
        if ex.failed:
            message = f"no provider could serve the request ({len(ex.failed)} attempts failed)" + (
                f"; {exhausted.message.split('; ', 1)[1]}" if earliest else ""
            )
        else:
            message = exhausted.message
        available = earliest.available_at if earliest else None
        extra: dict[str, Any] = {
            "attempts": [
                {
                    "backend": f.backend,
                    "provider": f.provider,
                    "status": f.status,
                    "reason": f.reason,
                }
                for f in ex.failed
            ],
            "available_at": _iso(available),
        }
        headers: list[tuple[bytes, bytes]] = []
        if available is not None:
            retry = max(1, int(available - self.clock() + 0.999))
            extra["retry_after"] = retry
            headers.append((b"retry-after", str(retry).encode()))
        ex.status, ex.error = 503, message
        body = error_body(fmt, 503, message, code="ALL_PROVIDERS_EXHAUSTED", extra=extra)
        await _respond(send, 503, body, headers)

    # ----------------------------------------------------------------- logging

    def _finish(self, ex: Exchange) -> None:
        duration = (time.perf_counter() - ex.started) * 1000
        ttfb = None if ex.ttfb is None else ex.ttfb * 1000
        prompt, completion, total = ex.usage
        log.info(
            "request",
            method=ex.method,
            endpoint=ex.endpoint.name,
            backend=ex.backend,
            provider=ex.provider,
            model=ex.client_model,
            status=ex.status,
            attempts=ex.attempts,
            stream=ex.stream,
            ms=round(duration, 2),
            error=ex.error,
        )
        reqlog = self.request_log
        if reqlog is None:
            return
        bodies = reqlog.settings.bodies
        limit = reqlog.settings.max_body_bytes
        reqlog.add(
            RequestRecord(
                ts=ex.ts,
                method=ex.method,
                endpoint=ex.endpoint.name,
                status=ex.status,
                backend=ex.backend,
                provider=ex.provider,
                client_model=ex.client_model,
                upstream_model=ex.upstream_model,
                stream=ex.stream,
                attempts=ex.attempts,
                failed=tuple(ex.failed),
                duration_ms=round(duration, 3),
                ttfb_ms=None if ttfb is None else round(ttfb, 3),
                prompt_tokens=prompt,
                completion_tokens=completion,
                total_tokens=total,
                error=ex.error,
                request_body=redact_body(ex.request_body, limit)
                if bodies and ex.request_body
                else None,
                response_body=redact_body(ex.response_body, limit)
                if bodies and ex.response_body
                else None,
            )
        )


class _ClientError(Exception):
    def __init__(self, status: int, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code


#: How long the upstreams may think before a watcher starts looking for a client that went
#: away (seconds). Shorter waits, the common case, create no task at all.
WATCH_AFTER: float = 0.2


class _Guard:
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


class _Disconnect:
    """Watches ``receive`` during a stream; on ``http.disconnect`` aborts the upstream."""

    __slots__ = ("happened",)

    def __init__(self) -> None:
        self.happened = False

    async def watch(self, receive: Receive, resp: UpstreamResponse) -> None:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                self.happened = True
                await resp.abort()
                return


async def _read_body(receive: Receive) -> bytes:
    message = await receive()
    body: bytes = message.get("body", b"")
    if not message.get("more_body"):
        return body
    parts = [body]
    while message.get("more_body"):
        message = await receive()
        parts.append(message.get("body", b""))
    return b"".join(parts)


async def _respond(
    send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    out = [_JSON, (b"content-length", str(len(body)).encode()), *(headers or [])]
    await send({"type": "http.response.start", "status": status, "headers": out})
    await send({"type": "http.response.body", "body": body})


def _response_headers(resp: UpstreamResponse, target: Target) -> list[tuple[bytes, bytes]]:
    headers = [
        (name.lower(), value)
        for name, value in resp.raw_headers()
        if name.lower() not in DROP_RESPONSE
    ]
    headers.append((b"x-auto-router-provider", target.key.encode()))
    return headers


def _restore_model(payload: bytes, model: str) -> bytes:
    """The client's model name back into a JSON body (only the top-level ``model``)."""
    try:
        data = json.loads(payload)
    except ValueError:
        return payload
    if isinstance(data, dict) and "model" in data:
        data["model"] = model
        return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
    return payload


def _without_key(query: bytes) -> str:
    text = query.decode("latin-1")
    return "&".join(p for p in text.split("&") if p and not p.startswith("key="))


def _summary(text: str, limit: int = 200) -> str:
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if isinstance(data, dict):
        error = data.get("error")
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            text = error["message"]
        elif isinstance(error, str):
            text = error
    text = " ".join(text.split())
    return text[:limit]


def _more_candidates(plan: Plan, ex: Exchange) -> bool:
    return len(plan.candidates) > ex.attempts


def _iso(timestamp: float | None) -> str | None:
    if timestamp is None:
        return None
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).isoformat(timespec="seconds")
