"""JSON files the way the tools we import from read them: JSON5's common extensions allowed.

claude-code-router 1.x reads ``~/.claude-code-router/config.json`` with ``JSON5.parse``
(musistudio/claude-code-router, ``src/utils/index.ts`` at v1.0.49: "Try to parse with JSON5
first (which also supports standard JSON)"), so users write comments and trailing commas in
it. Rather than a dependency, the extensions seen in such files are rewritten into plain JSON
before ``json.loads``: ``//`` and ``/* */`` comments, trailing commas, single-quoted strings
and unquoted keys. Newlines are kept, so an error names the line of the user's file.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Final

from ..errors import ConfigError

_IDENTIFIER: Final = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")
_SPACE: Final = " \t\r\n"


def load_json(text: str, path: Path, *, json5: bool = False) -> Any:
    """The parsed document; ``ConfigError`` with file and line when it is not valid."""
    source = _to_json(text) if json5 else text
    try:
        return json.loads(source)
    except json.JSONDecodeError as exc:
        # exc.msg names what was expected, never the file's content (which may hold keys).
        raise ConfigError(
            f"invalid JSON: {exc.msg} (column {exc.colno})", path=path, line=exc.lineno
        ) from None
    except RecursionError:
        raise ConfigError("invalid JSON: nested too deeply", path=path) from None


def _to_json(text: str) -> str:
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch in "\"'":
            end = _string_end(text, i)
            out.append(_double_quoted(text[i:end]) if ch == "'" else text[i:end])
            i = end
        elif text.startswith("//", i) or text.startswith("/*", i):
            end = _comment_end(text, i)
            out.append(re.sub(r"[^\n]", " ", text[i:end]))
            i = end
        elif ch == ",":
            j = _skip_blank(text, i + 1)
            out.append(" " if j < n and text[j] in "}]" else ",")
            i += 1
        elif (match := _IDENTIFIER.match(text, i)) is not None and not _in_word(out):
            word, i = match.group(), match.end()
            j = _skip_blank(text, i)
            out.append(json.dumps(word) if j < n and text[j] == ":" else word)
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def _in_word(out: list[str]) -> bool:
    """True inside a bare word already being copied (``1e5``: the ``e5`` is no key)."""
    return bool(out) and bool(out[-1]) and (out[-1][-1].isalnum() or out[-1][-1] in "_$.")


def _string_end(text: str, start: int) -> int:
    quote, i = text[start], start + 1
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] == quote or text[i] == "\n":
            return i + 1
        i += 1
    return len(text)


def _double_quoted(single: str) -> str:
    """``'it\\'s "x"'`` -> ``"it's \\"x\\""``."""
    body = single[1:-1] if len(single) > 1 and single.endswith("'") else single[1:]
    body = re.sub(r'\\(.)|"', lambda m: '\\"' if m.group(0) == '"' else _unescape(m), body)
    return f'"{body}"'


def _unescape(match: re.Match[str]) -> str:
    return "'" if match.group(1) == "'" else match.group(0)


def _comment_end(text: str, start: int) -> int:
    if text.startswith("//", start):
        end = text.find("\n", start)
        return len(text) if end < 0 else end
    end = text.find("*/", start + 2)
    return len(text) if end < 0 else end + 2


def _skip_blank(text: str, i: int) -> int:
    """The index of the next character that is neither white space nor inside a comment."""
    while i < len(text):
        if text[i] in _SPACE:
            i += 1
        elif text.startswith("//", i) or text.startswith("/*", i):
            i = _comment_end(text, i)
        else:
            return i
    return i
