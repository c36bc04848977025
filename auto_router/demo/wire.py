"""What real providers send, byte for byte: answers and errors in the four wire formats.

OpenAI chat completions and Responses, Anthropic Messages and Gemini ``generateContent``,
as JSON documents and as the SSE events of a stream (``data`` already without its
``data: `` framing: the fake server frames them). Shared by the fake provider that the demo,
the tests and ``scripts/verify_real_agents.py`` run, so that all three see the same thing.
"""

from __future__ import annotations

import json
from typing import Any

#: A fixed ``created`` stamp: answers are the same on every run.
CREATED = 1700000000
#: One SSE event: its ``event:`` name (or ``None``) and its ``data`` (JSON, or ``[DONE]``).
Event = tuple[str | None, str]


def duration(seconds: int) -> str:
    """OpenAI's way of writing a wait: ``1h0m0s``, ``10m0s``, ``37s``."""
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    return f"{minutes}m{secs}s" if minutes else f"{secs}s"


def _event(data: dict[str, Any], name: str | None = None) -> Event:
    return name, json.dumps(data)


# -- OpenAI chat completions ---------------------------------------------------------------


def chat_completion(model: str, content: str = "hello", **extra: Any) -> dict[str, Any]:
    """A non-streamed chat completion; ``extra`` adds or replaces top-level fields."""
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": CREATED,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10},
        **extra,
    }


def chat_tool_completion(model: str, call: dict[str, str], preamble: str) -> dict[str, Any]:
    """A completion that says ``preamble`` and calls ``call`` (``id``, ``name``, ``arguments``)."""
    doc = chat_completion(model, preamble)
    choice = doc["choices"][0]
    choice["finish_reason"] = "tool_calls"
    choice["message"]["tool_calls"] = [
        {
            "id": call["id"],
            "type": "function",
            "function": {"name": call["name"], "arguments": call["arguments"]},
        }
    ]
    return doc


def chat_chunk(
    model: str, delta: dict[str, Any], finish: str | None = None, **extra: Any
) -> dict[str, Any]:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": CREATED,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        **extra,
    }


def _chat_tail(model: str, usage: bool) -> list[str]:
    tail = []
    if usage:
        totals = {"prompt_tokens": 5, "completion_tokens": 4, "total_tokens": 9}
        tail.append(json.dumps({**chat_chunk(model, {}), "choices": [], "usage": totals}))
    return [*tail, "[DONE]"]


def chat_chunks(model: str, words: list[str], *, usage: bool = True) -> list[str]:
    """A streamed answer: one chunk per word (the last one says ``stop``), usage, ``[DONE]``."""
    events = []
    for i, word in enumerate(words):
        delta = {"role": "assistant", "content": word} if i == 0 else {"content": word}
        finish = "stop" if i == len(words) - 1 else None
        events.append(json.dumps(chat_chunk(model, delta, finish)))
    return events + _chat_tail(model, usage)


def chat_tool_chunks(model: str, call: dict[str, str], preamble: str) -> list[str]:
    """A streamed tool call as OpenAI sends one: text, id and name, the arguments in halves."""
    half = len(call["arguments"]) // 2
    opened = {"index": 0, "id": call["id"], "type": "function"}
    deltas: list[dict[str, Any]] = [
        {"role": "assistant", "content": preamble},
        {"tool_calls": [{**opened, "function": {"name": call["name"], "arguments": ""}}]},
        {"tool_calls": [{"index": 0, "function": {"arguments": call["arguments"][:half]}}]},
        {"tool_calls": [{"index": 0, "function": {"arguments": call["arguments"][half:]}}]},
    ]
    events = [json.dumps(chat_chunk(model, delta)) for delta in deltas]
    events.append(json.dumps(chat_chunk(model, {}, "tool_calls")))
    return events + _chat_tail(model, True)


# -- OpenAI Responses ----------------------------------------------------------------------


def response_document(model: str, text: str) -> dict[str, Any]:
    """A completed Responses API answer."""
    return {
        "id": "resp_fake",
        "object": "response",
        "created_at": CREATED,
        "model": model,
        "status": "completed",
        "output": [_response_message(text)],
        "usage": {
            "input_tokens": 10,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": 5,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": 15,
        },
    }


def _response_message(text: str) -> dict[str, Any]:
    return {
        "id": "msg_fake",
        "type": "message",
        "status": "completed",
        "role": "assistant",
        "content": [{"type": "output_text", "text": text, "annotations": []}],
    }


def response_events(model: str, text: str) -> list[Event]:
    """The Responses API stream of one text answer, as Codex CLI reads it."""
    done = response_document(model, text)
    started = {k: v for k, v in done.items() if k != "usage"}
    message = _response_message(text)
    steps: list[dict[str, Any]] = [
        {
            "type": "response.created",
            "response": {**started, "status": "in_progress", "output": []},
        },
        {
            "type": "response.output_item.added",
            "output_index": 0,
            "item": {**message, "status": "in_progress", "content": []},
        },
        {
            "type": "response.output_text.delta",
            "item_id": "msg_fake",
            "output_index": 0,
            "content_index": 0,
            "delta": text,
        },
        {"type": "response.output_item.done", "output_index": 0, "item": message},
        {"type": "response.completed", "response": done},
    ]
    return [_event(step, step["type"]) for step in steps]


# -- Anthropic Messages --------------------------------------------------------------------


def anthropic_message(model: str, blocks: list[dict[str, Any]]) -> dict[str, Any]:
    """A Messages answer made of ``blocks`` (``text`` and ``tool_use``)."""
    calls = any(block["type"] == "tool_use" for block in blocks)
    return {
        "id": "msg_fake",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": blocks,
        "stop_reason": "tool_use" if calls else "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": 10, "output_tokens": 5},
    }


def anthropic_events(model: str, blocks: list[dict[str, Any]]) -> list[Event]:
    """The Messages stream of ``blocks``: a tool's input arrives as two JSON halves."""
    message = anthropic_message(model, blocks)
    start = {**message, "content": [], "stop_reason": None}
    start["usage"] = {**message["usage"], "output_tokens": 1}
    events = [_event({"type": "message_start", "message": start}, "message_start")]
    for index, block in enumerate(blocks):
        events += _anthropic_block(index, block)
    stop = {"stop_reason": message["stop_reason"], "stop_sequence": None}
    events.append(
        _event(
            {"type": "message_delta", "delta": stop, "usage": {"output_tokens": 5}},
            "message_delta",
        )
    )
    return [*events, _event({"type": "message_stop"}, "message_stop")]


def _anthropic_block(index: int, block: dict[str, Any]) -> list[Event]:
    if block["type"] == "tool_use":
        opened: dict[str, Any] = {**block, "input": {}}
        arguments = json.dumps(block["input"])
        half = len(arguments) // 2
        deltas = [
            {"type": "input_json_delta", "partial_json": arguments[:half]},
            {"type": "input_json_delta", "partial_json": arguments[half:]},
        ]
    else:
        opened = {"type": "text", "text": ""}
        deltas = [{"type": "text_delta", "text": block["text"]}]
    start = {"type": "content_block_start", "index": index, "content_block": opened}
    return [
        _event(start, "content_block_start"),
        *(
            _event(
                {"type": "content_block_delta", "index": index, "delta": d}, "content_block_delta"
            )
            for d in deltas
        ),
        _event({"type": "content_block_stop", "index": index}, "content_block_stop"),
    ]


# -- Gemini --------------------------------------------------------------------------------


def gemini_answer(model: str, parts: list[dict[str, Any]]) -> dict[str, Any]:
    """A ``generateContent`` answer (a stream sends the same document as its one event)."""
    return {
        "candidates": [
            {"content": {"parts": parts, "role": "model"}, "finishReason": "STOP", "index": 0}
        ],
        "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 5, "totalTokenCount": 15},
        "modelVersion": model,
        "responseId": "fake-response",
    }


# -- Errors --------------------------------------------------------------------------------


def openai_429(model: str, retry_after: int) -> dict[str, Any]:
    return {
        "error": {
            "message": f"Rate limit reached for {model} in organization org-fake on requests per "
            "min (RPM): Limit 3, Used 3, Requested 1. Please try again in "
            f"{duration(retry_after)}. Visit https://platform.openai.com/account/rate-limits "
            "to learn more.",
            "type": "requests",
            "param": None,
            "code": "rate_limit_exceeded",
        }
    }


def anthropic_429() -> dict[str, Any]:
    return {
        "type": "error",
        "error": {
            "type": "rate_limit_error",
            "message": "This request would exceed the rate limit for your organization "
            "(fake-org) of 50 input tokens per minute. For details, refer to: "
            "https://docs.claude.com/en/api/rate-limits.",
        },
        "request_id": "req_fake_0001",
    }


def gemini_429(model: str, retry_after: int) -> dict[str, Any]:
    metric = "generativelanguage.googleapis.com/generate_content_free_tier_requests"
    violation = {
        "quotaMetric": metric,
        "quotaId": "GenerateRequestsPerMinutePerProjectPerModel-FreeTier",
        "quotaDimensions": {"location": "global", "model": model},
        "quotaValue": "10",
    }
    docs = "https://ai.google.dev/gemini-api/docs/rate-limits"
    return {
        "error": {
            "code": 429,
            "message": "You exceeded your current quota, please check your plan and billing "
            f"details. For more information on this error, head to: {docs}.\n"
            f"* Quota exceeded for metric: {metric}, limit: 10, model: {model}\n"
            f"Please retry in {retry_after}.0s.",
            "status": "RESOURCE_EXHAUSTED",
            "details": [
                {"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": [violation]},
                {
                    "@type": "type.googleapis.com/google.rpc.Help",
                    "links": [{"description": "Learn more about Gemini API quotas", "url": docs}],
                },
                {
                    "@type": "type.googleapis.com/google.rpc.RetryInfo",
                    "retryDelay": f"{retry_after}s",
                },
            ],
        }
    }


def unavailable(family: str) -> dict[str, Any]:
    """The body of a 503: the provider is down, in ``family``'s own error shape."""
    if family == "anthropic":
        return {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    if family == "gemini":
        message = "The model is overloaded. Please try again later."
        return {"error": {"code": 503, "message": message, "status": "UNAVAILABLE"}}
    return {"error": {"message": "upstream unavailable", "type": "server_error"}}


def not_found(path: str) -> dict[str, Any]:
    return {"error": {"message": f"no route {path}", "type": "not_found"}}
