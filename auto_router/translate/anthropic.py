"""Anthropic Messages <-> the internal shape: requests, responses, stream transducers."""

from __future__ import annotations

import json
from typing import Any, Final

from ._util import args_object, integer, items, new_id, number, obj, sub, text_of
from .model import (
    CONTENT_FILTER,
    LENGTH,
    STOP,
    TOOL_CALLS,
    Event,
    Finish,
    Image,
    Message,
    Part,
    Request,
    Response,
    Start,
    StreamError,
    Text,
    TextDelta,
    Thinking,
    ThinkingDelta,
    Tool,
    ToolCall,
    ToolDelta,
    ToolResult,
    ToolStart,
    Usage,
    UsageUpdate,
    effort_to_budget,
    merge_usage,
)
from .sse import SSEParser, named_event

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
_FINISH_IN: Final = {
    "end_turn": STOP,
    "stop_sequence": STOP,
    "pause_turn": STOP,
    "max_tokens": LENGTH,
    "tool_use": TOOL_CALLS,
    "refusal": CONTENT_FILTER,
}
_FINISH_OUT: Final = {
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


def build_request(req: Request, model: str | None) -> dict[str, Any]:
    messages: list[dict[str, Any]] = []
    for message in req.messages:
        blocks = [b for b in (_block(p) for p in message.parts) if b is not None]
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


def _block(part: Part) -> dict[str, Any] | None:
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
    if part.signature:  # Thinking: refused there without Anthropic's own signature
        return {"type": "thinking", "thinking": part.text, "signature": part.signature}
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
        finish=_FINISH_IN.get(reason, STOP) if isinstance(reason, str) else STOP,
        usage=parse_usage(data.get("usage")),
    )


def build_response(resp: Response, model: str) -> dict[str, Any]:
    content = []
    for part in resp.parts:
        if isinstance(part, Thinking):
            content.append(
                {"type": "thinking", "thinking": part.text, "signature": part.signature or ""}
            )
        else:
            block = _block(part)
            if block is not None:
                content.append(block)
    return {
        "id": resp.id if resp.id.startswith("msg_") else "msg_" + resp.id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": _FINISH_OUT.get(resp.finish, "end_turn"),
        "stop_sequence": None,
        "usage": build_usage(resp.usage),
    }


# ------------------------------------------------------------------- streams


class StreamDecoder:
    """Anthropic's ``message_start`` ... ``message_stop`` events -> internal events."""

    def __init__(self) -> None:
        self._sse = SSEParser()
        self._finish = STOP
        self._done = False
        #: content block index -> tool index, for ``input_json_delta``.
        self._tools: dict[int, int] = {}

    def feed(self, chunk: bytes) -> list[Event]:
        events: list[Event] = []
        for _, data in self._sse.feed(chunk):
            self._event(data, events)
        return events

    def close(self) -> list[Event]:
        events: list[Event] = []
        for _, data in self._sse.close():
            self._event(data, events)
        if not self._done:
            self._done = True
            events.append(Finish(self._finish))
        return events

    def _event(self, data: str, events: list[Event]) -> None:
        if self._done:
            return
        try:
            event = json.loads(data)
        except ValueError:
            return
        if not isinstance(event, dict):
            return
        kind = event.get("type")
        if kind == "content_block_delta":
            self._delta(event, events)
        elif kind == "content_block_start":
            self._block_start(event, events)
        elif kind == "message_start":
            message = sub(event, "message")
            events.append(Start(message.get("id"), message.get("model")))
            events.append(UsageUpdate(parse_usage(message.get("usage"))))
        elif kind == "message_delta":
            delta = sub(event, "delta")
            reason = delta.get("stop_reason")
            if isinstance(reason, str):
                self._finish = _FINISH_IN.get(reason, STOP)
            usage = event.get("usage")
            if isinstance(usage, dict):
                update = parse_usage(usage)
                if usage.get("input_tokens") is None:
                    update.input = None
                events.append(UsageUpdate(update))
        elif kind == "message_stop":
            self._done = True
            events.append(Finish(self._finish))
        elif kind == "error":
            error = sub(event, "error")
            self._done = True
            events.append(StreamError(str(error.get("message") or "upstream error")))

    def _block_start(self, event: dict[str, Any], events: list[Event]) -> None:
        block = event.get("content_block")
        if not isinstance(block, dict):
            return
        if block.get("type") == "tool_use":
            index = len(self._tools)
            self._tools[integer(event.get("index")) or 0] = index
            events.append(ToolStart(index, str(block.get("id") or ""), str(block.get("name"))))
            if block.get("input"):  # some servers send the whole input here
                events.append(ToolDelta(index, json.dumps(block["input"], ensure_ascii=False)))
        elif block.get("type") == "text" and block.get("text"):
            events.append(TextDelta(str(block["text"])))

    def _delta(self, event: dict[str, Any], events: list[Event]) -> None:
        delta = event.get("delta")
        if not isinstance(delta, dict):
            return
        kind = delta.get("type")
        if kind == "text_delta":
            events.append(TextDelta(str(delta.get("text") or "")))
        elif kind == "input_json_delta":
            tool = self._tools.get(integer(event.get("index")) or 0)
            if tool is not None and delta.get("partial_json"):
                events.append(ToolDelta(tool, str(delta["partial_json"])))
        elif kind == "thinking_delta":
            events.append(ThinkingDelta(str(delta.get("thinking") or "")))
        elif kind == "signature_delta":
            events.append(ThinkingDelta("", str(delta.get("signature") or "")))


class StreamEncoder:
    """Internal events -> ``message_start``, ``content_block_*``, ``message_delta``, stop."""

    def __init__(self, model: str) -> None:
        self._model = model
        self._started = False
        self._done = False
        self._block = -1
        #: "text", "thinking", "tool" or None: the open content block.
        self._open: str | None = None
        #: tool index -> content block index.
        self._tools: dict[int, int] = {}
        self._usage = Usage()

    def encode(self, events: list[Event]) -> bytes:
        out: list[bytes] = []
        for event in events:
            if self._done:
                break
            if not self._started and not isinstance(event, StreamError):
                out.append(self._start(event))
            if isinstance(event, TextDelta):
                if event.text:
                    out.append(self._ensure("text"))
                    delta = {"type": "text_delta", "text": event.text}
                    out.append(self._delta(delta))
            elif isinstance(event, ThinkingDelta):
                out.append(self._thinking(event))
            elif isinstance(event, ToolStart):
                out.append(self._close())
                self._block += 1
                self._open = "tool"
                self._tools[event.index] = self._block
                block = {"type": "tool_use", "id": event.id, "name": event.name, "input": {}}
                out.append(self._event("content_block_start", content_block=block))
            elif isinstance(event, ToolDelta):
                delta = {"type": "input_json_delta", "partial_json": event.arguments}
                out.append(self._delta(delta, self._tools.get(event.index, self._block)))
            elif isinstance(event, UsageUpdate):
                merge_usage(self._usage, event.usage)
            elif isinstance(event, Finish):
                out.append(self._finish(event.reason))
            elif isinstance(event, StreamError):
                self._done = True
                error = {"type": "api_error", "message": event.message}
                out.append(named_event("error", {"type": "error", "error": error}))
        return b"".join(out)

    def _start(self, event: Event) -> bytes:
        self._started = True
        if isinstance(event, UsageUpdate):
            merge_usage(self._usage, event.usage)
        upstream_id = event.id if isinstance(event, Start) else None
        message: dict[str, Any] = {
            "id": upstream_id if upstream_id and upstream_id.startswith("msg_") else new_id("msg_"),
            "type": "message",
            "role": "assistant",
            "model": self._model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {**build_usage(self._usage), "output_tokens": 0},
        }
        return self._event("message_start", message=message)

    def _thinking(self, event: ThinkingDelta) -> bytes:
        out = []
        if event.text:
            out.append(self._ensure("thinking"))
            out.append(self._delta({"type": "thinking_delta", "thinking": event.text}))
        if event.signature and self._open == "thinking":
            out.append(self._delta({"type": "signature_delta", "signature": event.signature}))
        return b"".join(out)

    def _ensure(self, kind: str) -> bytes:
        if self._open == kind:
            return b""
        closed = self._close()
        self._block += 1
        self._open = kind
        block: dict[str, Any] = (
            {"type": "text", "text": ""}
            if kind == "text"
            else {"type": "thinking", "thinking": "", "signature": ""}
        )
        return closed + self._event("content_block_start", content_block=block)

    def _close(self) -> bytes:
        if self._open is None:
            return b""
        self._open = None
        return self._event("content_block_stop")

    def _delta(self, delta: dict[str, Any], index: int | None = None) -> bytes:
        block = self._block if index is None else index
        return named_event(
            "content_block_delta", {"type": "content_block_delta", "index": block, "delta": delta}
        )

    def _event(self, name: str, **fields: Any) -> bytes:
        if name.startswith("content_block"):
            fields = {"index": self._block, **fields}
        return named_event(name, {"type": name, **fields})

    def _finish(self, reason: str) -> bytes:
        self._done = True
        delta = {"stop_reason": _FINISH_OUT.get(reason, "end_turn"), "stop_sequence": None}
        return b"".join(
            (
                self._close(),
                named_event(
                    "message_delta",
                    {"type": "message_delta", "delta": delta, "usage": build_usage(self._usage)},
                ),
                named_event("message_stop", {"type": "message_stop"}),
            )
        )
