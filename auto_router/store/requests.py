"""The proxy's request log: one row per proxied request (migration ``003_proxy_requests``).

Library functions only (insert a batch, prune, query, stats); the proxy writes through a
background thread (``auto_router.proxy.reqlog``), the CLI reads with ``query``/``stats``.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, TypeVar

from ..errors import StateError
from ..paths import Paths
from .db import connect, transaction
from .rows import COLUMNS, Database, FailedAttempt, RequestRecord, as_row

__all__ = ["FailedAttempt", "RequestRecord"]

T = TypeVar("T")


def insert_batch(db: sqlite3.Connection, records: Sequence[RequestRecord]) -> None:
    """Insert ``records`` in one transaction."""
    if not records:
        return
    placeholders = ", ".join("?" * 21)
    try:
        with transaction(db):
            db.executemany(
                f"INSERT INTO proxy_requests ({COLUMNS}) VALUES ({placeholders})",
                [as_row(r) for r in records],
            )
    except sqlite3.Error as exc:
        raise StateError(f"cannot write the request log: {exc}") from exc


def prune(
    db: sqlite3.Connection, *, max_rows: int | None, max_days: float | None, now: float
) -> int:
    """Bounded retention: drop rows older than ``max_days`` and beyond the newest ``max_rows``."""
    removed = 0
    with transaction(db):
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


@dataclass(frozen=True)
class RequestFilter:
    limit: int = 50
    backend: str | None = None
    provider: str | None = None
    status: int | None = None
    #: "ok" (< 400) or "error" (>= 400) instead of an exact status.
    status_class: str | None = None
    since: float | None = None
    run_id: str | None = None


def query(db: Database, filters: RequestFilter) -> list[RequestRecord]:
    """The newest requests first."""
    where, args = _where(filters)
    rows = db.execute(
        f"SELECT id, {COLUMNS} FROM proxy_requests {where} ORDER BY id DESC LIMIT ?",
        (*args, filters.limit),
    ).fetchall()
    return [_record(row) for row in rows]


def _where(filters: RequestFilter) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    args: list[Any] = []
    if filters.backend:
        clauses.append("backend = ?")
        args.append(filters.backend)
    if filters.provider:
        clauses.append("provider = ?")
        args.append(filters.provider)
    if filters.status is not None:
        clauses.append("status = ?")
        args.append(filters.status)
    if filters.status_class == "ok":
        clauses.append("status < 400")
    elif filters.status_class == "error":
        clauses.append("status >= 400")
    if filters.since is not None:
        clauses.append("ts >= ?")
        args.append(filters.since)
    if filters.run_id is not None:
        clauses.append("run_id = ?")
        args.append(filters.run_id)
    return ("WHERE " + " AND ".join(clauses) if clauses else ""), args


def _record(row: Sequence[Any]) -> RequestRecord:
    (id_, ts, method, endpoint, backend, provider, client_model, upstream_model, stream,
     status, attempts, failed, duration, ttfb, prompt, completion, total, error, req,
     resp, run_id, key_id) = row  # fmt: skip
    failures = tuple(FailedAttempt(**f) for f in json.loads(failed)) if failed else ()
    return RequestRecord(
        id=id_,
        ts=ts,
        method=method,
        endpoint=endpoint,
        backend=backend,
        provider=provider,
        client_model=client_model,
        upstream_model=upstream_model,
        stream=bool(stream),
        status=status,
        attempts=attempts,
        failed=failures,
        duration_ms=duration,
        ttfb_ms=ttfb,
        prompt_tokens=prompt,
        completion_tokens=completion,
        total_tokens=total,
        error=error,
        request_body=req,
        response_body=resp,
        run_id=run_id,
        key_id=key_id,
    )


@dataclass(frozen=True)
class ProviderStats:
    backend: str | None
    provider: str | None
    requests: int
    errors: int
    failovers: int
    p50_ms: float | None
    p95_ms: float | None
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def stats(db: Database, *, since: float | None = None) -> list[ProviderStats]:
    """Per provider: requests it answered, errors among them (status >= 400), failovers
    (attempts on it that failed so the proxy moved on), p50/p95 latency, tokens."""
    where, args = _where(RequestFilter(since=since))
    groups: dict[tuple[str | None, str | None], list[tuple[Any, ...]]] = {}
    failovers: dict[tuple[str | None, str | None], int] = {}
    for row in db.execute(
        "SELECT backend, provider, status, failed_attempts, duration_ms, prompt_tokens, "
        f"completion_tokens, total_tokens FROM proxy_requests {where}",
        args,
    ):
        groups.setdefault((row[0], row[1]), []).append(row)
        for failed in json.loads(row[3]) if row[3] else ():
            key = (failed["backend"], failed["provider"])
            failovers[key] = failovers.get(key, 0) + 1
    for key in failovers:
        groups.setdefault(key, [])
    result = []
    for (backend, provider), rows in sorted(groups.items(), key=lambda kv: str(kv[0])):
        durations = sorted(r[4] for r in rows if r[4] is not None)
        result.append(
            ProviderStats(
                backend=backend,
                provider=provider,
                requests=len(rows),
                errors=sum(1 for r in rows if r[2] >= 400),
                failovers=failovers.get((backend, provider), 0),
                p50_ms=_percentile(durations, 50),
                p95_ms=_percentile(durations, 95),
                prompt_tokens=sum(r[5] or 0 for r in rows),
                completion_tokens=sum(r[6] or 0 for r in rows),
                total_tokens=sum(r[7] or 0 for r in rows),
            )
        )
    return result


def _percentile(values: Sequence[float], p: float) -> float | None:
    if not values:
        return None
    rank = max(0, min(len(values) - 1, round(p / 100 * len(values) + 0.5) - 1))
    return round(values[rank], 3)


def count(db: sqlite3.Connection) -> int:
    return int(db.execute("SELECT count(*) FROM proxy_requests").fetchone()[0])


def open_log(paths: Paths, url: str | None = None) -> Database:
    """The request log to read: PostgreSQL when ``url`` names it (``[request_log] url``),
    else the SQLite database at ``paths``."""
    if url is None:
        return connect(paths.database)
    try:
        from . import postgres
    except ImportError:
        raise StateError(
            "a PostgreSQL request log needs psycopg", hint="pip install 'auto-router[postgres]'"
        ) from None
    return postgres.connect(url)


def read_log(paths: Paths, url: str | None, read: Callable[[Database], T]) -> T:
    """``read`` on the request log (for the CLI and the management API)."""
    db = open_log(paths, url)
    try:
        return read(db)
    except sqlite3.Error as exc:
        raise StateError(f"cannot read the request log: {exc}") from exc
    except Exception as exc:  # psycopg's errors, without importing it for SQLite
        if type(exc).__module__.startswith("psycopg"):
            raise StateError(f"cannot read the request log (PostgreSQL): {exc}") from None
        raise
    finally:
        db.close()


def read_requests(
    paths: Paths, filters: RequestFilter, *, url: str | None = None
) -> list[RequestRecord]:
    """``query`` on the request log at ``paths`` or ``url`` (for the CLI)."""
    return read_log(paths, url, lambda db: query(db, filters))


def read_stats(
    paths: Paths, *, since: float | None = None, url: str | None = None
) -> list[ProviderStats]:
    """``stats`` on the request log at ``paths`` or ``url`` (for the CLI)."""
    return read_log(paths, url, lambda db: stats(db, since=since))
