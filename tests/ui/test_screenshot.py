"""The README's picture of the dashboard is made here, by scripts/dashboard_screenshot.py on
a real session, never by hand; and written only when what it shows changed, so a test run
leaves the tree clean when the page is the same (the digest in the PNG's text chunk)."""

from __future__ import annotations

import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

from scripts.dashboard_screenshot import (
    CHROMIUM,
    KEYWORD,
    ROOT,
    content_digest,
    save,
    text_of,
    with_text,
)
from tests.helpers import require_program

IMAGE = ROOT / "docs" / "images" / "dashboard.png"


def png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR"
    width, height = struct.unpack(">II", head[16:24])
    return width, height


def chunks(png: bytes) -> list[bytes]:
    """Every chunk's type, each checked against its CRC."""
    found, at = [], 8
    while at < len(png):
        (size,) = struct.unpack(">I", png[at : at + 4])
        kind, data = png[at + 4 : at + 8], png[at + 8 : at + 8 + size]
        (crc,) = struct.unpack(">I", png[at + 8 + size : at + 12 + size])
        assert crc == zlib.crc32(kind + data), kind
        found.append(kind)
        at += 12 + size
    return found


def tiny_png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00\x00")
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def test_the_digest_goes_in_a_valid_text_chunk_and_a_same_page_is_not_written(
    tmp_path: Path,
) -> None:
    png = tiny_png()
    marked = with_text(png, KEYWORD, "abc123")
    assert chunks(marked) == [b"IHDR", b"tEXt", b"IDAT", b"IEND"]
    assert text_of(marked, KEYWORD) == "abc123" and text_of(png, KEYWORD) is None
    out = tmp_path / "shot.png"
    assert save(out, png, "abc123") is True
    written = out.stat().st_mtime_ns
    assert save(out, png + b"", "abc123") is False and out.stat().st_mtime_ns == written
    assert save(out, png, "def456") is True and text_of(out.read_bytes(), KEYWORD) == "def456"


def test_the_digest_ignores_times_and_ids_but_not_the_words() -> None:
    one = content_digest("12:04:52 run ee5d0a7e83d7 back in 9m57s (07:14)", 1280, 800)
    two = content_digest("12:05:03 run 0b1c2d3e4f5a back in 10m00s (07:15)", 1280, 800)
    assert one == two
    assert content_digest("12:04:52 cooling", 1280, 800) != content_digest(
        "12:04:52 ready", 1280, 800
    )
    assert content_digest("x", 1280, 800) != content_digest("x", 390, 844)


@pytest.mark.integration
def test_the_script_saves_the_dashboard_screenshot_and_then_leaves_it_alone() -> None:
    require_program(CHROMIUM, "apt-get install -y chromium")

    def shoot() -> str:
        out = subprocess.run(
            [sys.executable, "scripts/dashboard_screenshot.py"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert out.returncode == 0, out.stderr[-2000:]
        return out.stdout

    first = shoot()
    assert f"saved {IMAGE}" in first or f"unchanged {IMAGE}" in first
    before = IMAGE.read_bytes()
    width, height = png_size(IMAGE)
    assert width == 1280 and height >= 800  # the whole page at the desktop width
    assert text_of(before, KEYWORD) is not None
    assert f"unchanged {IMAGE}" in shoot()  # the same page: the file is not touched
    assert IMAGE.read_bytes() == before
    assert "![The dashboard" in (ROOT / "README.md").read_text(encoding="utf-8")
