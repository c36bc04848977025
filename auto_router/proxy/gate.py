"""The door in front of every request: Host, browser origin, sizes, redaction, internal errors.

An ASGI layer around the whole app (data path, ``/health``, the management API), so no
handler runs for a request that fails one of these checks:

* **Host allowlist.** Only ``Host`` values naming this server are served: the address the
  connection reached, the name it was started with, the loopback names, each with the
  bound port, plus ``[proxy] allowed_hosts``. A DNS-rebinding page (its own name resolving to
  127.0.0.1) sends its own name and gets a 403, whatever its ``Origin`` says.
* **Other local users.** Without ``[proxy] client_tokens``, a request on a connection whose
  client is another user of this machine (``FOREIGN_PEER``, set by the server protocol from
  ``peers.PeerCheck``) gets a 403: on loopback, that is the only thing keeping them off the
  owner's keys. With client tokens the token decides, for every user alike.
* **Browsers.** An ``Origin`` other than the proxy's own, or ``Sec-Fetch-Site: cross-site``
  (off the data path: anything but ``same-origin`` or ``none``), is refused unless
  ``[proxy] allowed_origins`` names it; only then are CORS headers sent. Agents and SDKs
  send neither header.
* **Sizes.** Bodies over ``[proxy] max_body_bytes`` get a 413 in the client's own protocol
  before they are read; more than ``MAX_HEADERS`` headers get a 431. (The size of the
  request head, ``MAX_HEADER_BYTES``, is bounded by the server protocol while it is read:
  ``server.LimitedHttpTools``.)
* **Redaction.** Every response of the management API and ``/health``, and every error
  response and response header of the data path, goes through the configuration's
  ``Redactor``: an upstream that echoes a key does not get it to the client.
* **The token in the path.** ``/r/<token>/v1/messages`` is ``/v1/messages`` with a proxy
  token (a run's, or a client token) for an agent whose bearer is its own login (issue 20,
  ``auth = "passthrough"``): the prefix is taken off before anything reads or logs the path,
  and the token left in the scope (``PATH_TOKEN``) for the data path alone.
* **Internal errors.** An exception that escapes a handler is logged (redacted, no locals)
  with a request id; the client gets a generic 500 carrying only that id.

The checks are one ``dict(headers)`` and a few lookups; a streamed chunk of a success
passes with no extra coroutine. ``benchmarks/bench_gate.py`` measures the cost: a few
microseconds of the proxy's ~200-400 us per request.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from typing import Any, Final

import structlog

from ..config.proxy import ProxySettings
from ..redaction import Redactor
from .asgi import ENDPOINT, PATH_TOKEN, ASGIApp, Message, Receive, Scope, Send
from .endpoints import resolve
from .errors import error_body
from .peers import FOREIGN_PEER

log = structlog.get_logger("auto_router.proxy")

MAX_HEADERS: Final = 100
MAX_HEADER_BYTES: Final = 64 * 1024
_LOOPBACK_NAMES: Final = ("localhost", "127.0.0.1", "[::1]", "ip6-localhost")
_CORS_METHODS: Final = b"GET, POST, PUT, PATCH, DELETE, OPTIONS"
_JSON: Final = (b"content-type", b"application/json")
_CLOSE: Final = (b"connection", b"close")
#: ``Sec-Fetch-Site`` values of a request the proxy's own page or the user made.
_OWN_SITES: Final = (b"same-origin", b"none")
#: The path prefix that carries a proxy token: ``/r/<token>/...``.
_TOKEN_PATH: Final = "/r/"


def host_names(
    server: tuple[str, int | None] | None, bound: tuple[str, ...], extra: tuple[str, ...]
) -> frozenset[bytes]:
    """Every ``Host`` value that names this server (lower case, as bytes)."""
    port = server[1] if server else None
    names = set(_LOOPBACK_NAMES) | {_bracket(name) for name in bound}
    if server and server[0]:
        names.add(_bracket(server[0]))
    allowed: set[str] = set()
    for name in names:
        if port is not None:
            allowed.add(f"{name}:{port}")
        if port in (None, 80):
            allowed.add(name)
    for name in extra:
        has_port = name.rsplit(":", 1)[-1].isdigit() and not name.endswith("]")
        allowed.add(name if has_port else f"{name}:{port}" if port else name)
        if not has_port and port in (None, 80):
            allowed.add(name)
    return frozenset(a.lower().encode("latin-1") for a in allowed)


def _host_refusal(
    headers: list[tuple[bytes, bytes]], named: dict[bytes, bytes], allowed: frozenset[bytes]
) -> Refusal | None:
    """Too many headers, or a ``Host`` that does not name this server (DNS rebinding)."""
    if len(headers) > MAX_HEADERS:
        return _TOO_MANY_HEADERS
    host = named.get(b"host")
    if host is None or host.lower() not in allowed:
        return _FORBIDDEN_HOST
    return None


def _origin(
    named: dict[bytes, bytes],
    settings: ProxySettings,
    allowed: frozenset[bytes],
    data_path: bool,
) -> tuple[bytes | None, Refusal | None]:
    """A browser's request: the origin to answer with CORS headers, or why it is refused.

    Agents and SDKs send neither ``Origin`` nor ``Sec-Fetch-Site``: one lookup each. Off the
    data path (the management API, ``/health``) only ``same-origin`` and ``none`` (typed in
    the address bar) pass: a page on another localhost port is ``same-site`` and its simple
    GET carries no ``Origin``. (Fetch Metadata, https://www.w3.org/TR/fetch-metadata/ and
    https://developer.mozilla.org/docs/Web/HTTP/Headers/Sec-Fetch-Site: browsers send it
    to potentially trustworthy URLs, which loopback ones are.)"""
    origin = named.get(b"origin")
    site = named.get(b"sec-fetch-site")
    if origin is None and (site is None or site in _OWN_SITES):
        return None, None
    if origin is not None:
        origin = origin.lower()
        if origin.decode("latin-1") in settings.allowed_origins:
            return origin, None
    if site == b"cross-site" or (site is not None and site not in _OWN_SITES and not data_path):
        return None, _FORBIDDEN_ORIGIN
    if origin is not None and not _own_origin(origin, allowed):
        return None, _FORBIDDEN_ORIGIN
    return None, None


def _length_refused(named: dict[bytes, bytes], limit: int) -> bool:
    """A declared body length over ``limit`` (or not a number): refused before any read.

    A chunked body has no length to check: ``_read_limited`` reads it up to the limit."""
    length = named.get(b"content-length")
    return length is not None and (not length.isdigit() or int(length) > limit)


def _take_path_token(scope: Scope) -> None:
    """``/r/<token>/rest`` -> path ``/rest``, the token under ``PATH_TOKEN``; first of all, so
    no log line, handler or upstream ever sees the token (``raw_path`` is cut the same way)."""
    token, _, rest = scope["path"][len(_TOKEN_PATH) :].partition("/")
    if not token:
        return
    scope[PATH_TOKEN] = token
    scope["path"] = "/" + rest
    raw = scope.get("raw_path")
    if raw is not None:
        scope["raw_path"] = b"/" + raw[len(_TOKEN_PATH) :].partition(b"/")[2]


def _own_origin(origin: bytes | None, allowed: frozenset[bytes]) -> bool:
    return origin is not None and origin.startswith(b"http://") and origin[7:] in allowed


def _bracket(host: str) -> str:
    host = host.lower()
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


#: Why a request is refused: HTTP status, message, error code.
Refusal = tuple[int, str, str]
_TOO_MANY_HEADERS: Final = (431, "too many request headers", "headers")
_FORBIDDEN_HOST: Final = (
    403,
    "this Host is not served here (DNS rebinding protection)",
    "forbidden_host",
)
_FORBIDDEN_ORIGIN: Final = (
    403,
    "browser requests from other origins are refused",
    "forbidden_origin",
)
_FORBIDDEN_PEER: Final = (
    403,
    "this proxy serves only the user running it (set [proxy] client_tokens to let others in)",
    "forbidden_peer",
)


class Gate:
    """ASGI middleware: refuse what must not reach a handler, redact what leaves.

    ``__call__`` runs the checks in order, one function each: the header count and the
    Host allowlist (``_host_refusal``), the browser origin (``_origin``), the CORS preflight
    (``_preflight``), the body limit (``_length_refused``, or ``_read_limited`` for a
    chunked body), then the app, an exception in it answered by ``_internal``.
    """

    def __init__(
        self,
        app: ASGIApp,
        settings: Callable[[], ProxySettings],
        redactor: Callable[[], Redactor],
    ) -> None:
        self.app = app
        self._settings = settings
        self._redactor = redactor
        #: Names given to ``bind`` (``--host``): served like the loopback names.
        self.bound: tuple[str, ...] = ()
        self._hosts: dict[tuple[Any, ...], frozenset[bytes]] = {}
        #: The last (settings, server, names) looked up: requests of one server and one
        #: configuration skip building the cache key.
        self._last: tuple[ProxySettings, Any, frozenset[bytes]] | None = None

    def bind(self, host: str) -> None:
        self.bound = (host,)
        self._hosts.clear()
        self._last = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind != "http" and kind != "websocket":
            await self.app(scope, receive, send)
            return
        settings = self._settings()
        if scope["path"].startswith(_TOKEN_PATH):
            _take_path_token(scope)
        found = scope[ENDPOINT] = resolve(
            scope.get("method", "GET"), scope["path"], scope["headers"]
        )
        fmt = found.endpoint.error_format if found is not None else None
        headers = scope["headers"]
        # One C-level pass; a repeated name keeps its last value (a browser cannot repeat
        # Host, and a repeated Origin or Sec-Fetch-Site only matters to a browser page).
        named = dict(headers) if len(headers) <= MAX_HEADERS else {}
        allowed = self._allowed(scope, settings)
        refusal = _host_refusal(headers, named, allowed)
        if FOREIGN_PEER in scope and not settings.client_tokens:
            refusal = _FORBIDDEN_PEER
        if refusal is None:
            cors, refusal = _origin(named, settings, allowed, found is not None)
        else:
            cors = None
        if refusal is not None:
            await self._refuse(scope, send, fmt, *refusal)
        elif kind == "websocket":
            await self.app(scope, receive, send)
        elif cors is not None and scope["method"] == "OPTIONS":
            await _preflight(scope, send, cors)
        elif _length_refused(named, settings.max_body_bytes):
            await self._too_large(scope, send, fmt, settings.max_body_bytes)
        else:
            if b"content-length" not in named and b"transfer-encoding" in named:
                body = await _read_limited(receive, settings.max_body_bytes)
                if body is None:
                    await self._too_large(scope, send, fmt, settings.max_body_bytes)
                    return
                receive = _replay(body, receive)
            out = _Outgoing(send, self._redactor(), cors, everything=fmt is None)
            try:
                await self.app(scope, receive, out)
            except Exception as exc:
                await self._internal(scope, out, fmt, exc)

    def _allowed(self, scope: Scope, settings: ProxySettings) -> frozenset[bytes]:
        server = scope.get("server")
        last = self._last
        if last is not None and last[0] is settings and last[1] == server:
            return last[2]
        key_server = tuple(server) if server is not None else None  # some servers give a list
        key = (key_server, settings.allowed_hosts, self.bound)
        found = self._hosts.get(key)
        if found is None:
            if len(self._hosts) > 64:  # a server reached on many addresses; keep it bounded
                self._hosts.clear()
            found = host_names(key_server, self.bound, settings.allowed_hosts)
            self._hosts[key] = found
        self._last = (settings, server, found)
        return found

    async def _refuse(
        self, scope: Scope, send: Send, fmt: str | None, status: int, message: str, code: str
    ) -> None:
        log.warning(
            "request refused",
            reason=code,
            path=scope["path"],
            client=_client(scope),
        )
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        code = code if fmt is not None else code.upper()  # the management API's style
        await _respond(send, status, error_body(fmt or "openai", status, message, code=code))

    async def _too_large(self, scope: Scope, send: Send, fmt: str | None, limit: int) -> None:
        message = f"the request body is larger than {limit} bytes ([proxy] max_body_bytes)"
        await self._refuse(scope, send, fmt, 413, message, "request_too_large")

    async def _internal(self, scope: Scope, send: Send, fmt: str | None, exc: Exception) -> None:
        request_id = secrets.token_hex(8)
        # The details go to the log (redacted there); the client learns only the id.
        log.error(
            "internal error",
            request_id=request_id,
            path=scope["path"],
            error=f"{type(exc).__name__}: {exc}",
            exc_info=exc,
        )
        message = f"internal proxy error (request id {request_id})"
        body = error_body(fmt or "openai", 500, message, code="internal_error")
        try:
            await _respond(send, 500, body)
        except Exception:  # the response had started: nothing more can be said
            return


class _Outgoing:
    """``send`` with response headers and error bodies (or everything) redacted.

    A success on the data path costs one header scan; its (streamed) body passes untouched.
    Error responses, and with ``everything`` all responses, are held until complete, then
    redacted and sent with a corrected ``content-length``.
    """

    __slots__ = ("_buffer", "_cors", "_everything", "_hold", "_redactor", "_send", "_start")

    def __init__(
        self, send: Send, redactor: Redactor, cors: bytes | None, *, everything: bool
    ) -> None:
        self._send = send
        self._redactor = redactor
        self._cors = cors
        self._everything = everything and bool(redactor)
        self._hold = False
        self._start: Message | None = None
        self._buffer: list[bytes] = []

    def __call__(self, message: Message) -> Awaitable[None]:
        # Not a coroutine: a body chunk of a success passes straight to the server's send,
        # with no extra coroutine per streamed chunk.
        if message["type"] == "http.response.body" and not self._hold:
            return self._send(message)
        return self._handle(message)

    async def _handle(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            # Read before redaction, which may mask a header value that looks like a token.
            stream = self._everything and _event_stream(message)
            headers = message.get("headers", ())
            redactor = self._redactor
            headers = redactor.headers(headers)  # the same object when nothing is masked
            if self._cors is not None:
                headers = [
                    *headers,
                    (b"access-control-allow-origin", self._cors),
                    (b"vary", b"origin"),
                ]
            if headers is not message.get("headers", ()):  # else the message goes as it came
                message = {**message, "headers": headers}
            if stream:
                # ``/v1/events`` never completes: each event is redacted as it goes instead.
                self._send = _redacting(self._send, redactor)
            elif self._everything or (message["status"] >= 400 and redactor):
                self._hold, self._start = True, message
                return
        elif message["type"] == "http.response.body":
            self._buffer.append(message.get("body", b""))
            if message.get("more_body"):
                return
            await self._flush()
            return
        await self._send(message)

    async def _flush(self) -> None:
        assert self._start is not None
        body = self._redactor.binary(b"".join(self._buffer))
        headers = [
            *self._redactor.headers(
                [(n, v) for n, v in self._start["headers"] if n != b"content-length"]
            )
        ]
        headers.append((b"content-length", str(len(body)).encode()))
        self._hold = False
        await self._send({**self._start, "headers": headers})
        await self._send({"type": "http.response.body", "body": body})


def _event_stream(start: Message) -> bool:
    """A management API success that streams events (``text/event-stream``)."""
    if start["status"] >= 400:
        return False
    return any(
        n == b"content-type" and v.startswith(b"text/event-stream") for n, v in start["headers"]
    )


def _redacting(send: Send, redactor: Redactor) -> Send:
    async def redacted(message: Message) -> None:
        if message["type"] == "http.response.body" and message.get("body"):
            message = {**message, "body": redactor.binary(message["body"])}
        await send(message)

    return redacted


async def _preflight(scope: Scope, send: Send, origin: bytes) -> None:
    asked = b""
    for name, value in scope["headers"]:
        if name == b"access-control-request-headers":
            asked = value
    headers = [
        (b"access-control-allow-origin", origin),
        (b"access-control-allow-methods", _CORS_METHODS),
        (b"access-control-allow-headers", asked or b"authorization, content-type"),
        (b"access-control-max-age", b"600"),
        (b"vary", b"origin"),
        (b"content-length", b"0"),
    ]
    await send({"type": "http.response.start", "status": 204, "headers": headers})
    await send({"type": "http.response.body", "body": b""})


async def _read_limited(receive: Receive, limit: int) -> bytes | None:
    """The whole body of a chunked request, or ``None`` as soon as it passes ``limit``."""
    parts: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        parts.append(chunk)
        if not message.get("more_body"):
            break
    return b"".join(parts)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands out ``body`` once, then defers to the real one."""
    pending = [{"type": "http.request", "body": body, "more_body": False}]

    async def replay() -> Message:
        if pending:
            return pending.pop()
        return await receive()

    return replay


async def _respond(send: Send, status: int, body: bytes) -> None:
    # ``connection: close``: the server does not wait for (nor read) a body it refused.
    headers = [_JSON, (b"content-length", str(len(body)).encode()), _CLOSE]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _client(scope: Scope) -> str | None:
    client = scope.get("client")
    return f"{client[0]}:{client[1]}" if client else None
