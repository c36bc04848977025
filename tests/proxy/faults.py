"""Scripted faults for the fake provider: the ways real providers fail, one per request.

The fault is named by the ``x-fault`` request header (the proxy forwards unknown client
headers) or by a model name ``fault/<name>``. Only a provider scripted with ``Faults``
obeys it; the others answer normally. Faults ending in ``-once`` fail the first request
that names them and answer the next ones.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from typing import Any

from auto_router.demo.fake_upstream import (
    Action,
    Close,
    FakeProvider,
    Hang,
    Reply,
    Reset,
    Seen,
    Stream,
)
from auto_router.demo.wire import chat_chunks, chat_completion

#: The complete answer of every fake stream, and how the faulty one splits it.
ANSWER = "Hello world, how are you?"
WORDS = ["Hello", " world,", " how", " are", " you?"]


def openai_error(status: int, message: str, code: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": "invalid_request_error", "code": code}}


def _chat_stream(model: str, words: list[str]) -> list[str]:
    return chat_chunks(model, words)


def _fault_stream(name: str, model: str) -> Stream:
    events = _chat_stream(model, WORDS)
    if name == "cut-after-2":
        return Stream(events, die_after=2)
    if name == "stall-after-2":
        return Stream(events, stall_at=2)
    if name == "slow-first-token":
        return Stream(events, first_delay=30)
    if name == "malformed":  # paced, so the bad event comes after the answer started
        bad = '{"choices": [{"delta": {"content": "x'
        return Stream([*events[:2], bad, *events[2:]], gap=0.05)
    if name == "malformed-first":
        return Stream(['{"choices": [', *events])
    if name == "no-done":  # two words, then a clean end: no finish_reason, no [DONE]
        return Stream(events[:2])
    if name == "tool-call-cut":
        call = {"tool_calls": [{"index": 0, "id": "c1", "type": "function",
                                "function": {"name": "f", "arguments": "{"}}]}  # fmt: skip
        chunk = {"id": "x", "object": "chat.completion.chunk", "created": 1, "model": model,
                 "choices": [{"index": 0, "delta": call, "finish_reason": None}]}  # fmt: skip
        return Stream([events[0], json.dumps(chunk), *events[1:]], die_after=2)
    raise KeyError(name)


_STREAM_FAULTS = {"cut-after-2", "stall-after-2", "slow-first-token", "malformed", "no-done",
                  "tool-call-cut", "malformed-first"}  # fmt: skip


class Faults:
    """A provider script that fails on purpose, as the request asks."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()
        #: When set, every request fails with this fault (a provider that is down).
        self.down: str | None = None

    def __call__(self, seen: Seen) -> Action:
        name = self.down or _fault_of(seen)
        if name is None:
            return default_or_stream(seen)
        with self._lock:
            self.counts[name] += 1
            n = self.counts[name]
        if name.endswith("-once"):
            if n > 1:
                return default_or_stream(seen)
            name = name[: -len("-once")]
        return self._act(name, seen)

    def _act(self, name: str, seen: Seen) -> Action:
        data = seen.json()
        if name in _STREAM_FAULTS:
            return _fault_stream(name, data["model"])
        simple: dict[str, Action] = {
            "429": Reply(429, openai_error(429, "Rate limit reached"), {"retry-after": "1"}),
            "429-bare": Reply(429, openai_error(429, "Rate limit reached")),
            "429-long": Reply(429, openai_error(429, "Rate limit reached"), {"retry-after": "60"}),
            "500": Reply(500, openai_error(500, "internal error")),
            "503": Reply(503, openai_error(503, "overloaded")),
            "reset": Reset(),
            "close": Close(),
            "hang": Hang(),
            "context-length": Reply(400, openai_error(
                400, "This model's maximum context length is 8192 tokens. However, your "
                "messages resulted in 9000 tokens.", "context_length_exceeded")),
            "content-filter": Reply(400, openai_error(
                400, "The response was filtered due to the prompt triggering the content "
                "management policy.", "content_filter")),
        }  # fmt: skip
        return simple[name]


def _fault_of(seen: Seen) -> str | None:
    name = seen.headers.get("x-fault")
    if name:
        return name
    try:
        model = seen.json().get("model", "")
    except ValueError:
        return None
    return model[len("fault/") :] if isinstance(model, str) and model.startswith("fault/") else None


def default_or_stream(seen: Seen) -> Action:
    """A normal answer: the whole ``ANSWER`` (streamed in ``WORDS`` when asked)."""
    if seen.path.endswith("/chat/completions"):
        data = seen.json()
        if data.get("stream"):
            return Stream(_chat_stream(data["model"], WORDS))
        return Reply(body=chat_completion(data["model"], ANSWER))
    return FakeProvider()(seen)


def continuing(*, accepts_prefill: bool = True) -> Any:
    """A second provider: answers normally, and continues a prefilled answer with the rest
    of ``ANSWER`` (or refuses a prefill with a 400, as many providers do)."""

    def script(seen: Seen) -> Action:
        if not seen.path.endswith("/chat/completions"):
            return FakeProvider()(seen)
        data = seen.json()
        last = data["messages"][-1]
        if last.get("role") != "assistant":
            return default_or_stream(seen)
        if not accepts_prefill:
            return Reply(400, openai_error(400, "assistant prefill is not supported"))
        done = last["content"]
        assert ANSWER.startswith(done), done
        rest = ANSWER[len(done) :]
        return Stream(_chat_stream(data["model"], [rest[:5], rest[5:]]))

    return script
