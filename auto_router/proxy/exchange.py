"""What one proxied request carries through the data path, and the ASGI plumbing it needs.

``Exchange`` is the record of one request (what the request log and the log line get);
``Call`` is what every attempt sends. The helpers here are the small, allocation-light
pieces the layers of the request path share.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field
from typing import Any, Final

from ..runs import RunEntry
from ..store.requests import FailedAttempt
from .asgi import Receive, Send
from .endpoints import Endpoint
from .upstream import UpstreamResponse

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
        b"x-auto-router-session",
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
JSON_TYPE: Final = (b"content-type", b"application/json")
_USAGE: Final = re.compile(
    rb'"(prompt_tokens|input_tokens|promptTokenCount|completion_tokens|output_tokens|'
    rb'candidatesTokenCount|total_tokens|totalTokenCount)"\s*:\s*(\d+)'
)
_PROMPT: Final = frozenset({b"prompt_tokens", b"input_tokens", b"promptTokenCount"})
_COMPLETION: Final = frozenset({b"completion_tokens", b"output_tokens", b"candidatesTokenCount"})
#: Every name above holds "oken"; a match starts at most this far before it. The regex runs
#: only from the first "oken" on (a fast byte search): a 20-event stream without usage
#: costs 0.3 us instead of 25 us (every quote is a place the regex would try).
_BACK: Final = 1 + max(n.index(b"oken") for n in (*_PROMPT, *_COMPLETION, b"total_tokens"))


def token_usage(*parts: bytes) -> tuple[int | None, int | None, int | None]:
    """Prompt, completion and total tokens from a body or a stream's head and tail."""
    prompt = completion = total = None
    for i, part in enumerate(parts):
        first = part.find(b"oken")
        if first < 0 or (i and part == parts[i - 1]):  # a stream read at once: head is tail
            continue
        for name, value in _USAGE.findall(part, max(0, first - _BACK)):
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
    #: The id of the pool key that answered (config/pools.py; never the key itself).
    key_id: str | None = None
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
    #: (token digest, registration) of an ``auto-router run --via-proxy`` session.
    run: tuple[str, RunEntry] | None = None


@dataclass(slots=True)
class Call:
    """The client's request as every attempt sends it (the model is set per target)."""

    method: str
    body: bytes
    #: The parsed JSON body (``None`` for Gemini-native or bodiless requests).
    data: dict[str, Any] | None
    forwarded: list[tuple[str, str]]
    query: bytes


class ClientError(Exception):
    """The client's request cannot be served as sent (an error status, no failover)."""

    def __init__(self, status: int, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code


async def read_body(receive: Receive) -> bytes:
    message = await receive()
    body: bytes = message.get("body", b"")
    if not message.get("more_body"):
        return body
    parts = [body]
    while message.get("more_body"):
        message = await receive()
        parts.append(message.get("body", b""))
    return b"".join(parts)


async def respond(
    send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    out = [JSON_TYPE, (b"content-length", str(len(body)).encode()), *(headers or [])]
    await send({"type": "http.response.start", "status": status, "headers": out})
    await send({"type": "http.response.body", "body": body})


def response_headers(
    resp: UpstreamResponse, ex: Exchange, backend: str, key: str
) -> list[tuple[bytes, bytes]]:
    """The upstream's headers the client may see, plus which backend, provider and model
    answered, after how many attempts and which providers failed first (``routed_headers``)."""
    headers = [
        (name.lower(), value)
        for name, value in resp.raw_headers()
        if name.lower() not in DROP_RESPONSE
    ]
    headers += routed_headers(ex, backend, key)
    if ex.upstream_model:
        headers.append((b"x-auto-router-model", ex.upstream_model.encode("utf-8", "replace")))
    return headers


def routed_headers(ex: Exchange, backend: str | None, key: str | None) -> list[tuple[bytes, bytes]]:
    """``x-auto-router-{backend,provider,attempts,failed-over-from}``: a few tuples, built once
    per answer (never per chunk). ``failed-over-from`` lists the providers that failed before
    this answer, in order, each once; absent when none did."""
    headers = [(b"x-auto-router-attempts", str(ex.attempts).encode())]
    if backend:
        headers.append((b"x-auto-router-backend", backend.encode()))
    if key:
        headers.append((b"x-auto-router-provider", key.encode()))
    if key and ex.key_id:  # the pool key's id: the mask would show a client part of a key
        headers.append((b"x-auto-router-key", ex.key_id.encode()))
    if ex.failed:
        keys = dict.fromkeys(f"{f.backend}/{f.provider}" for f in ex.failed)
        headers.append((b"x-auto-router-failed-over-from", ",".join(keys).encode()))
    return headers


def without_key(query: bytes) -> str:
    text = query.decode("latin-1")
    return "&".join(p for p in text.split("&") if p and not p.startswith("key="))


def summary(text: str, limit: int = 200) -> str:
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):  # an upstream's error nested too deep (issue 18)
        data = None
    if isinstance(data, dict):
        error = data.get("error")
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            text = error["message"]
        elif isinstance(error, str):
            text = error
    text = " ".join(text.split())
    return text[:limit]


def iso(timestamp: float | None) -> str | None:
    if timestamp is None:
        return None
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).isoformat(timespec="seconds")
