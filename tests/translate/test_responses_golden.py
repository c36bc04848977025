"""Golden pairs for whole (non-streamed) answers: an upstream answer as its vendor's
reference shows it, and the answer the client's reference expects."""

from __future__ import annotations

from typing import Any

from auto_router.translate import translate_response

from .helpers import ANY, match

CHAT_TOOLS: dict[str, Any] = {
    "id": "chatcmpl-123",
    "object": "chat.completion",
    "created": 1741569952,
    "model": "qwen3-coder",
    "choices": [{
        "index": 0,
        "message": {
            "role": "assistant",
            "content": "Checking.",
            "reasoning_content": "User wants weather.",
            "tool_calls": [
                {"id": "call_a", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}},
                {"id": "call_b", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Oslo\"}"}},
            ],
        },
        "logprobs": None,
        "finish_reason": "tool_calls",
    }],
    "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120,
              "prompt_tokens_details": {"cached_tokens": 60},
              "completion_tokens_details": {"reasoning_tokens": 5}},
}  # fmt: skip

ANTHROPIC_MESSAGE: dict[str, Any] = {
    "id": "msg_01",
    "type": "message",
    "role": "assistant",
    "model": "claude-sonnet-4-5",
    "content": [
        {"type": "thinking", "thinking": "Need the tool.", "signature": "EqQB"},
        {"type": "text", "text": "Let me look."},
        {"type": "tool_use", "id": "toolu_01", "name": "get_weather", "input": {"city": "Rome"}},
    ],
    "stop_reason": "tool_use",
    "stop_sequence": None,
    "usage": {"input_tokens": 40, "cache_creation_input_tokens": 10, "cache_read_input_tokens": 50,
              "output_tokens": 30},
}  # fmt: skip

GEMINI_RESPONSE: dict[str, Any] = {
    "candidates": [{
        "content": {"role": "model", "parts": [
            {"text": "Thinking about it", "thought": True},
            {"text": "Here: "},
            {"functionCall": {"name": "get_weather", "args": {"city": "Lima"}}},
        ]},
        "finishReason": "STOP",
        "index": 0,
    }],
    "usageMetadata": {"promptTokenCount": 70, "candidatesTokenCount": 12, "totalTokenCount": 100,
                      "cachedContentTokenCount": 30, "thoughtsTokenCount": 18},
    "modelVersion": "gemini-2.5-pro",
    "responseId": "abc123",
}  # fmt: skip


def test_chat_answer_for_an_anthropic_client() -> None:
    match(
        {
            "id": ANY,
            "type": "message",
            "role": "assistant",
            "model": "claude-x",
            "content": [
                {"type": "thinking", "thinking": "User wants weather.", "signature": ""},
                {"type": "text", "text": "Checking."},
                {"type": "tool_use", "id": "call_a", "name": "get_weather", "input": {"city": "Paris"}},
                {"type": "tool_use", "id": "call_b", "name": "get_weather", "input": {"city": "Oslo"}},
            ],
            "stop_reason": "tool_use",
            "stop_sequence": None,
            "usage": {"input_tokens": 40, "output_tokens": 20, "cache_read_input_tokens": 60,
                      "cache_creation_input_tokens": 0},
        },
        translate_response("chat", "anthropic", CHAT_TOOLS, "claude-x"),
    )  # fmt: skip


def test_anthropic_answer_for_a_chat_client() -> None:
    match(
        {
            "id": ANY,
            "object": "chat.completion",
            "created": ANY,
            "model": "gpt-x",
            "choices": [{
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": "Let me look.",
                    "reasoning_content": "Need the tool.",
                    "tool_calls": [{"id": "toolu_01", "type": "function",
                                    "function": {"name": "get_weather", "arguments": "{\"city\": \"Rome\"}"}}],
                },
                "finish_reason": "tool_calls",
            }],
            "usage": {"prompt_tokens": 100, "completion_tokens": 30, "total_tokens": 130,
                      "prompt_tokens_details": {"cached_tokens": 50}},
        },
        translate_response("anthropic", "chat", ANTHROPIC_MESSAGE, "gpt-x"),
    )  # fmt: skip


def test_gemini_answer_for_a_chat_client() -> None:
    out = translate_response("gemini", "chat", GEMINI_RESPONSE, "gpt-x")
    message = out["choices"][0]["message"]
    assert message["content"] == "Here: "
    assert message["reasoning_content"] == "Thinking about it"
    assert message["tool_calls"][0]["function"] == {
        "name": "get_weather",
        "arguments": '{"city": "Lima"}',
    }
    assert out["choices"][0]["finish_reason"] == "tool_calls"  # STOP with a call
    assert out["usage"] == {
        "prompt_tokens": 70, "completion_tokens": 30, "total_tokens": 100,
        "prompt_tokens_details": {"cached_tokens": 30},
        "completion_tokens_details": {"reasoning_tokens": 18},
    }  # fmt: skip


def test_chat_answer_for_a_responses_client() -> None:
    match(
        {
            "id": ANY,
            "object": "response",
            "created_at": ANY,
            "status": "completed",
            "error": None,
            "incomplete_details": None,
            "instructions": None,
            "model": "gpt-5-codex",
            "output": [
                {"id": ANY, "type": "reasoning", "summary": [{"type": "summary_text", "text": "User wants weather."}]},
                {"id": ANY, "type": "message", "status": "completed", "role": "assistant",
                 "content": [{"type": "output_text", "text": "Checking.", "annotations": []}]},
                {"id": ANY, "type": "function_call", "status": "completed", "call_id": "call_a",
                 "name": "get_weather", "arguments": "{\"city\":\"Paris\"}"},
                {"id": ANY, "type": "function_call", "status": "completed", "call_id": "call_b",
                 "name": "get_weather", "arguments": "{\"city\":\"Oslo\"}"},
            ],
            "parallel_tool_calls": True,
            "tool_choice": "auto",
            "tools": [],
            "usage": {"input_tokens": 100, "input_tokens_details": {"cached_tokens": 60},
                      "output_tokens": 20, "output_tokens_details": {"reasoning_tokens": 5},
                      "total_tokens": 120},
        },
        translate_response("chat", "responses", CHAT_TOOLS, "gpt-5-codex"),
    )  # fmt: skip


def test_truncated_answer_is_incomplete_for_responses() -> None:
    chat = {**CHAT_TOOLS, "choices": [{"index": 0, "finish_reason": "length",
                                       "message": {"role": "assistant", "content": "Partial"}}]}  # fmt: skip
    out = translate_response("chat", "responses", chat, "m")
    assert out["status"] == "incomplete"
    assert out["incomplete_details"] == {"reason": "max_output_tokens"}


def test_chat_answer_for_a_gemini_client() -> None:
    match(
        {
            "candidates": [{
                "content": {"role": "model", "parts": [
                    {"text": "User wants weather.", "thought": True},
                    {"text": "Checking."},
                    {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}},
                    {"functionCall": {"name": "get_weather", "args": {"city": "Oslo"}}},
                ]},
                "finishReason": "STOP",
                "index": 0,
            }],
            "usageMetadata": {"promptTokenCount": 100, "candidatesTokenCount": 15, "totalTokenCount": 120,
                              "cachedContentTokenCount": 60, "thoughtsTokenCount": 5},
            "modelVersion": "gemini-2.5-pro",
            "responseId": ANY,
        },
        translate_response("chat", "gemini", CHAT_TOOLS, "gemini-2.5-pro"),
    )  # fmt: skip


def test_anthropic_answer_for_responses_and_gemini_clients() -> None:
    responses = translate_response("anthropic", "responses", ANTHROPIC_MESSAGE, "m")
    assert [o["type"] for o in responses["output"]] == ["reasoning", "message", "function_call"]
    assert responses["usage"]["input_tokens"] == 100
    assert responses["usage"]["input_tokens_details"] == {"cached_tokens": 50}
    gemini = translate_response("anthropic", "gemini", ANTHROPIC_MESSAGE, "m")
    assert gemini["candidates"][0]["content"]["parts"][2] == {
        "functionCall": {"name": "get_weather", "args": {"city": "Rome"}}
    }
    assert gemini["candidates"][0]["finishReason"] == "STOP"


def test_gemini_answer_for_an_anthropic_client() -> None:
    out = translate_response("gemini", "anthropic", GEMINI_RESPONSE, "claude-x")
    assert [b["type"] for b in out["content"]] == ["thinking", "text", "tool_use"]
    assert out["content"][2]["input"] == {"city": "Lima"}
    assert out["stop_reason"] == "tool_use"
    assert out["usage"] == {"input_tokens": 40, "output_tokens": 30, "cache_read_input_tokens": 30,
                            "cache_creation_input_tokens": 0}  # fmt: skip


def test_finish_reasons_map_both_ways() -> None:
    cases = [("end_turn", "stop"), ("max_tokens", "length"), ("stop_sequence", "stop"),
             ("tool_use", "tool_calls"), ("refusal", "content_filter")]  # fmt: skip
    for anthropic_reason, chat_reason in cases:
        message = {**ANTHROPIC_MESSAGE, "stop_reason": anthropic_reason}
        assert (
            translate_response("anthropic", "chat", message, "m")["choices"][0]["finish_reason"]
            == chat_reason
        )
    for gemini_reason, chat_reason in [("MAX_TOKENS", "length"), ("SAFETY", "content_filter")]:
        candidate = {**GEMINI_RESPONSE["candidates"][0], "finishReason": gemini_reason}
        response = {**GEMINI_RESPONSE, "candidates": [candidate]}
        assert (
            translate_response("gemini", "chat", response, "m")["choices"][0]["finish_reason"]
            == chat_reason
        )
