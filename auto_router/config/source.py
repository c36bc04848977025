"""Reading TOML files for the config loader: parse errors with line and column, key locations.

Reading uses ``tomli`` (plain dicts; its compiled wheels parse about 3x faster than the
standard library's ``tomllib``, the same parser in pure Python); editing uses tomlkit
(``editing``). This module also finds the line a table or key is on, so validation errors can
point into the file even though parsed values carry no positions. Header positions are indexed
in one pass (key positions only when a problem is reported), so N providers cost O(N).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Final

import tomli

from ..errors import ConfigSyntaxError
from .filesafety import read_text, reject_bom

_POSITION = re.compile(r"\(at line (\d+), column (\d+)\)")
_END = re.compile(r"\(at end of document\)")
_HEADER = re.compile(r"^\s*\[\[?\s*(.+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(r"""^\s*("[^"]*"|'[^']*'|[A-Za-z0-9_.\-" ']+?)\s*=""")
#: Deeper nesting than this is refused: no configuration needs it, and deeper values would
#: reach Python's recursion limit in the code that walks them.
MAX_DEPTH: Final = 64

Key = tuple[str, ...]


@dataclass(frozen=True)
class TomlSource:
    """A parsed file with its text, so positions can be looked up later."""

    path: Path
    text: str
    data: dict[str, Any]

    @cached_property
    def _headers(self) -> dict[Key, int]:
        """First line of each table header (needed for every provider: built once)."""
        headers: dict[Key, int] = {}
        for number, line in enumerate(self.text.splitlines(), start=1):
            if "[" in line and (header := _HEADER.match(line)) and not _KEY.match(line):
                headers.setdefault(split_dotted(header.group(1)), number)
        return headers

    @cached_property
    def _keys(self) -> dict[Key, int]:
        """First line of each full key path (only needed to report a problem: built lazily)."""
        keys: dict[Key, int] = {}
        current: Key = ()
        for number, line in enumerate(self.text.splitlines(), start=1):
            found = _KEY.match(line)
            if found:
                keys.setdefault(current + split_dotted(found.group(1)), number)
            elif "[" in line and (header := _HEADER.match(line)):
                current = split_dotted(header.group(1))
        return keys

    def line_of(self, table: Key, key: str | None = None) -> int | None:
        """1-based line of ``key`` inside ``[table]`` (or of the header itself), if found."""
        if key is None:
            return self._headers.get(table)
        full = (*table, key)
        # A key that is itself a table: point at its header; else at the enclosing header.
        return self._keys.get(full) or self._headers.get(full) or self._headers.get(table)


def split_dotted(key: str) -> Key:
    """``a."b.c".d`` -> ``("a", "b.c", "d")``."""
    if '"' not in key and "'" not in key:
        return tuple(part.strip() for part in key.split("."))
    parts: list[str] = []
    buf = ""
    quote: str | None = None
    for char in key:
        if quote:
            if char == quote:
                quote = None
            else:
                buf += char
        elif char in "\"'":
            quote = char
        elif char == ".":
            parts.append(buf.strip())
            buf = ""
        else:
            buf += char
    parts.append(buf.strip())
    return tuple(parts)


def parse_toml(text: str, path: Path) -> TomlSource:
    """Parse ``text``; a syntax error becomes ``ConfigSyntaxError`` with line and column."""
    reject_bom(text, path)
    try:
        data = tomli.loads(text)
    except tomli.TOMLDecodeError as exc:
        raise _syntax_error(exc, text, path) from None
    except RecursionError:
        raise _too_deep(path) from None
    if _depth(data) > MAX_DEPTH:
        raise _too_deep(path)
    return TomlSource(path=path, text=text, data=data)


def _syntax_error(exc: tomli.TOMLDecodeError, text: str, path: Path) -> ConfigSyntaxError:
    line: int | None = getattr(exc, "lineno", None)
    column: int | None = getattr(exc, "colno", None)
    message = getattr(exc, "msg", None) or str(exc)
    found = _POSITION.search(str(exc))
    if getattr(exc, "pos", 0) >= len(text) or (line is None and "end of document" in str(exc)):
        # At the end of the file: point after its last character, not at a line past it.
        lines = text.splitlines() or [""]
        line, column = len(lines), len(lines[-1]) + 1
    elif found and line is None:
        line, column = int(found.group(1)), int(found.group(2))
    message = _END.sub("", _POSITION.sub("", message)).strip()
    return ConfigSyntaxError(
        f"invalid TOML: {message}",
        path=path,
        line=line,
        column=column,
        hint="fix the file by hand, or check it with `auto-router config validate`",
    )


def _too_deep(path: Path) -> ConfigSyntaxError:
    return ConfigSyntaxError(
        f"values nested more than {MAX_DEPTH} levels deep",
        path=path,
        hint="no setting needs that; look for runaway brackets",
    )


def _depth(data: Any, depth: int = 1) -> int:
    """How deeply tables and arrays nest, counting no further than ``MAX_DEPTH + 1`` (the
    parser itself stops at a few hundred levels, so this recursion is bounded)."""
    deepest = depth
    for child in data.values() if isinstance(data, dict) else data:
        if isinstance(child, (dict, list)):
            deepest = max(deepest, _depth(child, depth + 1))
            if deepest > MAX_DEPTH:
                break
    return deepest


def read_toml(path: Path) -> TomlSource | None:
    """Read and parse ``path``; ``None`` when the file does not exist."""
    text = read_text(path)
    return None if text is None else parse_toml(text, path)
