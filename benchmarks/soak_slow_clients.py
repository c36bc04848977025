#!/usr/bin/env python3
"""Slow and greedy clients against a proxy process: issue 18's items 2 and 3, as figures.

Starts one proxy from ``--tree`` (a source tree, first on ``PYTHONPATH``; default this one)
under a descriptor limit (``--nofile``, default 1024/1024 as on many desktops):
``standalone`` is ``auto-router proxy`` on a config with one fake provider, ``run`` the
managed proxy a launcher stand-in (tests/managed/launcher_stub.py) starts. Then:

1. ``--slow`` connections (default 1,100) each send a partial request head, then a byte
   every 0.5 s; meanwhile one real request (``GET /health``; on ``run``, a chat completion
   with the run's token) is timed; after ``--wait`` seconds (default 40) the connections
   the proxy still holds open are counted, and whether the proxy is alive;
2. one header of ``--header-mb`` MiB (default 200) is sent until the proxy stops it: the
   bytes it took, its RSS (``/proc``) before and after, and how long ``/health`` took
   right after.

    python benchmarks/soak_slow_clients.py standalone|run [--tree DIR] [--nofile 1024]

Only loopback addresses are used. Prints one Markdown table row per figure.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LIMITED = (
    "import os, resource, sys;"
    "resource.setrlimit(resource.RLIMIT_NOFILE, (int(sys.argv[1]), int(sys.argv[2])));"
    "os.execv(sys.executable, [sys.executable, *sys.argv[3:]])"
)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["standalone", "run"])
    parser.add_argument("--tree", type=Path, default=ROOT)
    parser.add_argument("--nofile", type=int, default=1024)
    parser.add_argument("--slow", type=int, default=1100)
    parser.add_argument("--wait", type=float, default=40.0)
    parser.add_argument("--header-mb", type=int, default=200)
    args = parser.parse_args()
    sys.path.insert(0, str(args.tree))
    from auto_router.demo.fake_upstream import FakeUpstream, free_port

    with FakeUpstream() as upstream, tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        (home / "llm_config.toml").write_text('[backends.qwen]\nproviders = ["one"]\n')
        (home / "provider_metadata.toml").write_text(
            f'[qwen.one]\nbase_url = "{upstream.url}"\napi_key = "sk-soak-0123456789"\n'
            'model = "m1"\n'
        )
        env = {**os.environ, "PYTHONPATH": str(args.tree)}
        limit = [sys.executable, "-c", LIMITED, str(args.nofile), str(args.nofile)]
        if args.mode == "standalone":
            port, token = free_port(), ""
            argv = ["-m", "auto_router", "--config-dir", str(home), "proxy", "--port", str(port)]
            proc = subprocess.Popen([*limit, *argv], env=env, cwd=home, stderr=subprocess.DEVNULL)
            pid = _wait_ready(port, proc)
        else:
            stub = str(args.tree / "tests/managed/launcher_stub.py")
            proc = subprocess.Popen(
                [*limit, stub, str(home)],
                env=env,
                cwd=home,  # not this checkout: ``-m`` puts the working directory first
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
            )
            assert proc.stdout is not None
            joined = json.loads(proc.stdout.readline())
            port, token = int(joined["url"].rsplit(":", 1)[1]), joined["token"]
            record = next((home / "run").glob("proxy-*/proxy.json"))
            pid = json.loads(record.read_text())["pid"]
        try:
            print(f"| figure | {args.mode}, tree {args.tree.name}, nofile {args.nofile} |")
            print("|---|---|")
            _slow_clients(args, port, pid, token)
            if _alive(pid):
                _big_header(args, port, pid)
        finally:
            if proc.stdin is not None:
                proc.stdin.close()
            proc.terminate()
            proc.wait(30)
    return 0


def _wait_ready(port: int, proc: subprocess.Popen[bytes]) -> int:
    for _ in range(600):
        if _health(port) is not None:
            return proc.pid
        if proc.poll() is not None:
            raise SystemExit("the proxy exited at start")
        time.sleep(0.05)
    raise SystemExit("the proxy did not start")


def _health(port: int, token: str = "") -> float | None:
    """Seconds a real request took (``None``: refused, failed or over 30 s)."""
    url, body, headers = f"http://127.0.0.1:{port}/health", None, {}
    if token:
        url = f"http://127.0.0.1:{port}/v1/chat/completions"
        body = b'{"model": "m1", "messages": [{"role": "user", "content": "hi"}]}'
        headers = {"authorization": f"Bearer {token}", "content-type": "application/json"}
    start = time.monotonic()
    try:
        with urllib.request.urlopen(urllib.request.Request(url, body, headers), timeout=30) as r:
            r.read()
            return time.monotonic() - start if r.status == 200 else None
    except OSError:
        return None


def _slow_clients(args: argparse.Namespace, port: int, pid: int, token: str) -> None:
    head = f"POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\n".encode()
    socks: list[socket.socket] = []
    for _ in range(args.slow):
        with contextlib.suppress(OSError):
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            sock.sendall(head)
            socks.append(sock)
    stop = threading.Event()

    def drip() -> None:
        while not stop.wait(0.5):
            for sock in socks:
                with contextlib.suppress(OSError):
                    sock.send(b"x")

    threading.Thread(target=drip, daemon=True).start()
    took = _health(port, token)
    print(f"| slow connections opened | {len(socks)} of {args.slow} |")
    print(f"| real request during them | {'refused' if took is None else f'{took:.2f} s'} |")
    time.sleep(args.wait)
    stop.set()
    print(f"| still open after {args.wait:g} s | {sum(_open(s) for s in socks)} |")
    print(f"| proxy alive after | {'yes' if _alive(pid) else 'no'} |")
    for sock in socks:
        sock.close()


def _open(sock: socket.socket) -> bool:
    """Has the proxy not closed this connection (nothing to read, no EOF)?"""
    sock.setblocking(False)
    try:
        while sock.recv(65536):
            pass
        return False  # EOF
    except BlockingIOError:
        return True
    except OSError:
        return False  # reset


def _big_header(args: argparse.Namespace, port: int, pid: int) -> None:
    before = _rss_mb(pid)
    chunk, sent, total = b"a" * 2**20, 0, args.header_mb * 2**20
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.settimeout(60)
        with contextlib.suppress(OSError):
            sock.sendall(f"GET /health HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\nx-a: ".encode())
            while sent < total:
                sock.sendall(chunk)
                sent += len(chunk)
    after = _rss_mb(pid)
    took = _health(port)
    print(f"| {args.header_mb} MiB header: MiB taken | {sent / 2**20:.0f} |")
    print(f"| RSS before / after (MB) | {before:.0f} / {after:.0f} |")
    print(f"| /health right after | {'failed' if took is None else f'{took:.2f} s'} |")


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().rpartition(")")[2].split()[:1] != ["Z"]


if __name__ == "__main__":
    raise SystemExit(main())
