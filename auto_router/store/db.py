"""Opening the database: WAL, a busy timeout, and migrations applied under a write lock."""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import StateError
from ..paths import ensure_private_dir, ensure_private_file, tighten_file
from .migrations import MIGRATIONS

#: How long a writer waits for another process's transaction before giving up.
BUSY_TIMEOUT_MS = 30_000


def connect(path: Path) -> sqlite3.Connection:
    """Open (creating if needed) the database at ``path`` with the schema up to date."""
    try:
        # The request log may hold prompts and the state error texts: 0600 in a 0700
        # directory. SQLite gives -wal/-shm the database file's mode; older ones are fixed.
        ensure_private_dir(path.parent)
        ensure_private_file(path)
        for suffix in ("-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):  # SQLite removes them at will
                tighten_file(path.with_name(path.name + suffix))
        # Autocommit mode: transactions are explicit (``transaction``), so a reader never
        # holds a lock longer than its statement.
        db = sqlite3.connect(
            path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
        )
        db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        _enable_wal(db)
        db.execute("PRAGMA synchronous = NORMAL")
        db.execute("PRAGMA foreign_keys = ON")
        migrate(db)
    except sqlite3.Error as exc:
        raise StateError(
            f"cannot open the state database {path}: {exc}",
            hint="check the data directory (`auto-router config path`) is writable",
        ) from exc
    except OSError as exc:
        if path.parent.exists() and not path.parent.is_dir():
            raise StateError(
                f"the data directory {path.parent} is not a directory",
                hint="point AUTO_ROUTER_HOME (or --config-dir) at a directory",
            ) from None
        raise StateError(f"cannot create {path.parent}: {exc}") from exc
    return db


def _enable_wal(db: sqlite3.Connection) -> None:
    # Switching to WAL needs a moment with no other writer; retry briefly when several
    # processes open a brand-new database at once.
    for _ in range(50):
        try:
            db.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc):
                raise
            time.sleep(0.05)
    db.execute("PRAGMA journal_mode = WAL")


@contextmanager
def transaction(db: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """``BEGIN IMMEDIATE`` ... ``COMMIT``: one writer at a time across processes."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def migrate(db: sqlite3.Connection) -> list[str]:
    """Apply the migrations this database lacks; returns their names."""
    db.execute("CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at REAL)")
    applied: list[str] = []
    done = {row[0] for row in db.execute("SELECT name FROM _migrations")}
    if all(name in done for name, _ in MIGRATIONS):
        return applied
    with transaction(db):
        # Read again under the write lock: another process may have migrated meanwhile.
        done = {row[0] for row in db.execute("SELECT name FROM _migrations")}
        for name, migration in MIGRATIONS:
            if name in done:
                continue
            migration(db)
            db.execute(
                "INSERT INTO _migrations (name, applied_at) VALUES (?, ?)", (name, time.time())
            )
            applied.append(name)
    return applied
