"""What the stream transducers share: each decoder's ``feed``/``close`` and each encoder's
``encode`` loop, written once.

A decoder (``chat_stream``, ``anthropic_stream``, ``gemini_stream``) turns upstream SSE
into internal events. It only reads the objects: ``_object`` turns one decoded event into
internal events, ``_end_data`` names the data that ends a stream (Chat's ``[DONE]``), and
``_reason`` the finish of a stream that ends without saying how.

An encoder (those three and ``responses_stream``) turns internal events into a client's
bytes. It writes one method per event kind (``_text``, ``_thinking``, ``_tool_start``,
``_tool_delta``, ``_finish``, ``_error``) and, where its protocol opens with something,
``_begin``; the usage is gathered here, and nothing is written after the end.

Translated streams pass through here once per upstream chunk: one loop, one ``json.loads``
per event, one dictionary lookup per event.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, ClassVar, Final

from .model import (
    STOP,
    Event,
    Finish,
    Start,
    StreamError,
    TextDelta,
    ThinkingDelta,
    ToolDelta,
    ToolStart,
    Usage,
    UsageUpdate,
    merge_usage,
)
from .sse import SSEParser


class BaseDecoder:
    """Upstream SSE chunks -> internal events; the stream ends once (a finish or an error)."""

    #: The data that ends the stream and is not JSON (Chat's ``[DONE]``), if there is one.
    _end_data: ClassVar[str | None] = None

    def __init__(self) -> None:
        self._sse = SSEParser()
        self._done = False
        #: The finish reason the upstream named so far (``None``: not yet).
        self._finish: str | None = None
        #: Events with data that was not a JSON object, or nested too deep: skipped.
        self.skipped = 0

    def feed(self, chunk: bytes) -> list[Event]:
        return self._decode(self._sse.feed(chunk))

    def close(self) -> list[Event]:
        """The events of an unterminated last SSE event, then the finish if none came."""
        events = self._decode(self._sse.close())
        if not self._done:
            self._end(events)
        return events

    def _decode(self, pairs: list[tuple[str | None, str]]) -> list[Event]:
        # One loop per chunk, one protocol call per event: this runs for every chunk.
        events: list[Event] = []
        end = self._end_data
        for _, data in pairs:
            if self._done:
                break  # nothing after the end counts
            # Before json.loads: its error for "[DONE]" costs more than the whole check.
            if end is not None and data.strip() == end:
                self._end(events)
                break
            try:
                decoded = json.loads(data)
                if isinstance(decoded, dict):
                    self._object(decoded, events)
            except (ValueError, RecursionError):
                # Not JSON (a keep-alive, a comment a server invented), or nested deeper
                # than the parser goes: skipped, as a careful client skips it (issue 18).
                if data.strip():
                    self.skipped += 1
        return events

    def _end(self, events: list[Event]) -> None:
        self._done = True
        events.append(Finish(self._reason()))

    def _fail(self, events: list[Event], message: str) -> None:
        self._done = True
        events.append(StreamError(message))

    def _reason(self) -> str:
        return self._finish or STOP

    def _object(self, data: dict[str, Any], events: list[Event]) -> None:
        raise NotImplementedError


#: Event class -> the name of the encoder method that writes it.
_WRITERS: Final = {
    Start: "_on_start",
    TextDelta: "_text",
    ThinkingDelta: "_thinking",
    ToolStart: "_tool_start",
    ToolDelta: "_tool_delta",
    UsageUpdate: "_on_usage",
    Finish: "_on_finish",
    StreamError: "_on_error",
}


class BaseEncoder:
    """Internal events -> a client protocol's bytes; nothing after a finish or an error."""

    #: Event class -> the method that writes it (one lookup per event, no isinstance chain).
    _writers: ClassVar[dict[type, Callable[[Any, Any], bytes]]]
    #: Written by each protocol (as are ``_text``, ``_thinking``, ``_tool_start``, ``_tool_delta``).
    _finish: Callable[[str], bytes]
    _error: Callable[[str], bytes]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # A protocol that lacks one of the writers fails here, at import.
        cls._writers = {kind: getattr(cls, name) for kind, name in _WRITERS.items()}

    def __init__(self) -> None:
        self._started = False
        self._done = False
        #: The usage gathered so far (streams report it piecemeal).
        self._usage = Usage()

    def encode(self, events: list[Event]) -> bytes:
        out: list[bytes] = []
        writers = self._writers
        for event in events:
            if self._done:
                break
            if not self._started and not isinstance(event, StreamError):
                self._started = True
                out.append(self._begin(event))
            out.append(writers[type(event)](self, event))
        return b"".join(out)

    def _begin(self, event: Event) -> bytes:
        """What the protocol writes before the first event (an error comes without it)."""
        return b""

    def _on_start(self, event: Start) -> bytes:
        return b""

    def _on_usage(self, event: UsageUpdate) -> bytes:
        merge_usage(self._usage, event.usage)
        return b""

    def _on_finish(self, event: Finish) -> bytes:
        self._done = True
        return self._finish(event.reason)

    def _on_error(self, event: StreamError) -> bytes:
        self._done = True
        return self._error(event.message)
