"""OpenAI Responses (client side only) <-> the internal shape.

A Responses client is served through Chat Completions (or Anthropic, Gemini): its request
is read here, the answer is written here. Upstream Responses needs no translation, since a
provider with ``responses = true`` gets the client's request as it is. Stateful features
(``previous_response_id``, ``store``) and built-in tools cannot be carried and are dropped.
"""

from __future__ import annotations

import time
from typing import Any, Final

from ._util import integer, items, new_id, number, obj, text_of
from .chat import _image
from .model import (
    CONTENT_FILTER,
    LENGTH,
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
)

_KNOWN: Final = frozenset(
    {
        "model",
        "input",
        "instructions",
        "tools",
        "tool_choice",
        "parallel_tool_calls",
        "max_output_tokens",
        "temperature",
        "top_p",
        "stream",
        "reasoning",
        "store",
        "include",
    }
)
_INCOMPLETE: Final = {LENGTH: "max_output_tokens", CONTENT_FILTER: "content_filter"}

# ------------------------------------------------------------------ requests


def parse_request(data: dict[str, Any]) -> Request:
    req = Request(model=data.get("model") if isinstance(data.get("model"), str) else None)
    system = [data["instructions"]] if isinstance(data.get("instructions"), str) else []
    raw_input = data.get("input")
    if isinstance(raw_input, str):
        req.messages.append(Message("user", [Text(raw_input)]))
    for i, raw in enumerate(items(raw_input, "input") if isinstance(raw_input, list) else []):
        item = obj(raw, f"input[{i}]")
        kind = item.get("type", "message")
        if kind == "message":
            role = item.get("role")
            if role in ("system", "developer"):
                system.append(text_of(item.get("content")))
                continue
            _add(req, "assistant" if role == "assistant" else "user", _content(item.get("content")))
        elif kind == "function_call":
            call = ToolCall(
                str(item.get("call_id") or item.get("id") or ""),
                str(item.get("name") or ""),
                str(item.get("arguments") or "{}"),
            )
            _add(req, "assistant", [call])
        elif kind == "function_call_output":
            output = item.get("output")
            text = output if isinstance(output, str) else text_of(output)
            _add(req, "user", [ToolResult(str(item.get("call_id") or ""), text)])
        elif kind == "reasoning":
            summary = text_of(item.get("summary"))
            if summary:
                _add(req, "assistant", [Thinking(summary)])
        else:
            req.dropped.append(f"input[{kind}]")
    req.system = "\n\n".join(s for s in system if s) or None
    for raw in items(data.get("tools"), "tools"):
        if isinstance(raw, dict) and raw.get("type") == "function" and raw.get("name"):
            parameters = raw.get("parameters") or {"type": "object", "properties": {}}
            req.tools.append(Tool(str(raw["name"]), str(raw.get("description") or ""), parameters))
        elif isinstance(raw, dict):
            req.dropped.append(f"tools[{raw.get('type')}]")
    choice = data.get("tool_choice")
    if choice in ("auto", "none", "required"):
        req.tool_choice = choice
    elif isinstance(choice, dict) and choice.get("type") == "function" and choice.get("name"):
        req.tool_choice, req.tool_name = "tool", str(choice["name"])
    if isinstance(data.get("parallel_tool_calls"), bool):
        req.parallel_tool_calls = data["parallel_tool_calls"]
    req.max_tokens = integer(data.get("max_output_tokens"))
    req.temperature = number(data.get("temperature"))
    req.top_p = number(data.get("top_p"))
    req.stream = data.get("stream") is True
    reasoning = data.get("reasoning")
    if isinstance(reasoning, dict) and isinstance(reasoning.get("effort"), str):
        req.reasoning_effort = reasoning["effort"]
    req.dropped.extend(k for k in data if k not in _KNOWN)
    return req


def _add(req: Request, role: str, parts: list[Part]) -> None:
    if req.messages and req.messages[-1].role == role:
        req.messages[-1].parts.extend(parts)
    else:
        req.messages.append(Message(role, parts))


def _content(content: Any) -> list[Part]:
    if isinstance(content, str):
        return [Text(content)]
    parts: list[Part] = []
    for part in items(content, "content"):
        if not isinstance(part, dict):
            continue
        kind = part.get("type")
        if kind in ("input_text", "output_text", "text"):
            parts.append(Text(str(part.get("text") or "")))
        elif kind == "input_image" and isinstance(part.get("image_url"), str):
            parts.append(_image(part["image_url"]))
    return parts


# ----------------------------------------------------------------- responses


def build_usage(usage: Usage) -> dict[str, Any]:
    prompt, output = usage.input or 0, usage.output or 0
    return {
        "input_tokens": prompt,
        "input_tokens_details": {"cached_tokens": usage.cached or 0},
        "output_tokens": output,
        "output_tokens_details": {"reasoning_tokens": usage.reasoning or 0},
        "total_tokens": prompt + output,
    }


def response_envelope(rid: str, model: str, created: int, status: str) -> dict[str, Any]:
    return {
        "id": rid,
        "object": "response",
        "created_at": created,
        "status": status,
        "error": None,
        "incomplete_details": None,
        "instructions": None,
        "model": model,
        "output": [],
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "usage": None,
    }


def finish_envelope(envelope: dict[str, Any], finish: str, usage: Usage) -> dict[str, Any]:
    incomplete = _INCOMPLETE.get(finish)
    envelope["status"] = "incomplete" if incomplete else "completed"
    if incomplete:
        envelope["incomplete_details"] = {"reason": incomplete}
    envelope["usage"] = build_usage(usage)
    return envelope


def build_response(resp: Response, model: str) -> dict[str, Any]:
    envelope = response_envelope(new_id("resp_"), model, int(time.time()), "completed")
    output: list[dict[str, Any]] = []
    thinking = "".join(p.text for p in resp.parts if isinstance(p, Thinking))
    if thinking:
        output.append(reasoning_item(new_id("rs_"), thinking))
    text = "".join(p.text for p in resp.parts if isinstance(p, Text))
    if text:
        output.append(message_item(new_id("msg_"), text, "completed"))
    for part in resp.parts:
        if isinstance(part, ToolCall):
            output.append(call_item(new_id("fc_"), part.id, part.name, part.arguments, "completed"))
    envelope["output"] = output
    return finish_envelope(envelope, resp.finish, resp.usage)


def message_item(item_id: str, text: str | None, status: str) -> dict[str, Any]:
    content = [] if text is None else [text_part(text)]
    return {
        "id": item_id,
        "type": "message",
        "status": status,
        "role": "assistant",
        "content": content,
    }


def text_part(text: str) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": []}


def call_item(item_id: str, call_id: str, name: str, arguments: str, status: str) -> dict[str, Any]:
    return {
        "id": item_id,
        "type": "function_call",
        "status": status,
        "call_id": call_id,
        "name": name,
        "arguments": arguments,
    }


def reasoning_item(item_id: str, text: str | None) -> dict[str, Any]:
    summary = [] if text is None else [{"type": "summary_text", "text": text}]
    return {"id": item_id, "type": "reasoning", "summary": summary}
