"""Reading SSE streams just enough to tell a whole answer from a broken one, and to continue
a broken one on another provider.

The relay must stay cheap: it never parses JSON per chunk. It cuts the stream at event
boundaries (so a client never gets half an event followed by an error), checks that each
``data:`` line looks like one whole JSON value (dropping, and logging, an event that does
not: issue 18), and keeps the chunks it sent. Only when a stream breaks are the sent events
parsed, to recover the partial answer. Every step is linear in the stream's length, however
the socket cuts it (``Head``, ``Framer``).

Continuation works for OpenAI chat completions and Anthropic messages: the next provider
gets the original request plus the partial text as a trailing assistant message (a
"prefill"), and its events are relayed as the rest of the same answer.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Final

import structlog

log = structlog.get_logger("auto_router.proxy")

_DONE: Final = b"[DONE]"
_FINISHED: Final = re.compile(rb'"finish_reason"\s*:\s*"')
_INDEX: Final = re.compile(rb'"index"\s*:\s*(\d+)')
#: The endpoints whose streams the relay frames, checks and may continue.
CHAT: Final = "chat"
MESSAGES: Final = "messages"
CONTINUABLE: Final = frozenset({CHAT, MESSAGES})


def first_event_in(head: bytes) -> bool:
    """Whether ``head`` holds a whole first event with content (not only pings/comments)."""
    end = _boundary(head)
    if end < 0:
        return False
    # The lines that start with ``data:`` (at 0 or after a CR or LF, as splitlines cuts),
    # found by C-level searches instead of splitting the whole head into lines.
    start = 0 if head.startswith(b"data:") else _data_line(head, 0, end)
    while 0 <= start < end:
        stop = _line_end(head, start, end)
        if b'"ping"' not in head[start:stop]:
            return True
        start = _data_line(head, stop, end)
    return False


class Head:
    """A stream's head, read chunk by chunk until its first event with content.

    Linear in the head's length, however it is cut or padded: a chunk is looked at only
    when it brings a blank line, and then only the events not looked at before are (a
    head of endless pings, or one long first event, would otherwise be joined and searched
    again for every chunk: quadratic).
    """

    __slots__ = ("_checked", "_open")

    def __init__(self) -> None:
        self._checked: list[bytes] = []  # whole events already looked at: pings, comments
        self._open: list[bytes] = []  # after the last blank line

    def add(self, chunk: bytes) -> bool:
        """Keep ``chunk``; whether the head now holds a whole first event with content."""
        opened = self._open
        if opened and not _may_end(opened, chunk):
            opened.append(chunk)
            return False
        opened.append(chunk)
        data = b"".join(opened) if len(opened) > 1 else chunk
        if first_event_in(data):  # the usual head: one chunk, its first event whole
            return True
        end = _boundary(data)
        if end < 0:  # a CR or LF, but no blank line yet
            self._open = [data]
            return False
        self._checked.append(data[:end])
        self._open = [data[end:]] if end < len(data) else []
        return False

    def bytes(self) -> bytes:
        if not self._checked and len(self._open) == 1:
            return self._open[0]
        return b"".join(self._checked + self._open)


def _may_end(parts: list[bytes], chunk: bytes) -> bool:
    """Whether ``chunk``, after the bytes held in ``parts``, may end an event. A chunk
    without a CR or LF cannot (one ``memchr`` each: 100 times faster than looking for the
    blank line itself); else the blank line is looked for in it and where it meets them."""
    if b"\n" not in chunk and b"\r" not in chunk:
        return False
    return _boundary(chunk) >= 0 or _boundary(_tail(parts) + chunk[:3]) >= 0


def _tail(parts: list[bytes]) -> bytes:
    """The last three bytes held (where a blank line may straddle into the next chunk)."""
    if not parts:
        return b""
    tail = parts[-1][-3:]
    return tail if len(tail) == 3 else b"".join(parts[-3:])[-3:]


def _data_line(data: bytes, start: int, end: int) -> int:
    """Where the next line starting with ``data:`` begins (-1: none before ``end``)."""
    found = _DATA_LINE.search(data, start, end)
    return found.end() - 5 if found else -1


def _line_end(data: bytes, start: int, end: int) -> int:
    """The end of the line at ``start`` (a CR or LF, as ``splitlines`` cuts; else ``end``)."""
    lf = data.find(b"\n", start, end)
    stop = end if lf < 0 else lf
    cr = data.find(b"\r", start, stop)  # looked for only before the LF: no long scan
    return stop if cr < 0 else cr


def _boundary(data: bytes) -> int:
    """The end of the last whole event in ``data`` (-1: none)."""
    if data.endswith(b"\n\n"):  # the usual chunk; spares a scan for a CRLF boundary
        return len(data)
    lf = data.rfind(b"\n\n")
    crlf = data.rfind(b"\r\n\r\n")
    return max(lf + 2 if lf >= 0 else -1, crlf + 4 if crlf >= 0 else -1)


#: A ``data:`` line that is not ``[DONE]`` nor one whole JSON object or array. One search
#: per chunk, no JSON parsing: ``_BAD_NEXT`` starts with the literal ``\ndata:``, which the
#: regex engine finds by a fast scan (a ``^`` under ``re.M`` is tried at every byte: ~50 us
#: for a 20-event chunk), and ``_BAD_FIRST`` checks a chunk's first line.
_GOOD: Final = rb"(?!\r?$|\[DONE\][ \t]*\r?$|\{.*\}[ \t]*\r?$|\[.*\][ \t]*\r?$)"
_BAD_FIRST: Final = re.compile(rb"data:[ \t]*+" + _GOOD, re.M)
_BAD_NEXT: Final = re.compile(rb"\ndata:[ \t]*+" + _GOOD, re.M)
_DATA_LINE: Final = re.compile(rb"[\r\n]data:")
#: Splits whole events after their blank line (LF or CRLF), the blank line kept.
_EVENT_END: Final = re.compile(rb"(?<=\n\n)|(?<=\n\r\n)")


def malformed(events: bytes) -> bool:
    """Whether a ``data:`` line is not one whole JSON value (cheap: no parsing)."""
    return _BAD_FIRST.match(events) is not None or _BAD_NEXT.search(events) is not None


def malformed_head(head: bytes) -> bool:
    """``malformed`` for a stream's head: its whole events only. The bytes after its last
    blank line are an event still coming (a chunk cut it), whole only with the next chunk."""
    if head.endswith(b"\n\n"):
        return malformed(head)
    end = _boundary(head)
    return malformed(head[:end] if end >= 0 else head)


class Framer:
    """Cuts a byte stream at event boundaries and checks each whole event on the way.

    An event cut across chunks is kept as its parts and joined once, when its blank line
    comes: joining (and searching) the whole held part for every chunk would make one long
    event cost time quadratic in its length (issue 18: 256 MiB took 63 s). The upstream
    client's ``Meter`` caps how long it may grow. A malformed event is dropped and logged
    (``drop_malformed``): a careful client skips it too, and the rest of the answer comes.
    """

    __slots__ = ("_parts", "skipped")

    def __init__(self, head: bytes = b"") -> None:
        end = _boundary(head)
        rest = head[end:] if end >= 0 else head
        self._parts: list[bytes] = [rest] if rest else []
        #: How many malformed events were dropped.
        self.skipped = 0

    @property
    def pending(self) -> bytes:
        """The bytes of an event not yet whole."""
        return b"".join(self._parts)

    def feed(self, chunk: bytes) -> bytes:
        """The whole events now complete (maybe ``b""``), malformed ones left out."""
        if not self._parts and chunk.endswith(b"\n\n"):  # the usual chunk: whole events
            return self._checked(chunk) if malformed(chunk) else chunk
        return self._feed(chunk)

    def _feed(self, chunk: bytes) -> bytes:
        parts = self._parts
        if parts:
            if not _may_end(parts, chunk):
                parts.append(chunk)  # still inside the same event
                return b""
            parts.append(chunk)
            data = b"".join(parts)
            parts.clear()
        else:
            data = chunk
        if data.endswith(b"\n\n"):  # the usual chunk: whole events, nothing to keep
            whole = data
        else:
            end = _boundary(data)
            if end < 0:
                parts.append(data)
                return b""
            whole = data[:end]
            if end < len(data):
                parts.append(data[end:])
        return self._checked(whole) if malformed(whole) else whole

    def _checked(self, events: bytes) -> bytes:
        kept, dropped = drop_malformed(events)
        self.skipped += dropped
        return kept


def drop_malformed(events: bytes) -> tuple[bytes, int]:
    """``events`` without the malformed ones, and how many went (each logged, its start
    only, redacted by the log's own processor). Runs only for a chunk ``malformed`` flagged."""
    kept: list[bytes] = []
    dropped = 0
    for block in _EVENT_END.split(events):
        if not block:
            continue
        if malformed(block):
            dropped += 1
            log.warning("upstream sent a malformed event: skipped", data=_preview(block))
        else:
            kept.append(block)
    return b"".join(kept), dropped


def _preview(block: bytes) -> str:
    return block[:200].decode("utf-8", "replace") + ("…" if len(block) > 200 else "")


def finished(endpoint: str, tail: bytes) -> bool:
    """Whether a stream that ended cleanly carried a whole answer (not a truncated one)."""
    # ``rfind``: the final event is at the end, so the search stops at once.
    if endpoint == CHAT:
        return tail.rfind(_DONE) >= 0 or _FINISHED.search(tail) is not None
    if endpoint == MESSAGES:
        return tail.rfind(b"message_stop") >= 0
    return True


def needs_done(endpoint: str, tail: bytes) -> bool:
    """A chat stream that finished without ``[DONE]``: the proxy adds it, as clients expect."""
    return endpoint == CHAT and tail.rfind(_DONE) < 0


def _events(sent: bytes) -> list[dict[str, Any]]:
    found = []
    for line in sent.splitlines():
        if line.startswith(b"data:"):
            try:
                value = json.loads(line[5:])
            except ValueError:
                continue
            if isinstance(value, dict):
                found.append(value)
    return found


@dataclass(frozen=True, slots=True)
class Partial:
    """What the client already has of a broken answer."""

    text: str
    #: Anthropic: the index of the text block still open (``None``: none is open).
    open_block: int | None = None
    #: Anthropic: how many content blocks were started.
    blocks: int = 0


def partial_answer(endpoint: str, sent: bytes) -> Partial | None:
    """The text the client got so far; ``None`` when the stream cannot be continued (tool
    calls, several choices, thinking blocks, or no text at all)."""
    events = _events(sent)
    if endpoint == CHAT:
        return _partial_chat(events)
    if endpoint == MESSAGES:
        return _partial_messages(events)
    return None


def _partial_chat(events: list[dict[str, Any]]) -> Partial | None:
    text: list[str] = []
    for event in events:
        for choice in event.get("choices") or ():
            if not isinstance(choice, dict) or choice.get("index", 0) != 0:
                return None
            delta = choice.get("delta") or {}
            if delta.get("tool_calls") or delta.get("function_call"):
                return None
            if isinstance(delta.get("content"), str):
                text.append(delta["content"])
    joined = "".join(text)
    return Partial(joined) if joined else None


def _partial_messages(events: list[dict[str, Any]]) -> Partial | None:
    text: list[str] = []
    open_block: int | None = None
    blocks = 0
    for event in events:
        kind = event.get("type")
        if kind == "content_block_start":
            block = event.get("content_block") or {}
            if block.get("type") != "text":
                return None  # tool use, thinking: not continued
            open_block, blocks = event.get("index", blocks), blocks + 1
            text.append(block.get("text") or "")
        elif kind == "content_block_delta":
            delta = event.get("delta") or {}
            if delta.get("type") != "text_delta":
                return None
            text.append(delta.get("text") or "")
        elif kind == "content_block_stop":
            open_block = None
    joined = "".join(text)
    return Partial(joined, open_block, blocks) if joined.strip() else None


def prefill_body(data: dict[str, Any], partial: Partial) -> dict[str, Any]:
    """The original request plus the partial answer as a trailing assistant message."""
    # Anthropic refuses a prefill that ends in whitespace; the continuation supplies it.
    text = partial.text.rstrip()
    messages = [*data.get("messages", ()), {"role": "assistant", "content": text}]
    return {**data, "messages": messages}


class Continuation:
    """Rewrites a continuation's events so the client sees one answer, not two.

    OpenAI chat chunks pass as they are (a second ``role`` delta is harmless). Anthropic's
    ``message_start`` and ``ping`` are dropped, the first text block is merged into the one
    left open (or numbered after the ones sent), and later block indexes follow on.
    """

    __slots__ = ("_endpoint", "_merge", "_offset")

    def __init__(self, endpoint: str, partial: Partial) -> None:
        self._endpoint = endpoint
        self._merge = partial.open_block is not None
        self._offset = partial.open_block if partial.open_block is not None else partial.blocks

    def rewrite(self, events: bytes) -> bytes:
        if self._endpoint != MESSAGES or not events:
            return events
        out: list[bytes] = []
        for block in re.split(rb"(?<=\n\n)", events):
            if not block:
                continue
            if b'"message_start"' in block or b'"ping"' in block:
                continue
            if self._merge and b'"content_block_start"' in block and _index(block) == 0:
                continue
            if self._offset:
                block = _INDEX.sub(
                    lambda m: b'"index":' + str(int(m.group(1)) + self._offset).encode(), block, 1
                )
            out.append(block)
        return b"".join(out)


def _index(block: bytes) -> int | None:
    found = _INDEX.search(block)
    return int(found.group(1)) if found else None
