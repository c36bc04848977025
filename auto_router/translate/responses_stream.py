"""OpenAI Responses streams (client side only): the encoder (events in, client SSE out).

No decoder: an upstream that speaks Responses gets the client's request as it is. The
request and answer conversions are in ``responses.py``.
"""

from __future__ import annotations

import time
from typing import Any

from ._util import new_id
from .model import (
    Event,
    Finish,
    StreamError,
    TextDelta,
    ThinkingDelta,
    ToolDelta,
    ToolStart,
    Usage,
    UsageUpdate,
    merge_usage,
)
from .responses import (
    call_item,
    finish_envelope,
    message_item,
    reasoning_item,
    response_envelope,
    text_part,
)
from .sse import named_event


class StreamEncoder:
    """Internal events -> ``response.created`` ... ``response.completed``.

    Each delta goes out at once; the text and arguments are also kept (only until the
    stream ends) because the protocol repeats them in the ``*.done`` events and in the final
    response object.
    """

    def __init__(self, model: str) -> None:
        self._model = model
        self._seq = 0
        self._envelope = response_envelope(new_id("resp_"), model, int(time.time()), "in_progress")
        self._output: list[dict[str, Any]] = []
        #: The open output item: kind, its index, its accumulated text/arguments.
        self._open: tuple[str, int, list[str]] | None = None
        self._tools: dict[int, tuple[int, list[str]]] = {}
        self._usage = Usage()
        self._started = False
        self._done = False

    def encode(self, events: list[Event]) -> bytes:
        out: list[bytes] = []
        if not self._started:
            self._started = True
            out.append(self._emit("response.created", response=dict(self._envelope)))
            out.append(self._emit("response.in_progress", response=dict(self._envelope)))
        for event in events:
            if self._done:
                break
            if isinstance(event, TextDelta):
                if event.text:
                    out.append(self._text(event.text))
            elif isinstance(event, ThinkingDelta):
                if event.text:
                    out.append(self._reasoning(event.text))
            elif isinstance(event, ToolStart):
                out.append(self._tool_start(event))
            elif isinstance(event, ToolDelta):
                out.append(self._tool_delta(event))
            elif isinstance(event, UsageUpdate):
                merge_usage(self._usage, event.usage)
            elif isinstance(event, Finish):
                out.append(self._finish(event.reason))
            elif isinstance(event, StreamError):
                self._done = True
                out.append(
                    self._emit("error", code="upstream_error", message=event.message, param=None)
                )
        return b"".join(out)

    def _emit(self, name: str, **fields: Any) -> bytes:
        event = named_event(name, {"type": name, "sequence_number": self._seq, **fields})
        self._seq += 1
        return event

    def _item_id(self) -> str:
        return str(self._output[self._open[1]]["id"]) if self._open else ""

    def _text(self, text: str) -> bytes:
        out = b""
        if self._open is None or self._open[0] != "message":
            out = self._close()
            item = message_item(new_id("msg_"), None, "in_progress")
            out += self._add(item, "message")
            out += self._emit(
                "response.content_part.added",
                item_id=item["id"],
                output_index=len(self._output) - 1,
                content_index=0,
                part=text_part(""),
            )
        assert self._open is not None
        self._open[2].append(text)
        return out + self._emit(
            "response.output_text.delta",
            item_id=self._item_id(),
            output_index=self._open[1],
            content_index=0,
            delta=text,
            logprobs=[],
        )

    def _reasoning(self, text: str) -> bytes:
        out = b""
        if self._open is None or self._open[0] != "reasoning":
            out = self._close()
            item = reasoning_item(new_id("rs_"), None)
            out += self._add(item, "reasoning")
            out += self._emit(
                "response.reasoning_summary_part.added",
                item_id=item["id"],
                output_index=len(self._output) - 1,
                summary_index=0,
                part={"type": "summary_text", "text": ""},
            )
        assert self._open is not None
        self._open[2].append(text)
        return out + self._emit(
            "response.reasoning_summary_text.delta",
            item_id=self._item_id(),
            output_index=self._open[1],
            summary_index=0,
            delta=text,
        )

    def _tool_start(self, event: ToolStart) -> bytes:
        out = self._close()
        item = call_item(new_id("fc_"), event.id, event.name, "", "in_progress")
        out += self._add(item, "function_call")
        assert self._open is not None
        self._tools[event.index] = (self._open[1], self._open[2])
        return out

    def _tool_delta(self, event: ToolDelta) -> bytes:
        found = self._tools.get(event.index)
        if found is None:
            return b""
        index, parts = found
        parts.append(event.arguments)
        return self._emit(
            "response.function_call_arguments.delta",
            item_id=self._output[index]["id"],
            output_index=index,
            delta=event.arguments,
        )

    def _add(self, item: dict[str, Any], kind: str) -> bytes:
        self._output.append(item)
        index = len(self._output) - 1
        self._open = (kind, index, [])
        return self._emit("response.output_item.added", output_index=index, item=dict(item))

    def _close(self) -> bytes:
        """The ``*.done`` events of the open item, which now holds its whole content."""
        if self._open is None:
            return b""
        kind, index, parts = self._open
        self._open = None
        item = self._output[index]
        text = "".join(parts)
        out = b""
        if kind == "message":
            item["content"] = [text_part(text)]
            common = {"item_id": item["id"], "output_index": index, "content_index": 0}
            out += self._emit("response.output_text.done", **common, text=text, logprobs=[])
            out += self._emit("response.content_part.done", **common, part=text_part(text))
        elif kind == "reasoning":
            item["summary"] = [{"type": "summary_text", "text": text}]
            common = {"item_id": item["id"], "output_index": index, "summary_index": 0}
            out += self._emit("response.reasoning_summary_text.done", **common, text=text)
            out += self._emit(
                "response.reasoning_summary_part.done", **common, part=item["summary"][0]
            )
        else:
            item["arguments"] = text or "{}"
            out += self._emit(
                "response.function_call_arguments.done",
                item_id=item["id"],
                output_index=index,
                arguments=item["arguments"],
            )
        if "status" in item:
            item["status"] = "completed"
        return out + self._emit("response.output_item.done", output_index=index, item=item)

    def _finish(self, reason: str) -> bytes:
        self._done = True
        out = self._close()
        envelope = finish_envelope(dict(self._envelope), reason, self._usage)
        envelope["output"] = self._output
        name = "response.incomplete" if envelope["status"] == "incomplete" else "response.completed"
        return out + self._emit(name, response=envelope)
