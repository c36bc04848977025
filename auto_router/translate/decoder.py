"""What the three upstream stream decoders share: SSE framing, one JSON object per event,
and the end of the stream (``feed``/``close``, written once).

A protocol's decoder (``chat_stream``, ``anthropic_stream``, ``gemini_stream``) only reads
the objects: ``_object`` turns one decoded event into internal events, ``_not_json`` sees
the data that is not JSON (Chat's ``[DONE]``), ``_reason`` names the finish of a stream
that ends without saying how. Translated streams pass through here once per upstream chunk,
so the path stays one loop and one ``json.loads`` per event.
"""

from __future__ import annotations

import json
from typing import Any

from .model import STOP, Event, Finish, StreamError
from .sse import SSEParser


class BaseDecoder:
    """Upstream SSE chunks -> internal events; the stream ends once (a finish or an error)."""

    def __init__(self) -> None:
        self._sse = SSEParser()
        self._done = False
        #: The finish reason the upstream named so far (``None``: not yet).
        self._finish: str | None = None

    def feed(self, chunk: bytes) -> list[Event]:
        events: list[Event] = []
        for _, data in self._sse.feed(chunk):
            self._data(data, events)
        return events

    def close(self) -> list[Event]:
        """The events of an unterminated last SSE event, then the finish if none came."""
        events: list[Event] = []
        for _, data in self._sse.close():
            self._data(data, events)
        if not self._done:
            self._end(events)
        return events

    def _data(self, data: str, events: list[Event]) -> None:
        if self._done:
            return  # nothing after the end counts
        try:
            decoded = json.loads(data)
        except ValueError:
            self._not_json(data, events)
            return
        if isinstance(decoded, dict):
            self._object(decoded, events)

    def _end(self, events: list[Event]) -> None:
        self._done = True
        events.append(Finish(self._reason()))

    def _fail(self, events: list[Event], message: str) -> None:
        self._done = True
        events.append(StreamError(message))

    def _reason(self) -> str:
        return self._finish or STOP

    def _not_json(self, data: str, events: list[Event]) -> None:
        """Data that is not JSON is skipped (a keep-alive, a comment a server invented)."""

    def _object(self, data: dict[str, Any], events: list[Event]) -> None:
        raise NotImplementedError
