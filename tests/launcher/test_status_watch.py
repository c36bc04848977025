"""``auto-router status --watch`` in a real pseudo-terminal: it redraws in place every second,
shows the cooldown countdown, the circuit and today's tokens, and Ctrl-C ends it with 0; on a
pipe it prints plainly."""

from __future__ import annotations

import signal
import subprocess
import time

from auto_router.paths import Paths
from auto_router.rotation.service import Rotator

from .conftest import Home
from .terminal import terminal

LLM = '[backends.qwen]\nproviders = ["one", "two"]\n'
PROVIDERS = (
    '[qwen.one]\nbase_url = "http://127.0.0.1:9/v1"\n'
    '[qwen.two]\nbase_url = "http://127.0.0.1:9/v1"\n'
)
REDRAW = "\x1b[H\x1b[2J"


def _configured(home: Home) -> None:
    home.write(LLM, PROVIDERS)
    rotator = Rotator(Paths(config_dir=home.path, data_dir=home.path))
    rotator.record_usage_limit("qwen", "one", reset_at=time.time() + 3600, reason="HTTP 429")


def test_watch_redraws_in_place_and_ctrl_c_exits_0(home: Home) -> None:
    _configured(home)
    with terminal(home, "status", "--watch") as term:
        term.expect("today 0 in / 0 out tokens")
        first = term.seen.count(REDRAW.encode())
        deadline = time.monotonic() + 30  # a hang guard: nothing is timed
        while term.seen.count(REDRAW.encode()) < first + 2:  # redrawn, twice more
            assert time.monotonic() < deadline, term.seen
            term.drain()
        screen = term.seen.decode(errors="replace").rsplit(REDRAW, 1)[-1]
        term.send(b"\x03")
        assert term.wait() == 0
    assert "cooling 59m" in screen or "cooling 1h" in screen  # the countdown to the reset
    assert "* two" in screen  # the current one
    assert "circuit closed" in screen


def test_watch_on_a_pipe_prints_plainly(home: Home) -> None:
    _configured(home)
    with subprocess.Popen(
        home.command("status", "--watch"),
        env=home.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    ) as proc:
        assert proc.stdout is not None
        # Two refreshes: a clock line, the backend, its two providers and a blank line each.
        lines = [proc.stdout.readline() for _ in range(10)]
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
    text = "".join(lines)
    assert "\x1b" not in text
    assert text.count("auto-router status") == 2
