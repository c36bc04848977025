"""Anthropic Messages <-> the internal shape: requests, responses, stream transducers."""

from __future__ import annotations

import json
from typing import Any, Final
from urllib.parse import urlsplit

from ._util import args_object, integer, items, new_id, number, obj, text_of
from .model import (
    CONTENT_FILTER,
    LENGTH,
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
    effort_to_budget,
)

_KNOWN: Final = frozenset(
    {
        "model",
        "messages",
        "system",
        "tools",
        "tool_choice",
        "max_tokens",
        "temperature",
        "top_p",
        "stop_sequences",
        "stream",
        "thinking",
    }
)
FINISH_IN: Final = {
    "end_turn": STOP,
    "stop_sequence": STOP,
    "pause_turn": STOP,
    "max_tokens": LENGTH,
    "tool_use": TOOL_CALLS,
    "refusal": CONTENT_FILTER,
}
FINISH_OUT: Final = {
    STOP: "end_turn",
    LENGTH: "max_tokens",
    TOOL_CALLS: "tool_use",
    CONTENT_FILTER: "refusal",
}
#: ``max_tokens`` is required by Anthropic; used when the client gave none.
DEFAULT_MAX_TOKENS: Final = 8192

# ------------------------------------------------------------------ requests


def parse_request(data: dict[str, Any]) -> Request:
    req = Request(model=data.get("model") if isinstance(data.get("model"), str) else None)
    system = data.get("system")
    req.system = text_of(system) or None
    for i, raw in enumerate(items(data.get("messages"), "messages")):
        message = obj(raw, f"messages[{i}]")
        role = "assistant" if message.get("role") == "assistant" else "user"
        parts = _parts(message.get("content"), req.dropped)
        if req.messages and req.messages[-1].role == role:
            req.messages[-1].parts.extend(parts)
        else:
            req.messages.append(Message(role, parts))
    for raw in items(data.get("tools"), "tools"):
        if not isinstance(raw, dict) or not isinstance(raw.get("name"), str):
            continue
        if raw.get("type") not in (None, "custom"):  # server tools (web search...) stay here
            req.dropped.append(f"tools[{raw.get('type')}]")
            continue
        schema = raw.get("input_schema") or {"type": "object", "properties": {}}
        req.tools.append(Tool(raw["name"], str(raw.get("description") or ""), schema))
    _tool_choice(req, data.get("tool_choice"))
    req.max_tokens = integer(data.get("max_tokens"))
    req.temperature = number(data.get("temperature"))
    req.top_p = number(data.get("top_p"))
    req.stop = [
        s for s in items(data.get("stop_sequences"), "stop_sequences") if isinstance(s, str)
    ]
    req.stream = data.get("stream") is True
    thinking = data.get("thinking")
    if isinstance(thinking, dict) and thinking.get("type") == "enabled":
        req.reasoning_budget = integer(thinking.get("budget_tokens"))
    req.dropped.extend(k for k in data if k not in _KNOWN)
    return req


def _parts(content: Any, dropped: list[str]) -> list[Part]:
    if isinstance(content, str):
        return [Text(content)]
    parts: list[Part] = []
    for block in items(content, "content"):
        if not isinstance(block, dict):
            continue
        kind = block.get("type")
        if kind == "text":
            parts.append(Text(str(block.get("text") or "")))
        elif kind == "image":
            image = _image(block.get("source"))
            if image is not None:
                parts.append(image)
        elif kind == "tool_use":
            parts.append(
                ToolCall(
                    str(block.get("id") or ""),
                    str(block.get("name") or ""),
                    json.dumps(block.get("input") or {}, ensure_ascii=False),
                )
            )
        elif kind == "tool_result":
            parts.append(
                ToolResult(
                    str(block.get("tool_use_id") or ""),
                    text_of(block.get("content")),
                    is_error=block.get("is_error") is True,
                )
            )
        elif kind == "thinking":
            parts.append(Thinking(str(block.get("thinking") or ""), block.get("signature")))
        elif kind == "redacted_thinking" and isinstance(block.get("data"), str):
            parts.append(Thinking("", redacted=block["data"]))
        else:
            dropped.append(f"content[{kind}]")
    return parts


def _image(source: Any) -> Image | None:
    if not isinstance(source, dict):
        return None
    if source.get("type") == "base64":
        return Image(data=str(source.get("data") or ""), media_type=source.get("media_type"))
    if source.get("type") == "url" and isinstance(source.get("url"), str):
        return Image(url=source["url"])
    return None


def _tool_choice(req: Request, choice: Any) -> None:
    if not isinstance(choice, dict):
        return
    kind = choice.get("type")
    if kind in ("auto", "none"):
        req.tool_choice = kind
    elif kind == "any":
        req.tool_choice = "required"
    elif kind == "tool" and isinstance(choice.get("name"), str):
        req.tool_choice, req.tool_name = "tool", choice["name"]
    if choice.get("disable_parallel_tool_use") is True:
        req.parallel_tool_calls = False


#: Anthropic-compatible hosts that want a client's unsigned thinking replayed (MiniMax,
#: international and China: its Anthropic API page says to append the whole
#: ``response.content``, thinking blocks included, in multi-turn tool calls). Anthropic's
#: own API refuses a thinking block without its signature, and so may a gateway in front
#: of it, so everywhere else such a block is still dropped.
UNSIGNED_THINKING_HOSTS: Final = frozenset({"api.minimax.io", "api.minimaxi.com"})


def wants_unsigned_thinking(url: str) -> bool:
    """Whether the Anthropic-type upstream at ``url`` gets unsigned thinking blocks."""
    return (urlsplit(url).hostname or "") in UNSIGNED_THINKING_HOSTS


def build_request(
    req: Request, model: str | None, *, unsigned_thinking: bool = False
) -> dict[str, Any]:
    """The Messages body. ``unsigned_thinking``: keep the thinking a client sent without a
    signature (a Chat client's ``reasoning_content``). Anthropic itself refuses such a block,
    so it is dropped there; an Anthropic-compatible vendor such as MiniMax needs the whole
    assistant turn, thinking included, replayed in a tool loop
    (https://platform.minimax.io/docs/api-reference/text-anthropic-api, checked 2026-12-02)."""
    messages: list[dict[str, Any]] = []
    for message in req.messages:
        blocks = [
            b for b in (content_block(p, unsigned_thinking) for p in message.parts) if b is not None
        ]
        if message.role == "user":  # tool results must open the user turn
            blocks.sort(key=lambda b: b["type"] != "tool_result")
        if not blocks:
            continue
        if messages and messages[-1]["role"] == message.role:
            messages[-1]["content"].extend(blocks)
        else:
            messages.append({"role": message.role, "content": blocks})
    out: dict[str, Any] = {
        "model": model,
        "messages": messages,
        "max_tokens": req.max_tokens or DEFAULT_MAX_TOKENS,
    }
    if req.system:
        out["system"] = req.system
    if req.tools:
        out["tools"] = [
            {"name": t.name, "description": t.description, "input_schema": t.parameters}
            for t in req.tools
        ]
        choice = _build_tool_choice(req)
        if choice is not None:
            out["tool_choice"] = choice
    if req.temperature is not None:
        out["temperature"] = min(req.temperature, 1.0)  # Anthropic's range is 0..1
    if req.top_p is not None:
        out["top_p"] = req.top_p
    if req.stop:
        out["stop_sequences"] = req.stop
    budget = req.reasoning_budget or effort_to_budget(req.reasoning_effort)
    if budget:
        budget = max(budget, 1024)
        out["thinking"] = {"type": "enabled", "budget_tokens": budget}
        if out["max_tokens"] <= budget:
            out["max_tokens"] = budget + (req.max_tokens or DEFAULT_MAX_TOKENS)
        out.pop("temperature", None)  # thinking requires the default temperature
        out.pop("top_p", None)
    if req.stream:
        out["stream"] = True
    return out


def _build_tool_choice(req: Request) -> dict[str, Any] | None:
    choice: dict[str, Any] | None
    if req.tool_choice == "tool":
        choice = {"type": "tool", "name": req.tool_name}
    elif req.tool_choice == "required":
        choice = {"type": "any"}
    elif req.tool_choice in ("auto", "none"):
        choice = {"type": req.tool_choice}
    else:
        choice = None
    if req.parallel_tool_calls is False:
        choice = choice or {"type": "auto"}
        if choice["type"] != "none":
            choice["disable_parallel_tool_use"] = True
    return choice


def content_block(part: Part, unsigned_thinking: bool = False) -> dict[str, Any] | None:
    if isinstance(part, Text):
        return {"type": "text", "text": part.text} if part.text else None
    if isinstance(part, Image):
        if part.url:
            return {"type": "image", "source": {"type": "url", "url": part.url}}
        source = {"type": "base64", "media_type": part.media_type or "image/png", "data": part.data}
        return {"type": "image", "source": source}
    if isinstance(part, ToolCall):
        return {
            "type": "tool_use",
            "id": part.id,
            "name": part.name,
            "input": args_object(part.arguments),
        }
    if isinstance(part, ToolResult):
        block: dict[str, Any] = {
            "type": "tool_result",
            "tool_use_id": part.call_id,
            "content": part.content,
        }
        if part.is_error:
            block["is_error"] = True
        return block
    if part.redacted is not None:
        return {"type": "redacted_thinking", "data": part.redacted}
    if part.signature:  # Thinking: refused by Anthropic without its own signature
        return {"type": "thinking", "thinking": part.text, "signature": part.signature}
    if unsigned_thinking and part.text:
        return {"type": "thinking", "thinking": part.text, "signature": ""}
    return None


# ----------------------------------------------------------------- responses


def parse_usage(raw: Any) -> Usage:
    if not isinstance(raw, dict):
        return Usage()
    fresh = integer(raw.get("input_tokens"))
    read = integer(raw.get("cache_read_input_tokens"))
    written = integer(raw.get("cache_creation_input_tokens"))
    total = None if fresh is None and read is None else (fresh or 0) + (read or 0) + (written or 0)
    return Usage(input=total, output=integer(raw.get("output_tokens")), cached=read)


def build_usage(usage: Usage) -> dict[str, Any]:
    cached = usage.cached or 0
    return {
        "input_tokens": max((usage.input or 0) - cached, 0),
        "output_tokens": usage.output or 0,
        "cache_read_input_tokens": cached,
        "cache_creation_input_tokens": 0,
    }


def parse_response(data: dict[str, Any]) -> Response:
    dropped: list[str] = []
    parts = _parts(data.get("content") or [], dropped)
    reason = data.get("stop_reason")
    return Response(
        id=str(data.get("id") or new_id("msg_")),
        model=str(data.get("model") or ""),
        parts=parts,
        finish=FINISH_IN.get(reason, STOP) if isinstance(reason, str) else STOP,
        usage=parse_usage(data.get("usage")),
    )


def build_response(resp: Response, model: str) -> dict[str, Any]:
    content = []
    for part in resp.parts:
        if isinstance(part, Thinking) and part.redacted is not None:
            content.append({"type": "redacted_thinking", "data": part.redacted})
        elif isinstance(part, Thinking):
            content.append(
                {"type": "thinking", "thinking": part.text, "signature": part.signature or ""}
            )
        else:
            block = content_block(part)
            if block is not None:
                content.append(block)
    return {
        "id": resp.id if resp.id.startswith("msg_") else "msg_" + resp.id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": FINISH_OUT.get(resp.finish, "end_turn"),
        "stop_sequence": None,
        "usage": build_usage(resp.usage),
    }
