"""A run in direct mode runs the ``[notify]`` command on its rotations and exhaustions (issue
19, "Notifications"): real ``auto-router run`` subprocesses, the fake agent hitting its
usage limit, a real notify command (a small script appending its message to a file)."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest

from .conftest import Home

pytestmark = pytest.mark.integration

NOTIFY_SCRIPT = """\
import sys, time
with open(sys.argv[1], "a") as f:
    f.write(sys.argv[-1] + "\\n")
if sys.argv[2] == "hang":
    time.sleep(600)
"""


def configure(home: Home, tmp_path: Path, first: str, second: str, mode: str = "append") -> Path:
    script, out = tmp_path / "notify.py", tmp_path / "notified.txt"
    script.write_text(NOTIFY_SCRIPT)
    command = json.dumps([sys.executable, str(script), str(out), mode])
    home.write(
        f'[backends.qwen]\nproviders = ["one", "two"]\n\n[notify]\ncommand = {command}\n',
        f"""
[qwen.one]
base_url = "https://one.invalid/v1"
api_key = "sk-one-000000000000000000000001"
FAKE_BEHAVIOUR = "{first}"
[qwen.two]
base_url = "https://two.invalid/v1"
api_key = "sk-two-000000000000000000000002"
FAKE_BEHAVIOUR = "{second}"
""",
    )
    return out


def notified(out: Path) -> list[str]:
    return out.read_text().splitlines() if out.exists() else []


def test_a_direct_rotation_runs_the_notify_command(home: Home, tmp_path: Path) -> None:
    out = configure(home, tmp_path, "qwen-429", "ok")
    result = home.run("run", "--direct", "--", "qwen", "-p", "hi")
    assert result.returncode == 0, result.stderr
    assert "retrying with two" in result.stderr
    # Told before the run ended: its last events are run before it exits.
    assert notified(out) == ["rotation: qwen: switched from one to two"]
    # The keys of the providers never reach the command.
    assert "sk-one" not in out.read_text() and "sk-two" not in out.read_text()


def test_a_direct_exhaustion_runs_the_notify_command(home: Home, tmp_path: Path) -> None:
    out = configure(home, tmp_path, "qwen-429", "qwen-429")
    result = home.run("run", "--direct", "--", "qwen")
    assert result.returncode == 75, result.stderr
    assert notified(out) == [
        "rotation: qwen: switched from one to two",
        "exhaustion: qwen: every provider is cooling down",
    ]


def test_no_limit_no_notification(home: Home, tmp_path: Path) -> None:
    out = configure(home, tmp_path, "ok", "ok")
    assert home.run("run", "--direct", "--", "qwen").returncode == 0
    assert notified(out) == []


def test_a_hanging_notify_command_does_not_hold_the_run(home: Home, tmp_path: Path) -> None:
    out = configure(home, tmp_path, "qwen-429", "ok", mode="hang")
    started = time.monotonic()
    result = home.run("run", "--direct", "--", "qwen", timeout=60)
    took = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    assert notified(out) == ["rotation: qwen: switched from one to two"]  # it did run
    assert took < 30  # the finish wait (5 s) is bounded; the command sleeps 600 s
