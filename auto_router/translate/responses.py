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
    Event,
    Finish,
    Message,
    Part,
    Request,
    Response,
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
    merge_usage,
)
from .sse import named_event

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


def _envelope(rid: str, model: str, created: int, status: str) -> dict[str, Any]:
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


def _finished(envelope: dict[str, Any], finish: str, usage: Usage) -> dict[str, Any]:
    incomplete = _INCOMPLETE.get(finish)
    envelope["status"] = "incomplete" if incomplete else "completed"
    if incomplete:
        envelope["incomplete_details"] = {"reason": incomplete}
    envelope["usage"] = build_usage(usage)
    return envelope


def build_response(resp: Response, model: str) -> dict[str, Any]:
    envelope = _envelope(new_id("resp_"), model, int(time.time()), "completed")
    output: list[dict[str, Any]] = []
    thinking = "".join(p.text for p in resp.parts if isinstance(p, Thinking))
    if thinking:
        output.append(_reasoning_item(new_id("rs_"), thinking))
    text = "".join(p.text for p in resp.parts if isinstance(p, Text))
    if text:
        output.append(_message_item(new_id("msg_"), text, "completed"))
    for part in resp.parts:
        if isinstance(part, ToolCall):
            output.append(
                _call_item(new_id("fc_"), part.id, part.name, part.arguments, "completed")
            )
    envelope["output"] = output
    return _finished(envelope, resp.finish, resp.usage)


def _message_item(item_id: str, text: str | None, status: str) -> dict[str, Any]:
    content = [] if text is None else [_text_part(text)]
    return {
        "id": item_id,
        "type": "message",
        "status": status,
        "role": "assistant",
        "content": content,
    }


def _text_part(text: str) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": []}


def _call_item(
    item_id: str, call_id: str, name: str, arguments: str, status: str
) -> dict[str, Any]:
    return {
        "id": item_id,
        "type": "function_call",
        "status": status,
        "call_id": call_id,
        "name": name,
        "arguments": arguments,
    }


def _reasoning_item(item_id: str, text: str | None) -> dict[str, Any]:
    summary = [] if text is None else [{"type": "summary_text", "text": text}]
    return {"id": item_id, "type": "reasoning", "summary": summary}


# ------------------------------------------------------------------- streams


class StreamEncoder:
    """Internal events -> ``response.created`` ... ``response.completed``.

    Each delta goes out at once; the text and arguments are also kept (only until the
    stream ends) because the protocol repeats them in the ``*.done`` events and in the final
    response object.
    """

    def __init__(self, model: str) -> None:
        self._model = model
        self._seq = 0
        self._envelope = _envelope(new_id("resp_"), model, int(time.time()), "in_progress")
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
            item = _message_item(new_id("msg_"), None, "in_progress")
            out += self._add(item, "message")
            out += self._emit(
                "response.content_part.added",
                item_id=item["id"],
                output_index=len(self._output) - 1,
                content_index=0,
                part=_text_part(""),
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
            item = _reasoning_item(new_id("rs_"), None)
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
        item = _call_item(new_id("fc_"), event.id, event.name, "", "in_progress")
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
            item["content"] = [_text_part(text)]
            common = {"item_id": item["id"], "output_index": index, "content_index": 0}
            out += self._emit("response.output_text.done", **common, text=text, logprobs=[])
            out += self._emit("response.content_part.done", **common, part=_text_part(text))
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
        envelope = _finished(dict(self._envelope), reason, self._usage)
        envelope["output"] = self._output
        name = "response.incomplete" if envelope["status"] == "incomplete" else "response.completed"
        return out + self._emit(name, response=envelope)
