"""Key pools through the proxy on real sockets (issue 19): each key a slot of its own.

Fake providers on real sockets tell keys apart by the credential they receive; the clients are
the official ``openai`` and ``anthropic`` SDKs; the state and the request log are the real
SQLite file, read back by a second ``Rotator``. The key text is looked for in every file the
proxy wrote and in everything it printed.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

import anthropic
import openai
import pytest

from auto_router.config.pools import KeyRing, slot_name
from auto_router.demo.fake_upstream import Action, Dwindling, FakeProvider, FakeUpstream, Seen
from auto_router.paths import Paths
from auto_router.rotation.service import Rotator
from auto_router.rotation.state import SQLiteStateStore
from auto_router.store.db import connect
from tests.helpers import closed_after_test, serve

from .conftest import Clock, make_app, write_config

pytestmark = pytest.mark.integration

KEY_A = "sk-pool-aaaaaaaaaaaaA1b2"
KEY_B = "sk-pool-bbbbbbbbbbbbB3c4"
HI = [{"role": "user", "content": "hi"}]
SESSION = "x-auto-router-session"


@pytest.fixture(autouse=True)
def keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("P19_KEY_A", KEY_A)
    monkeypatch.setenv("P19_KEY_B", KEY_B)


def pool_config(
    home: Paths, pool_url: str, other_url: str, *, strategy: str = "sticky", extra: str = ""
) -> None:
    write_config(
        home,
        f"""
[backends.qwen]
providers = ["pool", "other"]
strategy = "{strategy}"
{extra}
[message_backend]
default = "qwen"
""",
        f"""
[qwen.pool]
base_url = "{pool_url}"
# two accounts of one plan
api_keys = ["${{P19_KEY_A}}", "${{P19_KEY_B}}"]
model = "pool-model"
[qwen.other]
base_url = "{other_url}"
api_key = "sk-other-key-0123456789"
model = "other-model"
""",
    )


def ids(home: Paths) -> tuple[str, str]:
    ring = KeyRing(home.data_dir)
    return ring.id_of(KEY_A), ring.id_of(KEY_B)


def keys_seen(provider: FakeProvider) -> list[str]:
    return [{KEY_A: "A", KEY_B: "B"}.get(r["key"], r["key"]) for r in provider.requests]


def assert_no_key_in(home: Paths, printed: str) -> None:
    """Neither key in any file under the home (the state DB, its WAL, the request log) nor in
    anything the proxy printed; the config file holds only the ``${VAR}`` references."""
    for path in Path(home.data_dir).rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert KEY_A.encode() not in data and KEY_B.encode() not in data, path
    assert KEY_A not in printed and KEY_B not in printed


def test_a_limited_key_fails_over_to_the_next_key_then_the_next_provider(
    home: Paths, capfd: pytest.CaptureFixture[str]
) -> None:
    pool = FakeProvider("pool", text="from the pool", limited_when="aaaa", retry_after=600)
    other = FakeProvider("other", text="from the other")
    with FakeUpstream(pool) as up_pool, FakeUpstream(other) as up_other:
        pool_config(home, up_pool.url, up_other.url)
        app = make_app(home)
        id_a, id_b = ids(home)
        with serve(app) as base:
            client = closed_after_test(
                openai.OpenAI(base_url=f"{base}/v1", api_key="k", max_retries=0)
            )
            raw = client.chat.completions.with_raw_response.create(model="m", messages=HI)  # type: ignore[arg-type]
            assert raw.parse().choices[0].message.content == "from the pool"
            assert raw.headers["x-auto-router-provider"] == "qwen/pool"
            assert raw.headers["x-auto-router-key"] == id_b
            assert keys_seen(pool) == ["A", "B"]  # key 1's 429 went to key 2, unseen
            again = client.chat.completions.with_raw_response.create(model="m", messages=HI)  # type: ignore[arg-type]
            assert again.headers["x-auto-router-key"] == id_b
            assert keys_seen(pool) == ["A", "B", "B"]  # key 1 cools on its own
            assert not other.requests
            pool.limited_when = "pool"  # now key 2 runs out as well
            last = client.chat.completions.with_raw_response.create(model="m", messages=HI)  # type: ignore[arg-type]
            assert last.parse().choices[0].message.content == "from the other"
            assert last.headers["x-auto-router-provider"] == "qwen/other"
            assert "x-auto-router-key" not in last.headers
            assert keys_seen(pool) == ["A", "B", "B", "B"]
            assert app.services.request_log is not None and app.services.request_log.flush()
    # a second process sees each key's own cooldown in the shared state
    second = Rotator(home, store=SQLiteStateStore(home.database))
    state = second.state("qwen")
    assert state.provider(slot_name("pool", id_a)).usage_limits == 1
    assert state.provider(slot_name("pool", id_b)).usage_limits == 1
    (status,) = second.status()
    pooled = status.providers[0]
    assert [(k.masked, k.id, k.cooldown_until is not None) for k in pooled.keys] == [
        ("sk-…A1b2", id_a, True),
        ("sk-…B3c4", id_b, True),
    ]
    assert pooled.cooling and status.current == "other"
    db = connect(home.database)  # the request log names the answering key by its id
    logged = db.execute("SELECT provider, key_id FROM proxy_requests ORDER BY id").fetchall()
    db.close()
    assert logged == [("pool", id_b), ("pool", id_b), ("other", None)]
    assert_no_key_in(home, capfd.readouterr().out)


def test_round_robin_spreads_over_the_keys_and_a_session_keeps_its_key(home: Paths) -> None:
    pool = FakeProvider("pool", text="pooled")
    with FakeUpstream(pool) as up_pool, FakeUpstream() as up_other:
        pool_config(home, up_pool.root, up_other.root, strategy="round-robin")
        text = home.provider_metadata.read_text().replace(
            "[qwen.pool]", '[qwen.pool]\ntype = "anthropic"'
        )
        home.provider_metadata.write_text(
            text.replace("[qwen.other]", '[qwen.other]\ntype = "anthropic"')
        )
        # the other provider is off, so the turns are the pool's two keys
        home.llm_config.write_text(home.llm_config.read_text().replace('"pool", "other"', '"pool"'))
        with serve(make_app(home)) as base:
            client = closed_after_test(
                anthropic.Anthropic(base_url=base, api_key="k", max_retries=0)
            )

            def ask(**headers: str) -> None:
                client.messages.create(
                    model="m",
                    max_tokens=8,
                    messages=HI,
                    extra_headers=headers,  # type: ignore[arg-type]
                )

            for _ in range(4):
                ask()
            spread = keys_seen(pool)
            assert sorted(spread) == ["A", "A", "B", "B"] and spread[0] != spread[1]
            for _ in range(4):
                ask(**{SESSION: "one-session"})
            session = keys_seen(pool)[4:]
            assert len(set(session)) == 1  # affinity pins provider and key
    assert all(r["auth_header"] == "x-api-key" for r in pool.requests)


@dataclass
class ByKey:
    """One script per key: each account of a plan has its own window."""

    scripts: dict[str, Dwindling]
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, seen: Seen) -> Action:
        return self.scripts[seen.key()[1]](seen)


def test_a_key_below_its_headroom_mark_moves_to_the_next_key_before_any_429(
    home: Paths, clock: Clock
) -> None:
    a, b = FakeProvider("a", text="key A"), FakeProvider("b", text="key B")
    script = ByKey(
        {KEY_A: Dwindling(a, clock, limit=4, window=60.0), KEY_B: Dwindling(b, clock, limit=4)}
    )
    with FakeUpstream(script) as up_pool, FakeUpstream() as up_other:
        pool_config(
            home, up_pool.url, up_other.url, strategy="priority", extra="rotate_below = 0.3"
        )
        with serve(make_app(home, clock)) as base:
            client = closed_after_test(
                openai.OpenAI(base_url=f"{base}/v1", api_key="k", max_retries=0)
            )

            def ask() -> str:
                reply = client.chat.completions.create(model="m", messages=HI)  # type: ignore[arg-type]
                return reply.choices[0].message.content or ""

            # 4 a window: after the 3rd, 1 of 4 left is below 0.3, so key B serves next
            assert [ask() for _ in range(5)] == ["key A"] * 3 + ["key B"] * 2
            clock.advance(60.0)  # key A's window resets: priority takes it again
            assert ask() == "key A"
    assert all(r["status"] == 200 for r in a.requests + b.requests)
    id_a, _ = ids(home)
    store = SQLiteStateStore(home.database)
    assert store.get("qwen").provider(slot_name("pool", id_a)).headroom  # stored per key


def test_the_issue_done_when_a_plan_a_pool_of_two_and_a_local_model_under_priority(
    home: Paths, clock: Clock
) -> None:
    """The plan serves until its headroom is below the mark and is left before any 429; the
    pool's first key is rate-limited and its second answers, unseen; a session stays on its
    key when the plan is back; the plan serves new requests again once its window resets."""
    plan = Dwindling(FakeProvider("plan", text="plan"), clock, limit=4, window=60.0)
    pool = FakeProvider("pool", text="pool", limited_when="aaaa", retry_after=3600)
    local = FakeProvider("local", text="local")
    with FakeUpstream(plan) as up_plan, FakeUpstream(pool) as up_pool, FakeUpstream(local) as up:
        write_config(
            home,
            '[backends.b]\nproviders = ["plan", "pool", "local"]\nstrategy = "priority"\n'
            'rotate_below = 0.3\n[message_backend]\ndefault = "b"\n',
            f'[b.plan]\nbase_url = "{up_plan.url}"\napi_key = "sk-plan-0000000000000"\n'
            f'[b.pool]\nbase_url = "{up_pool.url}"\n'
            'api_keys = ["${P19_KEY_A}", "${P19_KEY_B}"]\n'
            f'[b.local]\ntype = "lm-studio"\nbase_url = "{up.url}"\n',
        )
        with serve(make_app(home, clock)) as base:
            client = closed_after_test(
                openai.OpenAI(base_url=f"{base}/v1", api_key="k", max_retries=0)
            )

            def ask(**headers: str) -> str:
                reply = client.chat.completions.create(
                    model="m",
                    messages=HI,  # type: ignore[arg-type]
                    extra_headers=headers,
                )
                return reply.choices[0].message.content or ""

            assert [ask() for _ in range(3)] == ["plan"] * 3  # then below the mark
            assert ask(**{SESSION: "s"}) == "pool"  # key A's 429 went to key B
            assert [ask(**{SESSION: "s"}) for _ in range(2)] == ["pool"] * 2
            clock.advance(60.0)  # the plan's window resets
            assert ask() == "plan"  # priority: new requests go back
            assert ask(**{SESSION: "s"}) == "pool"  # the session keeps its warm key
    assert keys_seen(pool) == ["A", "B", "B", "B", "B"]
    assert all(r["status"] == 200 for r in plan.inner.requests)  # type: ignore[attr-defined]
    assert not local.requests
    (status,) = Rotator(home, store=SQLiteStateStore(home.database), clock=clock).status()
    keys = {k.masked: k for k in status.providers[1].keys}
    assert keys["sk-…A1b2"].cooldown_until is not None and keys["sk-…B3c4"].cooldown_until is None


def test_a_pinned_pool_tries_its_available_key_first(home: Paths) -> None:
    pool = FakeProvider("pool", text="pooled", limited_when="aaaa", retry_after=3600)
    with FakeUpstream(pool) as up_pool, FakeUpstream() as up_other:
        pool_config(home, up_pool.url, up_other.url)
        with serve(make_app(home)) as base:
            client = closed_after_test(
                openai.OpenAI(base_url=f"{base}/v1", api_key="k", max_retries=0)
            )
            pinned = {"x-auto-router-provider": "pool"}
            for _ in range(2):
                reply = client.chat.completions.create(
                    model="m",
                    messages=HI,  # type: ignore[arg-type]
                    extra_headers=pinned,
                )
                assert reply.choices[0].message.content == "pooled"
    assert keys_seen(pool) == ["A", "B", "B"]  # key A cooling: tried last, so not again


def test_a_disabled_key_sees_no_traffic_and_gets_no_cooldown(home: Paths) -> None:
    pool = FakeProvider("pool", text="from key B")
    with FakeUpstream(pool) as up_pool, FakeUpstream() as up_other:
        pool_config(home, up_pool.url, up_other.url)
        text = home.provider_metadata.read_text().replace(
            'model = "pool-model"', 'disabled_keys = ["${P19_KEY_A}"]\nmodel = "pool-model"'
        )
        home.provider_metadata.write_text(text)
        id_a, id_b = ids(home)
        with serve(make_app(home)) as base:
            client = closed_after_test(
                openai.OpenAI(base_url=f"{base}/v1", api_key="k", max_retries=0)
            )
            for _ in range(3):
                raw = client.chat.completions.with_raw_response.create(model="m", messages=HI)  # type: ignore[arg-type]
                assert raw.headers["x-auto-router-key"] == id_b
            pool.limited_when = "pool"  # key B runs out: the backend moves on, not to key A
            client.chat.completions.create(model="m", messages=HI)  # type: ignore[arg-type]
    seen = keys_seen(pool)
    assert set(seen) == {"B"} and len(seen) >= 4  # key A's upstream saw nothing
    state = Rotator(home, store=SQLiteStateStore(home.database)).state("qwen")
    assert state.provider(slot_name("pool", id_a)).usage_limits == 0
    (status,) = Rotator(home, store=SQLiteStateStore(home.database)).status()
    key_a = status.providers[0].keys[0]
    assert key_a.disabled and key_a.cooldown_until is None
