"""The proxy ``auto-router run`` starts, against slow and greedy clients (issue 18, items 2
and 3): it has the standalone proxy's bounds, and its watchdog outlives a shortage of file
descriptors instead of taking the proxy down under a running agent.

Real processes (a launcher stand-in with a low RLIMIT_NOFILE, which the proxy it starts
inherits), real sockets, real files. Nothing is timed; waits have generous hang guards.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from auto_router.demo.fake_upstream import FakeUpstream, Reply, Seen
from auto_router.demo.wire import chat_completion
from auto_router.runs import pid_alive
from tests.helpers import closed_after_test
from tests.security.test_bounded_server import (
    Trickle,
    head_of,
    limited,
    open_fds,
    read_until_closed,
    rss_kib,
    send_endless_header,
)

from .test_lifecycle import ROOT, STUB, Stub, finish, proxy_record, wait_gone

pytestmark = pytest.mark.integration


@pytest.fixture
def upstream() -> Iterator[FakeUpstream]:
    def script(seen: Seen) -> Reply:
        return Reply(body=chat_completion("m1", "from one"))

    with FakeUpstream(script) as fake:
        yield fake


def write_home(home: Path, upstream: str, head_timeout: float = 1) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "llm_config.toml").write_text(
        f'[backends.qwen]\nproviders = ["one"]\n\n[proxy]\nrequest_head_timeout = {head_timeout}\n'
    )
    (home / "provider_metadata.toml").write_text(
        f'[qwen.one]\nbase_url = "{upstream}"\napi_key = "sk-one-0123456789"\nmodel = "m1"\n'
    )


def start_stub(home: Path, soft: int, hard: int) -> Stub:
    """A launcher stand-in (and so the proxy it starts) with these descriptor limits."""
    proc = subprocess.Popen(
        limited(soft, hard, str(STUB), str(home)),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.stdout is not None
    data = json.loads(proc.stdout.readline())
    return Stub(proc, data["url"], data["token"], data["started"])


def ask(stub: Stub) -> str | None:
    client = closed_after_test(openai.OpenAI(base_url=stub.url + "/v1", api_key=stub.token))
    return client.chat.completions.create(model="m1", messages=[]).choices[0].message.content


def test_a_flood_of_slow_connections_leaves_the_runs_proxy_serving_its_agent(
    tmp_path: Path, upstream: FakeUpstream
) -> None:
    home = tmp_path / "home"
    write_home(home, upstream.url)
    stub = start_stub(home, 100, 128)
    try:
        pid = proxy_record(home).pid
        port = int(stub.url.rsplit(":", 1)[1])
        flood = Trickle(port, 300)  # far more than 128 descriptors
        try:
            assert open_fds(pid) < 128
            answers = [read_until_closed(sock) for sock in flood.socks]
        finally:
            flood.close()
        # The oldest were pushed out by newer ones (closed, nothing said); the last ones
        # within the limit got a 408 once their head took too long.
        assert {a[:12] for a in answers} == {b"", b"HTTP/1.1 408"}
        assert pid_alive(pid) and proxy_record(home).pid == pid
        assert ask(stub) == "from one"
        assert b"Too many open files" not in proxy_log(home).read_bytes()
    finally:
        finish([stub])
    wait_gone(pid)  # and its watchdog still retires it after the last run


def proxy_log(home: Path) -> Path:
    (runtime,) = (home / "run").glob("proxy-*")
    return runtime / "proxy.log"


def test_the_runs_proxy_cuts_off_a_head_that_never_ends(
    tmp_path: Path, upstream: FakeUpstream
) -> None:
    home = tmp_path / "home"
    write_home(home, upstream.url, head_timeout=60)  # the size limit, not the time, stops it
    stub = start_stub(home, 1024, 1024)
    try:
        pid = proxy_record(home).pid
        port = int(stub.url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.sendall(head_of(port) + b"x-filler: " + b"a" * 100_000 + b"\r\n\r\n")
            assert read_until_closed(sock).startswith(b"HTTP/1.1 400 ")
        before = rss_kib(pid)
        assert send_endless_header(port) < 32 * 2**20  # closed long before 200 MB
        assert rss_kib(pid) - before < 20 * 1024, (before, rss_kib(pid))
        assert ask(stub) == "from one"
    finally:
        finish([stub])
    wait_gone(pid)


#: The watchdog alone, in a process whose descriptors run out for real: ``pause`` (the
#: watchdog's sleep) takes every free descriptor after the first look, gives them back five
#: looks later and ends the run; the result goes to a file named on the command line.
WATCH_UNDER_EMFILE = """
import json, os, sys, time
from pathlib import Path
from auto_router.paths import Paths
from auto_router.proxy import managed
from auto_router.proxy.logs import configure_logging
from auto_router.runs import RunEntry, RunTokens, RuntimeDir, new_token

home, result = Path(sys.argv[1]), Path(sys.argv[2])
configure_logging()
runtime = RuntimeDir(Paths(home, home), root=home / "run")
token = new_token()
runtime.register(token, RunEntry("r", "qwen", os.getpid(), time.time()))
hog, pauses = [], []

def pause(seconds):
    pauses.append(seconds)
    if len(pauses) == 1:
        while True:
            try:
                hog.append(os.open(os.devnull, os.O_RDONLY))
            except OSError:
                break
    if len(pauses) == 6:
        for fd in hog:
            os.close(fd)
        runtime.unregister(token)

class Server:
    started, should_exit = True, False

server = Server()
managed._watch(server, runtime, RunTokens(runtime), 1234, linger=0, pause=pause)
result.write_text(json.dumps({"pauses": pauses, "exit": server.should_exit, "hog": len(hog)}))
"""


def test_the_watchdog_outlives_running_out_of_descriptors(tmp_path: Path) -> None:
    result = tmp_path / "result.json"
    proc = subprocess.run(
        limited(64, 64, "-c", WATCH_UNDER_EMFILE, str(tmp_path), str(result)),
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    done = json.loads(result.read_text())
    assert done["hog"] > 0  # the descriptors really ran out
    # It kept looking, less and less often, while it could not read the runs; it retired
    # only once it could, and saw the run had ended.
    assert done["pauses"] == [0.25, 0.5, 1.0, 2.0, 2.0, 2.0]
    assert done["exit"]
    assert b"out of file descriptors, retrying" in proc.stderr
    assert b"Traceback" not in proc.stderr
