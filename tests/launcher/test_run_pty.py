"""The launcher on a real terminal: a pseudo-terminal made by the test plays the user's."""

from __future__ import annotations

import fcntl
import os
import select
import signal
import struct
import subprocess
import termios
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from .conftest import Home

pytestmark = pytest.mark.integration

LLM = """
[backends.claude]
providers = ["first", "second"]
[message_backend]
default = "claude"
"""
PROVIDERS = """
[claude.first]
type = "anthropic"
api_key = "first-key-0123456789abcdef"
FAKE_BEHAVIOUR = "interactive"
[claude.second]
type = "anthropic"
api_key = "second-key-0123456789abcdef"
FAKE_BEHAVIOUR = "interactive"
"""


class Terminal:
    """The user's side of a terminal running ``auto-router``."""

    def __init__(self, master: int, slave: int, proc: subprocess.Popen[bytes]) -> None:
        self.master = master
        self.slave = slave
        self.proc = proc
        self.seen = b""

    def expect(self, text: str, timeout: float = 30) -> str:
        """Read until ``text`` shows (the timeout only stops a hang; nothing is timed)."""
        deadline = time.monotonic() + timeout
        needle = text.encode()
        while needle not in self.seen:
            left = deadline - time.monotonic()
            assert left > 0, f"never saw {text!r}; got {self.seen.decode(errors='replace')!r}"
            ready, _, _ = select.select([self.master], [], [], min(left, 0.5))
            if ready:
                try:
                    chunk = os.read(self.master, 65536)
                except OSError:
                    chunk = b""
                assert chunk, f"terminal closed before {text!r}: {self.seen!r}"
                self.seen += chunk
        return self.seen.decode(errors="replace")

    def send(self, data: bytes) -> None:
        os.write(self.master, data)

    def resize(self, rows: int, cols: int) -> None:
        fcntl.ioctl(self.master, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))

    def wait(self) -> int:
        return self.proc.wait(timeout=30)

    def drain(self) -> str:
        while True:
            ready, _, _ = select.select([self.master], [], [], 0.2)
            if not ready:
                break
            try:
                chunk = os.read(self.master, 65536)
            except OSError:
                break
            if not chunk:
                break
            self.seen += chunk
        return self.seen.decode(errors="replace")


@contextmanager
def terminal(home: Home, *args: str, rows: int = 30, cols: int = 100) -> Iterator[Terminal]:
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))

    def controlling_tty() -> None:  # the launcher's session owns this terminal, like a shell's
        os.setsid()
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    proc = subprocess.Popen(
        home.command(*args),
        env={**home.env, "TERM": "xterm"},
        stdin=slave,
        stdout=slave,
        stderr=slave,
        preexec_fn=controlling_tty,
    )
    term = Terminal(master, slave, proc)
    try:
        yield term
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
        os.close(slave)


def test_input_output_window_size_and_terminal_mode_pass_through(home: Home) -> None:
    home.write(LLM, PROVIDERS)
    with terminal(home, "run", "--", "claude") as term:
        before = termios.tcgetattr(term.slave)
        term.expect("isatty stdin=True stdout=True")
        term.expect("size=30x100")
        term.expect("prompt> ")
        term.send(b"hello there\r")
        term.expect("got: hello there")
        term.resize(40, 120)  # the kernel sends SIGWINCH to the launcher; it tells the child
        term.expect("resized=40x120")
        term.send(b"exit 3\r")
        assert term.wait() == 3
        assert termios.tcgetattr(term.slave) == before  # cooked mode is back
    assert before[3] & termios.ECHO  # the terminal was cooked to begin with
    attempts = home.history()
    assert [(a["provider"], a["exit_code"], a["outcome"]) for a in attempts] == [
        ("first", 3, "failed")
    ]


def test_usage_limit_on_a_terminal_rotates_and_relaunches(home: Home) -> None:
    home.write(LLM, PROVIDERS)
    with terminal(home, "run", "--", "claude") as term:
        term.expect("prompt> ")
        term.send(b"limit\r")
        screen = term.expect("retrying with second (2/2)")
        assert "first hit its usage limit" in screen
        term.expect("isatty stdin=True stdout=True")
        term.expect("prompt> ", timeout=30)
        term.send(b"quit\r")
        assert term.wait() == 0
    assert [a["provider"] for a in home.history()] == ["first", "second"]


def test_ctrl_c_after_a_limit_stops_and_does_not_relaunch(home: Home) -> None:
    home.write(LLM, PROVIDERS)
    with terminal(home, "run", "--", "claude") as term:
        term.expect("prompt> ")
        term.send(b"show-limit\r")  # the error shows, the agent keeps running, like a TUI
        term.expect("API Error: Request rejected (429)")
        term.send(b"\x03")  # Ctrl-C: the child's terminal turns it into SIGINT
        code = term.wait()
        screen = term.drain()
    assert code == 128 + signal.SIGINT
    assert "retrying with" not in screen
    attempts = home.history()
    assert [(a["outcome"], a["limit_detected"]) for a in attempts] == [("interrupted", True)]
    # the limit is remembered: the next run starts on the other provider
    status = home.run("status").stdout
    assert "* second" in status
