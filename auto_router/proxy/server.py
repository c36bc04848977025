"""Running the app on uvicorn (uvloop + httptools), as ``auto-router proxy`` does."""

from __future__ import annotations

from typing import Any

import httptools
import structlog
import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from .app import ProxyApp
from .auth import check_bind
from .gate import MAX_HEADER_BYTES, MAX_HEADERS

log = structlog.get_logger("auto_router.proxy")


def serve(app: ProxyApp, host: str, port: int) -> None:
    """Serve until interrupted. Refuses a non-loopback address without admin and client
    tokens."""
    check_bind(host, app.services.settings)
    config = uvicorn_config(app, host, port)
    services = app.services
    config_dir = None if services.adhoc or services.paths is None else services.paths.config_dir
    log.info(
        "proxy starting",
        url=f"http://{host}:{port}",
        mode="upstream" if services.adhoc else "config",
        config_dir=str(config_dir) if config_dir else None,
        request_log=services.request_log is not None,
    )
    uvicorn.Server(config).run()


def uvicorn_config(app: ProxyApp, host: str, port: int) -> uvicorn.Config:
    """How the proxy runs on uvicorn (the tests serve it the same way)."""
    app.gate.bind(host)
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        loop="uvloop",
        http=LimitedHttpTools,
        ws="none",  # Codex's WebSocket probe then gets a plain 426 over HTTP
        lifespan="on",
        access_log=False,  # one structlog line per request instead
        log_config=None,
        log_level="warning",
        server_header=False,
        proxy_headers=False,  # X-Forwarded-* are not trusted nor needed
        backlog=4096,
        # An idle connection is kept this long: longer than agents' own pools keep theirs
        # (httpx 5 s, undici 4 s, aiohttp 15 s) so the proxy is not the side that drops a
        # connection being reused, short enough that idle sockets do not pile up.
        timeout_keep_alive=30,
        timeout_graceful_shutdown=10,
    )


class LimitedHttpTools(HttpToolsProtocol):
    """uvicorn's httptools protocol with a bound on the request head.

    httptools (unlike h11) accepts a request line and headers of any size, buffering them
    until they end; a client could grow the proxy's memory without limit. Past
    ``MAX_HEADER_BYTES`` of head, or ``MAX_HEADERS`` headers, the connection gets a 400 and is
    closed before the app sees anything. (The gate refuses the same with a 431 for servers
    that let such a request through.)
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_pending = True
        self._head_bytes = 0
        self._head_size = 0

    def data_received(self, data: bytes) -> None:
        if self._head_pending:
            self._head_bytes += len(data)
        super().data_received(data)
        too_big = self._head_bytes > MAX_HEADER_BYTES
        if self._head_pending and too_big and not self.transport.is_closing():
            self._head_pending = False
            self.send_400_response("Request header fields too large.")

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_size = 0

    def on_url(self, url: bytes) -> None:
        self._head_size += len(url)
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        # A head that arrived whole (one read) is measured here; one that keeps coming
        # without ending, in ``data_received``.
        self._head_size += len(name) + len(value)
        if len(self.headers) >= MAX_HEADERS or self._head_size > MAX_HEADER_BYTES:
            raise httptools.HttpParserError("request head too large")
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._head_pending = False
        self._head_bytes = 0
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._head_pending = True
