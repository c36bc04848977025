"""What real providers send on the less common endpoints, for the fakes in the tests.

OpenAI Responses API (JSON and SSE with ``event:`` lines), embeddings, legacy completions,
Gemini's native ``generateContent`` / ``streamGenerateContent`` (SSE with ``alt=sse``, else
one JSON array streamed) and its RESOURCE_EXHAUSTED 429, Anthropic's rate-limit headers.
"""

from __future__ import annotations

import base64
import json
import struct
from typing import Any

RESPONSES_USAGE = {
    "input_tokens": 12,
    "input_tokens_details": {"cached_tokens": 0},
    "output_tokens": 5,
    "output_tokens_details": {"reasoning_tokens": 0},
    "total_tokens": 17,
}


def response_object(
    model: str, text: str, *, status: str = "completed", usage: Any = None
) -> dict[str, Any]:
    output = (
        [
            {
                "id": "msg_1",
                "type": "message",
                "status": "completed",
                "role": "assistant",
                "content": [{"type": "output_text", "text": text, "annotations": []}],
            }
        ]
        if status == "completed"
        else []
    )
    return {
        "id": "resp_1",
        "object": "response",
        "created_at": 1700000000,
        "status": status,
        "error": None,
        "incomplete_details": None,
        "instructions": None,
        "model": model,
        "output": output,
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "usage": usage,
    }


def responses_events(model: str, words: list[str]) -> tuple[list[str], list[str | None]]:
    """A Responses stream: (data lines, event names), ``response.created`` ... ``completed``."""
    text = "".join(words)
    item = {"id": "msg_1", "type": "message", "status": "in_progress", "role": "assistant"}
    part = {"type": "output_text", "text": "", "annotations": []}
    events: list[dict[str, Any]] = [
        {"type": "response.created", "response": response_object(model, "", status="in_progress")},
        {"type": "response.output_item.added", "output_index": 0, "item": {**item, "content": []}},
        {
            "type": "response.content_part.added",
            "item_id": "msg_1",
            "output_index": 0,
            "content_index": 0,
            "part": part,
        },
        *(
            {
                "type": "response.output_text.delta",
                "item_id": "msg_1",
                "output_index": 0,
                "content_index": 0,
                "delta": word,
                "logprobs": [],
            }
            for word in words
        ),
        {
            "type": "response.output_text.done",
            "item_id": "msg_1",
            "output_index": 0,
            "content_index": 0,
            "text": text,
            "logprobs": [],
        },
        {
            "type": "response.content_part.done",
            "item_id": "msg_1",
            "output_index": 0,
            "content_index": 0,
            "part": {**part, "text": text},
        },
        {
            "type": "response.output_item.done",
            "output_index": 0,
            "item": response_object(model, text)["output"][0],
        },
        {
            "type": "response.completed",
            "response": response_object(model, text, usage=RESPONSES_USAGE),
        },
    ]
    for number, event in enumerate(events):
        event["sequence_number"] = number
    return [json.dumps(e) for e in events], [str(e["type"]) for e in events]


def responses_sse(model: str, words: list[str]) -> bytes:
    data, names = responses_events(model, words)
    return b"".join(f"event: {n}\ndata: {d}\n\n".encode() for d, n in zip(data, names, strict=True))


def embedding_response(model: str, encoding: str | None, inputs: int = 1) -> dict[str, Any]:
    vector = [0.25, -0.5, 1.0]
    value: Any = (
        base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
        if encoding == "base64"
        else vector
    )
    return {
        "object": "list",
        "data": [{"object": "embedding", "index": i, "embedding": value} for i in range(inputs)],
        "model": model,
        "usage": {"prompt_tokens": 8, "total_tokens": 8},
    }


def completion_response(model: str, text: str = " world") -> dict[str, Any]:
    return {
        "id": "cmpl-1",
        "object": "text_completion",
        "created": 1700000000,
        "model": model,
        "choices": [{"text": text, "index": 0, "logprobs": None, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 4, "completion_tokens": 2, "total_tokens": 6},
    }


def gemini_chunk(text: str, total_out: int, *, model: str = "gemini-2.5-pro") -> dict[str, Any]:
    return {
        "candidates": [{"content": {"parts": [{"text": text}], "role": "model"}, "index": 0}],
        "usageMetadata": {
            "promptTokenCount": 4,
            "candidatesTokenCount": total_out,
            "totalTokenCount": 4 + total_out,
        },
        "modelVersion": model,
    }


def gemini_chunks(words: list[str]) -> list[dict[str, Any]]:
    return [gemini_chunk(word, i + 1) for i, word in enumerate(words)]


def gemini_sse(words: list[str]) -> list[bytes]:
    """``alt=sse``: one ``data:`` event per chunk, CRLF-separated as Google sends them."""
    return [b"data: " + json.dumps(c).encode() + b"\r\n\r\n" for c in gemini_chunks(words)]


def gemini_array(words: list[str]) -> list[bytes]:
    """No ``alt=sse``: one JSON array, streamed element by element."""
    chunks = gemini_chunks(words)
    parts = [
        (b"[" if i == 0 else b"\n,\r\n") + json.dumps(c).encode() for i, c in enumerate(chunks)
    ]
    return [*parts, b"\n]"]


def gemini_exhausted(retry_delay: str = "38s") -> dict[str, Any]:
    """Gemini's 429 body, with ``retryDelay`` in the ``RetryInfo`` detail."""
    return {
        "error": {
            "code": 429,
            "message": "You exceeded your current quota, please check your plan and billing "
            "details.",
            "status": "RESOURCE_EXHAUSTED",
            "details": [
                {
                    "@type": "type.googleapis.com/google.rpc.QuotaFailure",
                    "violations": [
                        {
                            "quotaMetric": "generativelanguage.googleapis.com/"
                            "generate_content_free_tier_requests",
                            "quotaId": "GenerateRequestsPerMinutePerProjectPerModel-FreeTier",
                        }
                    ],
                },
                {
                    "@type": "type.googleapis.com/google.rpc.Help",
                    "links": [{"description": "Learn more", "url": "https://ai.google.dev/"}],
                },
                {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": retry_delay},
            ],
        }
    }


def anthropic_rate_limited() -> dict[str, Any]:
    return {
        "type": "error",
        "error": {"type": "rate_limit_error", "message": "Number of requests has exceeded your "
                  "rate limit. Please try again later."},
    }  # fmt: skip


def anthropic_message(model: str, text: str = "Hello") -> dict[str, Any]:
    return {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [{"type": "text", "text": text}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": 3, "output_tokens": 1},
    }


def anthropic_events(model: str, words: list[str]) -> tuple[list[str], list[str | None]]:
    events: list[dict[str, Any]] = [
        {"type": "message_start", "message": {**anthropic_message(model, ""), "content": [],
         "stop_reason": None, "usage": {"input_tokens": 11, "output_tokens": 1}}},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        *({"type": "content_block_delta", "index": 0,
           "delta": {"type": "text_delta", "text": w}} for w in words),
        {"type": "content_block_stop", "index": 0},
        {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
         "usage": {"output_tokens": 6}},
        {"type": "message_stop"},
    ]  # fmt: skip
    return [json.dumps(e) for e in events], [str(e["type"]) for e in events]
