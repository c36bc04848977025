"""``[notify]``: a user's command run once per rotation event, off every request's path.

A ``Notifier`` subscribes to the ``Rotator``'s ``EventBus`` and runs the command in its own
thread, one event at a time, with the event's one-line message appended as the last argument
(``notify-send auto-router "rotation: qwen: switched from one to two"``). A request never waits
for it: publishing only queues the event (bounded; a backlog drops and counts, see
``events.py``). A command that hangs is killed with its process group after
``[notify] timeout``; one that fails is logged (redacted), and the next event still runs.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
from collections.abc import Callable

import structlog

from ..config.notify import NotifyConfig
from .events import REQUEST, Event, EventBus

log = structlog.get_logger("auto_router.notify")

#: Events waiting for the command before new ones are dropped.
BACKLOG = 64


class Notifier:
    """Runs ``config().command`` for each event of ``bus``, in a daemon thread."""

    def __init__(
        self,
        bus: EventBus,
        config: Callable[[], NotifyConfig],
        redact: Callable[[str], str] = lambda text: text,
    ) -> None:
        self._config = config
        self._redact = redact
        self._ready = threading.Event()
        self._stopping = False
        #: ``close(finish=True)``: run what is queued, then end.
        self._finishing = False
        self._sub = bus.subscribe(self._ready.set, limit=BACKLOG)
        self._thread = threading.Thread(target=self._run, name="auto-router-notify", daemon=True)
        #: The command running now, killed by ``close``.
        self._running: subprocess.Popen[bytes] | None = None
        #: Commands run (tests, ``status``).
        self.ran = 0

    def start(self) -> Notifier:
        self._thread.start()
        return self

    def close(self, wait: float = 5.0, *, finish: bool = False) -> None:
        """Stop: the command running now (if any) is killed, later events are not run.

        With ``finish``, the events already queued are run first, for up to ``wait`` seconds
        (a run in direct mode ends right after its last rotation: that one is told too)."""
        self._sub.close()  # nothing new comes in; what is queued stays
        if finish and self._thread.is_alive():
            self._finishing = True
            self._ready.set()
            self._thread.join(wait)
        self._stopping = True
        self._ready.set()
        running = self._running
        if running is not None:
            _kill(running)
        if self._thread.is_alive():
            self._thread.join(wait)

    @property
    def dropped(self) -> int:
        return self._sub.dropped

    def _run(self) -> None:
        while not self._stopping:
            if not self._finishing:
                self._ready.wait()
            self._ready.clear()
            events = self._sub.drain()
            for event in events:
                if self._stopping:
                    return
                self._notify(event)
            if self._finishing and not events:
                return

    def _notify(self, event: Event) -> None:
        if event.kind == REQUEST:  # the live feed: a command per request would be a flood
            return
        try:
            config = self._config()
        except Exception as exc:  # the configuration could not be read: say so, go on
            log.warning("notify skipped", error=self._redact(str(exc)))
            return
        if config.command:
            self.ran += 1
            run_command(
                [*config.command, event.line()], config.timeout, self._redact, self._started
            )
            self._running = None

    def _started(self, process: subprocess.Popen[bytes]) -> None:
        self._running = process
        if self._stopping:  # ``close`` came between the check and the start
            _kill(process)


def run_command(
    argv: list[str],
    timeout: float,
    redact: Callable[[str], str],
    started: Callable[[subprocess.Popen[bytes]], None] | None = None,
) -> int | None:
    """Run ``argv`` (no shell, no stdin); its exit status, ``None`` when it could not run or
    was killed. Its own process group, so a shell script's children go down with it."""
    try:
        process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
    except OSError as exc:
        log.warning("notify command could not run", program=argv[0], error=redact(str(exc)))
        return None
    if started is not None:
        started(process)
    try:
        _, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill(process)
        process.communicate()
        log.warning("notify command killed", program=argv[0], timeout=timeout)
        return None
    if process.returncode:
        text = err.decode("utf-8", "replace").strip()[-300:]
        log.warning(
            "notify command failed",
            program=argv[0],
            status=process.returncode,
            stderr=redact(text),
        )
    return process.returncode


def _kill(process: subprocess.Popen[bytes]) -> None:
    """``process`` and its children (its own process group)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
