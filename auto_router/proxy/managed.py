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
import os
import socket
import sys
import threading
import time
from pathlib import Path

from ..paths import Paths
from ..runs import ADMIN_TOKEN_VARIABLE, RuntimeDir, RunTokens
from ..secrets import Secret

#: How often the watchdog looks at the registered runs (seconds).
WATCH_INTERVAL = 0.25
#: How long the proxy stays up with no live run before it retires (seconds): long enough for
#: a launcher that just started it to register nothing new, short enough to go away quickly.
LINGER = 1.0


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
    import uvicorn

    from .app import ProxyOptions, create_app
    from .logs import configure_logging

    configure_logging()
    tokens = RunTokens(runtime)
    # The management API's token, from the launcher (also in proxy.json for the CLI);
    # without it (started by hand) the management API refuses everything.
    admin = os.environ.pop(ADMIN_TOKEN_VARIABLE, "")
    app = create_app(
        ProxyOptions(paths=paths, run_tokens=tokens, admin_token=Secret(admin) if admin else None)
    )
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        loop="uvloop",
        http="httptools",
        ws="none",
        lifespan="on",
        access_log=False,
        log_config=None,
        log_level="warning",
        server_header=False,
        proxy_headers=False,
        timeout_keep_alive=75,
    )
    server = uvicorn.Server(config)
    watchdog = threading.Thread(
        target=_watch, args=(server, runtime, tokens, port, linger), daemon=True
    )
    watchdog.start()
    server.run(sockets=[sock])


def _watch(
    server: object, runtime: RuntimeDir, tokens: RunTokens, port: int, linger: float
) -> None:
    """Say ready once serving; then retire when no registered run has been alive for
    ``linger`` seconds (checked again under the lock, so no launcher is left behind).

    Whatever ends this thread ends the server too: a proxy without its watch would never
    notice that its launchers are gone, and would outlive them all.
    """
    try:
        _watch_runs(server, runtime, tokens, port, linger)
    finally:
        server.should_exit = True  # type: ignore[attr-defined]


def _watch_runs(
    server: object, runtime: RuntimeDir, tokens: RunTokens, port: int, linger: float
) -> None:
    while not getattr(server, "started", False):
        if getattr(server, "should_exit", False):
            return
        time.sleep(0.01)
    _say_ready(port)
    last_alive = time.monotonic()
    while True:
        time.sleep(WATCH_INTERVAL)
        if tokens.refresh():
            last_alive = time.monotonic()
            continue
        if time.monotonic() - last_alive < linger:
            continue
        with runtime.locked():
            if runtime.live_entries():
                last_alive = time.monotonic()
                continue
            runtime.clear_proxy(os.getpid())
        return


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
        os.close(fd)  # the launcher stops reading; nothing else goes there


if __name__ == "__main__":
    raise SystemExit(main())
