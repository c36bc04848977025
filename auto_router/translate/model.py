"""The common internal shape every protocol is translated through.

A request, a response and a stream are each described once here; every protocol module
converts its own wire format to and from these. So four protocols need four modules, not
twelve pairwise converters, and a feature one protocol lacks is dropped in exactly one place.

Conventions: ``Request.system`` holds every system/developer instruction; tool results are
parts of a ``user`` message (Chat Completions' ``tool`` messages and Gemini's
``functionResponse`` parts map onto that); tool arguments travel as JSON *text* so a
stream's argument deltas never need parsing. Token counts: ``input`` includes cached
tokens, ``cached`` is the part of ``input`` read from a cache.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

#: Internal finish reasons (Chat Completions' names).
STOP: Final = "stop"
LENGTH: Final = "length"
TOOL_CALLS: Final = "tool_calls"
CONTENT_FILTER: Final = "content_filter"


@dataclass(slots=True)
class Text:
    text: str


@dataclass(slots=True)
class Image:
    """An image: ``url`` (http or data: URL already split) or base64 ``data`` + type."""

    url: str | None = None
    data: str | None = None
    media_type: str | None = None


@dataclass(slots=True)
class ToolCall:
    id: str
    name: str
    #: JSON text (``"{}"`` when empty).
    arguments: str


@dataclass(slots=True)
class ToolResult:
    call_id: str
    content: str
    is_error: bool = False
    #: The called function's name when the protocol carries it (Gemini needs it).
    name: str | None = None


@dataclass(slots=True)
class Thinking:
    text: str
    #: Anthropic's signature: thinking sent back without it is refused there.
    signature: str | None = None
    #: A ``redacted_thinking`` block's opaque ``data`` (``text`` is then empty): replayed
    #: as it came, since a tool loop must send the whole assistant turn back.
    redacted: str | None = None


Part = Text | Image | ToolCall | ToolResult | Thinking


@dataclass(slots=True)
class Message:
    role: str  # "user" or "assistant"
    parts: list[Part]


@dataclass(slots=True)
class Tool:
    name: str
    description: str
    parameters: dict[str, Any]


@dataclass(slots=True)
class Request:
    model: str | None = None
    system: str | None = None
    messages: list[Message] = field(default_factory=list)
    tools: list[Tool] = field(default_factory=list)
    #: "auto", "none", "required" or "tool" (then ``tool_name``); ``None``: not given.
    tool_choice: str | None = None
    tool_name: str | None = None
    parallel_tool_calls: bool | None = None
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    stop: list[str] = field(default_factory=list)
    stream: bool = False
    #: "low" / "medium" / "high" (OpenAI) ...
    reasoning_effort: str | None = None
    #: ... or a token budget (Anthropic, Gemini); either side converts from the other.
    reasoning_budget: int | None = None
    #: Client fields no target can carry: logged by the bridge.
    dropped: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Usage:
    input: int | None = None
    output: int | None = None
    cached: int | None = None
    reasoning: int | None = None


@dataclass(slots=True)
class Response:
    id: str
    model: str
    parts: list[Part]
    finish: str = STOP
    usage: Usage = field(default_factory=Usage)


# ------------------------------------------------------------------ stream events


@dataclass(slots=True)
class Start:
    id: str | None = None
    model: str | None = None


@dataclass(slots=True)
class TextDelta:
    text: str


@dataclass(slots=True)
class ThinkingDelta:
    text: str
    signature: str | None = None


@dataclass(slots=True)
class ToolStart:
    #: 0, 1, 2... in the order the calls start.
    index: int
    id: str
    name: str


@dataclass(slots=True)
class ToolDelta:
    index: int
    arguments: str


@dataclass(slots=True)
class UsageUpdate:
    usage: Usage


@dataclass(slots=True)
class Finish:
    reason: str


@dataclass(slots=True)
class StreamError:
    message: str


Event = (
    Start | TextDelta | ThinkingDelta | ToolStart | ToolDelta | UsageUpdate | Finish | StreamError
)


def effort_to_budget(effort: str | None) -> int | None:
    """OpenAI's effort as a thinking budget (Anthropic's minimum is 1,024 tokens)."""
    return {"minimal": 1024, "low": 2048, "medium": 8192, "high": 24576}.get(effort or "")


def budget_to_effort(budget: int | None) -> str | None:
    if budget is None:
        return None
    if budget <= 0:
        return "minimal"
    return "low" if budget < 4096 else "medium" if budget < 16384 else "high"


def merge_usage(into: Usage, new: Usage) -> None:
    """Fill ``into`` with whatever ``new`` knows (streams report usage piecemeal)."""
    if new.input is not None:
        into.input = new.input
    if new.output is not None:
        into.output = new.output
    if new.cached is not None:
        into.cached = new.cached
    if new.reasoning is not None:
        into.reasoning = new.reasoning
