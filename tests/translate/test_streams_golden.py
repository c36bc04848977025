"""Golden pairs for streams: an upstream event sequence as its vendor documents it, and the
client's documented sequence (Anthropic's message_start ... message_stop, Responses'
response.created ... response.completed, Chat's chunks and [DONE], Gemini's candidates)."""

from __future__ import annotations

import json
from typing import Any

from auto_router import translate

from .helpers import ANY, match, sse, stream

# ---------------------------------------------------------------- upstreams


def chat_chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "qwen",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}  # fmt: skip


CHAT_STREAM = sse(
    [
        (None, chat_chunk({"role": "assistant", "content": ""})),
        (None, chat_chunk({"reasoning_content": "Hmm."})),
        (None, chat_chunk({"content": "Hi"})),
        (None, chat_chunk({"content": " there"})),
        (None, chat_chunk({"tool_calls": [{"index": 0, "id": "call_1", "type": "function",
                                           "function": {"name": "read", "arguments": ""}}]})),
        (None, chat_chunk({"tool_calls": [{"index": 0, "function": {"arguments": "{\"path\":"}}]})),
        (None, chat_chunk({"tool_calls": [{"index": 0, "function": {"arguments": "\"a\"}"}}]})),
        (None, chat_chunk({"tool_calls": [{"index": 1, "id": "call_2", "type": "function",
                                           "function": {"name": "read", "arguments": "{\"path\":\"b\"}"}}]})),
        (None, chat_chunk({}, "tool_calls")),
        (None, {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "qwen",
                "choices": [], "usage": {"prompt_tokens": 50, "completion_tokens": 10, "total_tokens": 60,
                                         "prompt_tokens_details": {"cached_tokens": 20}}}),
        (None, "[DONE]"),
    ]
)  # fmt: skip

ANTHROPIC_STREAM = sse(
    [
        ("message_start", {"type": "message_start", "message": {
            "id": "msg_1", "type": "message", "role": "assistant", "content": [], "model": "claude",
            "stop_reason": None, "stop_sequence": None,
            "usage": {"input_tokens": 30, "cache_read_input_tokens": 20, "output_tokens": 1}}}),
        ("content_block_start", {"type": "content_block_start", "index": 0,
                                 "content_block": {"type": "thinking", "thinking": "", "signature": ""}}),
        ("content_block_delta", {"type": "content_block_delta", "index": 0,
                                 "delta": {"type": "thinking_delta", "thinking": "Hmm."}}),
        ("content_block_delta", {"type": "content_block_delta", "index": 0,
                                 "delta": {"type": "signature_delta", "signature": "EqQB"}}),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        ("content_block_start", {"type": "content_block_start", "index": 1,
                                 "content_block": {"type": "text", "text": ""}}),
        ("ping", {"type": "ping"}),
        ("content_block_delta", {"type": "content_block_delta", "index": 1,
                                 "delta": {"type": "text_delta", "text": "Hi"}}),
        ("content_block_delta", {"type": "content_block_delta", "index": 1,
                                 "delta": {"type": "text_delta", "text": " there"}}),
        ("content_block_stop", {"type": "content_block_stop", "index": 1}),
        ("content_block_start", {"type": "content_block_start", "index": 2, "content_block": {
            "type": "tool_use", "id": "toolu_1", "name": "read", "input": {}}}),
        ("content_block_delta", {"type": "content_block_delta", "index": 2,
                                 "delta": {"type": "input_json_delta", "partial_json": "{\"path\":"}}),
        ("content_block_delta", {"type": "content_block_delta", "index": 2,
                                 "delta": {"type": "input_json_delta", "partial_json": "\"a\"}"}}),
        ("content_block_stop", {"type": "content_block_stop", "index": 2}),
        ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence": None},
                           "usage": {"output_tokens": 10}}),
        ("message_stop", {"type": "message_stop"}),
    ]
)  # fmt: skip

GEMINI_STREAM = sse(
    [
        (None, {"candidates": [{"content": {"role": "model", "parts": [{"text": "Hmm.", "thought": True}]},
                                "index": 0}], "modelVersion": "gemini-2.5-pro", "responseId": "r1"}),
        (None, {"candidates": [{"content": {"role": "model", "parts": [{"text": "Hi"}]}, "index": 0}],
                "modelVersion": "gemini-2.5-pro", "responseId": "r1"}),
        (None, {"candidates": [{"content": {"role": "model", "parts": [{"text": " there"}]}, "index": 0}],
                "modelVersion": "gemini-2.5-pro", "responseId": "r1"}),
        (None, {"candidates": [{"content": {"role": "model", "parts": [
                    {"functionCall": {"name": "read", "args": {"path": "a"}}}]},
                "finishReason": "STOP", "index": 0}],
                "usageMetadata": {"promptTokenCount": 50, "candidatesTokenCount": 8, "thoughtsTokenCount": 2,
                                  "totalTokenCount": 60, "cachedContentTokenCount": 20},
                "modelVersion": "gemini-2.5-pro", "responseId": "r1"}),
    ]
)  # fmt: skip


def anthropic_event(name: str, **fields: Any) -> tuple[str, dict[str, Any]]:
    return name, {"type": name, **fields}


# --------------------------------------------------------- Anthropic clients


def test_chat_stream_for_an_anthropic_client() -> None:
    delta = "content_block_delta"
    match(
        [
            anthropic_event("message_start", message={
                "id": ANY, "type": "message", "role": "assistant", "model": "claude-x", "content": [],
                "stop_reason": None, "stop_sequence": None,
                "usage": {"input_tokens": 0, "output_tokens": 0, "cache_read_input_tokens": 0,
                          "cache_creation_input_tokens": 0}}),
            anthropic_event("content_block_start", index=0,
                            content_block={"type": "thinking", "thinking": "", "signature": ""}),
            anthropic_event(delta, index=0, delta={"type": "thinking_delta", "thinking": "Hmm."}),
            anthropic_event("content_block_stop", index=0),
            anthropic_event("content_block_start", index=1, content_block={"type": "text", "text": ""}),
            anthropic_event(delta, index=1, delta={"type": "text_delta", "text": "Hi"}),
            anthropic_event(delta, index=1, delta={"type": "text_delta", "text": " there"}),
            anthropic_event("content_block_stop", index=1),
            anthropic_event("content_block_start", index=2, content_block={
                "type": "tool_use", "id": "call_1", "name": "read", "input": {}}),
            anthropic_event(delta, index=2, delta={"type": "input_json_delta", "partial_json": "{\"path\":"}),
            anthropic_event(delta, index=2, delta={"type": "input_json_delta", "partial_json": "\"a\"}"}),
            anthropic_event("content_block_stop", index=2),
            anthropic_event("content_block_start", index=3, content_block={
                "type": "tool_use", "id": "call_2", "name": "read", "input": {}}),
            anthropic_event(delta, index=3, delta={"type": "input_json_delta", "partial_json": "{\"path\":\"b\"}"}),
            anthropic_event("content_block_stop", index=3),
            anthropic_event("message_delta", delta={"stop_reason": "tool_use", "stop_sequence": None},
                            usage={"input_tokens": 30, "output_tokens": 10, "cache_read_input_tokens": 20,
                                   "cache_creation_input_tokens": 0}),
            anthropic_event("message_stop"),
        ],
        stream("chat", "anthropic", CHAT_STREAM, model="claude-x"),
    )  # fmt: skip


def test_gemini_stream_for_an_anthropic_client() -> None:
    events = stream("gemini", "anthropic", GEMINI_STREAM)
    names = [n for n, _ in events]
    assert names[0] == "message_start" and names[-2:] == ["message_delta", "message_stop"]
    blocks = [d["content_block"]["type"] for n, d in events if n == "content_block_start"]
    assert blocks == ["thinking", "text", "tool_use"]
    assert events[-2][1]["delta"]["stop_reason"] == "tool_use"
    assert events[-2][1]["usage"]["output_tokens"] == 10


# --------------------------------------------------------------- Chat clients


def test_anthropic_stream_for_a_chat_client() -> None:
    base = {"id": ANY, "object": "chat.completion.chunk", "created": ANY, "model": "gpt-x"}

    def chunk(delta: dict[str, Any], finish: str | None = None) -> tuple[None, dict[str, Any]]:
        return None, {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

    match(
        [
            chunk({"role": "assistant", "content": ""}),
            chunk({"reasoning_content": "Hmm."}),
            chunk({"content": "Hi"}),
            chunk({"content": " there"}),
            chunk({"tool_calls": [{"index": 0, "id": "toolu_1", "type": "function",
                                   "function": {"name": "read", "arguments": ""}}]}),
            chunk({"tool_calls": [{"index": 0, "function": {"arguments": "{\"path\":"}}]}),
            chunk({"tool_calls": [{"index": 0, "function": {"arguments": "\"a\"}"}}]}),
            chunk({}, "tool_calls"),
            (None, {**base, "choices": [], "usage": {
                "prompt_tokens": 50, "completion_tokens": 10, "total_tokens": 60,
                "prompt_tokens_details": {"cached_tokens": 20}}}),
            (None, "[DONE]"),
        ],
        stream("anthropic", "chat", ANTHROPIC_STREAM, model="gpt-x", include_usage=True),
    )  # fmt: skip


def test_gemini_stream_for_a_chat_client() -> None:
    events = stream("gemini", "chat", GEMINI_STREAM)
    deltas = [d["choices"][0]["delta"] for _, d in events if d != "[DONE]" and d["choices"]]
    assert deltas[1:4] == [{"reasoning_content": "Hmm."}, {"content": "Hi"}, {"content": " there"}]
    call = deltas[4]["tool_calls"][0]
    assert (call["index"], call["function"]) == (0, {"name": "read", "arguments": ""})
    assert deltas[5] == {"tool_calls": [{"index": 0, "function": {"arguments": '{"path": "a"}'}}]}
    assert events[-2][1]["choices"][0]["finish_reason"] == "tool_calls"
    assert events[-1] == (None, "[DONE]")


# ---------------------------------------------------------- Responses clients


def test_chat_stream_for_a_responses_client() -> None:
    def ev(name: str, **fields: Any) -> tuple[str, dict[str, Any]]:
        return name, {"type": name, "sequence_number": ANY, **fields}

    text_item = {
        "id": ANY,
        "type": "message",
        "status": "in_progress",
        "role": "assistant",
        "content": [],
    }
    done_text = {**text_item, "status": "completed",
                 "content": [{"type": "output_text", "text": "Hi there", "annotations": []}]}  # fmt: skip
    call = {"id": ANY, "type": "function_call", "status": "in_progress", "call_id": "call_1",
            "name": "read", "arguments": ""}  # fmt: skip
    call2 = {**call, "call_id": "call_2"}
    reasoning = {"id": ANY, "type": "reasoning", "summary": []}
    text_part = {"type": "output_text", "text": "", "annotations": []}
    events = stream("chat", "responses", CHAT_STREAM, model="gpt-5-codex")
    match(
        [
            ev("response.created", response=ANY),
            ev("response.in_progress", response=ANY),
            ev("response.output_item.added", output_index=0, item=reasoning),
            ev("response.reasoning_summary_part.added", item_id=ANY, output_index=0, summary_index=0,
               part={"type": "summary_text", "text": ""}),
            ev("response.reasoning_summary_text.delta", item_id=ANY, output_index=0, summary_index=0, delta="Hmm."),
            ev("response.reasoning_summary_text.done", item_id=ANY, output_index=0, summary_index=0, text="Hmm."),
            ev("response.reasoning_summary_part.done", item_id=ANY, output_index=0, summary_index=0,
               part={"type": "summary_text", "text": "Hmm."}),
            ev("response.output_item.done", output_index=0, item=ANY),
            ev("response.output_item.added", output_index=1, item=text_item),
            ev("response.content_part.added", item_id=ANY, output_index=1, content_index=0, part=text_part),
            ev("response.output_text.delta", item_id=ANY, output_index=1, content_index=0, delta="Hi", logprobs=[]),
            ev("response.output_text.delta", item_id=ANY, output_index=1, content_index=0, delta=" there", logprobs=[]),
            ev("response.output_text.done", item_id=ANY, output_index=1, content_index=0, text="Hi there", logprobs=[]),
            ev("response.content_part.done", item_id=ANY, output_index=1, content_index=0,
               part={**text_part, "text": "Hi there"}),
            ev("response.output_item.done", output_index=1, item=done_text),
            ev("response.output_item.added", output_index=2, item=call),
            ev("response.function_call_arguments.delta", item_id=ANY, output_index=2, delta="{\"path\":"),
            ev("response.function_call_arguments.delta", item_id=ANY, output_index=2, delta="\"a\"}"),
            ev("response.function_call_arguments.done", item_id=ANY, output_index=2, arguments="{\"path\":\"a\"}"),
            ev("response.output_item.done", output_index=2,
               item={**call, "status": "completed", "arguments": "{\"path\":\"a\"}"}),
            ev("response.output_item.added", output_index=3, item=call2),
            ev("response.function_call_arguments.delta", item_id=ANY, output_index=3, delta="{\"path\":\"b\"}"),
            ev("response.function_call_arguments.done", item_id=ANY, output_index=3, arguments="{\"path\":\"b\"}"),
            ev("response.output_item.done", output_index=3,
               item={**call2, "status": "completed", "arguments": "{\"path\":\"b\"}"}),
            ev("response.completed", response=ANY),
        ],
        events,
    )  # fmt: skip
    assert [e[1]["sequence_number"] for e in events] == list(range(len(events)))
    assert events[0][1]["response"]["status"] == "in_progress"
    final = events[-1][1]["response"]
    assert final["status"] == "completed" and final["model"] == "gpt-5-codex"
    assert [o["type"] for o in final["output"]] == [
        "reasoning",
        "message",
        "function_call",
        "function_call",
    ]
    assert final["usage"]["input_tokens_details"] == {"cached_tokens": 20}


def test_anthropic_and_gemini_streams_for_a_responses_client() -> None:
    for upstream, chunks in (("anthropic", ANTHROPIC_STREAM), ("gemini", GEMINI_STREAM)):
        events = stream(upstream, "responses", chunks)
        final = events[-1][1]["response"]
        assert events[-1][0] == "response.completed"
        assert final["output"][-1]["type"] == "function_call"
        assert json.loads(final["output"][-1]["arguments"]) == {"path": "a"}
        assert final["usage"]["input_tokens"] == 50


# ------------------------------------------------------------- Gemini clients


def test_chat_stream_for_a_gemini_client() -> None:
    def chunk(parts: list[dict[str, Any]], **extra: Any) -> tuple[None, dict[str, Any]]:
        candidate = {
            "content": {"role": "model", "parts": parts},
            "index": 0,
            **extra.pop("candidate", {}),
        }
        return None, {
            "candidates": [candidate],
            **extra,
            "modelVersion": "gemini-x",
            "responseId": ANY,
        }

    match(
        [
            chunk([{"text": "Hmm.", "thought": True}]),
            chunk([{"text": "Hi"}]),
            chunk([{"text": " there"}]),
            chunk([{"functionCall": {"name": "read", "args": {"path": "a"}}}]),
            chunk([{"functionCall": {"name": "read", "args": {"path": "b"}}}],
                  candidate={"finishReason": "STOP"},
                  usageMetadata={"promptTokenCount": 50, "candidatesTokenCount": 10, "totalTokenCount": 60,
                                 "cachedContentTokenCount": 20}),
        ],
        stream("chat", "gemini", CHAT_STREAM, model="gemini-x"),
    )  # fmt: skip


def test_gemini_json_array_stream_without_alt_sse() -> None:
    decoder = translate.stream_decoder("anthropic")
    encoder = translate.stream_encoder("gemini", "g", sse=False)
    out = b"".join(encoder.encode(decoder.feed(c)) for c in ANTHROPIC_STREAM)
    out += encoder.encode(decoder.close())
    array = json.loads(out)
    assert array[-1]["candidates"][0]["finishReason"] == "STOP"
    assert "".join(p.get("text", "") for c in array for p in c["candidates"][0]["content"]["parts"]
                   if not p.get("thought")) == "Hi there"  # fmt: skip


# --------------------------------------------------------- errors and truncation


def test_an_upstream_error_event_ends_the_clients_stream_in_its_protocol() -> None:
    chunks = ANTHROPIC_STREAM[:3] + sse(
        [
            (
                "error",
                {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
            )
        ]
    )
    chat = stream("anthropic", "chat", chunks)
    assert chat[-1] == (
        None,
        {"error": {"message": "Overloaded", "type": "api_error", "code": "upstream_error"}},
    )
    responses = stream("anthropic", "responses", chunks)
    assert responses[-1][0] == "error" and responses[-1][1]["message"] == "Overloaded"
    gemini = stream("anthropic", "gemini", chunks)
    assert gemini[-1][1] == {
        "error": {"code": 502, "message": "Overloaded", "status": "UNAVAILABLE"}
    }
    error = sse([(None, {"error": {"message": "quota", "type": "rate_limit"}})])
    anthropic = stream("chat", "anthropic", CHAT_STREAM[:3] + error)
    assert anthropic[-1] == (
        "error",
        {"type": "error", "error": {"type": "api_error", "message": "quota"}},
    )


def test_a_stream_cut_without_its_end_still_closes_the_clients_sequence() -> None:
    events = stream("chat", "anthropic", CHAT_STREAM[:4])  # no finish, no [DONE]
    assert [n for n, _ in events][-2:] == ["message_delta", "message_stop"]
    assert events[-2][1]["delta"]["stop_reason"] == "end_turn"


def test_chunks_split_anywhere_give_the_same_events() -> None:
    whole = b"".join(CHAT_STREAM).replace(b"\n", b"\r\n")
    expected = stream("chat", "anthropic", CHAT_STREAM)
    for size in (1, 7, 64):
        pieces = [whole[i : i + size] for i in range(0, len(whole), size)]
        got = stream("chat", "anthropic", pieces)
        assert [(n, _strip_ids(d)) for n, d in got] == [(n, _strip_ids(d)) for n, d in expected]


def _strip_ids(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: _strip_ids(v) for k, v in data.items() if k != "id"}
    return data
