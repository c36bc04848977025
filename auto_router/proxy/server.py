"""Running the app on uvicorn (uvloop + httptools), with bounds on what a client can hold.

Both proxies build their uvicorn configuration here (``server_config``): ``auto-router
proxy`` (``serve``) and the proxy ``auto-router run`` starts (``managed.py``). So both have
the same bounds, all on the accept and head-parsing path:

- a request head: at most ``MAX_HEADER_BYTES`` and ``MAX_HEADERS`` headers (400, closed);
- its time: whole within ``request_head_timeout`` of its first byte, or of the connect for a
  connection's first request (408 when part of it came, else just closed);
- idle keep-alive: closed after ``keep_alive_timeout`` (uvicorn's own timer);
- connections: at ``Bounds.max_connections`` a new one pushes out the one waiting longest
  for a request head, or, when all have a request in progress, gets a 503 at once and is
  closed; so the process keeps descriptors for its upstreams, its database and its watchdog;
- other local users: without ``[proxy] client_tokens``, a connection whose client end belongs
  to a uid other than the proxy's or root's has its requests refused (``peers.PeerCheck``,
  looked up once per connection; the gate answers 403).

uvicorn itself has the third only. Its ``timeout_keep_alive`` is armed when a response ends
and cancelled by any byte received (``data_received`` in
uvicorn/protocols/http/httptools_impl.py, h11_impl.py alike), so a head sent a byte at a time,
or a connection that never sends one, is never timed out (Kludex/uvicorn#157 lists
``--timeout-request-start``, not done; #1192). Its ``limit_concurrency`` is checked only when a
head is complete (``on_headers_complete``), so connections that never complete one are not
counted against it (Kludex/uvicorn#3029). And httptools buffers a head of any size (h11 has
``h11_max_incomplete_event_size``). Hence the small protocol subclass below; it uses
uvicorn's settings where they exist (``limit_concurrency``, ``timeout_keep_alive``).
"""

from __future__ import annotations

import asyncio
import contextlib
import resource
import socket
from dataclasses import dataclass
from typing import Any, ClassVar, Final, cast

import httptools
import structlog
import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from ..config.proxy import ProxySettings
from .app import ProxyApp
from .auth import check_bind
from .gate import MAX_HEADER_BYTES, MAX_HEADERS
from .peers import FOREIGN_PEER, PeerCheck

log = structlog.get_logger("auto_router.proxy")

#: Descriptors kept for all but client connections: the listening socket, the event loop's,
#: the state database and its journal, the logs, the watchdog's reads (an idle proxy holds
#: 14-25). Each client connection counts twice: while served it may hold an upstream one.
FD_RESERVE: Final = 64


def _canned(status: bytes, body: bytes, *extra: bytes) -> bytes:
    head = [b"HTTP/1.1 " + status, b"content-type: text/plain; charset=utf-8"]
    head += [*extra, b"content-length: %d" % len(body), b"connection: close"]
    return b"\r\n".join([*head, b"", body])


#: What a connection past the limit gets, before it has sent anything (the SDKs retry a 503).
_TOO_MANY: Final = _canned(
    b"503 Service Unavailable", b"too many connections to the proxy", b"retry-after: 1"
)
_TOO_SLOW: Final = _canned(b"408 Request Timeout", b"the request head took too long")


@dataclass(frozen=True)
class Bounds:
    """What one server lets its clients hold (``[proxy]`` settings, read at start)."""

    head_timeout: float
    keep_alive: float
    max_connections: int

    @classmethod
    def of(cls, settings: ProxySettings, fd_limit: int) -> Bounds:
        """The configured bounds, with no more connections than ``fd_limit`` leaves room for."""
        room = max(1, (fd_limit - FD_RESERVE) // 2)
        return cls(
            head_timeout=settings.request_head_timeout,
            keep_alive=settings.keep_alive_timeout,
            max_connections=min(settings.max_connections, room),
        )


def fd_limit() -> int:
    """The soft RLIMIT_NOFILE in force."""
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    return 1 << 20 if soft == resource.RLIM_INFINITY else soft


def raise_fd_limit() -> int:
    """Raise the soft RLIMIT_NOFILE to the hard one (a server's connections are its open
    files; the soft limit is often 1024) and return the soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    # An unlimited hard limit (macOS) cannot be the soft one for files: OPEN_MAX is 10240.
    target = hard if hard != resource.RLIM_INFINITY else max(soft, 10240)
    if soft != resource.RLIM_INFINITY and soft < target:
        # If refused, the limit stays as it is: the connection limit follows what is in force.
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return fd_limit()


def serve(app: ProxyApp, host: str, port: int) -> None:
    """Serve until interrupted. Refuses a non-loopback address without admin and client
    tokens."""
    check_bind(host, app.services.settings)
    raise_fd_limit()
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
    ProxyServer(config, app).run()


class ProxyServer(uvicorn.Server):
    """uvicorn's server, that ends the management API's event streams when it shuts down:
    they never end by themselves, and uvicorn waits for open responses before it stops."""

    def __init__(self, config: uvicorn.Config, app: ProxyApp) -> None:
        super().__init__(config)
        self._events = app.services.rotator.events

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self._events.close()
        await super().shutdown(sockets)


def uvicorn_config(app: ProxyApp, host: str, port: int) -> uvicorn.Config:
    """How ``auto-router proxy`` runs on uvicorn (the tests serve it the same way)."""
    app.gate.bind(host)
    bounds = Bounds.of(app.services.settings, fd_limit())
    return server_config(app, bounds, host=host, port=port, backlog=4096)


def server_config(app: ProxyApp, bounds: Bounds, **where: Any) -> uvicorn.Config:
    """Both proxies' uvicorn configuration; ``where`` is the address (or nothing, when the
    server is handed its socket)."""
    return uvicorn.Config(
        app,
        loop="uvloop",
        http=protocol_for(bounds, PeerCheck(lambda: not app.services.settings.client_tokens)),
        ws="none",  # Codex's WebSocket probe then gets a plain 426 over HTTP
        lifespan="on",
        access_log=False,  # one structlog line per request instead
        log_config=None,
        log_level="warning",
        server_header=False,
        proxy_headers=False,  # X-Forwarded-* are not trusted nor needed
        # The default (30 s) is longer than agents' own pools keep an idle connection
        # (httpx 5 s, undici 4 s, aiohttp 15 s), so the proxy is not the side that drops one
        # being reused. A float works: uvicorn only hands it to ``call_later``.
        timeout_keep_alive=bounds.keep_alive,  # type: ignore[arg-type]
        # uvicorn counts the connection itself: a limit of N serves N - 1 (uvicorn's
        # docs/server-behavior.md, Kludex/uvicorn#3029). It also bounds requests still
        # running for clients that left, each of which may hold an upstream connection.
        limit_concurrency=bounds.max_connections + 1,
        timeout_graceful_shutdown=10,
        **where,
    )


def protocol_for(bounds: Bounds, peers: PeerCheck | None = None) -> type[BoundedHttpTools]:
    """The protocol class of one server (uvicorn builds each connection's from its class)."""
    attributes = {"head_timeout": bounds.head_timeout, "waiting": {}, "peers": peers}
    return cast("type[BoundedHttpTools]", type("BoundedHttpTools", (BoundedHttpTools,), attributes))


class BoundedHttpTools(HttpToolsProtocol):
    """uvicorn's httptools protocol with bounds on the request head and on connections.

    At ``limit_concurrency``, a new connection pushes out the one that has waited longest
    for a request head (a slow client's, or an idle kept-alive one: nginx drains reusable
    connections the same way when it runs short), so slow clients cannot lock out quick
    ones; when every connection has a request in progress, it is answered 503 and closed.
    A head must be whole ``head_timeout`` seconds after the connect (first request) or after
    its first byte (the next ones: until then uvicorn's keep-alive timer runs); past
    ``MAX_HEADER_BYTES`` of head, or ``MAX_HEADERS`` headers, the connection gets a 400 and
    is closed before the app sees anything. (The gate refuses the same with a 431 for
    servers that let such a request through.) With ``peers``, each connection's client uid
    is looked up once (at the connect, or at its first request if client tokens were
    configured then and are gone now), and the requests of another user's connection carry
    ``FOREIGN_PEER`` in their scope for the gate to refuse.
    """

    #: Set per server by ``protocol_for``: the head timeout, and the server's connections
    #: with no request in progress, oldest first (a dict as an ordered set).
    head_timeout: ClassVar[float] = 10.0
    waiting: ClassVar[dict[BoundedHttpTools, None]] = {}
    peers: ClassVar[PeerCheck | None] = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_pending = True
        self._head_bytes = 0
        self._head_size = 0
        self._head_timer: asyncio.TimerHandle | None = None
        #: When the head being read began (loop time), ``None`` between heads.
        self._head_since: float | None = None
        #: Whether the client is another local user; ``None`` until checked.
        self._foreign: bool | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        limit = self.limit_concurrency
        # Counted as uvicorn counts at a complete head: this connection included.
        if limit is not None and len(self.connections) >= limit and not self._make_room():
            transport.write(_TOO_MANY)
            transport.close()
            return
        self.waiting[self] = None
        self._head_begins()
        if self.peers is not None:
            self._foreign = self.peers.foreign(transport)

    def _make_room(self) -> bool:
        """Close the connection that has waited longest for a request head; ``False`` if
        none is waiting."""
        while self.waiting:
            oldest = next(iter(self.waiting))
            del self.waiting[oldest]
            if not oldest.transport.is_closing():
                oldest.transport.close()
                # Not counted from now on (uvicorn counts again at a complete head, which
                # may come before the close is done).
                self.connections.discard(oldest)
                return True
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_head_timer()
        self.waiting.pop(self, None)
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._head_pending:
            self._head_bytes += len(data)
            if self._head_since is None:  # the first byte of a kept-alive connection's next head
                self._head_begins()
        super().data_received(data)
        too_big = self._head_bytes > MAX_HEADER_BYTES
        if self._head_pending and too_big and not self.transport.is_closing():
            self._head_pending = False
            self.send_400_response("Request header fields too large.")

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_size = 0
        if self._foreign is None and self.peers is not None:
            self._foreign = self.peers.foreign(self.transport)
        if self._foreign:
            self.scope[FOREIGN_PEER] = True  # type: ignore[typeddict-unknown-key]

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
        self._head_since = None  # its timer, if any, lapses (see ``_head_check``)
        self.waiting.pop(self, None)
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._head_pending = True

    def on_response_complete(self) -> None:
        if self.cycle.more_body and not self.transport.is_closing():
            # Answered before its body came whole (a refusal): the connection closes rather
            # than read, at the client's pace, a body nobody will use.
            self.transport.close()
        super().on_response_complete()
        if self.timeout_keep_alive_task is not None:  # idle now, until the next head
            self.waiting[self] = None

    def _head_begins(self) -> None:
        self._head_since = self.loop.time()
        if self._head_timer is None:
            self._head_timer = self.loop.call_later(self.head_timeout, self._head_check)

    def _head_check(self) -> None:
        """The head timer. It is not cancelled when a head completes (a timer per request
        cost more than the rest of the bounds together): when it fires, it ends the head
        then being read if that one is overdue, waits for it if not, and lapses if none
        is, so a connection arms about one timer per ``head_timeout``, not one per request."""
        self._head_timer = None
        since = self._head_since
        if since is None or self.transport.is_closing():
            return
        left = since + self.head_timeout - self.loop.time()
        if left > 0:
            self._head_timer = self.loop.call_later(left, self._head_check)
            return
        if self._head_bytes:  # a client that sent part of a request is told why it ends
            self.transport.write(_TOO_SLOW)
        self.transport.close()

    def _stop_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
