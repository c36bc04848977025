"""The proxy's request log: one row per proxied request (migration ``003_proxy_requests``).

Library functions only (insert a batch, prune, query, stats); the proxy writes through a
background thread (``auto_router.proxy.reqlog``), the CLI reads with ``query``/``stats``.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from ..errors import StateError
from ..paths import Paths
from .db import connect, transaction


@dataclass(frozen=True, slots=True)
class FailedAttempt:
    backend: str
    provider: str
    status: int | None
    reason: str


@dataclass(frozen=True, slots=True)
class RequestRecord:
    ts: float
    method: str
    endpoint: str
    status: int
    backend: str | None = None
    provider: str | None = None
    client_model: str | None = None
    upstream_model: str | None = None
    stream: bool = False
    attempts: int = 0
    failed: tuple[FailedAttempt, ...] = ()
    duration_ms: float | None = None
    ttfb_ms: float | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    total_tokens: int | None = None
    error: str | None = None
    request_body: str | None = field(default=None, repr=False)
    response_body: str | None = field(default=None, repr=False)
    #: The ``auto-router run`` that made the request (``--via-proxy``), if any.
    run_id: str | None = None
    #: The id of the pool key that answered (issue 19; never the key).
    key_id: str | None = None
    id: int | None = None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["failed"] = [asdict(f) for f in self.failed]
        return data


_COLUMNS = (
    "ts, method, endpoint, backend, provider, client_model, upstream_model, stream, status, "
    "attempts, failed_attempts, duration_ms, ttfb_ms, prompt_tokens, completion_tokens, "
    "total_tokens, error, request_body, response_body, run_id, key_id"
)


def _row(r: RequestRecord) -> tuple[Any, ...]:
    failed = json.dumps([asdict(f) for f in r.failed]) if r.failed else None
    return (
        r.ts,
        r.method,
        r.endpoint,
        r.backend,
        r.provider,
        r.client_model,
        r.upstream_model,
        int(r.stream),
        r.status,
        r.attempts,
        failed,
        r.duration_ms,
        r.ttfb_ms,
        r.prompt_tokens,
        r.completion_tokens,
        r.total_tokens,
        r.error,
        r.request_body,
        r.response_body,
        r.run_id,
        r.key_id,
    )


def insert_batch(db: sqlite3.Connection, records: Sequence[RequestRecord]) -> None:
    """Insert ``records`` in one transaction."""
    if not records:
        return
    placeholders = ", ".join("?" * 21)
    try:
        with transaction(db):
            db.executemany(
                f"INSERT INTO proxy_requests ({_COLUMNS}) VALUES ({placeholders})",
                [_row(r) for r in records],
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


def query(db: sqlite3.Connection, filters: RequestFilter) -> list[RequestRecord]:
    """The newest requests first."""
    where, args = _where(filters)
    rows = db.execute(
        f"SELECT id, {_COLUMNS} FROM proxy_requests {where} ORDER BY id DESC LIMIT ?",
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


def stats(db: sqlite3.Connection, *, since: float | None = None) -> list[ProviderStats]:
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


def read_requests(paths: Paths, filters: RequestFilter) -> list[RequestRecord]:
    """``query`` on the database at ``paths`` (for the CLI)."""
    db = connect(paths.database)
    try:
        return query(db, filters)
    except sqlite3.Error as exc:
        raise StateError(f"cannot read the request log: {exc}") from exc
    finally:
        db.close()


def read_stats(paths: Paths, *, since: float | None = None) -> list[ProviderStats]:
    """``stats`` on the database at ``paths`` (for the CLI)."""
    db = connect(paths.database)
    try:
        return stats(db, since=since)
    except sqlite3.Error as exc:
        raise StateError(f"cannot read the request log: {exc}") from exc
    finally:
        db.close()
