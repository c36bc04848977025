"""Property tests: text, tool calls and tool results survive every translation, both ways."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from auto_router import translate
from auto_router.translate import anthropic, chat, gemini
from auto_router.translate.model import (
    Event,
    Finish,
    Message,
    Request,
    Response,
    Text,
    TextDelta,
    ToolCall,
    ToolDelta,
    ToolResult,
    ToolStart,
    Usage,
)
from auto_router.translate.sse import SSEParser

PROTOCOLS = ("chat", "anthropic", "gemini")
texts = st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=40)
names = st.from_regex(r"[a-zA-Z_][a-zA-Z0-9_]{0,15}", fullmatch=True)
values = st.one_of(st.integers(-1000, 1000), texts, st.booleans(), st.none())
arguments = st.dictionaries(texts, values, max_size=3)


@st.composite
def conversations(draw: st.DrawFn) -> Request:
    """user -> assistant (text + calls) -> user (one result per call + text) -> assistant."""
    calls = draw(st.lists(st.tuples(names, arguments), min_size=0, max_size=3))
    tool_calls = [
        ToolCall(f"call_{i}", name, json.dumps(args, ensure_ascii=False))
        for i, (name, args) in enumerate(calls)
    ]
    results = [ToolResult(c.id, draw(texts)) for c in tool_calls]
    return Request(
        model="m",
        system=draw(st.one_of(st.none(), texts)),
        messages=[
            Message("user", [Text(draw(texts))]),
            Message("assistant", [Text(draw(texts)), *tool_calls]),
            Message("user", [*results, Text(draw(texts))]),
            Message("assistant", [Text(draw(texts))]),
        ],
    )


def summary(req: Request) -> list[Any]:
    """What must survive: per message its role, texts, calls (name, args) and results."""
    out = []
    for message in req.messages:
        out.append(
            (
                message.role,
                [p.text for p in message.parts if isinstance(p, Text)],
                [
                    (p.name, json.loads(p.arguments))
                    for p in message.parts
                    if isinstance(p, ToolCall)
                ],
                [_loose(p.content) for p in message.parts if isinstance(p, ToolResult)],
            )
        )
    return out


def _loose(text: str) -> Any:
    """A result that is a JSON object may come back re-serialised (Gemini wants objects)."""
    try:
        value = json.loads(text)
    except ValueError:
        return text
    return value if isinstance(value, dict) else text


def _build(protocol: str, req: Request) -> dict[str, Any]:
    return translate.build_request(protocol, req, "m")


@settings(max_examples=60, deadline=None)
@given(conversations(), st.sampled_from(PROTOCOLS), st.sampled_from(PROTOCOLS))
def test_requests_survive_any_pair(req: Request, client: str, upstream: str) -> None:
    client_body = json.loads(json.dumps(_build(client, req)))
    middle = translate.parse_request(client, client_body, model="m")
    upstream_body = json.loads(json.dumps(_build(upstream, middle)))
    back = translate.parse_request(upstream, upstream_body, model="m")
    assert summary(back) == summary(req)
    assert back.system == req.system
    # tool results still answer the call they answered (ids agree within the request)
    calls = [p.id for m in back.messages for p in m.parts if isinstance(p, ToolCall)]
    results = [p.call_id for m in back.messages for p in m.parts if isinstance(p, ToolResult)]
    assert results == calls


@st.composite
def answers(draw: st.DrawFn) -> Response:
    calls = draw(st.lists(st.tuples(names, arguments), max_size=3))
    parts: list[Any] = [Text(draw(texts))]
    parts += [ToolCall(f"call_{i}", n, json.dumps(a)) for i, (n, a) in enumerate(calls)]
    return Response("r1", "m", parts, "tool_calls" if calls else "stop", Usage(10, 5, 2))


def answer_summary(resp: Response) -> Any:
    text = "".join(p.text for p in resp.parts if isinstance(p, Text))
    calls = [(p.name, json.loads(p.arguments)) for p in resp.parts if isinstance(p, ToolCall)]
    return text, calls, resp.finish, (resp.usage.input, resp.usage.output, resp.usage.cached)


_BUILD = {
    "chat": chat.build_response,
    "anthropic": anthropic.build_response,
    "gemini": gemini.build_response,
}
_PARSE = {
    "chat": chat.parse_response,
    "anthropic": anthropic.parse_response,
    "gemini": gemini.parse_response,
}


@settings(max_examples=60, deadline=None)
@given(answers(), st.sampled_from(PROTOCOLS), st.sampled_from(PROTOCOLS))
def test_answers_survive_any_pair(resp: Response, upstream: str, client: str) -> None:
    upstream_body = json.loads(json.dumps(_BUILD[upstream](resp, "m")))
    client_body = translate.translate_response(upstream, client, upstream_body, "m")
    assert answer_summary(_PARSE[client](json.loads(json.dumps(client_body)))) == answer_summary(
        resp
    )


def events_of(resp: Response, split: int) -> list[Event]:
    """The answer as stream events, tool arguments cut into pieces of ``split`` characters."""
    events: list[Event] = []
    for part in resp.parts:
        if isinstance(part, Text):
            events += [TextDelta(part.text[i : i + split]) for i in range(0, len(part.text), split)]
        elif isinstance(part, ToolCall):
            index = sum(isinstance(e, ToolStart) for e in events)
            events.append(ToolStart(index, part.id, part.name))
            args = part.arguments
            events += [ToolDelta(index, args[i : i + split]) for i in range(0, len(args), split)]
    return [*events, Finish(resp.finish)]


def collect(protocol: str, data: bytes) -> tuple[str, list[tuple[str, Any]]]:
    decoder = translate.stream_decoder(protocol)
    events = decoder.feed(data) + decoder.close()
    text = "".join(e.text for e in events if isinstance(e, TextDelta))
    calls: dict[int, list[str]] = {}
    named: dict[int, str] = {}
    for event in events:
        if isinstance(event, ToolStart):
            named[event.index], calls[event.index] = event.name, []
        elif isinstance(event, ToolDelta):
            calls[event.index].append(event.arguments)
    return text, [(named[i], json.loads("".join(a))) for i, a in calls.items()]


@settings(max_examples=60, deadline=None)
@given(answers(), st.sampled_from(PROTOCOLS), st.sampled_from(PROTOCOLS), st.integers(1, 9))
def test_streams_survive_any_pair(resp: Response, upstream: str, client: str, split: int) -> None:
    upstream_bytes = translate.stream_encoder(upstream, "m").encode(events_of(resp, split))
    decoder = translate.stream_decoder(upstream)
    encoder = translate.stream_encoder(client, "m")
    # the upstream bytes arrive cut at arbitrary places
    pieces = [upstream_bytes[i : i + 17] for i in range(0, len(upstream_bytes), 17)]
    client_bytes = b"".join(encoder.encode(decoder.feed(p)) for p in pieces)
    client_bytes += encoder.encode(decoder.close())
    text, calls = collect(client, client_bytes)
    expected = answer_summary(resp)
    assert (text, calls) == (expected[0], expected[1])
    assert not SSEParser().feed(client_bytes) or client_bytes.endswith(b"\n\n")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | texts,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
    max_leaves=12,
)
#: Bodies shaped like each protocol's request, with arbitrary values where fields go.
shaped = st.fixed_dictionaries(
    {},
    optional={
        key: json_values
        for key in ("model", "messages", "system", "tools", "tool_choice", "input", "contents",
                    "instructions", "generationConfig", "toolConfig", "max_tokens", "stop", "thinking")
    },
)  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(
    shaped,
    st.sampled_from(("chat", "responses", "anthropic", "gemini")),
    st.sampled_from(PROTOCOLS),
)
def test_hostile_requests_translate_or_raise_translation_error(
    body: dict[str, Any], client: str, upstream: str
) -> None:
    from auto_router.errors import TranslationError

    try:
        req = translate.parse_request(client, body)
        json.dumps(translate.build_request(upstream, req, "m"))
    except TranslationError:
        pass
