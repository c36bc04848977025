"""OpenAI Chat Completions <-> the internal shape: requests and answers.

The stream decoder and encoder are in ``chat_stream.py``.
"""

from __future__ import annotations

import json
import time
from typing import Any, Final

from ._util import integer, items, new_id, number, obj, split_data_url, sub, text_of
from .model import (
    STOP,
    TOOL_CALLS,
    Image,
    Message,
    Part,
    Request,
    Response,
    Text,
    Thinking,
    Tool,
    ToolCall,
    ToolResult,
    Usage,
    budget_to_effort,
)

#: Request fields understood here; any other top-level field is reported as dropped.
_KNOWN: Final = frozenset(
    {
        "model",
        "messages",
        "tools",
        "tool_choice",
        "parallel_tool_calls",
        "max_tokens",
        "max_completion_tokens",
        "temperature",
        "top_p",
        "stop",
        "stream",
        "stream_options",
        "reasoning_effort",
        "functions",
        "n",
    }
)
FINISH_IN: Final = {"function_call": TOOL_CALLS}

# ------------------------------------------------------------------ requests


def parse_request(data: dict[str, Any]) -> Request:
    req = Request(model=data.get("model") if isinstance(data.get("model"), str) else None)
    system: list[str] = []
    for i, raw in enumerate(items(data.get("messages"), "messages")):
        message = obj(raw, f"messages[{i}]")
        role = message.get("role")
        if role in ("system", "developer"):
            system.append(text_of(message.get("content")))
        elif role == "tool":
            result = ToolResult(
                str(message.get("tool_call_id") or ""), text_of(message.get("content"))
            )
            _append(req.messages, "user", [result])
        elif role == "assistant":
            _append(req.messages, "assistant", _assistant_parts(message))
        else:
            _append(req.messages, "user", _user_parts(message.get("content")))
    req.system = "\n\n".join(s for s in system if s) or None
    for raw in items(data.get("tools"), "tools"):
        function = raw.get("function") if isinstance(raw, dict) else None
        if isinstance(function, dict) and isinstance(function.get("name"), str):
            req.tools.append(
                Tool(
                    function["name"],
                    str(function.get("description") or ""),
                    function.get("parameters") or {"type": "object", "properties": {}},
                )
            )
    _tool_choice(req, data.get("tool_choice"))
    if isinstance(data.get("parallel_tool_calls"), bool):
        req.parallel_tool_calls = data["parallel_tool_calls"]
    req.max_tokens = integer(data.get("max_completion_tokens")) or integer(data.get("max_tokens"))
    req.temperature = number(data.get("temperature"))
    req.top_p = number(data.get("top_p"))
    stop = data.get("stop")
    listed = stop if isinstance(stop, list) else []
    req.stop = [stop] if isinstance(stop, str) else [s for s in listed if isinstance(s, str)]
    req.stream = data.get("stream") is True
    if isinstance(data.get("reasoning_effort"), str):
        req.reasoning_effort = data["reasoning_effort"]
    req.dropped = [k for k in data if k not in _KNOWN]
    return req


def _append(messages: list[Message], role: str, parts: list[Part]) -> None:
    """Consecutive messages of one role become one (tool results after tool calls)."""
    if messages and messages[-1].role == role:
        messages[-1].parts.extend(parts)
    else:
        messages.append(Message(role, parts))


def _user_parts(content: Any) -> list[Part]:
    if isinstance(content, str) or content is None:
        return [Text(content or "")]
    parts: list[Part] = []
    for part in items(content, "content"):
        if not isinstance(part, dict):
            continue
        kind = part.get("type")
        if kind == "text":
            parts.append(Text(str(part.get("text") or "")))
        elif kind == "image_url":
            url = part.get("image_url")
            url = url.get("url") if isinstance(url, dict) else url
            if isinstance(url, str):
                parts.append(_image(url))
    return parts


def _image(url: str) -> Image:
    split = split_data_url(url)
    if split is not None:
        return Image(data=split[1], media_type=split[0])
    return Image(url=url)


def _assistant_parts(message: dict[str, Any]) -> list[Part]:
    parts: list[Part] = []
    reasoning = message.get("reasoning_content") or message.get("reasoning")
    if isinstance(reasoning, str) and reasoning:
        parts.append(Thinking(reasoning))
    text = text_of(message.get("content"))
    if text:
        parts.append(Text(text))
    for call in items(message.get("tool_calls"), "tool_calls"):
        function = call.get("function") if isinstance(call, dict) else None
        if isinstance(function, dict):
            arguments = function.get("arguments")
            parts.append(
                ToolCall(
                    str(call.get("id") or ""),
                    str(function.get("name") or ""),
                    arguments if isinstance(arguments, str) else json.dumps(arguments or {}),
                )
            )
    return parts


def _tool_choice(req: Request, choice: Any) -> None:
    if isinstance(choice, str) and choice in ("auto", "none", "required"):
        req.tool_choice = choice
    elif isinstance(choice, dict):
        function = choice.get("function")
        if isinstance(function, dict) and isinstance(function.get("name"), str):
            req.tool_choice, req.tool_name = "tool", function["name"]


def build_request(req: Request, model: str | None) -> dict[str, Any]:
    messages: list[dict[str, Any]] = []
    if req.system:
        messages.append({"role": "system", "content": req.system})
    for message in req.messages:
        if message.role == "assistant":
            messages.append(_assistant_message(message.parts))
        else:
            messages.extend(_user_messages(message.parts))
    out: dict[str, Any] = {"model": model, "messages": messages}
    if req.tools:
        out["tools"] = [
            {
                "type": "function",
                "function": {
                    "name": t.name,
                    "description": t.description,
                    "parameters": t.parameters,
                },
            }
            for t in req.tools
        ]
        if req.tool_choice == "tool":
            out["tool_choice"] = {"type": "function", "function": {"name": req.tool_name}}
        elif req.tool_choice is not None:
            out["tool_choice"] = req.tool_choice
        if req.parallel_tool_calls is not None:
            out["parallel_tool_calls"] = req.parallel_tool_calls
    if req.max_tokens is not None:
        out["max_tokens"] = req.max_tokens
    if req.temperature is not None:
        out["temperature"] = req.temperature
    if req.top_p is not None:
        out["top_p"] = req.top_p
    if req.stop:
        out["stop"] = req.stop
    effort = req.reasoning_effort or budget_to_effort(req.reasoning_budget)
    if effort:
        out["reasoning_effort"] = effort
    if req.stream:
        out["stream"] = True
        out["stream_options"] = {"include_usage": True}
    return out


def _assistant_message(parts: list[Part]) -> dict[str, Any]:
    text = "".join(p.text for p in parts if isinstance(p, Text))
    calls = [
        {
            "id": p.id,
            "type": "function",
            "function": {"name": p.name, "arguments": p.arguments or "{}"},
        }
        for p in parts
        if isinstance(p, ToolCall)
    ]
    message: dict[str, Any] = {"role": "assistant", "content": text or None}
    if calls:
        message["tool_calls"] = calls
    return message


def _user_messages(parts: list[Part]) -> list[dict[str, Any]]:
    """Tool results first (they answer the previous turn), then the user's own content."""
    out: list[dict[str, Any]] = [
        {"role": "tool", "tool_call_id": p.call_id, "content": p.content}
        for p in parts
        if isinstance(p, ToolResult)
    ]
    content: list[dict[str, Any]] = []
    for part in parts:
        if isinstance(part, Text):
            content.append({"type": "text", "text": part.text})
        elif isinstance(part, Image):
            url = part.url or f"data:{part.media_type or 'image/png'};base64,{part.data}"
            content.append({"type": "image_url", "image_url": {"url": url}})
    if content:
        if all(c["type"] == "text" for c in content):
            out.append({"role": "user", "content": "".join(c["text"] for c in content)})
        else:
            out.append({"role": "user", "content": content})
    return out


# ----------------------------------------------------------------- responses


def parse_usage(raw: Any) -> Usage:
    if not isinstance(raw, dict):
        return Usage()
    details = raw.get("prompt_tokens_details")
    out_details = raw.get("completion_tokens_details")
    return Usage(
        input=integer(raw.get("prompt_tokens")),
        output=integer(raw.get("completion_tokens")),
        cached=integer(details.get("cached_tokens")) if isinstance(details, dict) else None,
        reasoning=integer(out_details.get("reasoning_tokens"))
        if isinstance(out_details, dict)
        else None,
    )


def build_usage(usage: Usage) -> dict[str, Any]:
    prompt, completion = usage.input or 0, usage.output or 0
    out: dict[str, Any] = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }
    if usage.cached is not None:
        out["prompt_tokens_details"] = {"cached_tokens": usage.cached}
    if usage.reasoning is not None:
        out["completion_tokens_details"] = {"reasoning_tokens": usage.reasoning}
    return out


def parse_response(data: dict[str, Any]) -> Response:
    choices = items(data.get("choices"), "choices")
    choice = obj(choices[0], "choices[0]") if choices else {}
    message = sub(choice, "message")
    parts = _assistant_parts(message)
    finish = choice.get("finish_reason") or STOP
    return Response(
        id=str(data.get("id") or new_id("chatcmpl-")),
        model=str(data.get("model") or ""),
        parts=parts,
        finish=FINISH_IN.get(finish, finish),
        usage=parse_usage(data.get("usage")),
    )


def build_response(resp: Response, model: str) -> dict[str, Any]:
    message = _assistant_message(resp.parts)
    thinking = "".join(p.text for p in resp.parts if isinstance(p, Thinking))
    if thinking:
        message["reasoning_content"] = thinking
    return {
        "id": resp.id if resp.id.startswith("chatcmpl") else "chatcmpl-" + resp.id,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": resp.finish}],
        "usage": build_usage(resp.usage),
    }
