"""The fake provider's default script: every endpoint answered in its real wire format.

OpenAI chat completions (``.../chat/completions``, JSON or SSE) and Responses
(``.../responses``), Anthropic Messages (``.../v1/messages``, JSON or SSE, and
``count_tokens``), Gemini ``models/{model}:generateContent`` / ``:streamGenerateContent`` /
``:countTokens``, and ``GET .../models``. ``behaviour`` makes it run out of quota (429 with
``Retry-After`` and the provider's own error body) or go down (503); ``limited_when`` does the
same for the requests whose key contains that word, so that one fake can serve two providers.
With ``tools`` it makes a tool round trip: a request that offers one of the agents' shell
tools (``SHELL_TOOLS``) gets a call of it; once the result comes back the answer is
``DONE: <the result>``. Every request is recorded as one JSON-ready entry (and appended to
``log`` when given), for the scripts that check the real agent CLIs.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from . import wire
from .actions import Action, Reply, Seen, Stream

Behaviour = Literal["ok", "rate-limited", "down"]

#: What the tool the fake asks for prints; ``DONE: ...hello-from-tool`` proves the round trip.
TOOL_MARKER = "hello-from-tool"
#: The agents' shell tools, and arguments that make each print ``TOOL_MARKER``.
SHELL_TOOLS: dict[str, dict[str, Any]] = {
    "Bash": {"command": f"echo {TOOL_MARKER}", "description": "print a marker"},
    "shell": {"command": ["echo", TOOL_MARKER]},
    "run_shell_command": {"command": f"echo {TOOL_MARKER}"},
    "exec_command": {"cmd": f"echo {TOOL_MARKER}"},  # Codex CLI 0.169
    "bash": {"command": f"echo {TOOL_MARKER}", "description": "print a marker"},  # opencode
}
#: Text the fake says before a tool call, in the same answer (as models do): the client
#: must get a text block and then a tool call, in that order.
PREAMBLE = "Running it now."

_GEMINI_PATH = re.compile(r"/models/(?P<model>[^/:]+):(?P<method>\w+)$")
#: Where a call of a shell tool was answered, by wire format.
Turn = tuple[dict[str, Any] | None, str]


@dataclass
class FakeProvider:
    """A script for ``FakeUpstream``: ``FakeUpstream(FakeProvider("alpha", "rate-limited"))``."""

    name: str = "fake"
    behaviour: Behaviour = "ok"
    #: The answer's text, and the pieces a chat stream sends it in (``None``: word by word).
    text: str = "hello"
    pieces: tuple[str, ...] | None = ("Hel", "lo", "!")
    retry_after: int = 5
    #: A request whose key contains this word is answered as if ``rate-limited``.
    limited_when: str | None = None
    tools: bool = False
    log: Path | None = None
    requests: list[dict[str, Any]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    @property
    def calls(self) -> int:
        return len(self.requests)

    def __call__(self, seen: Seen) -> Action:
        entry = self._entry(seen)
        action = self._answer(seen, entry)
        entry["status"] = action.status if isinstance(action, Reply) else 200
        with self._lock:
            self.requests.append(entry)
            if self.log is not None:
                with self.log.open("a", encoding="utf-8") as out:
                    out.write(json.dumps(entry) + "\n")
        return action

    def _entry(self, seen: Seen) -> dict[str, Any]:
        body = seen.document()
        gemini = _GEMINI_PATH.search(seen.route)
        where, key = seen.key()
        return {
            "time": time.time(),
            "method": seen.method,
            "path": seen.route,
            "auth_header": where,
            "key": key,
            "model": str(body.get("model") or (gemini.group("model") if gemini else "")),
            "stream": bool(body.get("stream")) or "alt=sse" in seen.path,
            "user_agent": seen.headers.get("user-agent", ""),
            "tools": tool_names(body),
        }

    def _failing(self, entry: dict[str, Any]) -> Behaviour:
        if self.limited_when is not None and self.limited_when in entry["key"]:
            return "rate-limited"
        return self.behaviour

    def _answer(self, seen: Seen, entry: dict[str, Any]) -> Action:
        route, model = seen.route, entry["model"] or "fake-model"
        family = _family(route)
        if family is None:
            return Reply(404, wire.not_found(seen.path))
        if route.endswith(("count_tokens", ":countTokens")):
            return Reply(body={"totalTokens": 10} if family == "gemini" else {"input_tokens": 10})
        failing = self._failing(entry)
        if failing != "ok":
            return self._error(family, failing, model)
        if seen.method == "GET":
            return Reply(body=_model_list())
        body = seen.document()
        if family == "gemini":
            return self._gemini(route, model, body, entry)
        if family == "anthropic":
            return self._anthropic(model, body, entry)
        if route.endswith("/responses"):
            return self._responses(model, body)
        return self._chat(model, body, entry)

    def _error(self, family: str, failing: Behaviour, model: str) -> Reply:
        if failing == "down":
            return Reply(503, wire.unavailable(family))
        headers = {"retry-after": str(self.retry_after)}
        if family == "anthropic":
            return Reply(429, wire.anthropic_429(), headers)
        if family == "gemini":
            return Reply(429, wire.gemini_429(model, self.retry_after), headers)
        return Reply(429, wire.openai_429(model, self.retry_after), headers)

    def _chat(self, model: str, body: dict[str, Any], entry: dict[str, Any]) -> Action:
        call, text = self._turn(chat_turn(body), entry)
        stream = bool(body.get("stream"))
        if call is not None:
            if stream:
                return Stream(wire.chat_tool_chunks(model, call, PREAMBLE))
            return Reply(body=wire.chat_tool_completion(model, call, PREAMBLE))
        if stream:
            return Stream(wire.chat_chunks(model, self._pieces(text)))
        return Reply(body=wire.chat_completion(model, text))

    def _responses(self, model: str, body: dict[str, Any]) -> Action:
        if body.get("stream"):
            return Stream.of(wire.response_events(model, self.text))
        return Reply(body=wire.response_document(model, self.text))

    def _anthropic(self, model: str, body: dict[str, Any], entry: dict[str, Any]) -> Action:
        call, text = self._turn(anthropic_turn(body), entry)
        blocks = (
            [{"type": "text", "text": PREAMBLE}, call] if call else [{"type": "text", "text": text}]
        )
        if body.get("stream"):
            return Stream.of(wire.anthropic_events(model, blocks))
        return Reply(body=wire.anthropic_message(model, blocks))

    def _gemini(
        self, route: str, model: str, body: dict[str, Any], entry: dict[str, Any]
    ) -> Action:
        method = route.rsplit(":", 1)[-1]
        if method not in ("generateContent", "streamGenerateContent"):
            return Reply(404, {"error": {"code": 404, "message": f"no method {method}"}})
        call, text = self._turn(gemini_turn(body), entry)
        answer = wire.gemini_answer(model, [{"text": PREAMBLE}, call] if call else [{"text": text}])
        if method == "generateContent":
            return Reply(body=answer)
        return Stream([json.dumps(answer)])

    def _turn(self, turn: Turn, entry: dict[str, Any]) -> Turn:
        """The tool call to make (only ``tools``) and the text to say; noted in ``entry``."""
        call, text = turn
        if call is not None and not self.tools:
            call = None
        if call is None and not text:
            text = self.text
        entry["turn"] = "tool call" if call else text
        return call, text

    def _pieces(self, text: str) -> list[str]:
        if text == self.text and self.pieces is not None:
            return list(self.pieces)
        words = text.split(" ")
        return [word + " " for word in words[:-1]] + words[-1:]


def _family(route: str) -> str | None:
    """Which wire format ``route`` belongs to; ``None`` for a route no provider has."""
    if _GEMINI_PATH.search(route):
        return "gemini"
    if route.endswith(("/messages", "/messages/count_tokens")):
        return "anthropic"
    if route.endswith(("/chat/completions", "/responses", "/models")):
        return "openai"
    return None


def _model_list() -> dict[str, Any]:
    # OpenAI lists under ``data``; Gemini CLI looks for ``models`` and finds none.
    return {"object": "list", "data": [{"id": "fake-model", "object": "model"}], "models": []}


def _text_of(content: Any) -> str:
    """A tool result's text: a string, or a list of text parts / blocks."""
    if isinstance(content, list):
        return "".join(_text_of(part.get("text", part.get("content", ""))) for part in content)
    return "" if content is None else str(content)


def _round_trip(
    body: dict[str, Any], results: list[str], call: Callable[[str], dict[str, Any]]
) -> Turn:
    """``DONE: <the last result>`` once a tool result came back; else ``call(name)`` of the
    shell tool the request offers (text ``""``: the provider's own), or no call at all."""
    if results:
        return None, "DONE: " + results[-1].strip()[:200]
    name = next((name for name in tool_names(body) if name in SHELL_TOOLS), None)
    return (None, "") if name is None else (call(name), "")


def tool_names(body: dict[str, Any]) -> list[str]:
    """The names of the tools a request offers, in any of the four formats."""
    found = []
    for tool in body.get("tools") or []:
        if isinstance(tool, dict) and isinstance(tool.get("functionDeclarations"), list):
            found += [str(d.get("name")) for d in tool["functionDeclarations"]]  # Gemini
        elif isinstance(tool, dict):
            name = tool.get("function", tool).get("name")
            found.append(str(name) if name else f"({tool.get('type')})")
    return found


def chat_turn(body: dict[str, Any]) -> Turn:
    """(the tool call to make, or ``None``; the text to say) for a chat request."""
    messages = [m for m in body.get("messages", []) if isinstance(m, dict)]
    results = [_text_of(m.get("content")) for m in messages if m.get("role") == "tool"]
    return _round_trip(body, results, _chat_call)


def _chat_call(name: str) -> dict[str, Any]:
    return {"id": "call_fake_1", "name": name, "arguments": json.dumps(SHELL_TOOLS[name])}


def anthropic_turn(body: dict[str, Any]) -> Turn:
    """(the ``tool_use`` block to send, or ``None``; the text to say) for a Messages request."""
    blocks = [
        b
        for m in body.get("messages", [])
        if isinstance(m, dict) and isinstance(m.get("content"), list)
        for b in m["content"]
        if isinstance(b, dict)
    ]
    results = [_text_of(b.get("content")) for b in blocks if b.get("type") == "tool_result"]
    return _round_trip(body, results, _tool_use)


def _tool_use(name: str) -> dict[str, Any]:
    return {"type": "tool_use", "id": "toolu_fake_1", "name": name, "input": SHELL_TOOLS[name]}


def gemini_turn(body: dict[str, Any]) -> Turn:
    """(the ``functionCall`` part to send, or ``None``; the text to say) for Gemini."""
    parts = [
        part
        for content in body.get("contents", [])
        if isinstance(content, dict)
        for part in content.get("parts") or []
        if isinstance(part, dict)
    ]
    responses = [
        p["functionResponse"] for p in parts if isinstance(p.get("functionResponse"), dict)
    ]
    return _round_trip(body, [json.dumps(r.get("response")) for r in responses], _function_call)


def _function_call(name: str) -> dict[str, Any]:
    return {"functionCall": {"name": name, "args": SHELL_TOOLS[name]}}
