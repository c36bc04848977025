"""The managed proxy's life: started once, shared, refused without a run token, gone after
its launchers. Real processes (launcher stand-ins and the proxy), real sockets, real files."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import openai
import pytest

from auto_router.demo.fake_upstream import FakeUpstream, Reply, Seen
from auto_router.demo.wire import chat_completion
from auto_router.paths import Paths
from auto_router.runs import ProxyRecord, RuntimeDir, pid_alive
from tests.helpers import closed_after_test

pytestmark = pytest.mark.integration

STUB = Path(__file__).with_name("launcher_stub.py")
ROOT = Path(__file__).resolve().parents[2]


def write_home(home: Path, upstream: str) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "llm_config.toml").write_text('[backends.qwen]\nproviders = ["one"]\n')
    (home / "provider_metadata.toml").write_text(
        f'[qwen.one]\nbase_url = "{upstream}"\napi_key = "sk-one-0123456789"\nmodel = "m1"\n'
    )


@dataclass
class Stub:
    proc: subprocess.Popen[str]
    url: str
    token: str
    started: bool


def start_stubs(home: Path, count: int) -> list[Stub]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [
        subprocess.Popen(
            [sys.executable, str(STUB), str(home)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(count)
    ]
    stubs = []
    for proc in procs:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line, "a launcher stand-in failed to join"
        data = json.loads(line)
        stubs.append(Stub(proc, data["url"], data["token"], data["started"]))
    return stubs


def runtime_of(home: Path) -> RuntimeDir:
    return RuntimeDir(Paths(home, home))


def proxy_record(home: Path) -> ProxyRecord:
    record = runtime_of(home).read_proxy()
    assert record is not None
    return record


def wait_gone(pid: int, timeout: float = 30) -> None:
    """Until ``pid`` exits (the timeout only stops a hang; nothing here is timed)."""
    deadline = time.monotonic() + timeout
    while pid_alive(pid):
        assert time.monotonic() < deadline, f"process {pid} is still alive"
        time.sleep(0.05)


def serve_processes(home: Path) -> list[int]:
    """Pids of managed proxies serving ``home`` (by their command line)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        ours = b"auto_router.proxy.managed" in cmdline and str(home).encode() in cmdline
        if ours and pid_alive(int(entry)):
            found.append(int(entry))
    return found


@pytest.fixture
def upstream() -> Iterator[FakeUpstream]:
    def script(seen: Seen) -> Reply:
        return Reply(body=chat_completion("m1", "from one"))

    with FakeUpstream(script) as fake:
        yield fake


def finish(stubs: list[Stub]) -> None:
    """Each launcher stand-in leaves (stdin closed) and is waited for."""
    for stub in stubs:
        for stream in (stub.proc.stdin, stub.proc.stdout):
            if stream is not None and not stream.closed:
                stream.close()
        stub.proc.wait(30)


def test_ten_concurrent_launchers_share_one_proxy_that_exits_after_the_last(
    tmp_path: Path, upstream: FakeUpstream
) -> None:
    home = tmp_path / "home"
    write_home(home, upstream.url)
    stubs = start_stubs(home, 10)
    try:
        assert len({s.url for s in stubs}) == 1
        assert sum(s.started for s in stubs) == 1
        record = proxy_record(home)
        assert serve_processes(home) == [record.pid]
        assert stubs[0].url == record.url
        runtime_file = runtime_of(home).path / "proxy.json"
        assert runtime_file.stat().st_mode & 0o777 == 0o600
        assert runtime_of(home).path.stat().st_mode & 0o777 == 0o700
        assert stubs[0].token not in runtime_file.read_text()
        # every launcher's token works
        for stub in stubs[:3]:
            client = closed_after_test(
                openai.OpenAI(base_url=stub.url + "/v1", api_key=stub.token, max_retries=0)
            )
            reply = client.chat.completions.create(model="m1", messages=[])
            assert reply.choices[0].message.content == "from one"
        finish(stubs[:9])
        assert pid_alive(record.pid)  # one launcher still uses it
        finish(stubs[9:])
        wait_gone(record.pid)
        assert runtime_of(home).read_proxy() is None
    finally:
        finish(stubs)


def test_kill_9_of_every_launcher_still_ends_the_proxy(
    tmp_path: Path, upstream: FakeUpstream
) -> None:
    home = tmp_path / "home"
    write_home(home, upstream.url)
    stubs = start_stubs(home, 3)
    pid = proxy_record(home).pid
    for stub in stubs:
        stub.proc.send_signal(signal.SIGKILL)
    finish(stubs)
    wait_gone(pid)
    assert runtime_of(home).read_proxy() is None
    assert list(runtime_of(home).runs.iterdir()) == []  # dead runs' files are cleaned up


def test_a_stale_runtime_file_is_replaced(tmp_path: Path, upstream: FakeUpstream) -> None:
    home = tmp_path / "home"
    write_home(home, upstream.url)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    runtime = runtime_of(home)
    runtime.ensure()
    runtime.write_proxy(ProxyRecord(dead.pid, 1, "http://127.0.0.1:1", str(home), 0.0))
    (runtime.path / "proxy.json.broken").write_text("{")  # unrelated junk is left alone
    stubs = start_stubs(home, 1)
    try:
        assert stubs[0].started
        record = proxy_record(home)
        assert record.pid != dead.pid and record.port != 1
        assert stubs[0].url == record.url
    finally:
        finish(stubs)
    wait_gone(record.pid)


def test_a_damaged_runtime_file_is_replaced(tmp_path: Path, upstream: FakeUpstream) -> None:
    home = tmp_path / "home"
    write_home(home, upstream.url)
    runtime = runtime_of(home)
    runtime.ensure()
    (runtime.path / "proxy.json").write_text("{not json")
    stubs = start_stubs(home, 1)
    try:
        assert stubs[0].started
        pid = proxy_record(home).pid
    finally:
        finish(stubs)
    wait_gone(pid)


def test_requests_need_a_live_run_token(tmp_path: Path, upstream: FakeUpstream) -> None:
    home = tmp_path / "home"
    write_home(home, upstream.url)
    stubs = start_stubs(home, 2)
    try:
        url = stubs[0].url
        body = {"model": "m1", "messages": []}
        none = httpx.post(f"{url}/v1/chat/completions", json=body)
        assert none.status_code == 401
        wrong = httpx.post(
            f"{url}/v1/chat/completions",
            json=body,
            headers={"Authorization": "Bearer arr_" + "x" * 43},
        )
        assert wrong.status_code == 401
        good = httpx.post(
            f"{url}/v1/chat/completions",
            json=body,
            headers={"Authorization": f"Bearer {stubs[0].token}"},
        )
        assert good.status_code == 200
        finish(stubs[:1])  # that run ended: its token stops working
        deadline = time.monotonic() + 30
        served = 1  # until the proxy notices the run ended, its token still works
        while True:
            ended = httpx.post(
                f"{url}/v1/chat/completions",
                json=body,
                headers={"Authorization": f"Bearer {stubs[0].token}"},
            )
            if ended.status_code == 401 or time.monotonic() > deadline:
                break
            served += ended.status_code == 200
            time.sleep(0.05)
        assert ended.status_code == 401
        assert len(upstream.seen) == served  # refused requests never reached the provider
        assert all("sk-one" in s.headers.get("authorization", "") for s in upstream.seen)
    finally:
        finish(stubs)
