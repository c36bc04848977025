"""The request log in a real PostgreSQL (issue 22): migrations, the proxy's writer, the CLI
and the management API reading it, and a PostgreSQL that goes away under load."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import psycopg
import pytest

from auto_router.config.proxy import RequestLogSettings
from auto_router.demo.fake_upstream import FakeProvider, FakeUpstream
from auto_router.paths import Paths
from auto_router.proxy.reqlog import RequestLog
from auto_router.secrets import Secret
from auto_router.store import postgres
from auto_router.store.requests import RequestFilter, RequestRecord, read_requests
from tests.helpers import closed_after_test, serve
from tests.proxy.conftest import make_app, two_providers
from tests.servers import postgres_url

HI = [{"role": "user", "content": "hi"}]
ADMIN = "admin-token-0123456789abcdef"


@pytest.fixture
def pg() -> Iterator[str]:
    """A URL whose tables land in a schema of this test's own (dropped after it)."""
    base = postgres_url()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}".encode())
    sep = "&" if "?" in base else "?"
    yield f"{base}{sep}options=-csearch_path%3D{schema}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA {schema} CASCADE".encode())


def record(n: int) -> RequestRecord:
    return RequestRecord(
        ts=time.time(), method="POST", endpoint="chat", status=200, backend="q",
        provider="a", prompt_tokens=n, completion_tokens=1, duration_ms=float(n),
    )  # fmt: skip


def test_migrations_run_once_and_are_recorded(pg: str) -> None:
    first = postgres.connect(pg)
    with psycopg.connect(pg) as conn:
        assert postgres.migrate(conn) == []  # already done by connect
        names = [r[0] for r in conn.execute("SELECT name FROM _migrations")]
    assert names == ["001_proxy_requests"]
    first.close()


def test_an_unreachable_postgres_is_a_state_error_without_the_password() -> None:
    from auto_router.errors import StateError

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(StateError, match="cannot reach") as info:
        postgres.connect(f"postgresql://u:hunter2@127.0.0.1:{port}/db", timeout=1)
    assert "hunter2" not in str(info.value)


def test_the_proxy_logs_to_postgres_and_the_cli_reads_it_with_cost(tmp_path: Path, pg: str) -> None:
    home = Paths(config_dir=tmp_path, data_dir=tmp_path)
    one = FakeProvider("one", "rate-limited", retry_after=600)
    two = FakeProvider("two", text="from two")
    with FakeUpstream(one) as up_one, FakeUpstream(two) as up_two:
        two_providers(home, up_one.url, up_two.url, extra_llm=f'[request_log]\nurl = "{pg}"\n')
        meta = home.provider_metadata.read_text()
        home.provider_metadata.write_text(
            meta.replace(
                'model = "two-model"', 'model = "two-model"\nprice_input = 2.0\nprice_output = 4.0'
            )
        )
        app = make_app(home, admin_token=Secret(ADMIN))
        with serve(app) as base:
            client = closed_after_test(
                openai.OpenAI(base_url=f"{base}/v1", api_key="k", max_retries=0)
            )
            for _ in range(3):
                client.chat.completions.create(model="m", messages=HI)  # type: ignore[arg-type]
            written = app.services.request_log
            assert written is not None
            deadline = time.monotonic() + 10  # a record is added once its answer is sent
            while written.health()["written"] < 3 and time.monotonic() < deadline:
                written.flush()
            health = httpx.get(f"{base}/health").json()["request_log"]
            auth = {"authorization": f"Bearer {ADMIN}"}
            api = httpx.get(f"{base}/v1/requests", headers=auth).json()
    assert health == {"kind": "postgresql", "up": True, "pending": 0, "written": 3, "dropped": 0}
    assert not home.database.exists() or read_requests(home, RequestFilter()) == []
    rows = read_requests(home, RequestFilter(), url=pg)
    # the first request met one's 429 and failed over; one cools, the rest go to two at once
    assert [(r.provider, r.status, len(r.failed)) for r in rows] == [
        ("two", 200, 0),
        ("two", 200, 0),
        ("two", 200, 1),
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTO_ROUTER")}
    cli = [sys.executable, "-m", "auto_router", "--config-dir", str(tmp_path)]
    out = subprocess.run(
        [*cli, "stats", "--cost", "--json"], capture_output=True, text=True, env=env, check=True
    )
    stats = json.loads(out.stdout)
    by_name = {p["provider"]: p for p in stats["providers"]}
    assert by_name["two"]["requests"] == 3 and by_name["one"]["failovers"] == 1
    assert "hunter2" not in out.stdout
    assert json.dumps(stats).count("cost") >= 1
    listed = subprocess.run(
        [*cli, "requests", "--json"], capture_output=True, text=True, env=env, check=True
    )
    assert len(json.loads(listed.stdout)["requests"]) == 3
    assert [r["provider"] for r in api["requests"]] == ["two"] * 3  # the API reads it too


class Relay:
    """A loopback TCP relay to PostgreSQL that the test can cut and restore: the real
    server, reached through a path that goes away (as a network or a restart does)."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.sock.listen()
        self.open = True
        self.conns: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            if not self.open:
                client.close()
                continue
            upstream = socket.create_connection(self.target)
            self.conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(a: socket.socket, b: socket.socket) -> None:
        try:
            while data := a.recv(65536):
                b.sendall(data)
        except OSError:
            pass
        finally:
            for s in (a, b):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        self.open = False
        for s in self.conns:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()
        self.conns.clear()

    def restore(self) -> None:
        self.open = True

    def close(self) -> None:
        self.cut()
        self.sock.close()


@pytest.mark.integration
def test_postgres_away_never_blocks_then_the_log_catches_up_or_counts_drops(pg: str) -> None:
    info = psycopg.conninfo.conninfo_to_dict(pg)
    relay = Relay((str(info.get("host", "127.0.0.1")), int(info.get("port", 5432))))
    via = pg.replace(f"{info.get('host')}:{info.get('port')}", f"127.0.0.1:{relay.port}")
    log = RequestLog(
        Path("/nonexistent"), RequestLogSettings(), url=via, interval=0.05, max_queue=50
    )
    log.start()
    try:
        for n in range(10):
            log.add(record(n))
        assert log.flush() and log.health()["written"] == 10
        relay.cut()
        started = time.monotonic()
        for n in range(10, 40):
            log.add(record(n))
        assert time.monotonic() - started < 0.05  # adding never waits for PostgreSQL
        assert log.flush(timeout=10)
        away = log.health()
        assert away["up"] is False and away["pending"] == 30
        for n in range(40, 80):  # past max_queue: the oldest waiting are dropped, counted
            log.add(record(n))
        assert log.flush(timeout=10)
        assert log.health()["dropped"] == 20
        relay.restore()
        deadline = time.monotonic() + 15
        while log.health()["pending"] and time.monotonic() < deadline:
            time.sleep(0.05)
        back = log.health()
        assert back["up"] is True and back["pending"] == 0
        assert back["written"] == 10 + 50
    finally:
        log.close()
        relay.close()
    stored = [
        r.prompt_tokens
        for r in reversed(
            read_requests(Paths(Path("/x"), Path("/x")), RequestFilter(limit=100), url=pg)
        )
    ]
    assert stored == list(range(10)) + list(range(30, 80))  # 10-29 were the dropped oldest
