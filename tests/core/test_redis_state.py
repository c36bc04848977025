"""What only the Redis state store does: cooldowns that expire by themselves, [state] in
the config, and a Redis that does not answer (a real server; the contract is test_state.py)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from auto_router.config import load_config
from auto_router.config.shared import StateConfig
from auto_router.demo.fake_upstream import free_port
from auto_router.errors import ConfigValidationError, StateError
from auto_router.paths import resolve_paths
from auto_router.rotation.policy import record_usage_limit
from auto_router.rotation.redis_state import RedisStateStore
from auto_router.rotation.service import Rotator
from auto_router.rotation.state import SQLiteStateStore, open_state_store
from auto_router.secrets import Secret
from tests.helpers import write_config
from tests.servers import drop_prefix, redis_url, unique_prefix


@pytest.fixture
def redis_prefix() -> Iterator[tuple[str, str]]:
    """(url, prefix) of a Redis namespace of this test's own, gone after it."""
    url, prefix = redis_url(), unique_prefix()
    yield url, prefix
    drop_prefix(url, prefix)


def test_a_cooldown_is_a_key_that_expires_when_it_ends(redis_prefix: tuple[str, str]) -> None:
    url, prefix = redis_prefix
    store = RedisStateStore(url, prefix=prefix)
    now = time.time()
    store.update("q", lambda s: record_usage_limit(("a", "b"), s, "a", now, now + 120, "429"))
    raw = redis.Redis.from_url(url)
    key = f"{prefix}:cooldown:q:a"
    assert raw.pexpiretime(key) == int((now + 120) * 1000)
    # a cooldown that ends now: Redis forgets it by itself, nothing sweeps
    store.update("q", lambda s: record_usage_limit(("a", "b"), s, "b", now, time.time() + 0.2, "x"))
    deadline = time.monotonic() + 5
    while raw.exists(f"{prefix}:cooldown:q:b") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not raw.exists(f"{prefix}:cooldown:q:b")
    state = store.get("q")
    assert state.provider("b").cooldown_until is None
    assert state.provider("b").last_error == "x"  # the rest of the provider's state stays
    assert state.provider("a").cooldown_until == now + 120
    raw.close()


def test_a_cooldown_already_over_writes_no_key(redis_prefix: tuple[str, str]) -> None:
    url, prefix = redis_prefix
    store = RedisStateStore(url, prefix=prefix)
    store.update("q", lambda s: record_usage_limit(("a", "b"), s, "a", 5.0, 65.0, "old"))
    raw = redis.Redis.from_url(url)
    assert raw.keys(f"{prefix}:cooldown:*") == []
    raw.close()
    assert store.get("q").provider("a").is_available(time.time())


def test_the_state_url_in_the_config_chooses_redis(
    tmp_path: Path, redis_prefix: tuple[str, str]
) -> None:
    url, prefix = redis_prefix
    conf = write_config(
        tmp_path, f'[state]\nurl = "{url}"\nprefix = "{prefix}"\n', "[q.a]\n[q.b]\n"
    )
    rotator = Rotator(resolve_paths(conf))
    assert isinstance(rotator.store, RedisStateStore)
    rotator.record_usage_limit("q", "a", reason="429")
    # another process's Rotator over the same [state] sees it at once
    assert Rotator(resolve_paths(conf)).choose("q").provider_name == "b"
    assert (
        not (conf / "auto-router.db").exists()
        or SQLiteStateStore(resolve_paths(conf).database).get_all() == {}
    )


def test_the_environment_wins_over_the_file(tmp_path: Path, redis_prefix: tuple[str, str]) -> None:
    url, prefix = redis_prefix
    config = StateConfig(prefix=prefix)
    assert isinstance(open_state_store(tmp_path / "s.db", config, env={}), SQLiteStateStore)
    store = open_state_store(tmp_path / "s.db", config, env={"AUTO_ROUTER_STATE_URL": url})
    assert isinstance(store, RedisStateStore)
    with pytest.raises(StateError, match="AUTO_ROUTER_STATE_URL: expected a Redis URL"):
        open_state_store(
            tmp_path / "s.db", config, env={"AUTO_ROUTER_STATE_URL": "http://user:pw@x"}
        )


@pytest.mark.parametrize(
    ("table", "key", "message"),
    [
        ('url = "http://127.0.0.1:6379"', "url", "expected a Redis URL"),
        ("url = 6379", "url", "expected a string"),
        ('prefix = "has space"', "prefix", "expected up to 64"),
    ],
)
def test_a_bad_state_table_names_file_line_and_key(
    tmp_path: Path, table: str, key: str, message: str
) -> None:
    conf = write_config(tmp_path, f"[backends.q]\n\n[state]\n{table}\n", "[q.a]\n")
    with pytest.raises(ConfigValidationError) as info:
        load_config(resolve_paths(conf))
    problem = info.value.problems[0]
    assert message in problem.message
    assert (problem.key_path, problem.line) == (f"[state].{key}", 4)
    assert problem.path == conf / "llm_config.toml"


def test_a_bad_url_is_never_repeated_in_the_error(tmp_path: Path) -> None:
    conf = write_config(tmp_path, '[state]\nurl = "http://user:hunter2@h"\n', "")
    with pytest.raises(ConfigValidationError) as info:
        load_config(resolve_paths(conf))
    assert "hunter2" not in str(info.value) and "hunter2" not in repr(info.value.problems)


def test_an_unknown_state_key_is_a_warning(tmp_path: Path) -> None:
    conf = write_config(tmp_path, '[state]\nurll = "redis://x"\n', "")
    config = load_config(resolve_paths(conf))
    assert [w.key_path for w in config.warnings] == ["[state].urll"]
    assert config.shared.state.url is None


def test_a_redis_that_does_not_answer_is_a_state_error_without_the_password() -> None:
    store = RedisStateStore(f"redis://:hunter2@127.0.0.1:{free_port()}/0", prefix="x", timeout=0.5)
    with pytest.raises(StateError, match="Redis") as info:
        store.get("q")
    assert "hunter2" not in str(info.value)
    assert "hunter2" not in repr(StateConfig(url=Secret("redis://:hunter2@h")))


def test_the_request_log_url_is_checked_and_the_environment_wins(tmp_path: Path) -> None:
    conf = write_config(tmp_path, '[request_log]\nurl = "mysql://x"\n', "")
    with pytest.raises(ConfigValidationError) as info:
        load_config(resolve_paths(conf))
    problem = info.value.problems[0]
    assert (problem.key_path, problem.line) == ("[request_log].url", 2)
    assert "expected a PostgreSQL URL" in problem.message
    write_config(tmp_path, '[request_log]\nurl = "postgresql://h/db"\n', "")
    shared = load_config(resolve_paths(conf)).shared
    assert shared.log_url(env={}) == "postgresql://h/db"
    assert shared.log_url(env={"AUTO_ROUTER_REQUEST_LOG_URL": "postgresql://o/db"}) == (
        "postgresql://o/db"
    )


def test_with_fallback_a_redis_away_is_served_from_memory() -> None:
    store = RedisStateStore(
        f"redis://127.0.0.1:{free_port()}/0", prefix="x", timeout=0.5, fallback=True
    )
    now = time.time()
    after = store.update("q", lambda s: record_usage_limit(("a", "b"), s, "a", now, now + 60, "x"))
    assert after.current == "b" and store.get("q") == after  # in memory meanwhile
    health = store.health()
    assert health["up"] is False and health["pending"] == ["q"]
    assert store.version() == store.version()  # steady while nothing changes
    before = store.version()
    store.update("q", lambda s: s)
    assert store.version() != before  # a change in memory moves it too
    store.close()


def test_merge_keeps_the_later_cooldown_and_error_and_the_larger_counters() -> None:
    from dataclasses import replace

    from auto_router.rotation.policy import BackendState, ProviderState
    from auto_router.rotation.redis_state import merge

    theirs = BackendState("q", current="a").with_provider(
        "a", ProviderState(cooldown_until=50.0, last_error="old", last_error_at=10.0, successes=7)
    )
    mine = BackendState("q", current="b").with_provider(
        "a", ProviderState(cooldown_until=90.0, last_error="new", last_error_at=20.0, successes=3)
    )
    mine = mine.with_provider("b", ProviderState(successes=1))
    merged = merge(theirs, mine)
    assert merged.current == "b"
    assert merged.provider("a") == replace(mine.provider("a"), cooldown_until=90.0, successes=7)
    assert merged.provider("b").successes == 1
