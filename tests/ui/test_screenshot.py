"""The README's picture of the dashboard is made here, by scripts/dashboard_screenshot.py on
a real session, never by hand: each test run saves docs/images/dashboard.png anew."""

from __future__ import annotations

import struct
import subprocess
import sys
from pathlib import Path

import pytest

from scripts.dashboard_screenshot import CHROMIUM, ROOT
from tests.helpers import require_program

pytestmark = pytest.mark.integration

IMAGE = ROOT / "docs" / "images" / "dashboard.png"


def png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR"
    width, height = struct.unpack(">II", head[16:24])
    return width, height


def test_the_script_saves_the_dashboard_screenshot() -> None:
    require_program(CHROMIUM, "apt-get install -y chromium")
    out = subprocess.run(
        [sys.executable, "scripts/dashboard_screenshot.py"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert f"saved {IMAGE}" in out.stdout
    width, height = png_size(IMAGE)
    assert width == 1280 and height >= 800  # the whole page at the desktop width
    assert "![The dashboard" in (ROOT / "README.md").read_text(encoding="utf-8")
