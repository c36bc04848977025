"""Helpers for the golden pairs: run a translation, compare with wildcards."""

from __future__ import annotations

import json
from typing import Any

from auto_router import translate
from auto_router.translate.sse import SSEParser

#: In an expected value: anything (ids and timestamps the translator makes up).
ANY: Any = "<any>"


def match(expected: Any, actual: Any, where: str = "$") -> None:
    """Assert ``actual`` equals ``expected``, where ``ANY`` matches any value."""
    if expected == ANY:
        return
    if isinstance(expected, dict):
        assert isinstance(actual, dict), f"{where}: expected an object, got {actual!r}"
        assert set(expected) == set(actual), f"{where}: keys {sorted(actual)} != {sorted(expected)}"
        for key, value in expected.items():
            match(value, actual[key], f"{where}.{key}")
    elif isinstance(expected, list | tuple):
        assert isinstance(actual, list | tuple), f"{where}: expected a list, got {actual!r}"
        assert len(expected) == len(actual), (
            f"{where}: {len(actual)} items != {len(expected)}\n{actual!r}"
        )
        for i, (e, a) in enumerate(zip(expected, actual, strict=True)):
            match(e, a, f"{where}[{i}]")
    else:
        assert expected == actual, f"{where}: {actual!r} != {expected!r}"


def sse(events: list[tuple[str | None, Any]]) -> list[bytes]:
    """Upstream SSE frames, one per event (``None`` name: a data-only event)."""
    out = []
    for name, data in events:
        text = data if isinstance(data, str) else json.dumps(data)
        out.append(((f"event: {name}\n" if name else "") + f"data: {text}\n\n").encode())
    return out


def stream(
    upstream: str, client: str, chunks: list[bytes], *, model: str = "client-model", **options: Any
) -> list[tuple[str | None, Any]]:
    """Feed ``chunks`` one at a time; return the client's events, parsed."""
    decoder = translate.stream_decoder(upstream)
    encoder = translate.stream_encoder(client, model, **options)
    out = b"".join(encoder.encode(decoder.feed(c)) for c in chunks)
    out += encoder.encode(decoder.close())
    parser = SSEParser()
    return [
        (name, data if data == "[DONE]" else json.loads(data)) for name, data in parser.feed(out)
    ]


def request(
    client: str, upstream: str, body: dict[str, Any], model: str = "up-model", **kw: Any
) -> dict[str, Any]:
    req = translate.parse_request(client, body, **kw)
    return translate.build_request(upstream, req, model)
