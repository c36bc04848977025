"""The data path: one client request -> providers in order -> one response, with failover.

Plain ASGI (no Request/Response objects) because this runs for every request. The path is
layered as httpx layers ``send`` -> redirects -> a single request -> the transport; each
layer calls only the one below it, and gets back what happened:

* ``forward`` (here, the top): reads the client's request, plans its route (``Router``:
  which providers, in which order), and answers from what the layers below return; when a
  stream breaks it asks the failover layer for the continuation;
* ``failover``: walks the plan (retries, waits, probes, context windows, the budget) and
  returns the answer or the last failure;
* ``recording``: makes each attempt through the layer below and writes what its outcome
  says (rotation state, the request's record and log line);
* ``attempts``: one request to one provider -> an ``Answer`` or a ``Failure``; no writes;
* ``upstream``: the HTTP client (the transport; tests inject their own).

Beside them: ``classify`` (what an upstream error means), ``relay`` and ``continuation``
(answering the client: a body, a stream, the error when nothing answered).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import secrets
import time
from collections.abc import Callable
from typing import Any, NamedTuple

import structlog

from ..errors import AutoRouterError, NotFoundError
from ..rotation.service import Rotator
from ..runs import RunTokens
from .affinity import session_id
from .asgi import PATH_TOKEN, Receive, Scope, Send
from .attempts import Answer, Attempts
from .continuation import Leg, StreamRelay
from .endpoints import GEMINI, NESTED_TOO_DEEP, Endpoint
from .errors import STREAM_BROKE, error_body, said_once
from .exchange import DROP_REQUEST, LOGIN_HEADERS, Call, ClientError, Exchange, read_body, respond
from .failover import Failover, Pacing, is_sse
from .recording import Recorder
from .relay import Guard, answer, exhausted, relay
from .reqlog import RequestLog
from .routing import Plan, Router, RoutingError, Snapshot
from .runs import answer_cooling, bare_token
from .streams import CONTINUABLE
from .upstream import Upstream

__all__ = ["Proxy"]

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
        attempts = Attempts(upstream, clock)
        self.recorder = Recorder(router, rotator, attempts, request_log, clock, run_tokens)
        self.failover = Failover(self.recorder, pacing)

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
        got = _read_headers(scope)
        snap = self.router.snapshot()
        want_backend = got.backend
        # A token by header or path (the bearer is then the client's own login), else the
        # bearer: the proxy's token when the proxy asks for one.
        token = got.token if got.token is not None else got.credential
        # -- hook: run tokens of `auto-router run --via-proxy` (auto_router/runs.py) --
        if self.run_tokens is not None:
            ex.run = self.run_tokens.lookup(bare_token(token))
            if ex.run is not None:
                want_backend = want_backend or ex.run[1].backend
        # -- end hook --
        guarded = bool(snap.settings.client_tokens) or self.run_tokens is not None
        if ex.run is None and guarded:
            check_client(snap, token, scope)
        # The client's credential headers are its own login unless they carried our token.
        login = got.login if got.token is not None or not guarded else ()
        data = _parse(ex, body, path_model)
        if self.request_log is not None and self.request_log.settings.bodies:
            ex.request_body = body
        session = None  # session affinity: no call at all for a request without one
        if got.session or ex.run is not None:
            session = session_id(got.session, ex.run[0] if ex.run is not None else None)
        plan = self._plan(snap, ex, want_backend, got.provider, session)
        ex.backend = ex.routed = plan.backend
        query = scope.get("query_string", b"")
        call = Call(scope["method"], body, data, got.forwarded, query, login)
        await self._forward(send, ex, snap, plan, call, session)

    def _plan(
        self,
        snap: Snapshot,
        ex: Exchange,
        want_backend: str | None,
        want_provider: str | None,
        session: str | None,
    ) -> Plan:
        """The route: which providers, in which order (the headers, the model map, the
        rotation state); a request that names what cannot serve it is the client's error."""
        try:
            backend = self.router.backend_for(snap, want_backend, ex.client_model)
            pinned = self.router.pinned_for(snap, want_backend, want_provider, ex.client_model)
            return self.router.plan(backend, ex.endpoint.plan_family, pinned, session)
        except RoutingError as exc:
            raise ClientError(400, exc.message, code=exc.code) from None
        except NotFoundError as exc:
            raise ClientError(404 if want_provider else 400, exc.message, code=exc.code) from None
        except AutoRouterError as exc:
            raise ClientError(503, exc.message, code=exc.code) from None

    async def _forward(
        self, send: Send, ex: Exchange, snap: Snapshot, plan: Plan, call: Call, session: str | None
    ) -> None:
        # While the upstreams think, a client that goes away cancels this task (and so the
        # upstream request). The watcher only starts if the wait lasts: no task per request.
        guard = Guard(ex.receive)
        try:
            done = await self.failover.run(ex, plan, call, snap.settings)
        except asyncio.CancelledError:
            if not guard.fired:
                raise
            guard.uncancel()
            ex.status, ex.error = 499, "client disconnected before the answer"
            return
        finally:
            guard.stop()
        if not isinstance(done, Answer):
            fresh = self._replan(plan, ex)  # when a provider frees up, for the error
            now = self.clock()
            if ex.run is not None and await answer_cooling(send, ex, plan, fresh, now):
                return
            await exhausted(send, ex, plan, done, fresh, now)
            return
        if done.resp.status < 400:
            if session is not None:
                self.router.bind(session, plan, done.target)
            await self.recorder.succeeded(done.target, plan, ex, done)
        if ex.stream and done.payload is None:
            if ex.endpoint.name in CONTINUABLE and is_sse(done):
                await self._stream(send, ex, plan, call, snap, done)
            else:
                broke = await relay(send, ex, done)
                if broke is not None:
                    self.recorder.stream_broke(done.target, broke)
        else:
            await answer(send, ex, done)

    def _replan(self, plan: Plan, ex: Exchange) -> Plan | None:
        try:
            return self.router.plan(plan.backend, ex.endpoint.plan_family)
        except AutoRouterError:
            return None

    async def _stream(
        self, send: Send, ex: Exchange, plan: Plan, call: Call, snap: Snapshot, done: Answer
    ) -> None:
        """Relay a stream; each time it breaks, record it and relay a continuation, if any."""
        relayer = StreamRelay(send, ex)
        leg = await relayer.open(done)
        try:
            while (broken := await relayer.pump(leg)) is not None:
                detail = said_once(STREAM_BROKE + broken).removeprefix(STREAM_BROKE)
                reason = f"stream broke after the first byte: {detail}"
                entry = self.recorder.broke(ex, leg.target, reason)
                following = await self._resume(relayer, ex, plan, call, snap, leg)
                if following is None:
                    await relayer.fail(STREAM_BROKE + detail, reason)
                    return
                leg = following
                self.recorder.resumed(ex, entry, leg.target)
            await relayer.finish(leg)
        finally:
            relayer.close()

    async def _resume(
        self, relayer: StreamRelay, ex: Exchange, plan: Plan, call: Call, snap: Snapshot, leg: Leg
    ) -> Leg | None:
        """The continuation of a broken stream: the next candidate, given the partial answer."""
        settings = snap.settings
        prefill = relayer.prefill(call) if settings.continue_streams else None
        if prefill is None:
            return None
        resumed, rewrite = prefill
        done = await self.failover.resume(ex, plan, resumed, settings, leg.target)
        return None if done is None else await relayer.resume(done, rewrite)


class _Headers(NamedTuple):
    """The client's request headers, sorted: what goes upstream, and what is the proxy's."""

    forwarded: list[tuple[str, str]]
    backend: str | None
    provider: str | None
    session: str | None
    #: The first of ``Authorization``, ``x-api-key``, ``x-goog-api-key``, ``api-key``.
    credential: str | None
    #: A proxy token by ``X-Auto-Router-Token`` or a ``/r/<token>/`` path (issue 20).
    token: str | None
    login: tuple[tuple[str, str], ...]


def _read_headers(scope: Scope) -> _Headers:
    """One pass over the headers: the proxy's own (``DROP_REQUEST``) are kept out of
    ``forwarded``; the client's credentials are kept aside (``login``), never forwarded as
    they are."""
    forwarded: list[tuple[str, str]] = []
    backend = provider = credential = session = None
    token: str | None = scope.get(PATH_TOKEN)
    login: list[tuple[str, str]] = []
    for name, value in scope["headers"]:
        if name not in DROP_REQUEST:
            forwarded.append((name.decode("latin-1"), value.decode("latin-1")))
            continue
        if name in LOGIN_HEADERS:
            login.append((name.decode("latin-1"), value.decode("latin-1")))
        if name == b"x-auto-router-backend":
            backend = value.decode("latin-1")
        elif name == b"x-auto-router-provider":
            provider = value.decode("latin-1")
        elif name == b"x-auto-router-session":  # affinity (issue 19), never forwarded
            session = value.decode("latin-1")
        elif name == b"x-auto-router-token":
            token = token or value.decode("latin-1")
        elif name in _CREDENTIALS:
            credential = credential or value.decode("latin-1")
    return _Headers(forwarded, backend, provider, session, credential, token, tuple(login))


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
    except RecursionError:  # deeper than the parser goes (issue 18): refused, no traceback
        raise ClientError(400, NESTED_TOO_DEEP) from None
    if not isinstance(parsed, dict):
        raise ClientError(400, "the request body must be a JSON object")
    model = parsed.get("model")
    ex.client_model = model if isinstance(model, str) else None
    ex.stream = parsed.get("stream") is True
    return parsed


def check_client(snap: Snapshot, credential: str | None, scope: Scope) -> None:
    """A 401 (``ClientError``) unless ``credential`` is a client token or the admin token."""
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
