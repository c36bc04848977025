"""The user's side of a pseudo-terminal running ``auto-router`` (shared by the PTY tests)."""

from __future__ import annotations

import fcntl
import os
import select
import struct
import subprocess
import termios
import time
from collections.abc import Iterator
from contextlib import contextmanager

from .conftest import Home


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
