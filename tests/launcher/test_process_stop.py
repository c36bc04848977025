"""``run_child``'s ``stop``: the launcher ends a non-interactive child that has nothing to wait for."""

from __future__ import annotations

import os
import sys
import time

from auto_router.launcher.process import STOP_GRACE_SECONDS, run_child


def test_stop_ends_a_piped_child_after_a_grace_and_is_not_an_interruption() -> None:
    asked: list[float] = []

    def stop() -> bool:
        asked.append(time.monotonic())
        return len(asked) >= 2  # the second look finds the pool exhausted

    started = time.monotonic()
    result = run_child(
        [sys.executable, "-c", "import time; time.sleep(60)"],
        dict(os.environ),
        lambda data, stream: None,
        pty_mode=False,
        stop=stop,
        stdin_fd=os.open(os.devnull, os.O_RDONLY),
    )
    assert result.stopped and not result.interrupted and not result.timed_out
    assert result.exit_code == 143  # SIGTERM
    assert time.monotonic() - started < 30  # a hang guard
    assert result.duration >= STOP_GRACE_SECONDS  # it had its grace first


def test_a_child_that_exits_by_itself_in_the_grace_is_not_stopped() -> None:
    result = run_child(
        [sys.executable, "-c", "import time; time.sleep(0.6); print('own message')"],
        dict(os.environ),
        lambda data, stream: None,
        pty_mode=False,
        stop=lambda: True,
        stdin_fd=os.open(os.devnull, os.O_RDONLY),
        stdout_fd=os.open(os.devnull, os.O_WRONLY),
    )
    assert (result.stopped, result.exit_code) == (False, 0)
