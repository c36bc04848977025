"""The scanner that finds usage-limit markers in a child's output, line by line.

The markers themselves (what a usage limit looks like, in text, regex or JSON form) belong to
the agents: ``auto_router.limits.markers``. They are re-exported here for convenience.
Output is matched after ANSI escape sequences are removed, with ``\\r`` treated as a line break
(a spinner's bare ``\\r`` ends a line too) and the curly apostrophe folded into a straight one.

False positives are the danger: an agent that prints a file mentioning "rate limit" must not
trigger a rotation. So a match only counts as a usage limit when

- the marker is an error *shape* of the agent (``Marker.shape``: its own error line, anchored at
  the start of a line, or a JSON marker), or
- the child exited with a non-zero status, or
- the match is in the last ``FINAL_LINES`` lines of output.
"""

from __future__ import annotations

import codecs
import json
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from .markers import (
    JSON_DOCUMENT_LIMIT,
    SHAPE_PREFIX,
    Marker,
    combine,
    normalize,
    parse_marker,
    shape,
    strip_ansi,
)

__all__ = [
    "FINAL_LINES",
    "JSON_DOCUMENT_LIMIT",
    "SHAPE_PREFIX",
    "Detection",
    "Hit",
    "Marker",
    "OutputScanner",
    "combine",
    "normalize",
    "parse_marker",
    "shape",
    "strip_ansi",
]

#: How many of the last output lines count as "final" for the false-positive guard.
FINAL_LINES: Final = 5


@dataclass(frozen=True)
class Hit:
    marker: Marker
    line_number: int
    line: str


@dataclass(frozen=True)
class Detection:
    """The verdict on one attempt's output."""

    limit: bool
    marker: str | None = None
    line: str | None = None
    #: Why the match counted: "shape", "exit-status" or "final-lines".
    reason: str | None = None


class _Stream:
    def __init__(self) -> None:
        self.decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self.partial = ""
        self.document: list[str] = []
        self.document_size = 0
        self.overflow = False


class OutputScanner:
    """Fed with a copy of the child's output as it arrives; finds markers line by line.

    Keeps only what the verdict needs: the hits, the last lines, the lines that may carry a
    reset time, and (bounded) each stream's text for whole-document JSON markers.
    """

    def __init__(self, markers: Sequence[Marker], *, final_lines: int = FINAL_LINES) -> None:
        self.markers = tuple(markers)
        self._json_markers = tuple(m for m in self.markers if m.kind == "json")
        self._streams: dict[str, _Stream] = {}
        self.line_count = 0
        self.hits: list[Hit] = []
        self._final: deque[int] = deque(maxlen=final_lines)
        self.tail: deque[str] = deque(maxlen=200)
        self._finished = False

    def feed(self, data: bytes, stream: str = "stdout") -> None:
        state = self._streams.setdefault(stream, _Stream())
        text = state.decoder.decode(data)
        self._collect(state, text)
        self._split(state, text)

    def finish(self) -> None:
        if self._finished:
            return
        self._finished = True
        for state in self._streams.values():
            rest = state.decoder.decode(b"", final=True)
            self._collect(state, rest)
            self._split(state, rest)
            if state.partial:
                self._line(state.partial)
                state.partial = ""
        self._match_documents()

    def verdict(self, exit_code: int | None) -> Detection:
        """Whether the output shows a usage limit, applying the false-positive guards."""
        self.finish()
        final = set(self._final)
        best: Detection | None = None
        for hit in reversed(self.hits):  # the latest evidence first
            if hit.marker.shape:
                reason = "shape"
            elif exit_code not in (0, None):
                reason = "exit-status"
            elif hit.line_number in final:
                reason = "final-lines"
            else:
                continue
            detection = Detection(True, hit.marker.label, hit.line[:500], reason)
            if reason == "shape":
                return detection
            best = best or detection
        return best or Detection(False)

    def text_tail(self) -> list[str]:
        return list(self.tail)

    # ------------------------------------------------------------------ internals

    def _collect(self, state: _Stream, text: str) -> None:
        if not self._json_markers or state.overflow or not text:
            return
        state.document_size += len(text)
        if state.document_size > JSON_DOCUMENT_LIMIT:
            state.overflow = True
            state.document.clear()
            return
        state.document.append(text)

    def _split(self, state: _Stream, text: str) -> None:
        if not text:
            return
        buffer = state.partial + text.replace("\r\n", "\n").replace("\r", "\n")
        *lines, state.partial = buffer.split("\n")
        for line in lines:
            self._line(line)
        if len(state.partial) > 64 * 1024:  # a runaway line: judge what we have
            self._line(state.partial)
            state.partial = ""

    def _line(self, raw: str) -> None:
        line = normalize(strip_ansi(raw))
        if not line.strip():
            return
        self.line_count += 1
        number = self.line_count
        self._final.append(number)
        self.tail.append(line)
        for marker in self.markers:
            if marker.search_line(line):
                self.hits.append(Hit(marker, number, line.strip()))

    def _match_documents(self) -> None:
        for state in self._streams.values():
            if state.overflow or not state.document:
                continue
            text = strip_ansi("".join(state.document)).strip()
            if not text.startswith(("{", "[")) or "\n" not in text:
                continue  # single-line documents were already tried line by line
            try:
                document = json.loads(text)
            except ValueError:
                continue
            for marker in self._json_markers:
                if marker.matches_document(document) and not any(
                    h.marker is marker for h in self.hits
                ):
                    self.hits.append(Hit(marker, self.line_count, text[:200]))
