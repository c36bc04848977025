"""Incremental Server-Sent Events framing: bytes in, complete events out, nothing more held.

Only an event still incomplete at the end of a chunk is kept (the bytes after the last blank
line), never the answer: each event is handed on the moment its blank line arrives. That
event is kept as its parts and joined once, when its blank line comes: joining and searching
the whole held part again for every chunk made one long event cost time quadratic in its
length (issue 18: 256 MiB took 63 s). The proxy caps how long one event may grow.
"""

from __future__ import annotations

import json
from typing import Any


class SSEParser:
    """``feed(chunk)`` -> the ``(event name, data)`` pairs the chunk completes."""

    __slots__ = ("_parts",)

    def __init__(self) -> None:
        self._parts: list[bytes] = []  # an event not yet whole

    def feed(self, chunk: bytes) -> list[tuple[str | None, str]]:
        parts = self._parts
        if parts:
            parts.append(chunk)
            if not _may_end(parts[-2], chunk):
                return []  # still inside the same event
            buffer = b"".join(parts)
            parts.clear()
        else:
            buffer = chunk
        hold = b""
        if buffer.endswith(b"\r"):  # its "\n" may come with the next chunk
            buffer, hold = buffer[:-1], b"\r"
        if b"\r" in buffer:
            buffer = buffer.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        end = buffer.rfind(b"\n\n")
        if end < 0:
            parts.extend((buffer, hold) if hold else (buffer,))
            return []
        rest = buffer[end + 2 :] + hold
        if rest:
            parts.append(rest)
        return [parse_event(block) for block in buffer[:end].split(b"\n\n") if block.strip()]

    def close(self) -> list[tuple[str | None, str]]:
        """An event the upstream did not end with a blank line, if any."""
        rest = b"".join(self._parts).strip()
        self._parts.clear()
        if b"\r" in rest:
            rest = rest.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        return [parse_event(rest)] if rest else []


def _may_end(held: bytes, chunk: bytes) -> bool:
    """Whether ``chunk`` (after ``held``) may bring a blank line, with any line ends: C-level
    searches of the new chunk and of the few bytes where the two meet."""
    if b"\n" not in chunk and b"\r" not in chunk:  # memchr: a long line's usual chunk
        return False
    if b"\n\n" in chunk or b"\r\n\r\n" in chunk or b"\r\r" in chunk or b"\n\r\n" in chunk:
        return True
    return held[-1:] in (b"\n", b"\r") and chunk[:1] in (b"\n", b"\r")


def parse_event(block: bytes) -> tuple[str | None, str]:
    name: str | None = None
    data: list[str] = []
    for line in block.decode("utf-8", "replace").split("\n"):
        if line.startswith("data:"):
            data.append(line[6:] if line.startswith("data: ") else line[5:])
        elif line.startswith("event:"):
            name = line[6:].strip()
    return name, "\n".join(data)


def dumps(data: Any) -> str:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


def data_event(data: Any) -> bytes:
    return f"data: {dumps(data)}\n\n".encode()


def named_event(name: str, data: Any) -> bytes:
    return f"event: {name}\ndata: {dumps(data)}\n\n".encode()
