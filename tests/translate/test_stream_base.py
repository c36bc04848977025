"""What the stream decoders and encoders share (``translate/stream.py``): a stream ends once,
where its protocol says it ends, and nothing sent after that end reaches the client."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from auto_router import translate
from auto_router.translate.model import Event, Finish, Start, StreamError, TextDelta
from auto_router.translate.sse import SSEParser

from .helpers import sse


def chat(content: str) -> dict[str, Any]:
    return {"id": "c", "model": "m", "choices": [{"index": 0, "delta": {"content": content}}]}


def anthropic(text: str) -> dict[str, Any]:
    delta = {"type": "text_delta", "text": text}
    return {"type": "content_block_delta", "index": 0, "delta": delta}


def gemini(text: str) -> dict[str, Any]:
    return {"candidates": [{"index": 0, "content": {"parts": [{"text": text}]}}]}


#: Per upstream protocol: a text event, the event that ends the stream, an error event.
PROTOCOLS: dict[str, tuple[Any, tuple[str | None, Any] | None, tuple[str | None, Any]]] = {
    "chat": (chat, (None, "[DONE]"), (None, {"error": {"message": "boom"}})),
    "anthropic": (
        anthropic,
        ("message_stop", {"type": "message_stop"}),
        ("error", {"type": "error", "error": {"message": "boom"}}),
    ),
    "gemini": (gemini, None, (None, {"error": {"message": "boom"}})),
}


def texts(events: list[Event]) -> list[str]:
    return [e.text for e in events if isinstance(e, TextDelta)]


@pytest.mark.parametrize("upstream", ["chat", "anthropic"])
def test_the_protocols_end_event_finishes_at_once_and_later_events_are_ignored(
    upstream: str,
) -> None:
    text, end, _ = PROTOCOLS[upstream]
    assert end is not None
    decoder = translate.stream_decoder(upstream)
    frames = sse([(None, text("a")), end, (None, text("late"))])
    events = [e for frame in frames for e in decoder.feed(frame)]
    assert texts(events) == ["a"]
    assert isinstance(events[-1], Finish)
    assert decoder.close() == []  # the finish is not repeated


@pytest.mark.parametrize("upstream", sorted(PROTOCOLS))
def test_an_error_ends_the_stream_without_a_finish(upstream: str) -> None:
    text, _, error = PROTOCOLS[upstream]
    decoder = translate.stream_decoder(upstream)
    events = decoder.feed(b"".join(sse([(None, text("a")), error, (None, text("late"))])))
    events += decoder.close()
    assert texts(events) == ["a"]
    assert events[-1] == StreamError("boom")
    assert not any(isinstance(e, Finish) for e in events)


@pytest.mark.parametrize("upstream", sorted(PROTOCOLS))
def test_data_that_is_not_a_json_object_is_skipped(upstream: str) -> None:
    text, _, _ = PROTOCOLS[upstream]
    decoder = translate.stream_decoder(upstream)
    junk = [(None, "keep-alive"), (None, "[1, 2]"), (None, json.dumps("a string"))]
    events = decoder.feed(b"".join(sse([*junk, (None, text("a"))]))) + decoder.close()
    assert texts(events) == ["a"]
    assert isinstance(events[-1], Finish)


@given(
    upstream=st.sampled_from(sorted(PROTOCOLS)),
    words=st.lists(st.text(min_size=1, max_size=5), min_size=1, max_size=6),
    cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=6),
    ended=st.booleans(),
)
def test_any_split_of_a_stream_decodes_as_the_whole(
    upstream: str, words: list[str], cuts: list[int], ended: bool
) -> None:
    text, end, _ = PROTOCOLS[upstream]
    body = b"".join(sse([(None, text(w)) for w in words] + ([end] if ended and end else [])))
    whole = translate.stream_decoder(upstream)
    expected = whole.feed(body) + whole.close()
    split = translate.stream_decoder(upstream)
    events: list[Event] = []
    start = 0
    for cut in sorted(c for c in cuts if c < len(body)):
        events += split.feed(body[start:cut])
        start = cut
    events += split.feed(body[start:]) + split.close()
    assert events == expected
    assert texts(events) == words
    assert sum(isinstance(e, Finish) for e in events) == 1


# ------------------------------------------------------------------- encoders

CLIENTS = ["chat", "responses", "anthropic", "gemini"]


def names(wire: bytes) -> list[str]:
    """Each SSE event's name, or the ``object``/``type`` its data names, or ``error``."""
    out = []
    for name, data in SSEParser().feed(wire):
        body = json.loads(data) if data != "[DONE]" else {"type": "[DONE]"}
        out.append(name or body.get("type") or body.get("object") or next(iter(body)))
    return out


@pytest.mark.parametrize("client", CLIENTS)
@pytest.mark.parametrize("end", [Finish("stop"), StreamError("boom")])
def test_nothing_is_written_after_the_end(client: str, end: Event) -> None:
    encoder = translate.stream_encoder(client, "m")
    wire = encoder.encode([Start("x", "m"), TextDelta("a"), end, TextDelta("late"), end])
    assert b"late" not in wire
    assert wire.count(b"boom") <= 1
    assert encoder.encode([TextDelta("later"), Finish("stop")]) == b""


@pytest.mark.parametrize("client", CLIENTS)
def test_the_finish_is_written_once(client: str) -> None:
    encoder = translate.stream_encoder(client, "m")
    once = names(encoder.encode([TextDelta("a"), Finish("stop"), Finish("stop")]))
    again = translate.stream_encoder(client, "m")
    assert names(again.encode([TextDelta("a"), Finish("stop")])) == once


@pytest.mark.parametrize(
    ("client", "expected"),
    [
        ("chat", ["error"]),  # no opening role chunk before an error
        ("anthropic", ["error"]),  # no message_start
        ("gemini", ["error"]),
        # A Responses stream exists from the first call: created, in progress, then the error.
        ("responses", ["response.created", "response.in_progress", "error"]),
    ],
)
def test_an_error_first_comes_without_the_protocols_opening(
    client: str, expected: list[str]
) -> None:
    encoder = translate.stream_encoder(client, "m")
    assert names(encoder.encode([StreamError("boom")])) == expected


@pytest.mark.parametrize("client", ["chat", "anthropic"])
def test_the_opening_comes_once_before_the_first_event(client: str) -> None:
    encoder = translate.stream_encoder(client, "m")
    first = names(encoder.encode([TextDelta("a")]))
    second = names(encoder.encode([TextDelta("b")]))
    opening = {"chat": "chat.completion.chunk", "anthropic": "message_start"}[client]
    assert first[0] == opening and len(first) > len(second)
    assert "message_start" not in second
