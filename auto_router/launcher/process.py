"""Running one child process: output to the user live, byte for byte, and a copy to a scanner.

Two modes:

- **PTY** when stdin and stdout are terminals: the child gets its own pseudo-terminal (same
  size and modes as ours), our terminal goes raw and every byte is relayed both ways, so
  full-screen TUIs, colours and raw keys behave as without the launcher. Window size changes
  (SIGWINCH) are copied to the child's terminal; Ctrl-C reaches the child as the byte its
  terminal turns into SIGINT; SIGINT/SIGTERM/SIGHUP sent to the launcher are forwarded to the
  child's process group. The terminal mode is restored on every way out.
- **Pipes** otherwise: stdin is inherited, stdout and stderr are relayed from pipes. When our
  stdin is not a terminal the child runs in its own process group and signals sent to the
  launcher are forwarded to it; when it is, the child stays in our foreground group (so it can
  read the terminal) and a Ctrl-C reaches it directly from the terminal.

Nothing here changes ``os.environ``: the child's environment is passed explicitly.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import select
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from types import FrameType
from typing import Final, NamedTuple

from ..errors import CommandNotFoundError

FORWARDED_SIGNALS: Final = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)
#: After the child exits, how long to keep draining output that is still in flight.
DRAIN_SECONDS: Final = 0.5
#: Between SIGTERM and SIGKILL when a timeout ends a child.
KILL_GRACE_SECONDS: Final = 5.0
#: When ``stop`` asks for the end: how long the child may take to exit on its own first (an
#: agent that gives up on the proxy's 429 prints its own error), then SIGTERM, then SIGKILL.
STOP_GRACE_SECONDS: Final = 2.0
STOP_KILL_SECONDS: Final = 3.0
#: How often ``stop`` is asked (it reads a file).
STOP_POLL_SECONDS: Final = 0.25
CHUNK: Final = 65536

Feed = Callable[[bytes, str], None]
Clock = Callable[[], float]
#: Asked while the child runs: should it be ended (``True``: the run has nothing to wait for)?
Stop = Callable[[], bool]


class ChildResult(NamedTuple):
    exit_code: int
    #: The signal that ended the child, if one did.
    signal: int | None
    duration: float
    #: The user (or a supervisor) interrupted the run: a signal to the launcher, a child
    #: killed by SIGINT, or Ctrl-C as the last key typed.
    interrupted: bool
    timed_out: bool
    pty: bool
    #: ``stop`` asked for the end and the launcher ended the child.
    stopped: bool = False


def resolve_executable(argv: Sequence[str], env: Mapping[str, str]) -> str:
    """The path of ``argv[0]`` on the child's PATH; ``CommandNotFoundError`` if none."""
    if not argv:
        raise CommandNotFoundError("no command to run")
    found = shutil.which(argv[0], path=env.get("PATH", os.defpath))
    if found is None:
        raise CommandNotFoundError(
            f"command not found: {argv[0]}",
            hint="install it, or name another command after `--`",
        )
    return found


def use_pty(stdin_fd: int = 0, stdout_fd: int = 1) -> bool:
    return os.isatty(stdin_fd) and os.isatty(stdout_fd)


def run_child(
    argv: Sequence[str],
    env: Mapping[str, str],
    feed: Feed,
    *,
    pty_mode: bool | None = None,
    timeout: float | None = None,
    stdin_fd: int = 0,
    stdout_fd: int = 1,
    stderr_fd: int = 2,
    monotonic: Clock = time.monotonic,
    stop: Stop | None = None,
) -> ChildResult:
    """``stop``: asked every fraction of a second in pipe mode only (an interactive session on
    a terminal stays open whatever it says); once it says ``True`` the child gets
    ``STOP_GRACE_SECONDS`` to exit, then SIGTERM, then SIGKILL."""
    executable = resolve_executable(argv, env)
    if pty_mode is None:
        pty_mode = use_pty(stdin_fd, stdout_fd)
    runner = _PtyChild if pty_mode else _PipeChild
    child = runner(
        executable, list(argv), dict(env), feed, timeout, stdin_fd, stdout_fd, stderr_fd, monotonic
    )
    if not pty_mode:
        child.stop = stop
    return child.run()


def exit_code_of(status: int) -> tuple[int, int | None]:
    """(exit code, signal) from a wait status; 128+N for a child killed by signal N."""
    code = os.waitstatus_to_exitcode(status)
    if code < 0:
        return 128 - code, -code
    return code, None


class _Child:
    def __init__(
        self,
        executable: str,
        argv: list[str],
        env: dict[str, str],
        feed: Feed,
        timeout: float | None,
        stdin_fd: int,
        stdout_fd: int,
        stderr_fd: int,
        monotonic: Clock,
    ) -> None:
        self.executable = executable
        self.argv = argv
        self.env = env
        self.feed = feed
        self.timeout = timeout
        self.stdin_fd = stdin_fd
        self.stdout_fd = stdout_fd
        self.stderr_fd = stderr_fd
        self.monotonic = monotonic
        self.pid: int | None = None
        self.pgid: int | None = None
        self.signalled: int | None = None
        self.timed_out = False
        self._kill_at: float | None = None
        self._broken: set[int] = set()
        self.stop: Stop | None = None
        self.stopped = False
        self._stop_asked = -1e9
        self._stop_at: float | None = None

    # -------------------------------------------------------------- shared helpers

    def forward(self, signum: int) -> None:
        """Send ``signum`` to the child's process group (or the child alone)."""
        if self.pid is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            if self.pgid is not None:
                os.killpg(self.pgid, signum)
            else:
                os.kill(self.pid, signum)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.signalled = signum
        self.forward(signum)

    @contextlib.contextmanager
    def signals(self, handled: Sequence[int]) -> Iterator[None]:
        previous: dict[int, object] = {}
        try:
            for signum in handled:
                previous[signum] = signal.signal(signum, self._on_signal)
            yield
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)  # type: ignore[arg-type]

    def write(self, fd: int, data: bytes) -> None:
        """Write everything to ``fd``; a reader that went away does not stop the child."""
        if fd in self._broken:
            return
        view = memoryview(data)
        while view:
            try:
                written = os.write(fd, view)
            except BlockingIOError:
                select.select([], [fd], [], 1.0)
                continue
            except OSError as exc:
                if exc.errno in (errno.EPIPE, errno.EBADF, errno.EIO):
                    self._broken.add(fd)
                    return
                raise
            view = view[written:]

    def check_stop(self) -> None:
        """Ask ``stop`` (at most every ``STOP_POLL_SECONDS``); end the child when it says so."""
        if self.stop is None or self.timed_out:
            return
        now = self.monotonic()
        if self._stop_at is None:
            if now - self._stop_asked < STOP_POLL_SECONDS:
                return
            self._stop_asked = now
            if self.stop():
                self._stop_at = now + STOP_GRACE_SECONDS
            return
        if not self.stopped and now >= self._stop_at:
            self.stopped = True
            self.forward(signal.SIGTERM)
            self._kill_at = now + STOP_KILL_SECONDS
        elif self.stopped and self._kill_at is not None and now >= self._kill_at:
            self.forward(signal.SIGKILL)
            self._kill_at = None

    def check_timeout(self, started: float) -> None:
        self.check_stop()
        if self.timeout is None:
            return
        now = self.monotonic()
        if not self.timed_out and now - started >= self.timeout:
            self.timed_out = True
            self.forward(signal.SIGTERM)
            self._kill_at = now + KILL_GRACE_SECONDS
        elif self._kill_at is not None and now >= self._kill_at:
            self.forward(signal.SIGKILL)
            self._kill_at = None

    def result(self, status: int, started: float, *, pty: bool, ctrl_c: bool) -> ChildResult:
        code, sig = exit_code_of(status)
        interrupted = (
            self.signalled is not None
            or sig == signal.SIGINT
            or code == 130
            or (ctrl_c and code != 0)
        )
        return ChildResult(
            exit_code=code,
            signal=sig,
            duration=self.monotonic() - started,
            interrupted=interrupted and not self.timed_out and not self.stopped,
            timed_out=self.timed_out,
            pty=pty,
            stopped=self.stopped,
        )


class _PipeChild(_Child):
    def run(self) -> ChildResult:
        own_group = not os.isatty(self.stdin_fd)
        started = self.monotonic()
        with self.signals(FORWARDED_SIGNALS if own_group else (signal.SIGTERM, signal.SIGHUP)):
            try:
                proc = subprocess.Popen(
                    self.argv,
                    executable=self.executable,
                    env=self.env,
                    stdin=self.stdin_fd,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    process_group=0 if own_group else None,
                    close_fds=True,
                )
            except OSError as exc:
                raise CommandNotFoundError(f"cannot run {self.argv[0]}: {exc}") from exc
            self.pid = proc.pid
            self.pgid = proc.pid if own_group else None
            if not own_group:
                # SIGINT comes from the terminal to the child too; only remember it.
                previous = signal.signal(signal.SIGINT, self._remember_interrupt)
            try:
                assert proc.stdout is not None and proc.stderr is not None
                self._relay(proc, started)
                status = self._wait(proc, started)
            finally:
                if not own_group:
                    signal.signal(signal.SIGINT, previous)
        return self.result(status, started, pty=False, ctrl_c=False)

    def _remember_interrupt(self, signum: int, frame: FrameType | None) -> None:
        self.signalled = signum

    def _relay(self, proc: subprocess.Popen[bytes], started: float) -> None:
        assert proc.stdout is not None and proc.stderr is not None
        streams = {
            proc.stdout.fileno(): ("stdout", self.stdout_fd),
            proc.stderr.fileno(): ("stderr", self.stderr_fd),
        }
        open_fds = set(streams)
        drain_until: float | None = None
        while open_fds:
            if proc.poll() is not None and drain_until is None:
                drain_until = self.monotonic() + DRAIN_SECONDS
            if drain_until is not None and self.monotonic() >= drain_until:
                break  # a grandchild keeps the pipe open; the child itself is gone
            ready, _, _ = select.select(list(open_fds), [], [], 0.1)
            for fd in ready:
                data = os.read(fd, CHUNK)
                if not data:
                    open_fds.discard(fd)
                    continue
                name, target = streams[fd]
                self.write(target, data)
                self.feed(data, name)
            self.check_timeout(started)
        proc.stdout.close()
        proc.stderr.close()

    def _wait(self, proc: subprocess.Popen[bytes], started: float) -> int:
        """The child's wait status (a negative returncode is a signal)."""
        while True:
            try:
                watched = self.timeout is not None or self.stop is not None
                code = proc.wait(timeout=0.05 if watched else None)
            except subprocess.TimeoutExpired:
                self.check_timeout(started)
                continue
            return _status_of(code)


class _PtyChild(_Child):
    def run(self) -> ChildResult:
        import termios  # here: only a run on a terminal uses a PTY
        import tty

        started = self.monotonic()
        saved = termios.tcgetattr(self.stdin_fd)
        master, slave = os.openpty()
        try:
            termios.tcsetattr(slave, termios.TCSANOW, saved)
            _copy_winsize(self.stdin_fd, slave)
            with self.signals(FORWARDED_SIGNALS):
                previous_winch = signal.signal(signal.SIGWINCH, self._on_winch)
                self._master = master
                try:
                    self.pid = self._spawn(slave)
                    self.pgid = self.pid  # a session leader: its pid is its group
                    os.close(slave)
                    slave = -1
                    tty.setraw(self.stdin_fd, termios.TCSANOW)
                    ctrl_c = self._relay(master, started)
                    status = self._wait(started)
                finally:
                    termios.tcsetattr(self.stdin_fd, termios.TCSAFLUSH, saved)
                    signal.signal(signal.SIGWINCH, previous_winch)
        finally:
            os.close(master)
            if slave >= 0:
                os.close(slave)
        return self.result(status, started, pty=True, ctrl_c=ctrl_c)

    def _spawn(self, slave: int) -> int:
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child
            try:
                os.login_tty(slave)
                for signum in (*FORWARDED_SIGNALS, signal.SIGWINCH):
                    signal.signal(signum, signal.SIG_DFL)
                os.execve(self.executable, self.argv, self.env)
            except BaseException as exc:
                with contextlib.suppress(Exception):
                    os.write(2, f"auto-router: cannot run {self.argv[0]}: {exc}\r\n".encode())
            finally:
                os._exit(127)
        return pid

    def _on_winch(self, signum: int, frame: FrameType | None) -> None:
        with contextlib.suppress(OSError):
            _copy_winsize(self.stdin_fd, self._master)

    def _relay(self, master: int, started: float) -> bool:
        """Relay until the child's side closes; True when Ctrl-C was the last key typed."""
        last_key_ctrl_c = False
        reading_stdin = True
        exited_at: float | None = None
        while True:
            if exited_at is None and self._reap_nowait():
                exited_at = self.monotonic()
            if exited_at is not None and self.monotonic() - exited_at >= DRAIN_SECONDS:
                break
            fds = [master, self.stdin_fd] if reading_stdin else [master]
            ready, _, _ = select.select(fds, [], [], 0.1)
            if master in ready:
                try:
                    data = os.read(master, CHUNK)
                except OSError as exc:
                    if exc.errno != errno.EIO:
                        raise
                    data = b""
                if not data:
                    break
                self.write(self.stdout_fd, data)
                self.feed(data, "tty")
            if self.stdin_fd in ready:
                data = os.read(self.stdin_fd, CHUNK)
                if not data:
                    reading_stdin = False
                else:
                    last_key_ctrl_c = data.endswith(b"\x03")
                    self.write(master, data)
            self.check_timeout(started)
        return last_key_ctrl_c

    _status: int | None = None

    def _reap_nowait(self) -> bool:
        if self._status is not None:
            return True
        assert self.pid is not None
        pid, status = os.waitpid(self.pid, os.WNOHANG)
        if pid == 0:
            return False
        self._status = status
        return True

    def _wait(self, started: float) -> int:
        while self._status is None:
            if self.timeout is None:
                assert self.pid is not None
                _, self._status = os.waitpid(self.pid, 0)
            else:
                if not self._reap_nowait():
                    self.check_timeout(started)
                    time.sleep(0.05)
        return self._status


def _status_of(returncode: int) -> int:
    """A wait status equivalent to a ``Popen.returncode``."""
    if returncode < 0:
        return -returncode  # WIFSIGNALED with that signal
    return (returncode & 0xFF) << 8


def _copy_winsize(source_fd: int, target_fd: int) -> None:
    import struct
    import termios

    packed = fcntl.ioctl(source_fd, termios.TIOCGWINSZ, struct.pack("HHHH", 0, 0, 0, 0))
    fcntl.ioctl(target_fd, termios.TIOCSWINSZ, packed)


def stderr_line(text: str, fd: int = 2) -> None:
    """One notice line on stderr, written directly so it lands between the child's lines.

    In PTY mode the terminal may still be raw for a moment, hence the explicit ``\\r``.
    """
    line = text.rstrip("\n")
    data = (line + ("\r\n" if os.isatty(fd) else "\n")).encode("utf-8", "replace")
    try:
        os.write(fd, data)
    except OSError:
        sys.stderr.write(line + "\n")
