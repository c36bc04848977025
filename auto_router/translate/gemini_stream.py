"""Gemini streams: the incremental decoder (upstream SSE in, events out) and encoder
(events in, client SSE out). The request and answer conversions are in ``gemini.py``."""

from __future__ import annotations

import json
from typing import Any

from ._util import args_object, new_id
from .gemini import FINISH_OUT, build_usage, finish_in, parse_usage
from .model import (
    STOP,
    TOOL_CALLS,
    Event,
    Start,
    TextDelta,
    ThinkingDelta,
    ToolDelta,
    ToolStart,
    UsageUpdate,
)
from .sse import data_event, dumps
from .stream import BaseDecoder, BaseEncoder


class StreamDecoder(BaseDecoder):
    """``alt=sse`` chunks (each a whole GenerateContentResponse) -> internal events."""

    def __init__(self) -> None:
        super().__init__()
        self._started = False
        self._calls = 0

    def _reason(self) -> str:
        # Gemini says STOP after a function call; the other protocols say "tool calls".
        finish = self._finish or STOP
        return TOOL_CALLS if finish == STOP and self._calls else finish

    def _object(self, chunk: dict[str, Any], events: list[Event]) -> None:
        if isinstance(chunk.get("error"), dict):
            self._fail(events, str(chunk["error"].get("message") or "upstream error"))
            return
        if not self._started:
            self._started = True
            events.append(Start(chunk.get("responseId"), chunk.get("modelVersion")))
        for candidate in chunk.get("candidates") or []:
            if isinstance(candidate, dict) and candidate.get("index", 0) == 0:
                self._candidate(candidate, events)
        if isinstance(chunk.get("usageMetadata"), dict):
            events.append(UsageUpdate(parse_usage(chunk["usageMetadata"])))

    def _candidate(self, candidate: dict[str, Any], events: list[Event]) -> None:
        content = candidate.get("content")
        for part in content.get("parts") or [] if isinstance(content, dict) else []:
            if not isinstance(part, dict):
                continue
            if isinstance(part.get("text"), str) and part["text"]:
                cls = ThinkingDelta if part.get("thought") else TextDelta
                events.append(cls(part["text"]))
            elif isinstance(part.get("functionCall"), dict):
                call = part["functionCall"]
                given = call.get("id")
                call_id = given if isinstance(given, str) and given else new_id("call_")
                events.append(ToolStart(self._calls, call_id, str(call.get("name") or "")))
                arguments = json.dumps(call.get("args") or {}, ensure_ascii=False)
                events.append(ToolDelta(self._calls, arguments))
                self._calls += 1
        reason = candidate.get("finishReason")
        if isinstance(reason, str) and reason != "FINISH_REASON_UNSPECIFIED":
            self._finish = finish_in(reason, False)


class StreamEncoder(BaseEncoder):
    """Internal events -> Gemini chunks (``alt=sse`` events, or one JSON array).

    A function call is sent whole, as Gemini does: its argument deltas are gathered until
    the next call, the text after it, or the end.
    """

    def __init__(self, model: str, *, sse: bool = True) -> None:
        super().__init__()
        self._model = model
        self._sse = sse
        self._id = new_id("")
        self._sent = 0
        self._calls: dict[int, list[str]] = {}
        self._names: dict[int, str] = {}

    def _text(self, event: TextDelta | ThinkingDelta) -> bytes:
        if not event.text:
            return b""
        part: dict[str, Any] = {"text": event.text}
        if isinstance(event, ThinkingDelta):
            part["thought"] = True
        return self._flush_calls() + self._chunk([part])

    _thinking = _text

    def _tool_start(self, event: ToolStart) -> bytes:
        flushed = self._flush_calls()
        self._calls[event.index] = []
        self._names[event.index] = event.name
        return flushed

    def _tool_delta(self, event: ToolDelta) -> bytes:
        self._calls.setdefault(event.index, []).append(event.arguments)
        return b""

    def _error(self, message: str) -> bytes:
        error = {"code": 502, "message": message, "status": "UNAVAILABLE"}
        return self._frame({"error": error}) + (b"" if self._sse else b"]")

    def _call_parts(self) -> list[dict[str, Any]]:
        parts = [
            {"functionCall": {"name": self._names.get(i, ""), "args": args_object("".join(a))}}
            for i, a in self._calls.items()
        ]
        self._calls.clear()
        return parts

    def _flush_calls(self) -> bytes:
        return self._chunk(self._call_parts()) if self._calls else b""

    def _chunk(self, parts: list[dict[str, Any]], extra: dict[str, Any] | None = None) -> bytes:
        candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": 0}
        body: dict[str, Any] = {"candidates": [candidate]}
        if extra:
            candidate.update(extra.pop("candidate", {}))
            body.update(extra)
        body["modelVersion"] = self._model
        body["responseId"] = self._id
        return self._frame(body)

    def _frame(self, body: dict[str, Any]) -> bytes:
        self._sent += 1
        if self._sse:
            return data_event(body)
        text = dumps(body).encode()
        return (b"[" if self._sent == 1 else b",\r\n") + text

    def _finish(self, reason: str) -> bytes:
        parts = self._call_parts() or [{"text": ""}]
        extra = {
            "candidate": {"finishReason": FINISH_OUT.get(reason, "STOP")},
            "usageMetadata": build_usage(self._usage),
        }
        last = self._chunk(parts, extra)
        return last if self._sse else last + b"]"
