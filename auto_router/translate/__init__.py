"""Translation between the four wire protocols, through one internal shape (``model``).

Protocols (the names used throughout): ``chat`` (OpenAI Chat Completions), ``responses``
(OpenAI Responses, client side only), ``anthropic`` (Messages), ``gemini``
(generateContent). Everything here is pure: dicts and bytes in, dicts and bytes out; the
proxy's hook (``auto_router.proxy.translation``) does the I/O.

    request:  parse_request(client, body) -> Request -> build_request(upstream, ...)
    JSON:     translate_response(upstream, client, body, model)
    JSON to a stream request: response_events(upstream, body) -> events -> encode
    stream:   stream_decoder(upstream).feed(chunk) -> events -> stream_encoder(client).encode

Decoders and encoders are incremental: one upstream chunk in, the client bytes it completes
out, nothing held back but an SSE event cut in half.
"""

from __future__ import annotations

from typing import Any, Protocol

from . import (
    anthropic,
    anthropic_stream,
    chat,
    chat_stream,
    gemini,
    gemini_stream,
    responses,
    responses_stream,
)
from .model import (
    Event,
    Finish,
    Request,
    Response,
    Start,
    Text,
    TextDelta,
    Thinking,
    ThinkingDelta,
    ToolCall,
    ToolDelta,
    ToolStart,
    UsageUpdate,
)

__all__ = [
    "Decoder",
    "Encoder",
    "build_request",
    "parse_request",
    "response_events",
    "stream_decoder",
    "stream_encoder",
    "translate_response",
]

#: Client protocols (what a request arrives in) and upstream protocols (what a provider speaks).
CLIENT_PROTOCOLS = ("chat", "responses", "anthropic", "gemini")
UPSTREAM_PROTOCOLS = ("chat", "anthropic", "gemini")


class Decoder(Protocol):
    #: Events skipped: data that was not a JSON object (``stream.BaseDecoder``).
    skipped: int

    def feed(self, chunk: bytes) -> list[Event]: ...

    def close(self) -> list[Event]: ...


class Encoder(Protocol):
    def encode(self, events: list[Event]) -> bytes: ...


def parse_request(
    client: str, data: dict[str, Any], *, model: str | None = None, stream: bool = False
) -> Request:
    """A client's request body (decoded JSON) in the internal shape.

    Gemini carries the model and streaming in the URL: pass them as ``model``/``stream``.
    """
    if client == "chat":
        return chat.parse_request(data)
    if client == "responses":
        return responses.parse_request(data)
    if client == "anthropic":
        return anthropic.parse_request(data)
    return gemini.parse_request(data, model, stream)


def build_request(
    upstream: str, req: Request, model: str | None, *, unsigned_thinking: bool = False
) -> dict[str, Any]:
    """``unsigned_thinking``: see ``anthropic.build_request`` (Anthropic upstreams only)."""
    if upstream == "chat":
        return chat.build_request(req, model)
    if upstream == "anthropic":
        return anthropic.build_request(req, model, unsigned_thinking=unsigned_thinking)
    return gemini.build_request(req)


def parse_response(upstream: str, data: dict[str, Any]) -> Response:
    """A whole (non-streamed) upstream answer in the internal shape."""
    if upstream == "chat":
        return chat.parse_response(data)
    if upstream == "anthropic":
        return anthropic.parse_response(data)
    return gemini.parse_response(data)


def response_events(upstream: str, data: dict[str, Any]) -> list[Event]:
    """A whole upstream answer as the events of a stream: for an upstream that answers
    JSON to a streamed request, so the client gets the answer it asked for as a stream
    (not an empty one: issue 18)."""
    resp = parse_response(upstream, data)
    events: list[Event] = [Start(resp.id, resp.model)]
    calls = 0
    for part in resp.parts:
        if isinstance(part, Thinking):
            events.append(ThinkingDelta(part.text, part.signature))
        elif isinstance(part, ToolCall):
            events.append(ToolStart(calls, part.id, part.name))
            events.append(ToolDelta(calls, part.arguments))
            calls += 1
        elif isinstance(part, Text) and part.text:
            events.append(TextDelta(part.text))
    events.append(UsageUpdate(resp.usage))
    events.append(Finish(resp.finish))
    return events


def translate_response(
    upstream: str, client: str, data: dict[str, Any], model: str
) -> dict[str, Any]:
    """A whole (non-streamed) upstream answer as the client's protocol writes it."""
    resp = parse_response(upstream, data)
    if client == "chat":
        return chat.build_response(resp, model)
    if client == "responses":
        return responses.build_response(resp, model)
    if client == "anthropic":
        return anthropic.build_response(resp, model)
    return gemini.build_response(resp, model)


def stream_decoder(upstream: str) -> Decoder:
    if upstream == "chat":
        return chat_stream.StreamDecoder()
    if upstream == "anthropic":
        return anthropic_stream.StreamDecoder()
    return gemini_stream.StreamDecoder()


def stream_encoder(
    client: str, model: str, *, include_usage: bool = False, sse: bool = True
) -> Encoder:
    if client == "chat":
        return chat_stream.StreamEncoder(model, include_usage=include_usage)
    if client == "responses":
        return responses_stream.StreamEncoder(model)
    if client == "anthropic":
        return anthropic_stream.StreamEncoder(model)
    return gemini_stream.StreamEncoder(model, sse=sse)
