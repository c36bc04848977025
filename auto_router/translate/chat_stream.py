"""Chat Completions streams: the incremental decoder (upstream SSE in, events out) and
encoder (events in, client SSE out). The request and answer conversions are in ``chat.py``."""

from __future__ import annotations

import time
from typing import Any

from ._util import integer, new_id, sub
from .chat import FINISH_IN, build_usage, parse_usage
from .model import Event, Start, TextDelta, ThinkingDelta, ToolDelta, ToolStart, UsageUpdate
from .sse import data_event
from .stream import BaseDecoder, BaseEncoder


class StreamDecoder(BaseDecoder):
    """Chat Completions chunks -> internal events, one upstream chunk at a time."""

    _end_data = "[DONE]"

    def __init__(self) -> None:
        super().__init__()
        self._started = False
        #: (upstream index, call id) of the call open at each upstream index -> our index.
        self._calls: dict[int, tuple[str | None, int]] = {}
        self._count = -1

    def _object(self, chunk: dict[str, Any], events: list[Event]) -> None:
        if "error" in chunk and "choices" not in chunk:
            error = chunk["error"]
            message = error.get("message") if isinstance(error, dict) else error
            self._fail(events, str(message))
            return
        if not self._started:
            self._started = True
            events.append(Start(chunk.get("id"), chunk.get("model")))
        for choice in chunk.get("choices") or []:
            if isinstance(choice, dict) and choice.get("index", 0) == 0:
                self._choice(choice, events)
        if isinstance(chunk.get("usage"), dict):
            events.append(UsageUpdate(parse_usage(chunk["usage"])))

    def _choice(self, choice: dict[str, Any], events: list[Event]) -> None:
        delta = choice.get("delta")
        if isinstance(delta, dict):
            reasoning = delta.get("reasoning_content") or delta.get("reasoning")
            if isinstance(reasoning, str) and reasoning:
                events.append(ThinkingDelta(reasoning))
            content = delta.get("content")
            if isinstance(content, str) and content:
                events.append(TextDelta(content))
            for call in delta.get("tool_calls") or []:
                if isinstance(call, dict):
                    self._tool(call, events)
        finish = choice.get("finish_reason")
        if isinstance(finish, str):
            self._finish = FINISH_IN.get(finish, finish)

    def _tool(self, call: dict[str, Any], events: list[Event]) -> None:
        upstream = integer(call.get("index")) or 0
        function = sub(call, "function")
        call_id = call.get("id") if isinstance(call.get("id"), str) else None
        open_call = self._calls.get(upstream)
        # A new id at a known index: a server that numbers parallel calls all 0.
        if open_call is None or (call_id and open_call[0] and call_id != open_call[0]):
            index = self._count = self._count + 1
            self._calls[upstream] = (call_id, index)
            events.append(ToolStart(index, call_id or new_id("call_"), function.get("name") or ""))
        else:
            index = open_call[1]
        arguments = function.get("arguments")
        if isinstance(arguments, str) and arguments:
            events.append(ToolDelta(index, arguments))


class StreamEncoder(BaseEncoder):
    """Internal events -> Chat Completions chunks and the closing ``data: [DONE]``."""

    def __init__(self, model: str, *, include_usage: bool = False) -> None:
        super().__init__()
        self._model = model
        self._include_usage = include_usage
        self._id = new_id("chatcmpl-")
        self._created = int(time.time())

    def _begin(self, event: Event) -> bytes:
        return self._chunk({"role": "assistant", "content": ""})

    def _text(self, event: TextDelta) -> bytes:
        return self._chunk({"content": event.text})

    def _thinking(self, event: ThinkingDelta) -> bytes:
        return self._chunk({"reasoning_content": event.text}) if event.text else b""

    def _tool_start(self, event: ToolStart) -> bytes:
        call = {
            "index": event.index,
            "id": event.id,
            "type": "function",
            "function": {"name": event.name, "arguments": ""},
        }
        return self._chunk({"tool_calls": [call]})

    def _tool_delta(self, event: ToolDelta) -> bytes:
        call = {"index": event.index, "function": {"arguments": event.arguments}}
        return self._chunk({"tool_calls": [call]})

    def _error(self, message: str) -> bytes:
        error = {"message": message, "type": "api_error", "code": "upstream_error"}
        return data_event({"error": error})

    def _chunk(self, delta: dict[str, Any], finish: str | None = None) -> bytes:
        return data_event(
            {
                "id": self._id,
                "object": "chat.completion.chunk",
                "created": self._created,
                "model": self._model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }
        )

    def _finish(self, reason: str) -> bytes:
        out = [self._chunk({}, reason)]
        if self._include_usage:
            out.append(
                data_event(
                    {
                        "id": self._id,
                        "object": "chat.completion.chunk",
                        "created": self._created,
                        "model": self._model,
                        "choices": [],
                        "usage": build_usage(self._usage),
                    }
                )
            )
        out.append(b"data: [DONE]\n\n")
        return b"".join(out)
