"""`auto-router demo`, the README's first command, works on this machine alone."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from auto_router.paths import resolve_paths
from auto_router.store.attempts import AttemptLog

pytestmark = pytest.mark.integration


def test_demo_rotates_through_the_limited_providers_to_the_working_one(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "auto_router", "demo", "--dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    # The agent runs through the local proxy: its one request fails over alpha -> beta ->
    # gamma before it sees a byte, so it never restarts.
    assert "auto-router: 1 request failed over: alpha 429, beta 429 -> gamma" in out
    assert "hit its usage limit" not in out
    assert "Hello from gamma." in out
    assert "Done: every step worked." in out
    # The proxy part: the request failed over alpha -> beta -> gamma before the client saw it.
    proxy_part = out.split("== 2. auto-router proxy")[1]
    assert "HTTP 200:" in proxy_part and "Hello from gamma." in proxy_part
    assert "cooling until" in proxy_part
    assert "failed: alpha (429), beta (429)" in proxy_part
    assert "demo-key-" not in out  # the providers' keys are never shown
    attempts = AttemptLog(resolve_paths(tmp_path).database).query(limit=10, backend="demo")
    assert [(a.provider, a.outcome) for a in reversed(attempts)] == [
        (None, "ok"),
    ]
