"""The proxy's translation hook: a provider of another protocol, reached through translation.

Two touch points in the data path, nothing else:

* ``routing.build_targets`` stores on each ``Target`` the endpoints it serves through
  translation (``Target.translate``: endpoint name -> ``Route``), and registers the target
  for the other families' translatable endpoints (``Endpoint.plan_family``);
* ``attempts.upstream_request`` asks ``prepare(...)`` for the URL, body and headers to send
  when the endpoint has a route, and the attempt sends through the returned ``Translation``
  instead of the upstream client (``sender.send(...)``). Its response keeps the
  upstream status; its error bodies stay raw (failover and usage-limit detection see what
  the provider said; ``errors.upstream_error_body`` then writes them in the client's
  format); its JSON body and stream come out in the client's protocol, chunk by chunk. A
  token count for a provider of another protocol is answered there without an upstream
  call (an estimate).

The conversions themselves are pure and live in ``auto_router.translate``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final

import structlog

from .. import translate
from ..errors import TranslationError
from ..translate.anthropic import wants_unsigned_thinking
from ..translate.models import build_list, model_ids
from .endpoints import ANTHROPIC, GEMINI, NESTED_TOO_DEEP, OPENAI
from .upstream import (
    Headers,
    Timeouts,
    Upstream,
    UpstreamConnectionError,
    UpstreamRefused,
    UpstreamResponse,
)

log = structlog.get_logger("auto_router.proxy")

#: The client protocol of each endpoint that can be translated.
CLIENT_PROTOCOL: Final = {
    "chat": "chat",
    "responses": "responses",
    "messages": "anthropic",
    "generateContent": "gemini",
    "streamGenerateContent": "gemini",
    "models": "chat",
    "anthropic_models": "anthropic",
    "count_tokens": "anthropic",
    "countTokens": "gemini",
}
#: Characters per token for the local estimate of a token count (no tokenizer here).
_CHARS_PER_TOKEN: Final = 4
#: Client request headers that belong to one vendor's protocol: not sent to another vendor.
_VENDOR_PREFIXES: Final = ("anthropic-", "openai-", "x-stainless-", "x-goog-", "content-type")
_JSON_TYPE: Final = (b"content-type", b"application/json")
_SSE_TYPE: Final = (b"content-type", b"text/event-stream; charset=utf-8")
_SKIP_HEADERS: Final = frozenset({b"content-type", b"content-length", b"content-encoding"})
#: (client protocol, field) pairs already logged as dropped: logged once per process.
_LOGGED: set[tuple[str, str]] = set()


@dataclass(frozen=True, slots=True)
class Route:
    """How one provider serves one client endpoint: in which protocol, at which URL.

    ``upstream`` is ``chat``, ``anthropic``, ``gemini`` or ``models``; for ``gemini`` the
    URL is the ``.../models/`` prefix the model and method are appended to.
    """

    upstream: str
    url: str


def routes(
    family: str,
    urls: Mapping[str, str],
    gemini_prefix: str,
    *,
    responses: bool,
    enabled: bool,
) -> Mapping[str, Route]:
    """The endpoints a provider of ``family`` serves through translation.

    A token count for a provider of another protocol is estimated here (``estimate``):
    Claude Code asks for one at start-up and often after, and sending a whole request
    upstream to count it would cost real tokens.
    """
    if not enabled:
        return MappingProxyType({})
    found: dict[str, Route] = {}
    if family != ANTHROPIC:
        found["count_tokens"] = Route("estimate", "")
    if family != GEMINI:
        found["countTokens"] = Route("estimate", "")
    if family == OPENAI and "chat" in urls:
        via = Route("chat", urls["chat"])
        found.update(messages=via, generateContent=via, streamGenerateContent=via)
        if not responses:
            found["responses"] = via
        if "models" in urls:
            found["anthropic_models"] = Route("models", urls["models"])
    elif family == ANTHROPIC and "messages" in urls:
        via = Route("anthropic", urls["messages"])
        found.update(chat=via, responses=via, generateContent=via, streamGenerateContent=via)
        if "anthropic_models" in urls:
            found["models"] = Route("models", urls["anthropic_models"])
    elif family == GEMINI and gemini_prefix:
        via = Route("gemini", gemini_prefix)
        found.update(chat=via, responses=via, messages=via)
        found["models"] = found["anthropic_models"] = Route("models", gemini_prefix.rstrip("/"))
    return MappingProxyType(found)


class Translation:
    """One attempt's translated request, and the wrapper for its response."""

    __slots__ = (
        "_client",
        "_include_usage",
        "_local",
        "_model",
        "_route",
        "_sse",
        "_upstream",
        "body",
        "stream",
        "url",
    )

    def __init__(
        self,
        route: Route,
        client: str,
        url: str,
        body: bytes | None,
        *,
        stream: bool,
        model: str,
        include_usage: bool,
        sse: bool,
        upstream: Upstream,
        local: bytes | None = None,
    ) -> None:
        self._upstream = upstream
        self._local = local
        self._route = route
        self._client = client
        self.url = url
        self.body = body
        self.stream = stream
        self._model = model
        self._include_usage = include_usage
        self._sse = sse

    def headers(self, forwarded: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
        """The client's headers minus the other vendor's own ones."""
        kept = [h for h in forwarded if not h[0].startswith(_VENDOR_PREFIXES)]
        if self.body is not None:
            kept.append(("content-type", "application/json"))
        return kept

    async def send(
        self,
        method: str,
        url: str,
        headers: Headers,
        body: bytes | None,
        timeouts: Timeouts,
        *,
        stream: bool = False,
    ) -> UpstreamResponse:
        """The upstream's answer, read as the client's protocol (or answered here)."""
        if self._local is not None:
            return LocalResponse(self._local)
        raw = await self._upstream.send(method, url, headers, body, timeouts, stream=stream)
        return TranslatedResponse(raw, self)

    # Called by TranslatedResponse.

    def translate_body(self, payload: bytes) -> bytes:
        data = _answer(payload)
        try:
            if self._route.upstream == "models":
                owner = "auto-router"
                client = self._client if self._client != "chat" else "openai"
                out = build_list(client, model_ids(data), owner)
            else:
                out = translate.translate_response(
                    self._route.upstream, self._client, data, self._model
                )
            return json.dumps(out, ensure_ascii=False, separators=(",", ":")).encode()
        except RecursionError:  # parsed, but too deep for a walk on this stack
            raise UpstreamRefused(_TOO_DEEP) from None

    def stream_body(self, payload: bytes, encoder: translate.Encoder) -> bytes:
        """A whole JSON answer to a streamed request, as the client's stream (issue 18:
        it came out as an empty stream, the text lost)."""
        data = _answer(payload)
        try:
            return encoder.encode(translate.response_events(self._route.upstream, data))
        except RecursionError:
            raise UpstreamRefused(_TOO_DEEP) from None

    def transducer(self) -> tuple[translate.Decoder, translate.Encoder]:
        return (
            translate.stream_decoder(self._route.upstream),
            translate.stream_encoder(
                self._client, self._model, include_usage=self._include_usage, sse=self._sse
            ),
        )

    @property
    def content_type(self) -> tuple[bytes, bytes]:
        if self.stream and (self._client != "gemini" or self._sse):
            return _SSE_TYPE
        return _JSON_TYPE


_TOO_DEEP: Final = f"the upstream answer is refused: {NESTED_TOO_DEEP}"


def _answer(payload: bytes) -> dict[str, Any]:
    """An upstream's JSON answer; ``UpstreamError`` (a failover) when it is not one."""
    try:
        data = json.loads(payload)
    except ValueError:
        raise UpstreamConnectionError("the upstream answer is not valid JSON") from None
    except RecursionError:  # nested deeper than the parser goes: no traceback, a failover
        raise UpstreamRefused(_TOO_DEEP) from None
    if not isinstance(data, dict):
        raise UpstreamConnectionError("the upstream answer is not a JSON object")
    return data


def prepare(
    route: Route,
    endpoint: str,
    data: dict[str, Any] | None,
    body: bytes,
    *,
    upstream_model: str | None,
    client_model: str | None,
    stream: bool,
    query: bytes,
    upstream: Upstream,
) -> Translation:
    """The request for ``route``'s provider. Raises ``TranslationError`` for a bad request."""
    try:
        return _prepare(
            route,
            endpoint,
            data,
            body,
            upstream_model=upstream_model,
            client_model=client_model,
            stream=stream,
            query=query,
            upstream=upstream,
        )
    except RecursionError:  # JSON (a tool schema, tool arguments) deeper than a walk goes
        raise TranslationError(f"cannot translate the request: {NESTED_TOO_DEEP}") from None


def _prepare(
    route: Route,
    endpoint: str,
    data: dict[str, Any] | None,
    body: bytes,
    *,
    upstream_model: str | None,
    client_model: str | None,
    stream: bool,
    query: bytes,
    upstream: Upstream,
) -> Translation:
    client = CLIENT_PROTOCOL[endpoint]
    model = client_model or upstream_model or ""
    if route.upstream == "models":
        return _plain(route, client, route.url, model, upstream)
    if data is None:
        try:
            parsed = json.loads(body) if body else {}
        except ValueError:
            raise TranslationError("the request body is not valid JSON") from None
        if not isinstance(parsed, dict):
            raise TranslationError("the request body must be a JSON object")
        data = parsed
    if route.upstream == "estimate":
        local = _estimate(client, data)
        return _plain(route, client, "", model, upstream, local)
    req = translate.parse_request(client, data, model=client_model, stream=stream)
    if req.dropped:
        _log_dropped(client, route.upstream, req.dropped)
    unsigned = route.upstream == "anthropic" and wants_unsigned_thinking(route.url)
    out = translate.build_request(route.upstream, req, upstream_model, unsigned_thinking=unsigned)
    url = route.url
    if route.upstream == "gemini":
        url = f"{url}{upstream_model}:" + (
            "streamGenerateContent?alt=sse" if stream else "generateContent"
        )
    options = data.get("stream_options")
    return Translation(
        route,
        client,
        url,
        json.dumps(out, ensure_ascii=False, separators=(",", ":")).encode(),
        stream=stream,
        model=model,
        include_usage=isinstance(options, dict) and options.get("include_usage") is True,
        sse=client != "gemini" or b"alt=sse" in query,
        upstream=upstream,
    )


def _plain(
    route: Route, client: str, url: str, model: str, upstream: Upstream, local: bytes | None = None
) -> Translation:
    """A bodiless request (a model list) or one answered here (a token estimate)."""
    return Translation(
        route,
        client,
        url,
        None,
        stream=False,
        model=model,
        include_usage=False,
        sse=True,
        upstream=upstream,
        local=local,
    )


def _estimate(client: str, data: dict[str, Any]) -> bytes:
    """A token count without a tokenizer: about four characters per token."""
    if client == "gemini" and isinstance(data.get("generateContentRequest"), dict):
        data = data["generateContentRequest"]  # countTokens may wrap the request
    req = translate.parse_request(client, data)
    size = len(req.system or "") + sum(
        len(json.dumps(t.parameters)) + len(t.name) + len(t.description) for t in req.tools
    )
    for message in req.messages:
        for part in message.parts:
            size += len(getattr(part, "text", "") or getattr(part, "content", "") or "")
            size += len(getattr(part, "arguments", "") or "")
    tokens = max(1, size // _CHARS_PER_TOKEN)
    body = {"totalTokens": tokens} if client == "gemini" else {"input_tokens": tokens}
    return json.dumps(body).encode()


def _log_dropped(client: str, upstream: str, fields: list[str]) -> None:
    new = [f for f in fields if (client, f) not in _LOGGED]
    if new:
        _LOGGED.update((client, f) for f in new)
        log.info("translate: fields dropped", client=client, upstream=upstream, fields=new)


class LocalResponse:
    """An answer made here (a token estimate): nothing went upstream."""

    __slots__ = ("_body", "status")

    def __init__(self, body: bytes) -> None:
        self._body = body
        self.status = 200

    def raw_headers(self) -> Sequence[tuple[bytes, bytes]]:
        return [_JSON_TYPE, (b"x-auto-router-estimate", b"true")]

    def header(self, name: str) -> str | None:
        return "application/json" if name.lower() == "content-type" else None

    async def read(self) -> bytes:
        return self._body

    async def readany(self) -> bytes:
        body, self._body = self._body, b""
        return body

    async def release(self) -> None:
        return None

    async def abort(self) -> None:
        return None


class TranslatedResponse:
    """An upstream response that reads as the client's protocol (errors stay raw)."""

    __slots__ = ("_decoder", "_encoder", "_ended", "_raw", "_translation", "_whole", "status")

    def __init__(self, raw: UpstreamResponse, translation: Translation) -> None:
        self._raw = raw
        self._translation = translation
        self.status = raw.status
        self._decoder: translate.Decoder | None = None
        self._encoder: translate.Encoder | None = None
        if translation.stream:
            self._decoder, self._encoder = translation.transducer()
        self._ended = False
        #: A streamed request answered with one JSON body: read whole, sent as a stream.
        self._whole = translation.stream and "json" in (raw.header("content-type") or "")

    def raw_headers(self) -> Sequence[tuple[bytes, bytes]]:
        headers = [h for h in self._raw.raw_headers() if h[0].lower() not in _SKIP_HEADERS]
        headers.append(self._translation.content_type if self.status < 400 else _JSON_TYPE)
        return headers

    def header(self, name: str) -> str | None:
        if name.lower() == "content-type" and self.status < 400:
            return self._translation.content_type[1].decode()
        return self._raw.header(name)

    async def read(self) -> bytes:
        payload = await self._raw.read()
        if self.status >= 400:
            return payload
        return self._translation.translate_body(payload)

    async def readany(self) -> bytes:
        decoder, encoder = self._decoder, self._encoder
        if decoder is None or encoder is None or self.status >= 400:
            return await self._raw.readany()
        if self._whole:
            return await self._read_whole(encoder)
        while not self._ended:
            chunk = await self._raw.readany()
            if chunk:
                out = encoder.encode(decoder.feed(chunk))
            else:
                self._ended = True
                out = encoder.encode(decoder.close())
                if decoder.skipped:
                    log.warning("translate: malformed upstream events skipped", n=decoder.skipped)
            if out:
                return out
        return b""

    async def _read_whole(self, encoder: translate.Encoder) -> bytes:
        if self._ended:
            return b""
        self._ended = True
        return self._translation.stream_body(await self._raw.read(), encoder)

    async def release(self) -> None:
        await self._raw.release()

    async def abort(self) -> None:
        await self._raw.abort()
