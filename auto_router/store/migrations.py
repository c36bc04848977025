"""The schema, as an ordered list of named migrations.

Each migration runs once per database, inside the transaction that records its name in
``_migrations``. Never edit a migration that has shipped: add a new one, as the next
``@migration``-decorated function. As in simonw/llm, a migration's name is its function's
name, written once: ``m006_something`` is recorded as ``006_something`` (without the ``m``,
the names databases in use have recorded since the first release).
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable
from typing import Final

Migration = Callable[[sqlite3.Connection], None]

#: (recorded name, function), in the order they run: filled by ``@migration`` below.
MIGRATIONS: Final[list[tuple[str, Migration]]] = []


def migration(function: Migration) -> Migration:
    """Register ``function`` as the next migration, named by its function name.

    The name must be ``m<NNN>_<words>`` with NNN the next number, so that a migration
    inserted, renamed out of order or registered twice fails at import, not in a database.
    """
    name = function.__name__
    found = re.fullmatch(r"m(\d{3})_\w+", name)
    if found is None:
        raise ValueError(f"a migration is named m<NNN>_<words>, not {name!r}")
    if int(found.group(1)) != len(MIGRATIONS) + 1:
        raise ValueError(
            f"migration {name!r} is out of order: the next is {len(MIGRATIONS) + 1:03d}"
        )
    MIGRATIONS.append((name.removeprefix("m"), function))
    return function


@migration
def m001_rotation_state(db: sqlite3.Connection) -> None:
    db.execute(
        """
        CREATE TABLE backend_state (
            backend         TEXT PRIMARY KEY,
            current         TEXT,
            last_success    TEXT,
            last_success_at REAL,
            updated_at      REAL NOT NULL
        )
        """
    )
    db.execute(
        """
        CREATE TABLE provider_state (
            backend         TEXT NOT NULL,
            provider        TEXT NOT NULL,
            cooldown_until  REAL,
            last_error      TEXT,
            last_error_at   REAL,
            usage_limits    INTEGER NOT NULL DEFAULT 0,
            failures        INTEGER NOT NULL DEFAULT 0,
            successes       INTEGER NOT NULL DEFAULT 0,
            last_success_at REAL,
            PRIMARY KEY (backend, provider)
        )
        """
    )


@migration
def m002_run_attempts(db: sqlite3.Connection) -> None:
    """One row per child process ``auto-router run`` started (see store/attempts.py)."""
    db.execute(
        """
        CREATE TABLE run_attempts (
            id             INTEGER PRIMARY KEY AUTOINCREMENT,
            run_id         TEXT NOT NULL,
            attempt        INTEGER NOT NULL,
            started_at     REAL NOT NULL,
            duration       REAL,
            backend        TEXT NOT NULL,
            provider       TEXT,
            command        TEXT NOT NULL,
            exit_code      INTEGER,
            outcome        TEXT NOT NULL,
            limit_detected INTEGER NOT NULL DEFAULT 0,
            marker         TEXT,
            reset_at       REAL
        )
        """
    )
    db.execute("CREATE INDEX run_attempts_started ON run_attempts (started_at)")
    db.execute("CREATE INDEX run_attempts_run ON run_attempts (run_id, attempt)")


@migration
def m003_proxy_requests(db: sqlite3.Connection) -> None:
    db.execute(
        """
        CREATE TABLE proxy_requests (
            id                INTEGER PRIMARY KEY,
            ts                REAL NOT NULL,
            method            TEXT NOT NULL,
            endpoint          TEXT NOT NULL,
            backend           TEXT,
            provider          TEXT,
            client_model      TEXT,
            upstream_model    TEXT,
            stream            INTEGER NOT NULL DEFAULT 0,
            status            INTEGER NOT NULL,
            attempts          INTEGER NOT NULL DEFAULT 0,
            failed_attempts   TEXT,
            duration_ms       REAL,
            ttfb_ms           REAL,
            prompt_tokens     INTEGER,
            completion_tokens INTEGER,
            total_tokens      INTEGER,
            error             TEXT,
            request_body      TEXT,
            response_body     TEXT
        )
        """
    )
    db.execute("CREATE INDEX proxy_requests_ts ON proxy_requests (ts)")
    db.execute("CREATE INDEX proxy_requests_provider ON proxy_requests (backend, provider, ts)")


@migration
def m004_circuit_breaker(db: sqlite3.Connection) -> None:
    """Per provider: failures in a row, and until when its circuit breaker is open."""
    db.execute("ALTER TABLE provider_state ADD COLUMN streak INTEGER NOT NULL DEFAULT 0")
    db.execute("ALTER TABLE provider_state ADD COLUMN circuit_until REAL")


@migration
def m005_request_run_id(db: sqlite3.Connection) -> None:
    """The ``auto-router run`` a proxied request came from (through its run token)."""
    db.execute("ALTER TABLE proxy_requests ADD COLUMN run_id TEXT")
    db.execute(
        "CREATE INDEX proxy_requests_run ON proxy_requests (run_id) WHERE run_id IS NOT NULL"
    )


@migration
def m006_headroom(db: sqlite3.Connection) -> None:
    """Per provider: the rate-limit windows its last answer described (JSON; issue 19)."""
    db.execute("ALTER TABLE provider_state ADD COLUMN headroom TEXT")


@migration
def m007_request_key_id(db: sqlite3.Connection) -> None:
    """The pool key that answered a proxied request, by its id (issue 19, config/pools.py)."""
    db.execute("ALTER TABLE proxy_requests ADD COLUMN key_id TEXT")
