"""Persisted rotation state: round trips, the Rotator over it, and many real processes at once."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from auto_router.config.shared import StateConfig
from auto_router.errors import AllProvidersExhaustedError, StateError
from auto_router.limits.headroom import Window
from auto_router.paths import resolve_paths
from auto_router.rotation.configsource import ConfigSource
from auto_router.rotation.policy import BackendState, record_usage_limit
from auto_router.rotation.service import Rotator
from auto_router.rotation.state import SQLiteStateStore, StateStore, open_state_store
from auto_router.secrets import Secret
from auto_router.store.db import connect
from tests.helpers import FakeClock, write_config
from tests.servers import drop_prefix, redis_url, unique_prefix

# ------------------------------------------------------------------ the StateStore contract
# Every test here runs against each store (SQLite, and Redis when a server answers): the
# behaviour the rest of auto-router relies on, whichever [state] names.

STORES = ["sqlite", "redis"]

OPEN_STORE = """
import sys
from pathlib import Path
from auto_router.config.shared import StateConfig
from auto_router.rotation.state import open_state_store
from auto_router.secrets import Secret
def store(database, url, prefix):
    config = StateConfig(url=Secret(url), prefix=prefix) if url else StateConfig()
    return open_state_store(Path(database), config, env={})
"""


@pytest.fixture(params=STORES)
def store_spec(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreSpec]:
    """(database, url, prefix): what a process needs to open the same store."""
    if request.param == "sqlite":
        yield StoreSpec(tmp_path / "s.db", "", "")
        return
    url, prefix = redis_url(), unique_prefix()
    yield StoreSpec(tmp_path / "s.db", url, prefix)
    drop_prefix(url, prefix)


@dataclass(frozen=True)
class StoreSpec:
    database: Path
    url: str
    prefix: str

    def open(self) -> StateStore:
        config = (
            StateConfig(url=Secret(self.url), prefix=self.prefix) if self.url else StateConfig()
        )
        return open_state_store(self.database, config, env={})

    def state_table(self) -> str:
        """``[state]`` for llm_config.toml (nothing for SQLite)."""
        return f'[state]\nurl = "{self.url}"\nprefix = "{self.prefix}"\n' if self.url else ""


def test_state_round_trips_through_the_store(store_spec: StoreSpec) -> None:
    now = time.time()
    store = store_spec.open()
    new = store.update("qwen", lambda s: record_usage_limit(("a", "b"), s, "a", now, now + 60, "q"))
    again = store_spec.open().get("qwen")
    assert again == new
    assert again.current == "b"
    assert again.provider("a").cooldown_until == now + 60
    assert again.provider("a").last_error == "q"
    assert store_spec.open().get_all().keys() == {"qwen"}


def test_a_backend_never_written_has_an_empty_state(store_spec: StoreSpec) -> None:
    assert store_spec.open().get("nobody") == BackendState("nobody")
    assert store_spec.open().get_all() == {}


def test_headroom_windows_round_trip(store_spec: StoreSpec) -> None:
    window = Window("requests", 3, 100, time.time() + 30, time.time())
    store = store_spec.open()
    store.update("q", lambda s: s.with_provider("a", replace(s.provider("a"), headroom=(window,))))
    assert store_spec.open().get("q").provider("a").headroom == (window,)


def test_a_provider_dropped_from_the_state_is_gone_from_the_store(store_spec: StoreSpec) -> None:
    now = time.time()
    store = store_spec.open()
    store.update("q", lambda s: record_usage_limit(("a", "b"), s, "a", now, now + 65, "q"))
    store.update("q", lambda s: BackendState("q", current="b"))
    assert store_spec.open().get("q").providers == {}


def test_clear_forgets_one_backend_or_all(store_spec: StoreSpec) -> None:
    store = store_spec.open()
    for name in ("x", "y", "z"):
        store.update(name, lambda s: BackendState(s.backend, current="a"))
    store.clear("x")
    assert store.get("x") == BackendState("x")
    assert store.get_all().keys() == {"y", "z"}
    store.clear()
    assert store.get_all() == {}
    assert store.get("y").current is None


def test_a_failing_change_leaves_the_state_as_it_was(store_spec: StoreSpec) -> None:
    store = store_spec.open()
    store.update("qwen", lambda s: BackendState("qwen", current="a"))

    def broken(state: BackendState) -> BackendState:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        store.update("qwen", broken)
    assert store.get("qwen").current == "a"


def test_version_changes_when_another_process_writes(store_spec: StoreSpec) -> None:
    mine = store_spec.open()
    before = mine.version()
    mine.update("x", lambda s: BackendState("x", current="a"))
    after_own = mine.version()
    assert after_own != before
    assert mine.version() == after_own  # reading does not move it
    code = OPEN_STORE + textwrap.dedent("""
        from auto_router.rotation.policy import BackendState
        store(*sys.argv[1:]).update("x", lambda s: BackendState("x", current="b"))
    """)
    subprocess.run(
        [sys.executable, "-c", code, str(store_spec.database), store_spec.url, store_spec.prefix],
        check=True,
    )
    # SQLite sees it at once; Redis within the delivery of one change message (< 1 ms).
    deadline = time.monotonic() + 2
    while mine.version() == after_own and time.monotonic() < deadline:
        time.sleep(0.001)
    assert mine.version() != after_own
    assert mine.get("x").current == "b"


def test_database_uses_wal_and_records_migrations(tmp_path: Path) -> None:
    SQLiteStateStore(tmp_path / "s.db")
    db = sqlite3.connect(tmp_path / "s.db")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert ("001_rotation_state",) in db.execute("SELECT name FROM _migrations").fetchall()


def test_an_unusable_database_path_is_a_state_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(StateError, match="cannot"):
        connect(blocker / "sub" / "x.db")


def test_a_corrupt_database_is_a_state_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StateError, match="cannot open the state database"):
        SQLiteStateStore(path)


# ------------------------------------------------------------------ the Rotator


@pytest.fixture
def rotator(three_providers: Path, clock: FakeClock) -> Rotator:
    return Rotator(resolve_paths(three_providers), clock=clock)


def test_rotator_rotates_on_limits_then_falls_back_to_the_next_backend(
    rotator: Rotator, clock: FakeClock
) -> None:
    assert rotator.choose().provider_name == "qwen-open-router"
    rotator.record_usage_limit("qwen", "qwen-open-router", reason="429")
    assert rotator.choose().provider_name == "qwen-azure"
    rotator.record_usage_limit("qwen", "qwen-azure", reset_at=clock.now + 60)
    rotator.record_usage_limit("qwen", "qwen-direct")
    choice = rotator.choose("qwen")
    assert (choice.backend.name, choice.provider_name) == ("gemini", "gemini-a")
    with pytest.raises(AllProvidersExhaustedError):
        rotator.choose("qwen", fallback=False)
    clock.advance(61)
    assert rotator.choose().provider_name == "qwen-azure"


def test_default_cooldown_comes_from_the_config(tmp_path: Path, clock: FakeClock) -> None:
    conf = write_config(
        tmp_path,
        '[backends.q]\ncooldown = 120\nproviders = ["a", "b"]\n',
        "[q.a]\n[q.b]\ncooldown = 5\n",
    )
    rotator = Rotator(resolve_paths(conf), clock=clock)
    rotator.record_usage_limit("q", "a")
    rotator.record_usage_limit("q", "b")
    assert rotator.state("q").provider("a").cooldown_until == clock.now + 120
    assert rotator.state("q").provider("b").cooldown_until == clock.now + 5


def test_disabled_providers_are_skipped(tmp_path: Path, clock: FakeClock) -> None:
    conf = write_config(tmp_path, "", "[q.a]\nenabled = false\n[q.b]\n")
    rotator = Rotator(resolve_paths(conf), clock=clock)
    assert rotator.choose("q").provider_name == "b"
    assert not rotator.advance("q")


def test_fallback_mode_backend_has_no_provider_but_can_cool_down(
    tmp_path: Path, clock: FakeClock
) -> None:
    conf = write_config(tmp_path, "[backends.plain]\n[backends.other]\n")
    rotator = Rotator(resolve_paths(conf), clock=clock)
    choice = rotator.choose("plain")
    assert choice.provider is None and choice.backend.name == "plain"
    rotator.record_usage_limit("plain", None)
    assert rotator.choose("plain").backend.name == "other"


def test_state_for_a_removed_provider_is_ignored(tmp_path: Path, clock: FakeClock) -> None:
    conf = write_config(tmp_path, "", "[q.a]\n[q.b]\n")
    paths = resolve_paths(conf)
    Rotator(paths, clock=clock).set_current("q", "b")
    write_config(tmp_path, "", "[q.a]\n[q.c]\n")
    rotator = Rotator(paths, clock=clock)
    assert rotator.choose("q").provider_name == "a"
    assert [p.name for s in rotator.status() for p in s.providers] == ["a", "c"]


def test_config_source_reloads_when_a_file_changes(tmp_path: Path) -> None:
    conf = write_config(tmp_path, "", "[q.a]\n")
    source = ConfigSource(resolve_paths(conf))
    assert list(source.get().providers["q"]) == ["a"]
    version = source.version
    (conf / "provider_metadata.toml").write_text("[q.a]\n[q.bb]\n")
    assert list(source.get().providers["q"]) == ["a", "bb"]
    assert source.version == version + 1
    # A broken edit keeps the last good configuration and reports why.
    (conf / "provider_metadata.toml").write_text("[q.a\n")
    assert list(source.get().providers["q"]) == ["a", "bb"]
    assert source.reload_error is not None


# ------------------------------------------------------------------ many processes

WORKER = """
import sys
from pathlib import Path
from auto_router.paths import resolve_paths
from auto_router.rotation.service import Rotator
rotator = Rotator(resolve_paths(Path(sys.argv[1])))
for _ in range(int(sys.argv[3])):
    if sys.argv[2] == "advance":
        rotator.advance("qwen")
    else:
        rotator.record_success("qwen", "qwen-direct")
"""


@pytest.mark.integration
@pytest.mark.parametrize("action", ["advance", "success"])
def test_processes_changing_one_backend_at_once_lose_no_update(
    three_providers: Path, store_spec: StoreSpec, action: str
) -> None:
    """6 processes x 50 changes of one backend, for each store: no update is lost."""
    llm = three_providers / "llm_config.toml"
    llm.write_text(llm.read_text() + store_spec.state_table())
    processes, rounds = 6, 50
    workers = [
        subprocess.Popen([sys.executable, "-c", WORKER, str(three_providers), action, str(rounds)])
        for _ in range(processes)
    ]
    assert [w.wait(timeout=120) for w in workers] == [0] * processes
    rotator = Rotator(resolve_paths(three_providers))
    total = processes * rounds
    if action == "advance":
        names = ["qwen-open-router", "qwen-azure", "qwen-direct"]
        assert rotator.current_provider_name("qwen") == names[total % 3]
    else:
        assert rotator.state("qwen").provider("qwen-direct").successes == total
