"""Reading TOML files for the config loader: parse errors with line and column, key locations.

Reading uses the standard library's ``tomllib`` (plain dicts, fast); editing uses tomlkit
(``editing.py``). This module also finds the line a table or key is on, so validation errors
can point into the file even though parsed values carry no positions.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import ConfigError, ConfigSyntaxError

_POSITION = re.compile(r"\(at line (\d+), column (\d+)\)")
_END = re.compile(r"\(at end of document\)")
_HEADER = re.compile(r"^\s*\[\[?\s*(.+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(r"""^\s*("[^"]*"|'[^']*'|[A-Za-z0-9_.\-" ']+?)\s*=""")


@dataclass(frozen=True)
class TomlSource:
    """A parsed file with its text, so positions can be looked up later."""

    path: Path
    text: str
    data: dict[str, Any]

    def line_of(self, table: tuple[str, ...], key: str | None = None) -> int | None:
        """1-based line of ``key`` inside ``[table]`` (or of the header itself), if found."""
        current: tuple[str, ...] = ()
        header_line: int | None = None
        for number, line in enumerate(self.text.splitlines(), start=1):
            header = _HEADER.match(line)
            if header and not _KEY.match(line):
                current = split_dotted(header.group(1))
                if current == table:
                    header_line = number
                    if key is None:
                        return number
                continue
            if key is None:
                continue
            found = _KEY.match(line)
            if found is None:
                continue
            full = current + split_dotted(found.group(1))
            if full == (*table, key):
                return number
        if key is not None:  # a key that is itself a table: point at its header
            return self.line_of((*table, key)) or header_line
        return header_line


def split_dotted(key: str) -> tuple[str, ...]:
    """``a."b.c".d`` -> ``("a", "b.c", "d")``."""
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
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line = getattr(exc, "lineno", None)
        column = getattr(exc, "colno", None)
        message = getattr(exc, "msg", None) or str(exc)
        found = _POSITION.search(str(exc))
        if found and line is None:
            line, column = int(found.group(1)), int(found.group(2))
        elif line is None and "end of document" in str(exc):
            lines = text.splitlines() or [""]
            line, column = len(lines), len(lines[-1]) + 1
        message = _END.sub("", _POSITION.sub("", message)).strip()
        raise ConfigSyntaxError(
            f"invalid TOML: {message}",
            path=path,
            line=line,
            column=column,
            hint="fix the file by hand, or check it with `auto-router config validate`",
        ) from exc
    return TomlSource(path=path, text=text, data=data)


def read_toml(path: Path) -> TomlSource | None:
    """Read and parse ``path``; ``None`` when the file does not exist."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read file: {exc}", path=path) from exc
    return parse_toml(text, path)
