"""Slow and greedy clients against ``auto-router proxy`` (issue 18, items 2 and 3): heads sent
a byte at a time, idle connections, more connections than descriptors, a head that never
ends. Real sockets; the proxy in-process on uvicorn as the CLI runs it, or as a real
``auto-router proxy`` process with a low RLIMIT_NOFILE where descriptors are the point.

Nothing here is timed: the bounds are set short in the configuration, and each wait has a
hang guard many times longer than the bound it waits for.
"""

from __future__ import annotations

import contextlib
import os
import select
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from auto_router.config import load_config, parse_proxy_settings
from auto_router.config.proxy import ProxySettings
from auto_router.demo.fake_upstream import FakeUpstream, free_port
from auto_router.paths import Paths
from auto_router.proxy.server import Bounds
from tests.helpers import closed_after_test

from .conftest import configure, make_app, running

pytestmark = pytest.mark.integration

#: Hang guards (seconds): far above the short bounds the tests configure.
GUARD = 30.0
#: Runs the rest of its command line under ``RLIMIT_NOFILE = (argv[1], argv[2])``: set in the
#: child itself, then exec'd (``preexec_fn`` is unsafe next to the fake upstream's thread).
WITH_NOFILE = (
    "import os, resource, sys;"
    "resource.setrlimit(resource.RLIMIT_NOFILE, (int(sys.argv[1]), int(sys.argv[2])));"
    "os.execv(sys.executable, [sys.executable, *sys.argv[3:]])"
)


def limited(soft: int, hard: int, *argv: str) -> list[str]:
    """``argv`` (a Python command line) run with ``soft``/``hard`` descriptor limits."""
    return [sys.executable, "-c", WITH_NOFILE, str(soft), str(hard), *argv]


def head_of(port: int) -> bytes:
    return f"POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\n".encode()


def read_until_closed(sock: socket.socket, guard: float = GUARD) -> bytes:
    """Everything the proxy sends until it closes the connection (a reset counts as closed)."""
    sock.settimeout(guard)
    out = b""
    with contextlib.suppress(ConnectionResetError):
        while chunk := sock.recv(65536):
            out += chunk
    return out


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def wait_healthy(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + GUARD
    while True:
        assert proc.poll() is None, "the proxy exited at start"
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=5).status_code == 200:
                return
        assert time.monotonic() < deadline, "the proxy did not start"
        time.sleep(0.05)


@contextlib.contextmanager
def proxy_process(home: Paths, soft: int, hard: int) -> Iterator[tuple[int, int, Path]]:
    """``auto-router proxy`` as a process with descriptor limits; yields (pid, port, log)."""
    port = free_port()
    log = home.data_dir / "proxy.log"
    argv = ["-m", "auto_router", "--config-dir", str(home.config_dir), "proxy"]
    with log.open("wb") as out:
        proc = subprocess.Popen(limited(soft, hard, *argv, "--port", str(port)), stderr=out)
    try:
        wait_healthy(port, proc)
        yield proc.pid, port, log
        assert proc.poll() is None, "the proxy died"
    finally:
        proc.terminate()
        proc.wait(GUARD)


class Trickle:
    """Slowloris: connections that each send a partial request head, then a byte now and
    then, never the blank line that ends it."""

    def __init__(self, port: int, count: int) -> None:
        self.socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(count)]
        for sock in self.socks:
            sock.sendall(head_of(port))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._drip, daemon=True)
        self._thread.start()

    def _drip(self) -> None:
        while not self._stop.wait(0.2):
            for sock in self.socks:
                with contextlib.suppress(OSError):  # closed by the proxy: the point
                    sock.send(b"x")

    def close(self) -> None:
        self._stop.set()
        self._thread.join(GUARD)
        for sock in self.socks:
            sock.close()


def test_slow_heads_are_closed_while_a_real_client_is_served(
    home: Paths, upstream: FakeUpstream
) -> None:
    configure(home, upstream.url, proxy="request_head_timeout = 1")
    with running(make_app(home)) as port:
        slow = Trickle(port, 200)
        silent = socket.create_connection(("127.0.0.1", port))  # connects, never sends
        try:
            # Served meanwhile, through the SDK, while 200 heads are still trickling in.
            client = closed_after_test(
                openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="k", max_retries=0)
            )
            reply = client.chat.completions.create(model="m", messages=[])
            assert reply.choices[0].message.content
            # Each trickling head is answered 408 and closed; a silent one is just closed.
            answers = [read_until_closed(sock) for sock in slow.socks]
            assert all(a.startswith(b"HTTP/1.1 408 ") for a in answers), answers[:3]
            assert read_until_closed(silent) == b""
        finally:
            slow.close()
            silent.close()
    assert len(upstream.seen) == 1


def test_an_idle_keep_alive_connection_is_closed(home: Paths, upstream: FakeUpstream) -> None:
    configure(home, upstream.url, proxy="keep_alive_timeout = 1\nrequest_head_timeout = 1")
    with running(make_app(home)) as port, socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(f"GET /health HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\n\r\n".encode())
        # The answer, then nothing: the connection stays idle until the proxy closes it.
        answer = read_until_closed(sock, guard=10)
        assert answer.startswith(b"HTTP/1.1 200 ")
        assert b"connection: close" not in answer.lower()  # it was kept alive, then closed


def test_the_next_head_on_a_kept_alive_connection_is_timed_too(
    home: Paths, upstream: FakeUpstream
) -> None:
    configure(home, upstream.url, proxy="request_head_timeout = 1")
    with running(make_app(home)) as port, socket.create_connection(("127.0.0.1", port)) as sock:
        sock.settimeout(GUARD)
        sock.sendall(f"GET /health HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\n\r\n".encode())
        first = sock.recv(65536)
        assert first.startswith(b"HTTP/1.1 200 ")
        sock.sendall(head_of(port))  # the second request's head, never finished
        assert read_until_closed(sock, guard=10).startswith(b"HTTP/1.1 408 ")


def busy_request(port: int) -> socket.socket:
    """A request in progress: its head is whole, its body never comes (the proxy waits)."""
    sock = socket.create_connection(("127.0.0.1", port))
    sock.sendall(head_of(port) + b"content-type: application/json\r\ncontent-length: 100\r\n\r\n{")
    return sock


def test_connections_past_the_limit_get_503_not_emfile(home: Paths, upstream: FakeUpstream) -> None:
    configure(home, upstream.url, proxy="request_head_timeout = 60")
    # Soft 100, hard 128: the proxy raises the soft limit to 128 and keeps room below it.
    expected = Bounds.of(ProxySettings(), 128).max_connections
    with proxy_process(home, 100, 128) as (pid, port, log):
        assert "Max open files            128                  128" in (
            Path(f"/proc/{pid}/limits").read_text()
        )
        busy = [busy_request(port) for _ in range(expected)]
        try:
            # Every connection has a request in progress: none can make room. Each new one
            # is answered 503 at once and closed (never a reset, never EMFILE), 250 times.
            more = [socket.create_connection(("127.0.0.1", port)) for _ in range(250)]
            for sock in more:
                answer = read_until_closed(sock)
                assert answer.startswith(b"HTTP/1.1 503 "), answer
                assert b"retry-after: 1" in answer
                sock.close()
            assert open_fds(pid) < 128
            assert not select.select(busy, [], [], 0.5)[0]  # the busy ones are left alone
            with pytest.raises(openai.InternalServerError):  # the SDK gets the same 503
                closed_after_test(
                    openai.OpenAI(
                        base_url=f"http://127.0.0.1:{port}/v1", api_key="k", max_retries=0
                    )
                ).models.list()
        finally:
            for sock in busy:
                sock.close()
        # Served again once a connection is free (the SDK's retries cover the moment the
        # proxy takes to see the busy ones gone).
        client = closed_after_test(
            openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="k")
        )
        assert client.chat.completions.create(model="m", messages=[]).choices
    assert b"Too many open files" not in log.read_bytes()


def test_slow_heads_past_the_limit_make_room_for_a_real_client(
    home: Paths, upstream: FakeUpstream
) -> None:
    configure(home, upstream.url, proxy="request_head_timeout = 60")
    limit = Bounds.of(ProxySettings(), 128).max_connections
    with proxy_process(home, 128, 128) as (pid, port, log):
        slow = Trickle(port, 250)  # far more than the limit, and than the descriptors
        try:
            assert open_fds(pid) < 128
            # No head timed out yet (60 s): the oldest slow connections were pushed out.
            pushed_out = _closed(slow.socks, len(slow.socks) - limit)
            assert all(read_until_closed(sock) == b"" for sock in pushed_out)
            client = closed_after_test(
                openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="k", max_retries=0)
            )
            assert client.chat.completions.create(model="m", messages=[]).choices
        finally:
            slow.close()
    assert b"Too many open files" not in log.read_bytes()


def _closed(socks: list[socket.socket], count: int) -> list[socket.socket]:
    """The ``count`` connections the proxy has closed (readable: EOF)."""
    deadline = time.monotonic() + GUARD
    ready: set[socket.socket] = set()
    while len(ready) < count:
        assert time.monotonic() < deadline, f"{len(ready)} of {count} connections closed"
        readable, _, _ = select.select([s for s in socks if s not in ready], [], [], 1.0)
        ready.update(readable)
    return [s for s in socks if s in ready]


def test_a_body_still_coming_after_the_answer_does_not_hold_the_connection(
    home: Paths, upstream: FakeUpstream
) -> None:
    configure(home, upstream.url)
    with running(make_app(home)) as port, socket.create_connection(("127.0.0.1", port)) as sock:
        # /health answers without reading the body this request announces.
        sock.sendall(
            f"GET /health HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\ncontent-length: 100000\r\n\r\n".encode()
        )
        dribble = threading.Thread(target=_dribble, args=(sock,), daemon=True)
        dribble.start()
        answer = read_until_closed(sock, guard=10)  # closed at once, not at the client's pace
        assert answer.startswith(b"HTTP/1.1 200 ")
        dribble.join(GUARD)


def _dribble(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        for _ in range(int(GUARD / 0.2)):
            sock.send(b"x")
            time.sleep(0.2)


def test_a_head_that_never_ends_is_cut_off_and_memory_stays_flat(
    home: Paths, upstream: FakeUpstream
) -> None:
    configure(home, upstream.url)
    with proxy_process(home, 1024, 1024) as (pid, port, _log):
        before = rss_kib(pid)
        sent = send_endless_header(port)
        assert sent < 32 * 2**20  # closed long before the 200 MB were sent
        assert rss_kib(pid) - before < 20 * 1024, (before, rss_kib(pid))
        assert httpx.get(f"http://127.0.0.1:{port}/health", timeout=10).status_code == 200


def send_endless_header(port: int, total: int = 200 * 2**20) -> int:
    """One header of ``total`` bytes, sent until the proxy stops it; returns bytes sent."""
    chunk = b"a" * 2**20
    sent = 0
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.settimeout(GUARD)
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(head_of(port) + b"x-filler: ")
            while sent < total:
                sock.sendall(chunk)
                sent += len(chunk)
    return sent


def test_the_bounds_are_settings(home: Paths) -> None:
    configure(
        home,
        "http://127.0.0.1:9/v1",
        proxy="request_head_timeout = 2.5\nkeep_alive_timeout = 7\nmax_connections = 50",
    )
    settings = parse_proxy_settings(load_config(home))
    assert Bounds.of(settings, 20_000) == Bounds(2.5, 7.0, 50)
    assert Bounds.of(settings, 128).max_connections == 32  # what the descriptors leave
    assert Bounds.of(ProxySettings(), 20_000) == Bounds(10.0, 30.0, 4096)
