"""The managed proxy process: ``python -m auto_router.proxy.managed --config-dir DIR``.

Binds a free loopback port, serves the configuration's providers to registered runs only
(``RunTokens``), opens its management API only to the token the launcher put in its
environment and in ``proxy.json``, prints ``ready <port>`` on stdout once it accepts
connections, and exits on its own when no launcher using it is alive (a watchdog checks the
registered pids, so a ``kill -9`` of every launcher ends it too). Started by
``spawn.start_proxy``, never by hand.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import os
import socket
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import structlog

from ..paths import Paths
from ..runs import ADMIN_TOKEN_VARIABLE, RuntimeDir, RunTokens
from ..secrets import Secret

#: How often the watchdog looks at the registered runs (seconds).
WATCH_INTERVAL = 0.25
#: How long the proxy stays up with no live run before it retires (seconds): long enough for
#: a launcher that just started it to register nothing new, short enough to go away quickly.
LINGER = 1.0
#: The longest pause between two looks while the process is out of file descriptors.
MAX_BACKOFF = 2.0

log = structlog.get_logger("auto_router.proxy")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="auto_router.proxy.managed")
    parser.add_argument("--config-dir", required=True)
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--runtime-dir", required=True)
    parser.add_argument("--linger", type=float, default=LINGER)
    parser.add_argument("--fd", type=int, help="a listening socket the launcher bound")
    args = parser.parse_args(argv)
    paths = Paths(config_dir=Path(args.config_dir), data_dir=Path(args.data_dir))
    runtime = RuntimeDir(paths, root=Path(args.runtime_dir))
    if args.fd is not None:
        sock = socket.socket(fileno=args.fd)
    else:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
    serve(paths, runtime, sock, linger=args.linger)
    return 0


def serve(
    paths: Paths, runtime: RuntimeDir, sock: socket.socket, *, linger: float = LINGER
) -> None:
    """Serve on ``sock`` until no run is left. Connections made before the app is ready
    wait in the socket's backlog, so a launcher need not wait for it."""

    from .app import ProxyOptions, create_app
    from .logs import configure_logging
    from .server import Bounds, ProxyServer, raise_fd_limit, server_config

    configure_logging()
    tokens = RunTokens(runtime)
    # The management API's token, from the launcher (also in proxy.json for the CLI);
    # without it (started by hand) the management API refuses everything.
    admin = os.environ.pop(ADMIN_TOKEN_VARIABLE, "")
    app = create_app(
        ProxyOptions(paths=paths, run_tokens=tokens, admin_token=Secret(admin) if admin else None)
    )
    port = sock.getsockname()[1]
    # The same bounds as ``auto-router proxy``: head size and time, keep-alive, connections.
    config = server_config(app, Bounds.of(app.services.settings, raise_fd_limit()))
    server = ProxyServer(config, app)
    watchdog = threading.Thread(
        target=_watch, args=(server, runtime, tokens, port, linger), daemon=True
    )
    watchdog.start()
    server.run(sockets=[sock])


def _watch(
    server: object,
    runtime: RuntimeDir,
    tokens: RunTokens,
    port: int,
    linger: float,
    pause: Callable[[float], None] = time.sleep,
) -> None:
    """Say ready once serving; then retire when no registered run has been alive for
    ``linger`` seconds (checked again under the lock, so no launcher is left behind).

    Whatever ends this thread ends the server too: a proxy without its watch would never
    notice that its launchers are gone, and would outlive them all.
    """
    try:
        _watch_runs(server, runtime, tokens, port, linger, pause)
    finally:
        server.should_exit = True  # type: ignore[attr-defined]


def _watch_runs(
    server: object,
    runtime: RuntimeDir,
    tokens: RunTokens,
    port: int,
    linger: float,
    pause: Callable[[float], None],
) -> None:
    while not getattr(server, "started", False):
        if getattr(server, "should_exit", False):
            return
        pause(0.01)
    _say_ready(port)
    last_alive: float | None = time.monotonic()
    wait = WATCH_INTERVAL
    while last_alive is not None:
        pause(wait)
        try:
            last_alive = _look(runtime, tokens, last_alive, linger)
            wait = WATCH_INTERVAL
        except OSError as exc:
            if exc.errno not in (errno.EMFILE, errno.ENFILE):
                raise
            # No descriptor left to read the runs with (a flood of connections, say): a run
            # may well be alive, so the proxy stays, and looks again later, less often.
            last_alive = time.monotonic()
            wait = min(wait * 2, MAX_BACKOFF)
            log.warning("watchdog: out of file descriptors, retrying", wait=wait)


def _look(runtime: RuntimeDir, tokens: RunTokens, last_alive: float, linger: float) -> float | None:
    """One look at the runs: when one was last seen alive, or ``None`` once the proxy has
    retired (no live run for ``linger`` seconds, confirmed under the lock)."""
    now = time.monotonic()
    if tokens.refresh():
        return now
    if now - last_alive < linger:
        return last_alive
    with runtime.locked():
        if runtime.live_entries():
            return now
        runtime.clear_proxy(os.getpid())
    return None


def _say_ready(port: int) -> None:
    """``ready <port>`` to the launcher that started us, then close the pipe.

    The launcher may be gone already: a run shorter than the proxy's start-up (Codex CLI
    answering in 1.5 s) closes the pipe first. That is no reason to stop: the write is
    unbuffered and its broken pipe ignored, so the watch goes on and retires the proxy.
    """
    fd = sys.stdout.fileno()
    with contextlib.suppress(OSError):
        os.write(fd, f"ready {port}\n".encode())
    with contextlib.suppress(OSError):
        _close_keeping_number(fd)  # the launcher stops reading; nothing else goes there


def _close_keeping_number(fd: int) -> None:
    """Close what ``fd`` refers to, but keep the number taken (by /dev/null).

    A closed stdout's number is the lowest free one, so the next client connection would
    get it, and libuv never closes descriptors 0-2 ("Don't close stdio file descriptors",
    ``uv__stream_close`` in libuv's src/unix/stream.c): that connection would stay open for
    ever, whatever timeout closed it.
    """
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, fd)
    finally:
        os.close(null)


if __name__ == "__main__":
    raise SystemExit(main())
