"""Golden request pairs: a client request as each vendor's API reference writes it, and the
request the other vendor's reference says carries the same meaning.

References: OpenAI Chat Completions (messages, tools, tool_choice, image_url content parts,
stop, reasoning_effort), OpenAI Responses (input items, function_call /
function_call_output, instructions, max_output_tokens, reasoning.effort), Anthropic
Messages (system, content blocks, tool_use / tool_result, image sources, tool_choice,
stop_sequences, thinking), Gemini generateContent (contents/parts, systemInstruction,
functionDeclarations, toolConfig.functionCallingConfig, generationConfig, thinkingConfig).
"""

from __future__ import annotations

from typing import Any

import pytest

from auto_router.errors import TranslationError
from auto_router.translate import parse_request

from .helpers import match, request

PNG = "iVBORw0KGgo="
SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}

# ------------------------------------------------------------ Chat -> Anthropic

CHAT_REQUEST: dict[str, Any] = {
    "model": "gpt-4o",
    "messages": [
        {"role": "system", "content": "You are terse."},
        {"role": "developer", "content": "Use metric units."},
        {"role": "user", "content": [
            {"type": "text", "text": "What is in these images, and the weather?"},
            {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
            {"type": "image_url", "image_url": {"url": "https://example.com/a.jpg"}},
        ]},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_1", "type": "function",
             "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}},
            {"id": "call_2", "type": "function",
             "function": {"name": "get_weather", "arguments": "{\"city\":\"Oslo\"}"}},
        ]},
        {"role": "tool", "tool_call_id": "call_1", "content": "21C"},
        {"role": "tool", "tool_call_id": "call_2", "content": "3C"},
        {"role": "user", "content": "Thanks. Summarise."},
    ],
    "tools": [{"type": "function", "function": {
        "name": "get_weather", "description": "Current weather", "parameters": SCHEMA}}],
    "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
    "parallel_tool_calls": False,
    "max_tokens": 512,
    "temperature": 0.3,
    "top_p": 0.9,
    "stop": "END",
    "stream": True,
    "user": "u-1",
    "seed": 7,
}  # fmt: skip


def test_chat_to_anthropic() -> None:
    match(
        {
            "model": "up-model",
            "system": "You are terse.\n\nUse metric units.",
            "messages": [
                {"role": "user", "content": [
                    {"type": "text", "text": "What is in these images, and the weather?"},
                    {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
                    {"type": "image", "source": {"type": "url", "url": "https://example.com/a.jpg"}},
                ]},
                {"role": "assistant", "content": [
                    {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Paris"}},
                    {"type": "tool_use", "id": "call_2", "name": "get_weather", "input": {"city": "Oslo"}},
                ]},
                {"role": "user", "content": [
                    {"type": "tool_result", "tool_use_id": "call_1", "content": "21C"},
                    {"type": "tool_result", "tool_use_id": "call_2", "content": "3C"},
                    {"type": "text", "text": "Thanks. Summarise."},
                ]},
            ],
            "tools": [{"name": "get_weather", "description": "Current weather", "input_schema": SCHEMA}],
            "tool_choice": {"type": "tool", "name": "get_weather", "disable_parallel_tool_use": True},
            "max_tokens": 512,
            "temperature": 0.3,
            "top_p": 0.9,
            "stop_sequences": ["END"],
            "stream": True,
        },
        request("chat", "anthropic", CHAT_REQUEST),
    )  # fmt: skip


def test_chat_dropped_fields_are_reported() -> None:
    assert parse_request("chat", CHAT_REQUEST).dropped == ["user", "seed"]


def test_chat_reasoning_effort_becomes_anthropic_thinking_without_temperature() -> None:
    body = {"model": "o3", "messages": [{"role": "user", "content": "hi"}],
            "reasoning_effort": "high", "temperature": 0.5, "max_completion_tokens": 1000}  # fmt: skip
    out = request("chat", "anthropic", body)
    assert out["thinking"] == {"type": "enabled", "budget_tokens": 24576}
    assert out["max_tokens"] > 24576 and "temperature" not in out


# ------------------------------------------------------------ Anthropic -> Chat

ANTHROPIC_REQUEST: dict[str, Any] = {
    "model": "claude-sonnet",
    "max_tokens": 1024,
    "system": [{"type": "text", "text": "You are Claude Code.", "cache_control": {"type": "ephemeral"}}],
    "messages": [
        {"role": "user", "content": [
            {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": PNG}},
            {"type": "image", "source": {"type": "url", "url": "https://example.com/b.png"}},
            {"type": "text", "text": "Weather where this is?"},
        ]},
        {"role": "assistant", "content": [
            {"type": "thinking", "thinking": "Paris, clearly.", "signature": "sig"},
            {"type": "text", "text": "Checking two cities."},
            {"type": "tool_use", "id": "toolu_01", "name": "get_weather", "input": {"city": "Paris"}},
            {"type": "tool_use", "id": "toolu_02", "name": "get_weather", "input": {"city": "Lyon"}},
        ]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "toolu_01", "content": [{"type": "text", "text": "21C"}]},
            {"type": "tool_result", "tool_use_id": "toolu_02", "content": "error: timeout", "is_error": True},
        ]},
    ],
    "tools": [
        {"name": "get_weather", "description": "Current weather", "input_schema": SCHEMA},
        {"type": "web_search_20250305", "name": "web_search"},
    ],
    "tool_choice": {"type": "any"},
    "temperature": 0.7,
    "stop_sequences": ["\n\nHuman:"],
    "stream": False,
    "metadata": {"user_id": "u"},
    "thinking": {"type": "enabled", "budget_tokens": 2048},
}  # fmt: skip


def test_anthropic_to_chat() -> None:
    match(
        {
            "model": "up-model",
            "messages": [
                {"role": "system", "content": "You are Claude Code."},
                {"role": "user", "content": [
                    {"type": "image_url", "image_url": {"url": f"data:image/jpeg;base64,{PNG}"}},
                    {"type": "image_url", "image_url": {"url": "https://example.com/b.png"}},
                    {"type": "text", "text": "Weather where this is?"},
                ]},
                {"role": "assistant", "content": "Checking two cities.", "tool_calls": [
                    {"id": "toolu_01", "type": "function",
                     "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}},
                    {"id": "toolu_02", "type": "function",
                     "function": {"name": "get_weather", "arguments": "{\"city\": \"Lyon\"}"}},
                ]},
                {"role": "tool", "tool_call_id": "toolu_01", "content": "21C"},
                {"role": "tool", "tool_call_id": "toolu_02", "content": "error: timeout"},
            ],
            "tools": [{"type": "function", "function": {
                "name": "get_weather", "description": "Current weather", "parameters": SCHEMA}}],
            "tool_choice": "required",
            "max_tokens": 1024,
            "temperature": 0.7,
            "stop": ["\n\nHuman:"],
            "reasoning_effort": "low",
        },
        request("anthropic", "chat", ANTHROPIC_REQUEST),
    )  # fmt: skip
    dropped = parse_request("anthropic", ANTHROPIC_REQUEST).dropped
    assert dropped == ["tools[web_search_20250305]", "metadata"]


def test_anthropic_streaming_asks_chat_for_usage() -> None:
    body = {
        "model": "m",
        "max_tokens": 5,
        "stream": True,
        "messages": [{"role": "user", "content": "hi"}],
    }
    out = request("anthropic", "chat", body)
    assert out["stream"] is True and out["stream_options"] == {"include_usage": True}
    assert out["messages"] == [{"role": "user", "content": "hi"}]


# ------------------------------------------------------------ Responses -> Chat

RESPONSES_REQUEST: dict[str, Any] = {
    "model": "gpt-5-codex",
    "instructions": "You are Codex.",
    "input": [
        {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "Sandbox: read-only."}]},
        {"type": "message", "role": "user", "content": [
            {"type": "input_text", "text": "List files"},
            {"type": "input_image", "image_url": "https://example.com/c.png"},
        ]},
        {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "xyz"},
        {"type": "function_call", "id": "fc_1", "call_id": "call_9", "name": "shell",
         "arguments": "{\"command\":[\"ls\"]}"},
        {"type": "function_call_output", "call_id": "call_9", "output": "a.txt\nb.txt"},
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Two files."}]},
        {"role": "user", "content": "Thanks"},
    ],
    "tools": [
        {"type": "function", "name": "shell", "description": "Run a command", "strict": False,
         "parameters": {"type": "object", "properties": {"command": {"type": "array", "items": {"type": "string"}}}}},
        {"type": "web_search"},
    ],
    "tool_choice": "auto",
    "parallel_tool_calls": True,
    "max_output_tokens": 4096,
    "reasoning": {"effort": "medium", "summary": "auto"},
    "store": False,
    "stream": True,
    "include": ["reasoning.encrypted_content"],
    "prompt_cache_key": "abc",
}  # fmt: skip


def test_responses_to_chat() -> None:
    match(
        {
            "model": "up-model",
            "messages": [
                {"role": "system", "content": "You are Codex.\n\nSandbox: read-only."},
                {"role": "user", "content": [
                    {"type": "text", "text": "List files"},
                    {"type": "image_url", "image_url": {"url": "https://example.com/c.png"}},
                ]},
                {"role": "assistant", "content": None, "tool_calls": [
                    {"id": "call_9", "type": "function",
                     "function": {"name": "shell", "arguments": "{\"command\":[\"ls\"]}"}}]},
                {"role": "tool", "tool_call_id": "call_9", "content": "a.txt\nb.txt"},
                {"role": "assistant", "content": "Two files."},
                {"role": "user", "content": "Thanks"},
            ],
            "tools": [{"type": "function", "function": {
                "name": "shell", "description": "Run a command",
                "parameters": RESPONSES_REQUEST["tools"][0]["parameters"]}}],
            "tool_choice": "auto",
            "parallel_tool_calls": True,
            "max_tokens": 4096,
            "reasoning_effort": "medium",
            "stream": True,
            "stream_options": {"include_usage": True},
        },
        request("responses", "chat", RESPONSES_REQUEST),
    )  # fmt: skip
    dropped = parse_request("responses", RESPONSES_REQUEST).dropped
    assert dropped == ["tools[web_search]", "prompt_cache_key"]


def test_responses_plain_string_input_to_anthropic() -> None:
    out = request(
        "responses", "anthropic", {"model": "m", "input": "hello", "instructions": "Be nice."}
    )
    assert out == {
        "model": "up-model",
        "messages": [{"role": "user", "content": [{"type": "text", "text": "hello"}]}],
        "max_tokens": 8192,
        "system": "Be nice.",
    }


def test_responses_function_round_to_anthropic() -> None:
    out = request("responses", "anthropic", RESPONSES_REQUEST)
    assert out["messages"][1:3] == [
        {"role": "assistant", "content": [
            {"type": "tool_use", "id": "call_9", "name": "shell", "input": {"command": ["ls"]}}]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "call_9", "content": "a.txt\nb.txt"}]},
    ]  # fmt: skip
    assert out["thinking"] == {"type": "enabled", "budget_tokens": 8192}


# -------------------------------------------------------------- Gemini -> Chat

GEMINI_REQUEST: dict[str, Any] = {
    "systemInstruction": {"parts": [{"text": "You are Gemini CLI."}]},
    "contents": [
        {"role": "user", "parts": [
            {"text": "Describe and check weather"},
            {"inlineData": {"mimeType": "image/png", "data": PNG}},
        ]},
        {"role": "model", "parts": [
            {"functionCall": {"name": "get_weather", "args": {"city": "Rome"}}},
            {"functionCall": {"name": "get_time", "args": {}}},
        ]},
        {"role": "user", "parts": [
            {"functionResponse": {"name": "get_time", "response": {"output": "12:00"}}},
            {"functionResponse": {"name": "get_weather", "response": {"temp": 30}}},
        ]},
    ],
    "tools": [{"functionDeclarations": [
        {"name": "get_weather", "description": "Weather", "parameters": {
            "type": "OBJECT", "properties": {"city": {"type": "STRING"}}, "required": ["city"]}},
        {"name": "get_time", "description": "Time"},
    ]}, {"googleSearch": {}}],
    "toolConfig": {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["get_weather"]}},
    "generationConfig": {"maxOutputTokens": 800, "temperature": 1.0, "topP": 0.95,
                         "stopSequences": ["STOP!"], "thinkingConfig": {"thinkingBudget": 20000},
                         "responseMimeType": "text/plain"},
}  # fmt: skip


def test_gemini_to_chat() -> None:
    match(
        {
            "model": "up-model",
            "messages": [
                {"role": "system", "content": "You are Gemini CLI."},
                {"role": "user", "content": [
                    {"type": "text", "text": "Describe and check weather"},
                    {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
                ]},
                {"role": "assistant", "content": None, "tool_calls": [
                    {"id": "call_0", "type": "function",
                     "function": {"name": "get_weather", "arguments": "{\"city\": \"Rome\"}"}},
                    {"id": "call_1", "type": "function",
                     "function": {"name": "get_time", "arguments": "{}"}},
                ]},
                {"role": "tool", "tool_call_id": "call_1", "content": "12:00"},
                {"role": "tool", "tool_call_id": "call_0", "content": "{\"temp\": 30}"},
            ],
            "tools": [
                {"type": "function", "function": {"name": "get_weather", "description": "Weather",
                 "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}},
                {"type": "function", "function": {"name": "get_time", "description": "Time",
                 "parameters": {"type": "object", "properties": {}}}},
            ],
            "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
            "max_tokens": 800,
            "temperature": 1.0,
            "top_p": 0.95,
            "stop": ["STOP!"],
            "reasoning_effort": "high",
            "stream": True,
            "stream_options": {"include_usage": True},
        },
        request("gemini", "chat", GEMINI_REQUEST, stream=True),
    )  # fmt: skip
    dropped = parse_request("gemini", GEMINI_REQUEST).dropped
    assert dropped == ["tools[googleSearch]", "generationConfig.responseMimeType"]


def test_gemini_to_anthropic() -> None:
    out = request("gemini", "anthropic", GEMINI_REQUEST)
    assert out["system"] == "You are Gemini CLI."
    assert out["messages"][2]["content"] == [
        {"type": "tool_result", "tool_use_id": "call_1", "content": "12:00"},
        {"type": "tool_result", "tool_use_id": "call_0", "content": '{"temp": 30}'},
    ]
    assert out["tool_choice"] == {"type": "tool", "name": "get_weather"}
    assert out["thinking"] == {"type": "enabled", "budget_tokens": 20000}
    assert out["max_tokens"] == 20800


# -------------------------------------------------------------- * -> Gemini


def test_chat_to_gemini() -> None:
    match(
        {
            "systemInstruction": {"parts": [{"text": "You are terse.\n\nUse metric units."}]},
            "contents": [
                {"role": "user", "parts": [
                    {"text": "What is in these images, and the weather?"},
                    {"inlineData": {"mimeType": "image/png", "data": PNG}},
                    {"fileData": {"mimeType": "image/*", "fileUri": "https://example.com/a.jpg"}},
                ]},
                {"role": "model", "parts": [
                    {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}},
                    {"functionCall": {"name": "get_weather", "args": {"city": "Oslo"}}},
                ]},
                {"role": "user", "parts": [
                    {"functionResponse": {"name": "get_weather", "response": {"content": "21C"}}},
                    {"functionResponse": {"name": "get_weather", "response": {"content": "3C"}}},
                    {"text": "Thanks. Summarise."},
                ]},
            ],
            "tools": [{"functionDeclarations": [{
                "name": "get_weather", "description": "Current weather", "parameters": SCHEMA}]}],
            "toolConfig": {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["get_weather"]}},
            "generationConfig": {"maxOutputTokens": 512, "temperature": 0.3, "topP": 0.9,
                                 "stopSequences": ["END"]},
        },
        request("chat", "gemini", CHAT_REQUEST),
    )  # fmt: skip


def test_anthropic_to_gemini_keeps_error_results_and_thinking_budget() -> None:
    out = request("anthropic", "gemini", ANTHROPIC_REQUEST)
    assert out["contents"][2]["parts"] == [
        {"functionResponse": {"name": "get_weather", "response": {"content": "21C"}}},
        {"functionResponse": {"name": "get_weather", "response": {"error": "error: timeout"}}},
    ]
    assert out["contents"][1]["parts"][0] == {"text": "Checking two cities."}  # thoughts stay
    assert out["toolConfig"] == {"functionCallingConfig": {"mode": "ANY"}}
    assert out["generationConfig"]["thinkingConfig"] == {
        "thinkingBudget": 2048,
        "includeThoughts": True,
    }


def test_responses_to_gemini() -> None:
    out = request("responses", "gemini", RESPONSES_REQUEST)
    assert out["contents"][1] == {
        "role": "model",
        "parts": [{"functionCall": {"name": "shell", "args": {"command": ["ls"]}}}],
    }
    assert out["contents"][2]["parts"][0] == {
        "functionResponse": {"name": "shell", "response": {"content": "a.txt\nb.txt"}}
    }


def test_json_schema_becomes_geminis_subset() -> None:
    schema = {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "additionalProperties": False,
        "$defs": {"Unit": {"type": "string", "enum": ["c", "f"]}},
        "properties": {
            "city": {"type": "string", "format": "uri", "minLength": 1},
            "unit": {"$ref": "#/$defs/Unit"},
            "days": {"type": ["integer", "null"], "exclusiveMinimum": 0},
            "mode": {"const": "fast"},
            "when": {"type": "string", "format": "date-time"},
            "tags": {"type": "array", "items": {"oneOf": [{"type": "string"}, {"type": "number"}]}},
            "extra": {"allOf": [{"type": "object", "properties": {"a": {"type": "string"}}},
                                {"properties": {"b": {"type": "boolean"}}, "required": ["b", "zz"]}]},
        },
        "required": ["city"],
    }  # fmt: skip
    body = {"model": "m", "messages": [{"role": "user", "content": "x"}],
            "tools": [{"type": "function", "function": {"name": "f", "parameters": schema}}]}  # fmt: skip
    parameters = request("chat", "gemini", body)["tools"][0]["functionDeclarations"][0][
        "parameters"
    ]
    assert parameters == {
        "type": "object",
        "properties": {
            "city": {"type": "string", "minLength": 1},
            "unit": {"type": "string", "enum": ["c", "f"], "format": "enum"},
            "days": {"type": "integer", "nullable": True},
            "mode": {"type": "string", "enum": ["fast"], "format": "enum"},
            "when": {"type": "string", "format": "date-time"},
            "tags": {"type": "array", "items": {"anyOf": [{"type": "string"}, {"type": "number"}]}},
            "extra": {"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "boolean"}},
                      "required": ["b"]},
        },
        "required": ["city"],
    }  # fmt: skip


def test_a_malformed_request_is_a_translation_error() -> None:
    with pytest.raises(TranslationError, match=r"messages\[0\]: expected an object"):
        parse_request("chat", {"model": "m", "messages": ["hi"]})
    with pytest.raises(TranslationError, match="contents: expected an array"):
        parse_request("gemini", {"contents": {"role": "user"}})
