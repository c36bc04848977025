"""Gemini CLI's "Login with Google" through the proxy (issue 20): Code Assist's ``/v1internal``.

Logged in with Google, Gemini CLI talks to Code Assist (``https://cloudcode-pa.googleapis.com``,
``CODE_ASSIST_ENDPOINT`` overrides it) at ``/v1internal:<method>``, with ``Authorization:
Bearer <Google token>`` (google-gemini/gemini-cli packages/core/src/code_assist/server.ts,
``getBaseUrl`` / ``getMethodUrl``). The backend's provider of ``type = "gemini"`` with
``auth = "passthrough"`` is that service:

* the account calls (``loadCodeAssist``, ``onboardUser``, ``retrieveUserQuota``,
  ``listExperiments``, ``GET /v1internal/operations/...``) go to it alone, with the client's
  bearer; with no such provider they get a 400 and nothing leaves the proxy;
* ``generateContent`` / ``streamGenerateContent`` go to it as they are; on its 429 (the
  quota's ``RESOURCE_EXHAUSTED``), a 5xx or no answer, the wrapped ``request`` is unwrapped
  into a plain Gemini ``generateContent`` body and sent down the normal plan path (the
  passthrough provider skipped there: the bearer is taken off, so the plan has no login to
  give it), and the answer is wrapped back into Code Assist's ``{"response": ...}``, each
  streamed chunk likewise. The Google token never reaches another provider.

The passthrough call is not recorded in the rotation state, the request log or the run's
record (the overflow's request is): after a quota 429 the model requests skip Code Assist
until the reset its answer names, in this process's memory only.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Sequence
from typing import Any, Final, NamedTuple

import structlog

from ..config import Config
from ..errors import AutoRouterError
from ..limits.upstream import reset_time
from .asgi import ENDPOINT, PATH_TOKEN, Message, Receive, Scope, Send
from .endpoints import GEMINI_GENERATE, GEMINI_STREAM, Resolved
from .errors import error_body
from .exchange import DROP_REQUEST, DROP_RESPONSE, ClientError, read_body, respond
from .forward import Proxy, check_client
from .runs import bare_token
from .upstream import Timeouts, UpstreamError, UpstreamResponse

log = structlog.get_logger("auto_router.proxy")

#: Code Assist's API version path (server.ts ``CODE_ASSIST_API_VERSION``).
PREFIX: Final = "/v1internal"
#: The methods that carry a model request; every other one is the account's.
GENERATE: Final = {"generateContent": GEMINI_GENERATE, "streamGenerateContent": GEMINI_STREAM}
#: Answers of the passthrough provider that send the request to the next provider.
_OVERFLOW: Final = frozenset({429, 500, 502, 503, 504})
#: How long a quota 429 that names no reset keeps the model requests off Code Assist (s).
DEFAULT_COOLING: Final = 60.0
_TOKEN_HEADER: Final = b"x-auto-router-token"
_BACKEND_HEADER: Final = b"x-auto-router-backend"


def is_code_assist(path: str) -> bool:
    """``/v1internal:<method>`` or ``/v1internal/<operation>``."""
    return path.startswith(PREFIX) and path[len(PREFIX) : len(PREFIX) + 1] in (":", "/")


class Service(NamedTuple):
    """The passthrough Gemini provider of a backend: where Code Assist is, how long to wait."""

    key: str
    name: str
    base_url: str
    timeouts: Timeouts


class CodeAssist:
    """The ``/v1internal`` endpoints, in front of ``Proxy.handle`` for the overflow."""

    def __init__(self, proxy: Proxy) -> None:
        self.proxy = proxy
        #: backend -> its Code Assist provider, for one configuration (rebuilt when it changes).
        self._services: tuple[Config | None, dict[str, Service | None]] = (None, {})
        #: "backend/provider" -> until when its quota is used up (in memory, by the clock).
        self._cooling: dict[str, float] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            service, login = self._admit(scope)
        except ClientError as exc:
            body = error_body("gemini", exc.status, exc.message, code=exc.code)
            await respond(send, exc.status, body)
            return
        body = await read_body(receive)
        method = scope["path"][len(PREFIX) + 1 :]
        generate = GENERATE.get(method) if scope["path"][len(PREFIX)] == ":" else None
        if generate is not None and self._cooling.get(service.key, 0.0) > self.proxy.clock():
            await self._overflow(scope, send, body, method)  # its quota is used up: not asked
        elif not await self._ask(scope, send, service, login, body, generate is GEMINI_STREAM):
            await self._overflow(scope, send, body, method)

    async def _ask(
        self, scope: Scope, send: Send, service: Service, login: str, body: bytes, stream: bool
    ) -> bool:
        """The request to Code Assist as it is: ``True`` once the client has its answer (or
        its error), ``False`` when a model request should overflow instead."""
        generate = scope["path"][len(PREFIX) + 1 :] in GENERATE
        url = service.base_url + scope["path"]
        query = scope.get("query_string", b"")
        if query:
            url += "?" + query.decode("latin-1")
        headers = _headers(scope, login)
        try:
            resp = await self.proxy.upstream.send(
                scope["method"], url, headers, body or None, service.timeouts, stream=stream
            )
            if not generate or resp.status not in _OVERFLOW:
                await _relay(send, resp, stream)
                return True
            if resp.status == 429:
                self._cool(service, resp.raw_headers(), await resp.read())
            else:
                await resp.abort()
        except UpstreamError as exc:
            if not generate:
                message = f"Code Assist ({service.name}) unreachable: {type(exc).__name__}"
                await respond(send, 502, error_body("gemini", 502, message, code="upstream"))
                return True
            log.info("code assist unreachable, overflowing", provider=service.key)
            return False
        log.info("code assist refused, overflowing", provider=service.key, status=resp.status)
        return False

    def _cool(self, service: Service, raw: Sequence[tuple[bytes, bytes]], body: bytes) -> None:
        """Its quota's 429: the model requests skip it until the reset the answer names
        (``RetryInfo``, "reset after"), else for ``DEFAULT_COOLING`` seconds."""
        now = self.proxy.clock()
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in raw}
        until = reset_time(headers, body.decode("utf-8", "replace"), now)
        self._cooling[service.key] = until if until is not None else now + DEFAULT_COOLING

    def _admit(self, scope: Scope) -> tuple[Service, str]:
        """The Code Assist provider this request is for and the client's bearer, or why not."""
        proxy = self.proxy
        snap = proxy.router.snapshot()
        named = dict(scope["headers"])
        token = scope.get(PATH_TOKEN) or _text(named.get(_TOKEN_HEADER))
        run = proxy.run_tokens.lookup(bare_token(token)) if proxy.run_tokens else None
        if run is None and (snap.settings.client_tokens or proxy.run_tokens is not None):
            check_client(snap, token, scope)
        login = _text(named.get(b"authorization"))
        if not login:
            raise ClientError(
                401,
                "Code Assist needs the client's own Google login (a bearer)",
                code="UNAUTHORIZED",
            )
        backend = _text(named.get(_BACKEND_HEADER)) or (run[1].backend if run else None)
        try:
            chosen = proxy.router.backend_for(snap, backend, None)
        except AutoRouterError as exc:
            raise ClientError(400, exc.message, code="invalid_request") from None
        service = self._service(snap.config, chosen, snap.targets)
        if service is None:
            raise ClientError(
                400,
                f"backend {chosen!r} has no Code Assist provider "
                '(type = "gemini", auth = "passthrough"; template gemini-subscription)',
                code="invalid_request",
            )
        return service, login

    def _service(self, config: Config, backend: str, targets: Any) -> Service | None:
        cached_for, services = self._services
        if cached_for is not config:
            services = {}
            self._services = (config, services)
        if backend not in services:
            services[backend] = _find_service(config, backend, targets)
        return services[backend]

    async def _overflow(self, scope: Scope, send: Send, body: bytes, method: str) -> None:
        """The wrapped request as a plain Gemini one, down the plan; the answer wrapped back."""
        try:
            wrapped = json.loads(body)
            model = str(wrapped["model"])
            inner = json.dumps(wrapped["request"]).encode()
        except (ValueError, KeyError, TypeError, RecursionError):
            message = "a Code Assist request needs a JSON body with model and request"
            await respond(send, 400, error_body("gemini", 400, message, code="invalid_request"))
            return
        endpoint = GENERATE[method]
        path = f"/v1beta/models/{model}:{method}"
        plain = dict(scope)
        plain["path"], plain["raw_path"] = path, path.encode()
        plain["query_string"] = b"alt=sse" if endpoint is GEMINI_STREAM else b""
        # The Google bearer stays here: the plan's providers get their own keys.
        plain["headers"] = [
            (k, v)
            for k, v in scope["headers"]
            if k not in (b"authorization", b"content-length", b"x-goog-api-key")
        ]
        plain[ENDPOINT] = Resolved(endpoint, model)
        await self.proxy.handle(plain, _replay(inner), _Wrapping(send), endpoint, model)


def _find_service(config: Config, backend: str, targets: Any) -> Service | None:
    for provider in config.enabled_providers_of(backend):
        if provider.type == "gemini" and provider.passthrough and provider.base_url:
            target = targets.get((backend, provider.name), {}).get("gemini")
            timeouts = target.timeouts if target is not None else Timeouts()
            base = provider.resolve().base_url or provider.base_url
            key = f"{backend}/{provider.name}"
            return Service(key, provider.name, base.rstrip("/"), timeouts)
    return None


def _headers(scope: Scope, login: str) -> list[tuple[str, str]]:
    """The client's headers for Code Assist: ours and the hop-by-hop ones off, its bearer on."""
    out = [
        (k.decode("latin-1"), v.decode("latin-1"))
        for k, v in scope["headers"]
        if k not in DROP_REQUEST
    ]
    out.append(("authorization", login))
    return out


async def _relay(send: Send, resp: UpstreamResponse, stream: bool) -> None:
    headers = [(k.lower(), v) for k, v in resp.raw_headers() if k.lower() not in DROP_RESPONSE]
    if not stream:
        body = await resp.read()
        await respond(send, resp.status, body, [h for h in headers if h[0] != b"content-type"])
        return
    await send({"type": "http.response.start", "status": resp.status, "headers": headers})
    try:
        while chunk := await resp.readany():
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
    except UpstreamError as exc:  # after the first byte: the client sees the stream end
        await resp.abort()
        log.warning("code assist stream broke", error=type(exc).__name__)
    except BaseException:  # the client left: close the upstream side
        await resp.abort()
        raise
    else:
        await resp.release()
    await send({"type": "http.response.body", "body": b""})


def _replay(body: bytes) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


class _Wrapping:
    """A ``send`` that wraps a successful Gemini answer into Code Assist's ``{"response"}``:
    the whole body, or each ``data:`` event of a stream. Errors pass as they are."""

    def __init__(self, send: Send) -> None:
        self.send = send
        self.start: Message | None = None
        self.sse = False
        self.parts: list[bytes] = []
        self.pending = b""

    def __call__(self, message: Message) -> Awaitable[None]:
        return self._handle(message)

    async def _handle(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.start = message
            kind = dict(message.get("headers", [])).get(b"content-type", b"")
            self.sse = message["status"] == 200 and b"event-stream" in kind
            if self.sse:
                await self.send(message)
            return
        if message["type"] != "http.response.body":
            await self.send(message)
            return
        if self.sse:
            await self._events(message)
        else:
            self.parts.append(message.get("body", b""))
            if not message.get("more_body"):
                await self._whole()

    async def _events(self, message: Message) -> None:
        self.pending += message.get("body", b"").replace(b"\r\n", b"\n")
        *events, self.pending = self.pending.split(b"\n\n")
        more = bool(message.get("more_body"))
        if not more and self.pending.strip():
            events.append(self.pending)
            self.pending = b""
        out = b"".join(_wrap_event(e) for e in events)
        await self.send({"type": "http.response.body", "body": out, "more_body": more})

    async def _whole(self) -> None:
        assert self.start is not None
        body = b"".join(self.parts)
        status = self.start["status"]
        headers = [(k, v) for k, v in self.start.get("headers", []) if k not in _REWRITTEN_HEADERS]
        if status == 200:
            body = _wrap(body)
        await respond(self.send, status, body, headers)


_REWRITTEN_HEADERS: Final = frozenset({b"content-length", b"content-type"})


def _wrap(body: bytes) -> bytes:
    try:
        return json.dumps({"response": json.loads(body)}).encode()
    except (ValueError, RecursionError):
        return body


def _wrap_event(event: bytes) -> bytes:
    data = [line[5:].strip() for line in event.split(b"\n") if line.startswith(b"data:")]
    if not data:
        return event + b"\n\n" if event.strip() else b""
    return b"data: " + _wrap(b"\n".join(data)) + b"\n\n"


def _text(value: bytes | None) -> str | None:
    return value.decode("latin-1") if value else None
