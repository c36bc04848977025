"""The launcher's side of the managed proxy: register a run, reuse or start the proxy.

``join`` registers the run's token and returns the proxy's URL, starting the proxy on a free
loopback port if none runs for this configuration (or the recorded one is gone: a stale
``proxy.json`` after a crash is replaced). ``leave`` removes the registration; the proxy sees
it and, when it was the last, exits.
"""

from __future__ import annotations

import os
import select
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from ..errors import AutoRouterError
from ..paths import Paths
from .runtime import ProxyRecord, RunEntry, RuntimeDir, pid_alive, port_open

#: How long a new proxy may take to say it is ready before the run gives up (seconds).
READY_TIMEOUT = 15.0


class ProxyStartError(AutoRouterError):
    code = "PROXY_START_FAILED"
    exit_code = 69  # EX_UNAVAILABLE


@dataclass(frozen=True)
class Joined:
    """A run registered with a proxy."""

    url: str
    token: str
    runtime: RuntimeDir
    #: Did this launcher start the proxy (for the benchmark and ``--dry-run``)?
    started: bool


def join(
    paths: Paths,
    token: str,
    entry: RunEntry,
    *,
    runtime: RuntimeDir | None = None,
    python: str = sys.executable,
    ready_timeout: float = READY_TIMEOUT,
) -> Joined:
    """Register ``token`` for ``entry`` and return the proxy that will accept it."""
    runtime = runtime or RuntimeDir(paths)
    with runtime.locked():
        runtime.register(token, entry)
        record = runtime.read_proxy()
        if record is not None and pid_alive(record.pid) and port_open(record.port):
            return Joined(record.url, token, runtime, started=False)
        runtime.clear_proxy()  # stale (the proxy crashed or was killed): replace it
        try:
            record = start_proxy(paths, runtime, python=python, ready_timeout=ready_timeout)
        except BaseException:
            runtime.unregister(token)
            raise
        runtime.write_proxy(record)
        return Joined(record.url, token, runtime, started=True)


def leave(joined: Joined) -> None:
    joined.runtime.unregister(joined.token)


def start_proxy(
    paths: Paths,
    runtime: RuntimeDir,
    *,
    python: str = sys.executable,
    ready_timeout: float = READY_TIMEOUT,
) -> ProxyRecord:
    """Spawn the proxy process (its own session: a Ctrl-C for the agent does not reach it)
    and wait for its ``ready <port>`` line."""
    runtime.ensure()
    log_fd = os.open(runtime.log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        proc = subprocess.Popen(
            [
                python,
                "-m",
                "auto_router.managed.serve",
                "--config-dir",
                str(paths.config_dir),
                "--data-dir",
                str(paths.data_dir),
                "--runtime-dir",
                str(runtime.path.parent),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=log_fd,
            start_new_session=True,
            close_fds=True,
        )
    finally:
        os.close(log_fd)
    assert proc.stdout is not None
    try:
        port = _read_ready(proc, ready_timeout, runtime.log_path)
    finally:
        proc.stdout.close()
    return ProxyRecord(
        pid=proc.pid,
        port=port,
        url=f"http://127.0.0.1:{port}",
        config_dir=str(paths.config_dir),
        started_at=time.time(),
    )


def _read_ready(proc: subprocess.Popen[bytes], timeout: float, log: Path) -> int:
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    deadline = time.monotonic() + timeout
    data = b""
    while b"\n" not in data:
        left = deadline - time.monotonic()
        ready, _, _ = select.select([fd], [], [], max(0.0, left))
        chunk = os.read(fd, 256) if ready else b""
        if not chunk:
            if ready or left <= 0:
                break
            continue
        data += chunk
    line = data.split(b"\n", 1)[0].decode(errors="replace")
    if line.startswith("ready "):
        return int(line.split()[1])
    if proc.poll() is None:
        proc.kill()
        proc.wait()
    raise ProxyStartError(
        "the local proxy did not start" + (f" (exit status {proc.returncode})" if line else ""),
        hint=f"its log: {log}; or run with --direct",
    )
