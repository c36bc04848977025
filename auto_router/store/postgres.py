"""The request log in PostgreSQL (``[request_log] url``), so that replicas share one log.

The same table as SQLite's ``proxy_requests`` (``migrations.m003`` and later), grown through
named migrations recorded in ``_migrations`` inside the transaction that applies them, under
an advisory lock (two replicas starting at once migrate once). Batches go in with COPY.

The readers (``requests.query``, ``requests.stats``, ``usage.usage``) are the SQLite ones:
``PgDatabase`` runs their SQL with ``%s`` placeholders. Needs ``auto-router[postgres]``
(psycopg 3); imported only when a URL names PostgreSQL.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, Final

import psycopg

from ..errors import StateError
from .rows import COLUMNS, RequestRecord, as_row

#: Any number: the key of the advisory lock the migrations take.
_LOCK: Final = 22_022
#: SQLite's local day of a timestamp (usage.py) in PostgreSQL's words.
_DAY_SQLITE: Final = "date(ts, 'unixepoch', 'localtime')"
_DAY_PG: Final = "to_char(to_timestamp(ts), 'YYYY-MM-DD')"

MIGRATIONS: Final = (
    (
        "001_proxy_requests",
        """
        CREATE TABLE proxy_requests (
            id                BIGSERIAL PRIMARY KEY,
            ts                DOUBLE PRECISION NOT NULL,
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
            duration_ms       DOUBLE PRECISION,
            ttfb_ms           DOUBLE PRECISION,
            prompt_tokens     INTEGER,
            completion_tokens INTEGER,
            total_tokens      INTEGER,
            error             TEXT,
            request_body      TEXT,
            response_body     TEXT,
            run_id            TEXT,
            key_id            TEXT
        );
        CREATE INDEX proxy_requests_ts ON proxy_requests (ts);
        CREATE INDEX proxy_requests_provider ON proxy_requests (backend, provider, ts);
        CREATE INDEX proxy_requests_run ON proxy_requests (run_id) WHERE run_id IS NOT NULL
        """,
    ),
)


class PgDatabase:
    """A connection with the SQLite readers' ``execute(sql, args)``: ``?`` -> ``%s``."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn

    def execute(self, sql: str, args: Sequence[Any] = ()) -> psycopg.Cursor[Any]:
        sql = sql.replace("%", "%%").replace("?", "%s").replace(_DAY_SQLITE, _DAY_PG)
        return self.conn.execute(sql.encode(), tuple(args))

    def close(self) -> None:
        self.conn.close()


def connect(url: str, *, timeout: float = 5.0) -> PgDatabase:
    """A migrated connection; ``StateError`` (without the URL: it may hold a password)."""
    try:
        conn = psycopg.connect(url, connect_timeout=max(1, int(timeout)), autocommit=True)
    except psycopg.Error as exc:
        raise StateError(f"cannot reach the request log (PostgreSQL): {_reason(exc)}") from None
    try:
        migrate(conn)
    except psycopg.Error as exc:
        conn.close()
        raise StateError(f"cannot migrate the request log (PostgreSQL): {_reason(exc)}") from None
    return PgDatabase(conn)


def migrate(conn: psycopg.Connection[Any]) -> list[str]:
    """Apply the migrations not yet recorded; each in the transaction that records it."""
    applied = []
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK,))
        conn.execute(
            "CREATE TABLE IF NOT EXISTS _migrations "
            "(name TEXT PRIMARY KEY, applied_at DOUBLE PRECISION NOT NULL)"
        )
        done = {row[0] for row in conn.execute("SELECT name FROM _migrations")}
        for name, sql in MIGRATIONS:
            if name in done:
                continue
            for statement in sql.split(";"):
                conn.execute(statement.encode())
            conn.execute("INSERT INTO _migrations VALUES (%s, %s)", (name, time.time()))
            applied.append(name)
    return applied


def insert_batch(db: PgDatabase, records: Sequence[RequestRecord]) -> None:
    """``records`` in one COPY, in one transaction."""
    if not records:
        return
    try:
        with (
            db.conn.transaction(),
            db.conn.cursor() as cur,
            cur.copy(f"COPY proxy_requests ({COLUMNS}) FROM STDIN") as copy,
        ):
            for record in records:
                copy.write_row(as_row(record))
    except psycopg.Error as exc:
        raise StateError(f"cannot write the request log (PostgreSQL): {_reason(exc)}") from None


def prune(db: PgDatabase, *, max_rows: int | None, max_days: float | None, now: float) -> int:
    removed = 0
    with db.conn.transaction():
        if max_days is not None:
            cur = db.execute("DELETE FROM proxy_requests WHERE ts < ?", (now - max_days * 86400,))
            removed += cur.rowcount
        if max_rows is not None:
            cur = db.execute(
                "DELETE FROM proxy_requests WHERE id <= "
                "(SELECT id FROM proxy_requests ORDER BY id DESC LIMIT 1 OFFSET ?)",
                (max_rows,),
            )
            removed += cur.rowcount
    return removed


def _reason(exc: psycopg.Error) -> str:
    # psycopg's connection messages name host and port, never the password of the URL.
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
