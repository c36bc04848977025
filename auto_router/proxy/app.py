"""The ASGI app: a small dispatcher for the data path in front of a Starlette app.

Data-path requests (``POST /v1/chat/completions`` ...) go straight to ``Proxy.handle`` with
the endpoint the gate resolved (``endpoints.resolve``, once per request); everything else
(``/health``, probes, the management API that ``create_app(extra_routes=...)`` adds) goes to
Starlette. Resources (the upstream session, the request-log thread) are opened in the
Starlette lifespan.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _package_version
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

import structlog
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.websockets import WebSocket

from ..config import BackendConfig, Config, ProviderConfig, parse_proxy_settings
from ..config.proxy import ADMIN_TOKEN_ENV, ProxySettings
from ..paths import Paths, resolve_paths
from ..redaction import RedactorCache
from ..rotation.configsource import ConfigSource
from ..rotation.notify import Notifier
from ..rotation.service import Rotator, status_label
from ..rotation.state import MemoryStateStore, SQLiteStateStore, StateStore, open_state_store
from ..runs import RunTokens
from ..secrets import Secret
from .admin import admin_routes
from .asgi import ENDPOINT, Receive, Scope, Send
from .codeassist import CodeAssist, is_code_assist
from .endpoints import Resolved
from .failover import Pacing
from .forward import Proxy
from .gate import Gate
from .reqlog import RequestLog
from .routing import Router, adhoc_targets
from .services import Services, services_of
from .upstream import AiohttpUpstream, Upstream
from .webui import ui_routes

ADHOC_BACKEND = "upstream"
#: Scope key: the exception ``_internal_error`` logged and answered (Starlette re-raises it).
_ANSWERED: Final = "auto_router.answered"

log = structlog.get_logger("auto_router.proxy")


#: The installed package's version, read once; the package root is the public API, which
#: the proxy does not import (see tests/test_layout.py).
def _version() -> str:
    try:
        return _package_version("auto-router")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown"


VERSION: Final = _version()


@dataclass(frozen=True)
class ProxyOptions:
    """How to build the app; the CLI fills it from its flags."""

    paths: Paths | None = None
    #: ``--backend``: used when neither the header nor the model map decides.
    backend: str | None = None
    #: ``--upstream``: one ad-hoc OpenAI-compatible upstream, no config files at all.
    upstream: str | None = None
    upstream_api_key: Secret | None = field(default=None, repr=False)
    #: ``None``: as configured (``[proxy.request_log].enabled``; off with ``--upstream``).
    request_log: bool | None = None
    #: How often the TOML files are stat()ed for changes (seconds).
    config_interval: float = 1.0
    #: Injected upstream client (tests); default aiohttp.
    upstream_client: Upstream | None = None
    clock: Callable[[], float] = time.time
    #: The retry pauses and their clock (tests make them short); default: the documented ones.
    pacing: Pacing | None = None
    #: The managed proxy of ``auto-router run --via-proxy``: only registered runs (or the
    #: client/admin tokens) may use the data path, and a run's token picks its backend.
    run_tokens: RunTokens | None = None
    #: A management API token besides ``[proxy] admin_token``: the managed proxy's (from
    #: its runtime file), the one ``auto-router proxy`` generates. With neither, the
    #: management API refuses every request.
    admin_token: Secret | None = field(default=None, repr=False)


class ProxyApp:
    """ASGI entry: the ``Gate`` first, then data-path routes by dict lookup, the rest to
    Starlette."""

    def __init__(self, proxy: Proxy, starlette: Starlette, services: Services) -> None:
        self.proxy = proxy
        self.starlette = starlette
        self.services = services
        self.code_assist = CodeAssist(proxy)
        self.gate = Gate(self._dispatch, lambda: services.settings, lambda: services.redactor)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.gate(scope, receive, send)

    async def _dispatch(self, scope: Scope, receive: Receive, send: Send) -> None:
        # The gate resolved the endpoint (``None``: not the data path) and left it here.
        found: Resolved | None = scope.get(ENDPOINT)
        if found is not None and scope["type"] == "http":
            await self.proxy.handle(scope, receive, send, found.endpoint, found.path_model)
            return
        if scope["type"] == "http" and is_code_assist(scope["path"]):  # Gemini CLI's Google login
            await self.code_assist(scope, receive, send)
            return
        try:
            await self.starlette(scope, receive, send)
        except Exception as exc:
            # Starlette re-raises what its handler already logged and answered: stop it
            # here, or the gate would log it again under another request id.
            if scope.get(_ANSWERED) is not exc:
                raise


def create_app(
    options: ProxyOptions | None = None, *, extra_routes: Sequence[BaseRoute] = ()
) -> ProxyApp:
    """Build the proxy. Configuration errors raise here, before anything listens."""
    options = options or ProxyOptions()
    rotator, router, paths, log_enabled = _wire(options)
    upstream = options.upstream_client or AiohttpUpstream()
    settings = router.snapshot().settings
    redactors = RedactorCache(
        [s.reveal() for s in (options.upstream_api_key, options.admin_token) if s is not None]
    )
    redactors.get(router.snapshot().config)
    request_log = (
        RequestLog(
            paths.database,
            settings.request_log,
            clock=options.clock,
            redactor=lambda: redactors.current,
            url=None if options.upstream else router.snapshot().config.shared.log_url(),
        )
        if log_enabled and paths is not None
        else None
    )
    proxy = Proxy(
        router,
        rotator,
        upstream,
        request_log=request_log,
        clock=options.clock,
        pacing=options.pacing,
        run_tokens=options.run_tokens,
    )
    services = Services(
        paths=paths,
        rotator=rotator,
        router=router,
        proxy=proxy,
        request_log=request_log,
        started_at=options.clock(),
        adhoc=options.upstream is not None,
        redactors=redactors,
        admin_token=options.admin_token,
    )

    starlette = _starlette(services, upstream, extra_routes)
    starlette.state.services = services
    return ProxyApp(proxy, starlette, services)


def _starlette(
    services: Services, upstream: Upstream, extra_routes: Sequence[BaseRoute]
) -> Starlette:
    """Everything but the data path: health, probes, the management API; and the lifespan
    that opens the upstream session and the request-log writer."""
    proxy, request_log = services.proxy, services.request_log

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await upstream.open()
        if request_log is not None:
            request_log.start()
        # ``[notify]``: its command runs in a thread of its own, once per rotation event.
        notifier = Notifier(
            services.rotator.events,
            lambda: services.config.notify,
            lambda text: services.redactor.text(text),
        ).start()
        try:
            yield
        finally:
            services.rotator.events.close()  # ends /v1/events streams still open
            await asyncio.to_thread(notifier.close)
            await proxy.drain()
            await upstream.aclose()
            if request_log is not None:
                await asyncio.to_thread(request_log.close)

    routes: list[BaseRoute] = [
        Route("/health", health, methods=["GET"]),
        Route("/", root, methods=["GET", "HEAD"]),
        Route("/v1/responses", upgrade_required, methods=["GET"]),
        WebSocketRoute("/v1/responses", websocket_refused),
        *extra_routes,
        *admin_routes(),
        *ui_routes(),  # the dashboard's page and files (webui.py)
    ]
    return Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={
            HTTPException: _http_error,  # type: ignore[dict-item]
            Exception: _internal_error,
        },
    )


def _wire(options: ProxyOptions) -> tuple[Rotator, Router, Paths | None, bool]:
    if options.upstream is not None:
        config = adhoc_config(options.upstream)
        store: StateStore = MemoryStateStore()
        token = os.environ.get(ADMIN_TOKEN_ENV)
        settings = ProxySettings(
            default_backend=ADHOC_BACKEND, admin_token=Secret(token) if token else None
        )
        key = options.upstream_api_key.reveal() if options.upstream_api_key else None
        targets = adhoc_targets(options.upstream, key, settings, ADHOC_BACKEND)
        rotator = Rotator(
            config.paths,
            config=config,
            store=store,
            clock=options.clock,
            secrets=[key] if key else (),
        )
        router = Router(
            config,
            store,
            overrides=settings,
            backend=ADHOC_BACKEND,
            clock=options.clock,
            adhoc=targets,
        )
        paths = options.paths
        return rotator, router, paths, bool(options.request_log and paths is not None)
    paths = options.paths or resolve_paths()
    source = ConfigSource(paths, min_interval=options.config_interval)
    config = source.get()
    settings = parse_proxy_settings(config)
    if options.backend is not None:
        config.backend(options.backend)
    shared = open_state_store(paths.database, config.shared.state, options.clock, fallback=True)
    rotator = Rotator(paths, config=source, store=shared, clock=options.clock)
    # Reads on the event loop get their own SQLite connection: WAL readers never wait for
    # the writers (state writes run in threads through ``rotator``). A Redis client pools.
    reader = (
        SQLiteStateStore(paths.database, clock=options.clock)
        if isinstance(shared, SQLiteStateStore)
        else shared
    )
    router = Router(source, reader, backend=options.backend, clock=options.clock)
    enabled = settings.request_log.enabled if options.request_log is None else options.request_log
    return rotator, router, paths, enabled


def adhoc_config(upstream: str) -> Config:
    """An in-memory configuration with one backend and one provider: ``upstream``."""
    here = Path.cwd()
    provider = ProviderConfig(backend=ADHOC_BACKEND, name="upstream", base_url=upstream)
    return Config(
        paths=Paths(config_dir=here, data_dir=here),
        backends=MappingProxyType(
            {ADHOC_BACKEND: BackendConfig(name=ADHOC_BACKEND, provider_names=("upstream",))}
        ),
        providers=MappingProxyType({ADHOC_BACKEND: MappingProxyType({"upstream": provider})}),
        default_backend=ADHOC_BACKEND,
        order=(ADHOC_BACKEND,),
    )


# ------------------------------------------------------------------------ handlers


async def health(request: Request) -> Response:
    """Server status and, per backend, each provider's rotation status. No auth."""
    services = services_of(request)
    now = services.rotator.clock()
    backends = await asyncio.to_thread(services.rotator.status)
    body: dict[str, Any] = {
        "status": "ok",
        "version": VERSION,
        "uptime_s": round(now - services.started_at, 3),
        "mode": "upstream" if services.adhoc else "config",
        "backends": [
            {
                "name": b.name,
                "enabled": b.enabled,
                "default": b.is_default,
                "current": b.current,
                "last_used": b.last_used,
                "providers": [
                    {
                        "name": p.name,
                        "type": p.type,
                        "status": status_label(p.enabled, p.current, p.cooldown_until),
                        "cooldown_until": p.cooldown_until,
                        "last_error": p.state.last_error if p.cooling else None,
                        "circuit": p.circuit,
                    }
                    for p in b.providers
                ],
            }
            for b in backends
        ],
    }
    store_health = getattr(services.rotator.store, "health", None)
    if store_health is not None:  # a shared store (issue 22): whether it answers
        body["state_store"] = store_health()
    if services.request_log is not None:
        body["request_log"] = services.request_log.health()
    reload_error = services.router.reload_error
    if reload_error is not None:
        body["config_error"] = str(reload_error)
    return JSONResponse(body)


async def root(request: Request) -> Response:
    if request.method == "HEAD":
        return Response(status_code=200)
    return JSONResponse({"name": "auto-router", "version": VERSION, "health": "/health"})


async def upgrade_required(request: Request) -> Response:
    """Codex probes ``GET /v1/responses`` with a WebSocket upgrade: say HTTP only, at once."""
    return JSONResponse(
        {
            "error": {
                "message": "WebSocket is not supported; use POST /v1/responses",
                "type": "invalid_request_error",
                "code": "upgrade_required",
            }
        },
        status_code=426,
    )


async def websocket_refused(websocket: WebSocket) -> None:
    if "websocket.http.response" in websocket.scope.get("extensions", {}):
        await websocket.send_denial_response(await upgrade_required(Request(websocket.scope)))
        return
    await websocket.close(code=1008)


async def _http_error(request: Request, exc: HTTPException) -> Response:
    return JSONResponse(
        {
            "error": {
                "message": f"{exc.detail}: {request.method} {request.url.path}",
                "type": "invalid_request_error",
                "code": "not_found" if exc.status_code == 404 else "method_not_allowed",
            }
        },
        status_code=exc.status_code,
        headers=exc.headers,
    )


async def _internal_error(request: Request, exc: Exception) -> Response:
    """A bug in a non-proxy route: details (redacted) to the log, an id to the client."""
    request_id = secrets.token_hex(8)
    log.error(
        "internal error",
        request_id=request_id,
        path=request.url.path,
        error=f"{type(exc).__name__}: {exc}",
        exc_info=exc,
    )
    request.scope[_ANSWERED] = exc
    message = f"internal error (request id {request_id})"
    return JSONResponse(
        {"error": {"message": message, "type": "api_error", "code": "internal_error"}},
        status_code=500,
    )
