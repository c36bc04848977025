"""The data path: one client request -> providers in order -> one response, with failover.

Plain ASGI (no Request/Response objects) because this runs for every request. This module
reads the client's request and decides where it may go; the rest lives in one module per
responsibility:

* ``attempts``: the attempt loop (candidates in order, retries, failover);
* ``classify``: what an upstream error means (pass back, usage limit, outage);
* ``relay``: answering the client (a body, a stream, the error when nothing answered);
* ``recording``: rotation state writes and the request log.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import secrets
import time
from collections.abc import Callable
from typing import Any

import structlog

from ..errors import AutoRouterError, NotFoundError
from ..rotation.service import Rotator
from ..runs import RunTokens
from .attempts import Answer, Attempts, Pacing
from .continuation import StreamRelay
from .endpoints import GEMINI, Endpoint
from .errors import error_body
from .exchange import (
    DROP_REQUEST,
    Call,
    ClientError,
    Exchange,
    Receive,
    Scope,
    Send,
    read_body,
    respond,
    token_usage,
)
from .recording import Recorder
from .relay import Guard, answer, exhausted, relay
from .reqlog import RequestLog
from .routing import Plan, Router, RoutingError, Snapshot
from .runs import answer_cooling, bare_token
from .streams import CONTINUABLE
from .upstream import Upstream

__all__ = ["Proxy", "Receive", "Scope", "Send", "token_usage"]

log = structlog.get_logger("auto_router.proxy")

_CREDENTIALS = (b"authorization", b"x-api-key", b"x-goog-api-key", b"api-key")


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
        pacing: Pacing | None = None,
        run_tokens: RunTokens | None = None,
    ) -> None:
        #: The managed proxy's registered runs: their tokens are required and route.
        self.run_tokens = run_tokens
        self.router = router
        self.rotator = rotator
        self.upstream = upstream
        self.request_log = request_log
        self.clock = clock
        self.recorder = Recorder(router, rotator, request_log, clock, run_tokens)
        self.attempts = Attempts(upstream, self.recorder, clock, pacing)

    async def drain(self) -> None:
        """Wait for background state writes (shutdown, tests)."""
        await self.recorder.drain()

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
        except ClientError as exc:
            ex.status, ex.error = exc.status, exc.message
            await respond(send, exc.status, error_body(fmt, exc.status, exc.message, code=exc.code))
        except Exception as exc:  # the proxy's own bug: a 502 with a message, not a traceback
            # security: the details (redacted by the log) stay here; the client gets an id.
            request_id = secrets.token_hex(8)
            log.exception("proxy error", path=scope.get("path"), request_id=request_id)
            ex.status, ex.error = 502, f"proxy error {request_id}: {type(exc).__name__}: {exc}"
            message = f"internal proxy error (request id {request_id})"
            await respond(send, 502, error_body(fmt, 502, message, code="proxy_error"))
        self.recorder.finish(ex)

    async def _handle(
        self, scope: Scope, receive: Receive, send: Send, ex: Exchange, path_model: str | None
    ) -> None:
        endpoint = ex.endpoint
        body = await read_body(receive) if endpoint.has_body else b""
        forwarded: list[tuple[str, str]] = []
        want_backend = want_provider = credential = None
        for name, value in scope["headers"]:
            if name in DROP_REQUEST:
                if name == b"x-auto-router-backend":
                    want_backend = value.decode("latin-1")
                elif name == b"x-auto-router-provider":
                    want_provider = value.decode("latin-1")
                elif name in _CREDENTIALS:
                    credential = credential or value.decode("latin-1")
                continue
            forwarded.append((name.decode("latin-1"), value.decode("latin-1")))
        snap = self.router.snapshot()
        # -- hook: run tokens of `auto-router run --via-proxy` (auto_router/runs.py) --
        if self.run_tokens is not None:
            ex.run = self.run_tokens.lookup(bare_token(credential))
            if ex.run is not None:
                want_backend = want_backend or ex.run[1].backend
        # -- end hook --
        if ex.run is None and (snap.settings.client_tokens or self.run_tokens is not None):
            _check_client(snap, credential, scope)
        data = _parse(ex, body, path_model)
        if self.request_log is not None and self.request_log.settings.bodies:
            ex.request_body = body
        try:
            backend = self.router.backend_for(snap, want_backend, ex.client_model)
            pinned = self.router.pinned_for(snap, want_backend, want_provider, ex.client_model)
            plan = self.router.plan(backend, endpoint.plan_family, pinned)
        except RoutingError as exc:
            raise ClientError(400, exc.message, code=exc.code) from None
        except NotFoundError as exc:
            raise ClientError(404 if want_provider else 400, exc.message, code=exc.code) from None
        except AutoRouterError as exc:
            raise ClientError(503, exc.message, code=exc.code) from None
        ex.backend = ex.routed = plan.backend
        call = Call(scope["method"], body, data, forwarded, scope.get("query_string", b""))
        await self._forward(send, ex, snap, plan, call)

    async def _forward(
        self, send: Send, ex: Exchange, snap: Snapshot, plan: Plan, call: Call
    ) -> None:
        # While the upstreams think, a client that goes away cancels this task (and so the
        # upstream request). The watcher only starts if the wait lasts: no task per request.
        guard = Guard(ex.receive)
        try:
            done = await self.attempts.run(ex, plan, call, snap.settings)
        except asyncio.CancelledError:
            if not guard.fired:
                raise
            guard.uncancel()
            ex.status, ex.error = 499, "client disconnected before the answer"
            return
        finally:
            guard.stop()
        if not isinstance(done, Answer):
            if ex.run is not None and await answer_cooling(send, ex, plan, self.router, self.clock):
                return
            await exhausted(send, ex, plan, done, self.router, self.clock)
            return
        if done.resp.status < 400:
            await self.recorder.succeeded(done.target, plan, ex)
        if ex.stream and done.payload is None:
            if ex.endpoint.name in CONTINUABLE and _is_sse(done):
                relayer = StreamRelay(
                    send, ex, plan, call, snap.settings, self.attempts, self.recorder
                )
                await relayer.run(done)
            else:
                await relay(send, ex, done, self.recorder)
        else:
            await answer(send, ex, done)


def _is_sse(done: Answer) -> bool:
    return "event-stream" in (done.resp.header("content-type") or "")


def _parse(ex: Exchange, body: bytes, path_model: str | None) -> dict[str, Any] | None:
    """The JSON body (``None`` for Gemini-native or bodiless requests); sets model, stream."""
    if ex.endpoint.family == GEMINI or not body:
        ex.client_model = path_model
        ex.stream = ex.endpoint.name == "streamGenerateContent"
        return None
    try:
        parsed = json.loads(body)
    except ValueError:
        raise ClientError(400, "the request body is not valid JSON") from None
    if not isinstance(parsed, dict):
        raise ClientError(400, "the request body must be a JSON object")
    model = parsed.get("model")
    ex.client_model = model if isinstance(model, str) else None
    ex.stream = parsed.get("stream") is True
    return parsed


def _check_client(snap: Snapshot, credential: str | None, scope: Scope) -> None:
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
        raise ClientError(401, "missing or invalid client token", code="UNAUTHORIZED")
