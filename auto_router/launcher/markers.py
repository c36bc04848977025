"""Usage-limit markers and the scanner that finds them in a child's output.

A marker is written as text in three forms:

- ``quota exceeded``: a plain string, found anywhere in a line (case-insensitive);
- ``re:rate.?limit``: a regular expression (case-insensitive), searched in each line;
- ``json:{"api_error_status": 429}`` (or any text starting with ``{``): a JSON subset, matched
  against every JSON object the child printed (one per line, or the whole output as one
  document); it matches when some object, at any depth, holds every key of the marker with
  an equal value (strings compare case-insensitively; a string value ``re:...`` is a regex).

Output is matched after ANSI escape sequences are removed, with ``\\r`` treated as a line break
and the curly apostrophe folded into a straight one.

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
import re
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

#: How many of the last output lines count as "final" for the false-positive guard.
FINAL_LINES: Final = 5
#: How much of each stream is kept for whole-document JSON matching.
JSON_DOCUMENT_LIMIT: Final = 2 * 1024 * 1024

# CSI (ESC [ ... final), OSC (ESC ] ... BEL or ST), other two-byte escapes, and lone C1 CSI.
_ANSI: Final = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)"
    r"|\x1b[PX^_][^\x1b]*\x1b\\"
    r"|\x1b[@-Z\\-_]"
    r"|\x9b[0-?]*[ -/]*[@-~]"
)
_CONTROL: Final = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_APOSTROPHES: Final = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'"})

#: Prefix of an agent's own error line: start of line, a little decoration (box drawing,
#: bullets, a bracketed timestamp) and an optional ``ERROR:``-like tag.
SHAPE_PREFIX: Final = (
    r"^[^\w\n]{0,12}(?:(?:\[[^\]\n]{0,40}\]|error|warn(?:ing)?|stream error)[\s:]*){0,3}"
)


def strip_ansi(text: str) -> str:
    """Remove escape sequences and control characters (tabs and newlines stay)."""
    return _CONTROL.sub("", _ANSI.sub("", text))


def normalize(text: str) -> str:
    return text.translate(_APOSTROPHES)


@dataclass(frozen=True)
class Marker:
    """One way a usage limit shows in output. ``shape`` markers count wherever they appear."""

    text: str
    shape: bool = False
    #: What history and notices show (default: the text itself).
    name: str | None = None
    kind: str = field(init=False)
    _regex: re.Pattern[str] | None = field(init=False, repr=False, compare=False)
    _json: Any = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        text = self.text
        kind, regex, subset = "text", None, None
        if text.startswith("re:"):
            kind = "regex"
            regex = re.compile(normalize(text[3:]), re.IGNORECASE | re.MULTILINE)
        elif text.startswith("json:") or text.lstrip().startswith("{"):
            kind = "json"
            subset = json.loads(text[5:] if text.startswith("json:") else text)
            if not isinstance(subset, dict) or not subset:
                raise ValueError("a JSON marker must be a non-empty object")
        object.__setattr__(self, "kind", kind)
        object.__setattr__(self, "_regex", regex)
        object.__setattr__(self, "_json", subset)
        if kind == "json":
            object.__setattr__(self, "shape", True)

    @property
    def label(self) -> str:
        """What history and notices show for this marker."""
        return self.name or self.text

    def search_line(self, line: str) -> bool:
        """Does this (ANSI-stripped, normalized) line show the marker? JSON markers also try
        the line as a JSON document."""
        if self.kind == "text":
            return normalize(self.text).casefold() in line.casefold()
        if self.kind == "regex":
            assert self._regex is not None
            return self._regex.search(line) is not None
        stripped = line.strip()
        if not stripped.startswith(("{", "[")):
            return False
        try:
            document = json.loads(stripped)
        except ValueError:
            return False
        return self.matches_document(document)

    def matches_document(self, document: Any) -> bool:
        return self.kind == "json" and _contains_subset(document, self._json)


def parse_marker(text: str, *, shape: bool = False) -> Marker:
    """A marker from configuration text; raises ``ValueError`` with what is wrong."""
    if not text.strip():
        raise ValueError("a usage marker cannot be empty")
    try:
        return Marker(text, shape=shape)
    except re.error as exc:
        raise ValueError(f"invalid regular expression in marker {text!r}: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise ValueError(f"invalid JSON in marker {text!r}: {exc}") from exc


def shape(pattern: str, name: str | None = None) -> Marker:
    """An agent's own error line: ``pattern`` (a regex) at the start of a line."""
    label = name or re.sub(r"\\(.)", r"\1", pattern)
    return Marker("re:" + SHAPE_PREFIX + pattern, shape=True, name=f"{label} (error line)")


def combine(
    agent_markers: Sequence[Marker], extra: Iterable[str], *, replace: bool = False
) -> tuple[Marker, ...]:
    """The agent's markers extended (or replaced) by a backend's ``usage_markers``."""
    configured = tuple(parse_marker(text) for text in extra)
    return configured if replace else (*agent_markers, *configured)


def _contains_subset(document: Any, subset: Mapping[str, Any]) -> bool:
    """True when ``document`` or any object nested in it holds ``subset``."""
    if isinstance(document, dict):
        if _object_matches(document, subset):
            return True
        return any(_contains_subset(v, subset) for v in document.values())
    if isinstance(document, list):
        return any(_contains_subset(v, subset) for v in document)
    return False


def _object_matches(obj: Mapping[str, Any], subset: Mapping[str, Any]) -> bool:
    for key, expected in subset.items():
        if key not in obj or not _value_matches(obj[key], expected):
            return False
    return True


def _value_matches(actual: Any, expected: Any) -> bool:
    if isinstance(expected, dict):
        return isinstance(actual, dict) and _object_matches(actual, expected)
    if isinstance(expected, str):
        if expected.startswith("re:"):
            return isinstance(actual, str) and re.search(expected[3:], actual, re.I) is not None
        if isinstance(actual, str):
            return normalize(actual).casefold() == normalize(expected).casefold()
        # "429" in a marker matches 429 in the output, and the other way round.
        return (
            isinstance(actual, int | float)
            and not isinstance(actual, bool)
            and (str(actual) == expected)
        )
    if isinstance(expected, bool) or expected is None:
        return actual is expected
    if isinstance(expected, int | float):
        if isinstance(actual, str):
            return actual.strip() == str(expected)
        return not isinstance(actual, bool) and actual == expected
    if isinstance(expected, list):
        return isinstance(actual, list) and all(
            any(_value_matches(a, e) for a in actual) for e in expected
        )
    return bool(actual == expected)


# --------------------------------------------------------------------------- scanning


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
