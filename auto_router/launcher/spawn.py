"""The launcher's side of the managed proxy: register a run, reuse or start the proxy.

``join`` registers the run's token and returns the proxy's URL, starting the proxy on a free
loopback port if none runs for this configuration (or the recorded one is gone: a stale
``proxy.json`` after a crash is replaced). ``leave`` removes the registration; the proxy sees
it and, when it was the last, exits.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import NamedTuple

from ..errors import ProxyStartError
from ..paths import Paths
from ..runs import (
    ADMIN_TOKEN_PREFIX,
    ADMIN_TOKEN_VARIABLE,
    ProxyRecord,
    RunEntry,
    RuntimeDir,
    new_token,
    pid_alive,
    port_open,
)

#: How long ``ReadyWatch.wait`` waits for a new proxy (seconds).
READY_TIMEOUT = 15.0


class ReadyWatch:
    """Reads the new proxy's ``ready <port>`` line in the background.

    The launcher does not wait for it: the listening socket exists before the proxy process
    does (the launcher binds it and hands it over), so the agent's first connection waits in
    its backlog while the proxy starts. ``wait`` is for callers that want to know.
    """

    def __init__(self, proc: subprocess.Popen[bytes], log: Path) -> None:
        self.proc = proc
        self.log = log
        self.line = ""
        self._done = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        try:
            self.line = self.proc.stdout.readline().decode(errors="replace").strip()
        finally:
            self.proc.stdout.close()
            self._done.set()

    def wait(self, timeout: float = READY_TIMEOUT) -> None:
        """Until the proxy is ready; ``ProxyStartError`` if it exited or took too long."""
        if not self._done.wait(timeout) or not self.line.startswith("ready "):
            raise ProxyStartError(
                "the local proxy did not start",
                hint=f"its log: {self.log}; or run with --direct",
            )

    @property
    def failed(self) -> bool:
        return self._done.is_set() and not self.line.startswith("ready ")


class Joined(NamedTuple):
    """A run registered with a proxy."""

    url: str
    token: str
    runtime: RuntimeDir
    #: Set when this launcher started the proxy.
    ready: ReadyWatch | None = None

    @property
    def started(self) -> bool:
        return self.ready is not None


def join(
    paths: Paths,
    token: str,
    entry: RunEntry,
    *,
    runtime: RuntimeDir | None = None,
    python: str = sys.executable,
) -> Joined:
    """Register ``token`` for ``entry`` and return the proxy that will accept it."""
    runtime = runtime or RuntimeDir(paths)
    with runtime.locked():
        runtime.register(token, entry)
        record = runtime.read_proxy()
        if record is not None and pid_alive(record.pid) and port_open(record.port):
            return Joined(record.url, token, runtime)
        runtime.clear_proxy()  # stale (the proxy crashed or was killed): replace it
        try:
            record, ready = start_proxy(paths, runtime, python=python)
        except BaseException:
            runtime.unregister(token)
            raise
        runtime.write_proxy(record)
        return Joined(record.url, token, runtime, ready)


def leave(joined: Joined) -> None:
    joined.runtime.unregister(joined.token)


def start_proxy(
    paths: Paths, runtime: RuntimeDir, *, python: str = sys.executable
) -> tuple[ProxyRecord, ReadyWatch]:
    """Bind a free loopback port, hand the socket to a new proxy process (its own session:
    a Ctrl-C for the agent does not reach it) and return at once."""
    import socket  # here: a run that finds its proxy running never binds one

    runtime.ensure()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1024)
        port = sock.getsockname()[1]
        log_fd = os.open(runtime.log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        # The management API's token: in the proxy's environment (readable by this user
        # only) and in proxy.json (0600), where the CLI finds it.
        admin_token = new_token(ADMIN_TOKEN_PREFIX)
        try:
            proc = subprocess.Popen(
                [
                    python,
                    "-m",
                    "auto_router.proxy.managed",
                    "--config-dir",
                    str(paths.config_dir),
                    "--data-dir",
                    str(paths.data_dir),
                    "--runtime-dir",
                    str(runtime.path.parent),
                    "--fd",
                    str(sock.fileno()),
                ],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                env={**os.environ, ADMIN_TOKEN_VARIABLE: admin_token},
                stderr=log_fd,
                start_new_session=True,
                pass_fds=(sock.fileno(),),
            )
        except OSError as exc:
            raise ProxyStartError(f"cannot start the local proxy: {exc}") from exc
        finally:
            os.close(log_fd)
    finally:
        sock.close()  # the proxy holds it now; when it exits, the port closes with it
    record = ProxyRecord(
        pid=proc.pid,
        port=port,
        url=f"http://127.0.0.1:{port}",
        config_dir=str(paths.config_dir),
        started_at=time.time(),
        admin_token=admin_token,
    )
    return record, ReadyWatch(proc, runtime.log_path)
