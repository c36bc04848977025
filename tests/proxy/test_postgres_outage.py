"""The PostgreSQL request log through a real proxy (issue 22): PostgreSQL really stopped
(``pg_ctl stop -m fast`` on a cluster of the test's own) and started again while the
``openai`` SDK sends requests from several threads, and the dashboard's charts
(``GET /v1/stats/series``) read from PostgreSQL when ``[request_log] url`` names it."""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import psycopg
import pytest

from auto_router.demo.fake_upstream import FakeProvider, FakeUpstream, free_port
from auto_router.paths import Paths
from auto_router.secrets import Secret
from auto_router.store import postgres
from auto_router.store.requests import RequestFilter, RequestRecord, read_requests
from tests.helpers import closed_after_test, require_program, serve
from tests.proxy.conftest import make_app, two_providers
from tests.servers import postgres_url

HI = [{"role": "user", "content": "hi"}]
ADMIN = "admin-token-0123456789abcdef"
AUTH = {"authorization": f"Bearer {ADMIN}"}


def pg_bin() -> Path:
    """Debian's newest ``/usr/lib/postgresql/N/bin`` (not on PATH), else ``pg_ctl``'s."""
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"),
        key=lambda p: int(p.parts[-3]) if p.parts[-3].isdigit() else 0,
    )
    if found:
        return found[-1].parent
    require_program("pg_ctl", "apt-get install postgresql")
    return Path(str(shutil.which("pg_ctl"))).parent


class Cluster:
    """A PostgreSQL of this test's own on a free port, which it may stop: the shared test
    server must go on serving the other tests. Run as the ``postgres`` user under root
    (initdb refuses root), from ``/`` (that user may not enter the test's directory)."""

    def __init__(self, root: Path) -> None:
        self.bin = pg_bin()
        self.root = root
        self.data = root / "data"
        self.port = free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, program: str, *args: str) -> None:
        command = [str(self.bin / program), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        with open(self.root / "commands.log", "ab") as out:  # the server may inherit it
            subprocess.run(command, cwd="/", stdout=out, stderr=out, check=True, timeout=120)

    def init(self) -> None:
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres")

    def start(self) -> None:
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.root} -c fsync=off"
        log = str(self.root / "server.log")
        self._run("pg_ctl", "-D", str(self.data), "-l", log, "-w", "-o", options, "start")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    pg_bin()  # skips (fails under CI=true) before anything is made
    root = Path(tempfile.mkdtemp(prefix="ar-pg-"))
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        os.chown(root, user.pw_uid, user.pw_gid)
    found = Cluster(root)
    try:
        found.init()
        found.start()
        yield found
    finally:
        with contextlib.suppress(subprocess.SubprocessError):
            found.stop("immediate")
        shutil.rmtree(root, ignore_errors=True)


def request_log_health(base: str) -> dict[str, Any]:
    found: dict[str, Any] = httpx.get(f"{base}/health").json()["request_log"]
    return found


def wait_for(base: str, done: Any, seconds: float = 15) -> dict[str, Any]:
    """``/health``'s request log once ``done(it)`` holds (or the last one seen)."""
    deadline = time.monotonic() + seconds
    health = request_log_health(base)
    while not done(health) and time.monotonic() < deadline:
        time.sleep(0.05)
        health = request_log_health(base)
    return health


class Load:
    """Threads of the ``openai`` SDK (no retries: a failed request is seen, not hidden)
    sending chat requests until stopped, at most ``cap`` each."""

    def __init__(self, base: str, threads: int = 4, cap: int = 2000) -> None:
        self.base = base
        self.cap = cap
        self.sent = 0
        self.answered = 0
        self.failures: list[str] = []
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._run) for _ in range(threads)]

    def _run(self) -> None:
        with openai.OpenAI(
            base_url=f"{self.base}/v1", api_key="k", max_retries=0, timeout=10
        ) as client:
            for _ in range(self.cap):
                if self.stop.is_set():
                    return
                with self.lock:
                    self.sent += 1
                try:
                    client.chat.completions.create(model="m", messages=HI)  # type: ignore[arg-type]
                except openai.OpenAIError as exc:
                    with self.lock:
                        self.failures.append(repr(exc))
                    continue
                with self.lock:
                    self.answered += 1

    def __enter__(self) -> Load:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(60)

    def wait_answers(self, more: int, seconds: float = 20) -> int:
        """Wait for ``more`` answers beyond those so far; how many came."""
        start = self.answered
        deadline = time.monotonic() + seconds
        while self.answered - start < more and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.answered - start


@pytest.mark.integration
def test_postgres_stopped_under_load_through_the_proxy_fails_no_request_and_loses_none_uncounted(
    tmp_path: Path, cluster: Cluster
) -> None:
    home = Paths(config_dir=tmp_path, data_dir=tmp_path)
    one, two = FakeProvider("one", text="from one"), FakeProvider("two", text="from two")
    with FakeUpstream(one) as up_one, FakeUpstream(two) as up_two:
        log_url = f'[request_log]\nurl = "{cluster.url}"\n'
        two_providers(home, up_one.url, up_two.url, extra_llm=log_url)
        with serve(make_app(home)) as base:
            with Load(base) as load:
                before = wait_for(base, lambda h: h["written"] >= 20)
                cluster.stop()
                away = wait_for(base, lambda h: not h["up"])
                during = load.wait_answers(50)  # requests go on while PostgreSQL is away
                away_later = request_log_health(base)
                cluster.start()
                back = wait_for(base, lambda h: h["up"] and h["pending"] == 0)
                load.wait_answers(20)  # and after it is back
            sent = load.sent
            final = wait_for(base, lambda h: h["written"] + h["dropped"] == sent)
    with psycopg.connect(cluster.url) as conn:
        rows = conn.execute("SELECT count(*), count(*) FILTER (WHERE status = 200) "
                            "FROM proxy_requests").fetchone()  # fmt: skip
    assert load.failures == []
    assert before["up"] is True and before["written"] >= 20
    assert away["up"] is False and away["pending"] > 0
    assert during >= 50  # the records of those answers wait in memory, none written
    assert away_later["up"] is False and away_later["pending"] >= 40
    assert away_later["written"] == away["written"]
    assert back["up"] is True
    # nothing lost uncounted: every request sent is a row, or was dropped and counted
    assert rows is not None and rows[0] == rows[1] == final["written"]
    assert final["written"] + final["dropped"] == sent
    assert final["dropped"] == 0  # far below max_queue: the log caught up whole
    assert not home.database.exists() or read_requests(home, RequestFilter()) == []


# ------------------------------------------------------------------ the charts from PostgreSQL


@pytest.fixture
def pg() -> Iterator[str]:
    """The shared test server, in a schema of this test's own (dropped after it)."""
    base = postgres_url()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}".encode())
    sep = "&" if "?" in base else "?"
    yield f"{base}{sep}options=-csearch_path%3D{schema}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA {schema} CASCADE".encode())


def priced(home: Paths) -> None:
    meta = home.provider_metadata.read_text()
    home.provider_metadata.write_text(
        meta.replace(
            'model = "two-model"', 'model = "two-model"\nprice_input = 2.0\nprice_output = 4.0'
        )
    )


@pytest.mark.integration
def test_the_series_reads_the_postgres_log_with_other_replicas_rows(
    tmp_path: Path, pg: str
) -> None:
    home = Paths(config_dir=tmp_path, data_dir=tmp_path)
    one = FakeProvider("one", "rate-limited", retry_after=600)
    two = FakeProvider("two", text="from two")
    with FakeUpstream(one) as up_one, FakeUpstream(two) as up_two:
        two_providers(home, up_one.url, up_two.url, extra_llm=f'[request_log]\nurl = "{pg}"\n')
        priced(home)
        with serve(make_app(home, admin_token=Secret(ADMIN))) as base:
            client = closed_after_test(
                openai.OpenAI(base_url=f"{base}/v1", api_key="k", max_retries=0)
            )
            for _ in range(3):
                client.chat.completions.create(model="m", messages=HI)  # type: ignore[arg-type]
            wait_for(base, lambda h: h["written"] >= 3)
            # a row another replica wrote: only a reader of PostgreSQL can show it
            other = postgres.connect(pg)
            postgres.insert_batch(other, [elsewhere(time.time() - 5)])
            other.close()
            hour = httpx.get(f"{base}/v1/stats/series?since=1h", headers=AUTH)
            day = httpx.get(f"{base}/v1/stats/series?since=1d", headers=AUTH).json()
    assert hour.status_code == 200, hour.text
    body = hour.json()
    by_name = {p["provider"]: p for p in body["providers"]}
    assert sorted(by_name) == ["elsewhere", "two"]  # one's 429 failed over: the row is two's
    two_series = by_name["two"]["buckets"]
    assert len(two_series) == 12 and sum(b["requests"] for b in two_series) == 3
    last = two_series[-1]
    assert last["requests"] == 3 and last["errors"] == 0 and last["p95_ms"] >= last["p50_ms"] > 0
    assert last["cost_usd"] == pytest.approx(
        (last["prompt_tokens"] * 2.0 + last["completion_tokens"] * 4.0) / 1e6
    )
    assert all(b["requests"] == 0 for b in two_series[:-1])
    theirs = by_name["elsewhere"]["buckets"][-1]
    assert theirs["requests"] == 1 and theirs["errors"] == 1 and theirs["p50_ms"] == 42.0
    assert theirs["total_tokens"] == 9
    assert len(day["providers"][0]["buckets"]) == 24
    assert sum(b["requests"] for p in day["providers"] for b in p["buckets"]) == 4
    assert not home.database.exists() or read_requests(home, RequestFilter()) == []


def elsewhere(ts: float) -> RequestRecord:
    return RequestRecord(
        ts=ts, method="POST", endpoint="chat", status=502, backend="qwen",
        provider="elsewhere", prompt_tokens=4, completion_tokens=5, total_tokens=9,
        duration_ms=42.0,
    )  # fmt: skip


def test_the_series_of_an_unreachable_postgres_is_a_503_without_the_password(
    tmp_path: Path,
) -> None:
    home = Paths(config_dir=tmp_path, data_dir=tmp_path)
    port = free_port()  # nothing listens there
    url = f"postgresql://u:hunter2-secret@127.0.0.1:{port}/db"
    with FakeUpstream(FakeProvider("one")) as up_one, FakeUpstream(FakeProvider("two")) as up_two:
        two_providers(home, up_one.url, up_two.url, extra_llm=f'[request_log]\nurl = "{url}"\n')
        with serve(make_app(home, admin_token=Secret(ADMIN))) as base:
            answer = httpx.get(f"{base}/v1/stats/series?since=1h", headers=AUTH)
            health = httpx.get(f"{base}/health")
    assert answer.status_code == 503
    assert "request log" in answer.json()["error"]["message"]
    assert "hunter2" not in answer.text and "hunter2" not in health.text
    assert health.json()["request_log"]["up"] is False
