"""Migrations named once (``@migration``): databases made before the decorator, which
recorded the names written out by hand, neither re-run nor skip a migration."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from auto_router.store import connect, migrations
from auto_router.store.db import migrate
from auto_router.store.migrations import MIGRATIONS, migration

#: The list as it was written by hand before ``@migration`` (store/migrations.py at d581cfd):
#: the names every existing database has recorded in ``_migrations``.
HAND_WRITTEN = [
    ("001_rotation_state", migrations.m001_rotation_state),
    ("002_run_attempts", migrations.m002_run_attempts),
    ("003_proxy_requests", migrations.m003_proxy_requests),
    ("004_circuit_breaker", migrations.m004_circuit_breaker),
    ("005_request_run_id", migrations.m005_request_run_id),
]


def old_database(path: Path, applied: int) -> None:
    """A database as the old code left it after its first ``applied`` migrations."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at REAL)")
    for name, function in HAND_WRITTEN[:applied]:
        function(db)
        db.execute("INSERT INTO _migrations (name, applied_at) VALUES (?, 0)", (name,))
    db.close()


def schema(db: sqlite3.Connection) -> list[tuple[str, str]]:
    rows = db.execute("SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY name")
    return list(rows)


def test_the_decorated_names_are_the_recorded_names_in_order() -> None:
    assert MIGRATIONS[: len(HAND_WRITTEN)] == HAND_WRITTEN


@pytest.mark.parametrize("applied", [0, 1, 3, 4, 5])
def test_a_partly_migrated_old_database_gets_exactly_the_rest(tmp_path: Path, applied: int) -> None:
    old_database(tmp_path / "old.db", applied)
    db = sqlite3.connect(tmp_path / "old.db", isolation_level=None)
    assert migrate(db) == [name for name, _ in MIGRATIONS[applied:]]  # none again, none skipped
    assert schema(db) == schema(connect(tmp_path / "new.db"))
    assert migrate(db) == []


def test_a_misnamed_or_out_of_order_migration_fails_at_once() -> None:
    def m001_again(db: sqlite3.Connection) -> None: ...

    def m099_far_ahead(db: sqlite3.Connection) -> None: ...

    def add_column(db: sqlite3.Connection) -> None: ...

    registered = list(MIGRATIONS)
    for function in (m001_again, m099_far_ahead, add_column):
        with pytest.raises(ValueError, match="migration"):
            migration(function)
    assert registered == MIGRATIONS
