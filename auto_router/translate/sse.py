"""Incremental Server-Sent Events framing: bytes in, complete events out, nothing more held.

Only an event still incomplete at the end of a chunk is kept (the bytes after the last blank
line), never the answer: each event is handed on the moment its blank line arrives.
"""

from __future__ import annotations

import json
from typing import Any


class SSEParser:
    """``feed(chunk)`` -> the ``(event name, data)`` pairs the chunk completes."""

    __slots__ = ("_buffer",)

    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, chunk: bytes) -> list[tuple[str | None, str]]:
        buffer = self._buffer + chunk
        hold = b""
        if buffer.endswith(b"\r"):  # its "\n" may come with the next chunk
            buffer, hold = buffer[:-1], b"\r"
        if b"\r" in buffer:
            buffer = buffer.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        end = buffer.rfind(b"\n\n")
        if end < 0:
            self._buffer = buffer + hold
            return []
        self._buffer = buffer[end + 2 :] + hold
        return [parse_event(block) for block in buffer[:end].split(b"\n\n") if block.strip()]

    def close(self) -> list[tuple[str | None, str]]:
        """An event the upstream did not end with a blank line, if any."""
        rest, self._buffer = self._buffer.strip(), b""
        return [parse_event(rest)] if rest else []


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
