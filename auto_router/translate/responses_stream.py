"""OpenAI Responses streams (client side only): the encoder (events in, client SSE out).

No decoder: an upstream that speaks Responses gets the client's request as it is. The
request and answer conversions are in ``responses.py``.
"""

from __future__ import annotations

import time
from typing import Any

from ._util import new_id
from .model import Event, TextDelta, ThinkingDelta, ToolDelta, ToolStart
from .responses import (
    call_item,
    finish_envelope,
    message_item,
    reasoning_item,
    response_envelope,
    text_part,
)
from .sse import named_event
from .stream import BaseEncoder


class StreamEncoder(BaseEncoder):
    """Internal events -> ``response.created`` ... ``response.completed``.

    Each delta goes out at once; the text and arguments are also kept (only until the
    stream ends) because the protocol repeats them in the ``*.done`` events and in the final
    response object.
    """

    def __init__(self, model: str) -> None:
        super().__init__()
        self._model = model
        self._seq = 0
        self._envelope = response_envelope(new_id("resp_"), model, int(time.time()), "in_progress")
        self._output: list[dict[str, Any]] = []
        #: The open output item: kind, its index, its accumulated text/arguments.
        self._open: tuple[str, int, list[str]] | None = None
        self._tools: dict[int, tuple[int, list[str]]] = {}
        self._created = False

    def encode(self, events: list[Event]) -> bytes:
        if self._created:
            return super().encode(events)
        self._created = True  # the response exists from the first call, even an error's
        opening = self._emit("response.created", response=dict(self._envelope))
        opening += self._emit("response.in_progress", response=dict(self._envelope))
        return opening + super().encode(events)

    def _emit(self, name: str, **fields: Any) -> bytes:
        event = named_event(name, {"type": name, "sequence_number": self._seq, **fields})
        self._seq += 1
        return event

    def _text(self, event: TextDelta) -> bytes:
        if not event.text:
            return b""
        out = b""
        if self._open is None or self._open[0] != "message":
            item = message_item(new_id("msg_"), None, "in_progress")
            index = {"content_index": 0}
            out = self._open_item(
                item, "message", "response.content_part.added", index, text_part("")
            )
        iid, at = self._append(event.text)
        return out + self._emit(
            "response.output_text.delta",
            item_id=iid,
            output_index=at,
            content_index=0,
            delta=event.text,
            logprobs=[],
        )

    def _thinking(self, event: ThinkingDelta) -> bytes:
        if not event.text:
            return b""
        out = b""
        if self._open is None or self._open[0] != "reasoning":
            item = reasoning_item(new_id("rs_"), None)
            part = {"type": "summary_text", "text": ""}
            index = {"summary_index": 0}
            added = "response.reasoning_summary_part.added"
            out = self._open_item(item, "reasoning", added, index, part)
        text = event.text
        iid, at = self._append(text)
        name = "response.reasoning_summary_text.delta"
        return out + self._emit(name, item_id=iid, output_index=at, summary_index=0, delta=text)

    def _open_item(
        self, item: dict[str, Any], kind: str, added: str, index: dict[str, int], part: Any
    ) -> bytes:
        """Close the open item, then open ``item`` with its first (empty) part."""
        out = self._close() + self._add(item, kind)
        output_index = len(self._output) - 1
        return out + self._emit(
            added, item_id=item["id"], output_index=output_index, **index, part=part
        )

    def _append(self, text: str) -> tuple[str, int]:
        """Keep ``text`` for the open item's ``*.done`` events; its id and output index."""
        assert self._open is not None
        _, index, parts = self._open
        parts.append(text)
        return self._output[index]["id"], index

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

    def _error(self, message: str) -> bytes:
        return self._emit("error", code="upstream_error", message=message, param=None)

    def _finish(self, reason: str) -> bytes:
        out = self._close()
        envelope = finish_envelope(dict(self._envelope), reason, self._usage)
        envelope["output"] = self._output
        name = "response.incomplete" if envelope["status"] == "incomplete" else "response.completed"
        return out + self._emit(name, response=envelope)
