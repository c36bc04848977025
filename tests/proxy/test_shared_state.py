"""Proxy replicas sharing one Redis (issue 22): real servers, real sockets, the openai SDK.

Each replica is its own app (its own store, Redis client and plan cache) on its own port
with its own data directory; only ``[state]`` is common.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest
import redis

from auto_router.config.pools import KeyRing
from auto_router.demo.fake_upstream import Dwindling, FakeProvider, FakeUpstream, free_port
from auto_router.paths import Paths
from auto_router.rotation.redis_state import RedisStateStore
from tests.helpers import closed_after_test, require_program, serve
from tests.proxy.conftest import make_app, two_providers
from tests.servers import drop_prefix, redis_url, unique_prefix

HI = [{"role": "user", "content": "hi"}]


def replica(tmp_path: Path, name: str, one: str, two: str, state: str) -> Paths:
    home = Paths(config_dir=tmp_path / name, data_dir=tmp_path / name)
    home.config_dir.mkdir()
    two_providers(home, one, two, extra_llm=state)
    return home


@pytest.fixture
def shared_redis() -> Iterator[str]:
    """The ``[state]`` table of a Redis namespace of this test's own."""
    url, prefix = redis_url(), unique_prefix()
    yield f'[state]\nurl = "{url}"\nprefix = "{prefix}"\n'
    drop_prefix(url, prefix)


def ask(base: str, session: str | None = None) -> str:
    client = closed_after_test(openai.OpenAI(base_url=f"{base}/v1", api_key="k", max_retries=0))
    headers = {"x-auto-router-session": session} if session else None
    raw = client.chat.completions.with_raw_response.create(
        model="m",
        messages=HI,  # type: ignore[arg-type]
        extra_headers=headers,
    )
    return raw.headers["x-auto-router-provider"]


def test_a_429_through_one_replica_makes_the_others_skip_that_provider(
    tmp_path: Path, shared_redis: str
) -> None:
    one = FakeProvider("one", text="from one")
    two = FakeProvider("two", text="from two")
    with FakeUpstream(one) as up_one, FakeUpstream(two) as up_two:
        homes = [replica(tmp_path, n, up_one.url, up_two.url, shared_redis) for n in "abc"]
        apps = [make_app(home) for home in homes]
        with serve(apps[0]) as a, serve(apps[1]) as b, serve(apps[2]) as c:
            assert [ask(base) for base in (a, b, c)] == ["qwen/one"] * 3  # plans are cached
            one.behaviour = "rate-limited"
            one.retry_after = 600
            assert ask(a) == "qwen/two"  # A met the 429 and failed over
            calls = one.calls
            assert ask(b) == "qwen/two"  # B's very next request: straight to two
            assert ask(c) == "qwen/two"
            assert one.calls == calls  # neither B nor C asked one again
            health = httpx.get(f"{b}/health").json()
            assert health["state_store"]["up"] is True
            (backend,) = health["backends"]
            assert [p["status"] for p in backend["providers"]] == ["cooling", "current"]


REDIS_LINE = "redis-server --bind 127.0.0.1 --port {port} --save '' --appendonly no"


def start_redis(port: int, directory: Path) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        ["bash", "-c", "exec " + REDIS_LINE.format(port=port)],
        cwd=directory,
        stdout=subprocess.DEVNULL,
    )
    client = redis.Redis(port=port)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.05)
    client.close()
    return process


@pytest.mark.integration
def test_a_redis_restart_during_load_fails_no_request_and_is_reconciled(
    tmp_path: Path,
) -> None:
    require_program("redis-server", "apt-get install redis-server")
    port = free_port()
    server = start_redis(port, tmp_path)
    state = f'[state]\nurl = "redis://127.0.0.1:{port}/0"\nprefix = "t"\n'
    one = FakeProvider("one", text="from one")
    two = FakeProvider("two", text="from two")
    failures: list[str] = []
    answered: list[str] = []
    stop = threading.Event()
    try:
        with FakeUpstream(one) as up_one, FakeUpstream(two) as up_two:
            home = replica(tmp_path, "a", up_one.url, up_two.url, state)
            app = make_app(home)
            with serve(app) as base:

                def load() -> None:
                    with httpx.Client(base_url=base, timeout=10) as client:
                        while not stop.is_set():
                            r = client.post(
                                "/v1/chat/completions", json={"model": "m", "messages": HI}
                            )
                            (answered if r.status_code == 200 else failures).append(r.text)

                workers = [threading.Thread(target=load) for _ in range(4)]
                for w in workers:
                    w.start()
                time.sleep(0.5)
                subprocess.run(["redis-cli", "-p", str(port), "shutdown", "nosave"], check=False)
                server.wait(10)
                before = len(answered)
                one.behaviour, one.retry_after = "rate-limited", 600  # a 429 while away
                time.sleep(1.0)
                during = len(answered) - before
                health = httpx.get(f"{base}/health").json()["state_store"]
                server = start_redis(port, tmp_path)  # the same command line again
                deadline = time.monotonic() + 10
                while time.monotonic() < deadline:
                    if httpx.get(f"{base}/health").json()["state_store"]["up"]:
                        break
                    time.sleep(0.05)
                time.sleep(0.3)
                stop.set()
                for w in workers:
                    w.join(30)
                after = httpx.get(f"{base}/health").json()["state_store"]
                # the cooldown met while Redis was away is in Redis now (it restarted empty)
                check = RedisStateStore(f"redis://127.0.0.1:{port}/0", prefix="t")
                cooling = check.get("qwen").provider("one").cooldown_until
                check.close()
    finally:
        stop.set()
        subprocess.run(["redis-cli", "-p", str(port), "shutdown", "nosave"], check=False)
        server.wait(10)
    assert failures == []
    assert during > 0  # requests went on while Redis was away
    assert health["up"] is False and health["pending"] == ["qwen"]
    assert after["up"] is True and after["pending"] == []
    assert cooling is not None and cooling > time.time() + 500


# ------------------------------------------------------------------ what else replicas share

KEY_A = "sk-pool-aaaaaaaaaaaaA1b2"
KEY_B = "sk-pool-bbbbbbbbbbbbB3c4"


@contextlib.contextmanager
def running(homes: list[Paths]) -> Iterator[list[str]]:
    """A replica (its own app, store and plan cache) on its own port for each home."""
    with contextlib.ExitStack() as stack:
        yield [stack.enter_context(serve(make_app(home))) for home in homes]


def pool_replicas(tmp_path: Path, pool: str, other: str, state: str) -> list[Paths]:
    """Three replicas of one install: the key-id salt copied, as docs/deploy.md says, so a
    key has one slot (``pool#<key-id>``) on all of them."""
    homes = []
    for name in "abc":
        home = Paths(config_dir=tmp_path / name, data_dir=tmp_path / name)
        home.config_dir.mkdir()
        home.llm_config.write_text(f'[backends.qwen]\nproviders = ["pool", "other"]\n\n{state}')
        home.provider_metadata.write_text(
            f'[qwen.pool]\nbase_url = "{pool}"\napi_keys = ["${{P22_KEY_A}}", "${{P22_KEY_B}}"]\n'
            f'model = "pool-model"\n[qwen.other]\nbase_url = "{other}"\n'
            'api_key = "sk-other-key-0123456789"\nmodel = "other-model"\n'
        )
        homes.append(home)
    salt = KeyRing(homes[0].data_dir)
    salt.id_of(KEY_A)
    for home in homes[1:]:
        shutil.copy(salt.path, KeyRing(home.data_dir).path)
    return homes


def test_a_pool_key_cooling_through_one_replica_is_skipped_by_the_others(
    tmp_path: Path, shared_redis: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("P22_KEY_A", KEY_A)
    monkeypatch.setenv("P22_KEY_B", KEY_B)
    pool = FakeProvider("pool", text="pooled", limited_when="aaaa", retry_after=600)
    with FakeUpstream(pool) as up_pool, FakeUpstream() as up_other:
        homes = pool_replicas(tmp_path, up_pool.url, up_other.url, shared_redis)
        with running(homes) as (a, b, c):
            assert ask(a) == "qwen/pool"
            keys = [{KEY_A: "A", KEY_B: "B"}[r["key"]] for r in pool.requests]
            assert keys == ["A", "B"]  # key A's 429 went to key B
            assert ask(b) == "qwen/pool" and ask(c) == "qwen/pool"
            keys = [{KEY_A: "A", KEY_B: "B"}[r["key"]] for r in pool.requests]
            assert keys == ["A", "B", "B", "B"]  # B and C went to key B at once


def test_a_headroom_mark_passed_through_one_replica_moves_the_others(
    tmp_path: Path, shared_redis: str
) -> None:
    one = Dwindling(FakeProvider("one", text="from one"), time.time, limit=8, window=600.0)
    two = FakeProvider("two", text="from two")
    with FakeUpstream(one) as up_one, FakeUpstream(two) as up_two:
        homes = [replica(tmp_path, n, up_one.url, up_two.url, shared_redis) for n in "abc"]
        for home in homes:  # rotate_below = 0.25 of a window of 8: below 2 requests left
            text = home.llm_config.read_text()
            home.llm_config.write_text(
                text.replace("providers =", "rotate_below = 0.25\nproviders =")
            )
        with running(homes) as (a, b, c):
            # 8 - 7 = 1 left after A's 7th answer: below the mark of 2
            assert [ask(a) for _ in range(7)] == ["qwen/one"] * 7
            assert ask(b) == "qwen/two" and ask(c) == "qwen/two"
            assert len(up_one.seen) == 7  # no replica spent one's last request


def test_a_session_stays_with_its_provider_on_every_replica(
    tmp_path: Path, shared_redis: str
) -> None:
    one = FakeProvider("one", text="from one")
    two = FakeProvider("two", text="from two")
    with FakeUpstream(one) as up_one, FakeUpstream(two) as up_two:
        homes = [replica(tmp_path, n, up_one.url, up_two.url, shared_redis) for n in "abc"]
        for home in homes:  # back to one when it may serve: only s1's binding keeps two
            text = home.llm_config.read_text()
            home.llm_config.write_text(
                text.replace("providers =", 'strategy = "priority"\nproviders =')
            )
        with running(homes) as (a, b, c):
            one.behaviour, one.retry_after = "rate-limited", 1
            assert ask(a, session="s1") == "qwen/two"  # s1 moved to two
            time.sleep(1.2)  # one's cooldown is over: a new session starts on one
            one.behaviour = "ok"
            assert ask(b, session="s2") == "qwen/one"
            # s1 stays on two wherever it lands: its prompt cache is warm there
            assert [ask(x, session="s1") for x in (b, c, a)] == ["qwen/two"] * 3
            assert ask(c, session="s2") == "qwen/one"
