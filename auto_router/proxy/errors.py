"""Error bodies in each client protocol's own format (OpenAI, Responses, Anthropic, Gemini)."""

from __future__ import annotations

import json
import re
from typing import Any, Final

_OPENAI_TYPES: Final = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    408: "timeout",
    429: "rate_limit_error",
    502: "bad_gateway",
    503: "service_unavailable",
    504: "timeout",
}
_ANTHROPIC_TYPES: Final = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    429: "rate_limit_error",
    503: "overloaded_error",
}
_SEQUENCE: Final = re.compile(rb'"sequence_number"\s*:\s*(\d+)')
_GEMINI_STATUS: Final = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    502: "UNAVAILABLE",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


def _dumps(data: Any) -> bytes:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()


def error_payload(
    fmt: str,
    status: int,
    message: str,
    *,
    code: str | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    extra = extra or {}
    if fmt == "anthropic":
        kind = _ANTHROPIC_TYPES.get(status, "api_error")
        return {"type": "error", "error": {"type": kind, "message": message, **extra}}
    if fmt == "gemini":
        state = _GEMINI_STATUS.get(status, "INTERNAL")
        return {"error": {"code": status, "message": message, "status": state, **extra}}
    kind = _OPENAI_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")
    error: dict[str, Any] = {"message": message, "type": kind, "param": None, "code": code}
    return {"error": {**error, **extra}}


def error_body(
    fmt: str,
    status: int,
    message: str,
    *,
    code: str | None = None,
    extra: dict[str, Any] | None = None,
) -> bytes:
    return _dumps(error_payload(fmt, status, message, code=code, extra=extra))


def stream_error_event(
    fmt: str,
    message: str,
    *,
    code: str = "upstream_stream_error",
    tail: bytes = b"",
    sse: bool = True,
) -> bytes:
    """What ends a broken stream in the client protocol's own terms.

    ``tail`` is the end of what the client already got: when it stopped inside an event, a
    blank line first closes that (broken) event so the error is one event of its own; the
    Responses API's ``sequence_number`` continues from it. ``sse=False``: Gemini's
    ``streamGenerateContent`` without ``alt=sse`` streams one JSON array, which is closed
    with an error element instead.
    """
    message = said_once(message)
    data: dict[str, Any]
    if fmt == "gemini" and not sse:
        return b",\r\n" + _dumps(error_payload("gemini", 502, message)) + b"]"
    if fmt == "anthropic":
        data = {"type": "error", "error": {"type": "api_error", "message": message}}
        event = b"event: error\ndata: " + _dumps(data) + b"\n\n"
    elif fmt == "responses":
        numbers = _SEQUENCE.findall(tail)
        data = {
            "type": "error",
            "code": code,
            "message": message,
            "param": None,
            "sequence_number": int(numbers[-1]) + 1 if numbers else 0,
        }
        event = b"event: error\ndata: " + _dumps(data) + b"\n\n"
    elif fmt == "gemini":
        event = b"data: " + _dumps(error_payload("gemini", 502, message)) + b"\n\n"
    else:
        event = b"data: " + _dumps(error_payload("openai", 502, message, code=code)) + b"\n\n"
    if tail and not tail.endswith((b"\n\n", b"\r\n\r\n")):
        event = b"\n\n" + event
    return event


#: How a broken stream's error text begins. The upstream layer's own error for a cut stream
#: already says it, and the relays used to say it again ("upstream stream broke: upstream
#: stream broke: ...").
STREAM_BROKE: Final = "upstream stream broke: "


def said_once(message: str) -> str:
    """``message`` with ``STREAM_BROKE`` at its head at most once."""
    while message.startswith(STREAM_BROKE + STREAM_BROKE):
        message = message[len(STREAM_BROKE) :]
    return message


def upstream_error_body(fmt: str, status: int, body: bytes) -> bytes:
    """An upstream error as the client gets it: unchanged when already in the right shape."""
    try:
        data = json.loads(body) if body else None
    except (ValueError, RecursionError):  # nested too deep (issue 18): passed on as text
        data = None
    if isinstance(data, dict):
        error = data.get("error")
        if fmt == "anthropic" and data.get("type") == "error":
            return body
        if fmt == "gemini" and isinstance(error, dict) and isinstance(error.get("status"), str):
            return body
        if fmt not in ("anthropic", "gemini") and isinstance(error, dict):
            return body
        # Another vendor's error (a translated provider): its message, in the client's shape.
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            message = error["message"]
        elif isinstance(error, str):
            message = error
        else:
            message = body.decode("utf-8", "replace")[:2000]
    elif isinstance(data, list) and fmt == "gemini":
        return body
    else:
        message = body.decode("utf-8", "replace")[:2000] or f"upstream returned HTTP {status}"
    return error_body(fmt, status, message, code=f"upstream_{status}")
