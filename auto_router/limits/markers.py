"""Usage-limit markers: what a usage limit looks like in an agent's output.

A marker is written as text in three forms:

- ``quota exceeded``: a plain string, found anywhere in a line (case-insensitive);
- ``re:rate.?limit``: a regular expression (case-insensitive), searched in each line;
- ``json:{"api_error_status": 429}`` (or any text starting with ``{``): a JSON subset, matched
  against every JSON object the child printed (one per line, or the whole output as one
  document); it matches when some object, at any depth, holds every key of the marker with
  an equal value (strings compare case-insensitively; a string value ``re:...`` is a regex).

A *shape* marker is one of the agent's own error lines (anchored at the start of a line) or a
JSON marker: it counts wherever it appears. The scanner that applies markers to a child's
output, with the false-positive guards, is the launcher's (``auto_router.limits.scanner``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

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
