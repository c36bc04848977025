"""Anthropic streams: the incremental decoder (upstream SSE in, events out) and encoder
(events in, client SSE out). The request and answer conversions are in ``anthropic.py``."""

from __future__ import annotations

import json
from typing import Any

from ._util import integer, new_id, sub
from .anthropic import FINISH_IN, FINISH_OUT, build_usage, parse_usage
from .model import (
    STOP,
    Event,
    Start,
    TextDelta,
    ThinkingDelta,
    ToolDelta,
    ToolStart,
    UsageUpdate,
    merge_usage,
)
from .sse import named_event
from .stream import BaseDecoder, BaseEncoder


class StreamDecoder(BaseDecoder):
    """Anthropic's ``message_start`` ... ``message_stop`` events -> internal events."""

    def __init__(self) -> None:
        super().__init__()
        #: content block index -> tool index, for ``input_json_delta``.
        self._tools: dict[int, int] = {}

    def _object(self, event: dict[str, Any], events: list[Event]) -> None:
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
                self._finish = FINISH_IN.get(reason, STOP)
            usage = event.get("usage")
            if isinstance(usage, dict):
                update = parse_usage(usage)
                if usage.get("input_tokens") is None:
                    update.input = None
                events.append(UsageUpdate(update))
        elif kind == "message_stop":
            self._end(events)
        elif kind == "error":
            error = sub(event, "error")
            self._fail(events, str(error.get("message") or "upstream error"))

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


class StreamEncoder(BaseEncoder):
    """Internal events -> ``message_start``, ``content_block_*``, ``message_delta``, stop."""

    def __init__(self, model: str) -> None:
        super().__init__()
        self._model = model
        self.content_block = -1
        #: "text", "thinking", "tool" or None: the open content block.
        self._open: str | None = None
        #: tool index -> content block index.
        self._tools: dict[int, int] = {}

    def _text(self, event: TextDelta) -> bytes:
        if not event.text:
            return b""
        return self._ensure("text") + self._delta({"type": "text_delta", "text": event.text})

    def _tool_start(self, event: ToolStart) -> bytes:
        closed = self._close()
        self.content_block += 1
        self._open = "tool"
        self._tools[event.index] = self.content_block
        block = {"type": "tool_use", "id": event.id, "name": event.name, "input": {}}
        return closed + self._event("content_block_start", content_block=block)

    def _tool_delta(self, event: ToolDelta) -> bytes:
        delta = {"type": "input_json_delta", "partial_json": event.arguments}
        return self._delta(delta, self._tools.get(event.index, self.content_block))

    def _error(self, message: str) -> bytes:
        error = {"type": "api_error", "message": message}
        return named_event("error", {"type": "error", "error": error})

    def _begin(self, event: Event) -> bytes:
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
        self.content_block += 1
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
        block = self.content_block if index is None else index
        return named_event(
            "content_block_delta", {"type": "content_block_delta", "index": block, "delta": delta}
        )

    def _event(self, name: str, **fields: Any) -> bytes:
        if name.startswith("content_block"):
            fields = {"index": self.content_block, **fields}
        return named_event(name, {"type": name, **fields})

    def _finish(self, reason: str) -> bytes:
        delta = {"stop_reason": FINISH_OUT.get(reason, "end_turn"), "stop_sequence": None}
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
