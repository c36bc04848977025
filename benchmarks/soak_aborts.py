#!/usr/bin/env python3
"""Memory of the proxy over many clients that leave mid-stream (issue 10).

Starts a small streaming upstream (in this process, on a thread) and ``auto-router proxy
--upstream`` (a subprocess), then N times: opens a streamed chat completion through the proxy,
reads the first bytes of the body and closes the socket, the way an agent aborts when the
person presses Esc. Prints the proxy's RSS after a warm-up and every N/10 aborts.

    python benchmarks/soak_aborts.py [--aborts 10000] [--proxy-cmd .venv/bin/auto-router]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EVENTS = 200  # the upstream has more to say than any client waits for
BODY = json.dumps(
    {"model": "m", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
).encode()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def _upstream(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """An SSE stream of EVENTS chunks, 5 ms apart; stops when the proxy hangs up."""
    length = 0
    try:
        while (line := await reader.readline()) not in (b"\r\n", b""):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        await reader.readexactly(length)
        writer.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
            b"transfer-encoding: chunked\r\n\r\n"
        )
        for i in range(EVENTS):
            data = f'data: {{"choices":[{{"delta":{{"content":"w{i}"}}}}]}}\n\n'.encode()
            writer.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            await writer.drain()
            await asyncio.sleep(0.005)
        writer.write(b"0\r\n\r\n")
        await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    finally:
        writer.close()


def start_upstream(port: int) -> None:
    async def main() -> None:
        server = await asyncio.start_server(_upstream, "127.0.0.1", port, backlog=512)
        async with server:
            await server.serve_forever()

    threading.Thread(target=asyncio.run, args=(main(),), daemon=True).start()


def abort_once(port: int) -> None:
    # The Host a real client sends (with the port): the gate refuses any other (issue 8).
    request = (
        f"POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\n".encode()
        + b"content-type: application/json\r\n"
        + f"content-length: {len(BODY)}\r\n\r\n".encode()
        + BODY
    )
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        received = b""
        while b"data:" not in received:  # the head and the first event: mid-stream now
            chunk = sock.recv(65536)
            if not chunk:
                raise SystemExit("the proxy closed the stream before the first event")
            received += chunk


def wait_ready(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            abort_once(port)
            return
        except OSError:
            if proc.poll() is not None:
                raise SystemExit("the proxy exited") from None
            time.sleep(0.05)
    raise SystemExit("the proxy did not come up")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--aborts", type=int, default=10_000)
    parser.add_argument("--warmup", type=int, default=500)
    parser.add_argument("--proxy-cmd", default=str(ROOT / ".venv" / "bin" / "auto-router"))
    args = parser.parse_args(argv)
    upstream_port, proxy_port = free_port(), free_port()
    start_upstream(upstream_port)
    env = {**os.environ, "AUTO_ROUTER_HOME": str(Path(os.environ.get("TMPDIR", "/tmp")))}
    cmd = [args.proxy_cmd, "proxy", "--port", str(proxy_port)]
    cmd += ["--upstream", f"http://127.0.0.1:{upstream_port}/v1"]
    proc = subprocess.Popen(
        cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    try:
        wait_ready(proxy_port, proc)
        for _ in range(args.warmup):
            abort_once(proxy_port)
        time.sleep(0.5)
        base = rss_mb(proc.pid)
        print(f"after {args.warmup} warm-up aborts: {base:.1f} MB", flush=True)
        step = max(args.aborts // 10, 1)
        started = time.monotonic()
        for done in range(1, args.aborts + 1):
            abort_once(proxy_port)
            if done % step == 0:
                print(f"{done:>6} aborts: {rss_mb(proc.pid):.1f} MB", flush=True)
        time.sleep(0.5)
        final = rss_mb(proc.pid)
        elapsed = time.monotonic() - started
        print(
            f"{args.aborts} aborts in {elapsed:.1f} s: {base:.1f} -> {final:.1f} MB "
            f"({final - base:+.1f} MB, {(final - base) * 1024 * 1024 / args.aborts:+.0f} B/abort)"
        )
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
