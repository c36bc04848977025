"""The request log over time: per provider, per time bucket (the dashboard's charts).

``stats`` (requests.py) sums a whole period; this cuts the period into ``buckets`` equal
slices and sums each, so a chart can show the last hour in 5-minute bars or the last day in
hours: requests, errors, p50 and p95 latency, tokens. One read of the period's rows (the
columns needed, never the bodies); the sums are made here, in one pass. The same SQL reads
SQLite's log or PostgreSQL's (``[request_log] url``: ``postgres.PgDatabase``), as
``read_stats`` does.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from ..paths import Paths
from .requests import _percentile, read_log
from .rows import Database


@dataclass(frozen=True, slots=True)
class Bucket:
    """One slice of time of one provider's requests."""

    start: float
    requests: int
    errors: int
    p50_ms: float | None
    p95_ms: float | None
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Series:
    backend: str | None
    provider: str | None
    buckets: tuple[Bucket, ...]


def series(db: Database, start: float, end: float, buckets: int) -> list[Series]:
    """Per provider (that answered, by ``backend/provider``), ``buckets`` slices of
    ``[start, end)``, oldest first; a slice with no request is all zeros."""
    width = (end - start) / buckets
    rows: dict[tuple[str | None, str | None], list[list[tuple[Any, ...]]]] = {}
    for row in db.execute(
        "SELECT ts, backend, provider, status, duration_ms, prompt_tokens, completion_tokens, "
        "total_tokens FROM proxy_requests WHERE ts >= ? AND ts < ?",
        (start, end),
    ):
        slices = rows.setdefault((row[1], row[2]), [[] for _ in range(buckets)])
        slices[min(buckets - 1, int((row[0] - start) / width))].append(row)
    return [
        Series(backend, provider, tuple(_bucket(start + i * width, s) for i, s in enumerate(cut)))
        for (backend, provider), cut in sorted(rows.items(), key=lambda kv: str(kv[0]))
    ]


def _bucket(start: float, rows: list[tuple[Any, ...]]) -> Bucket:
    durations = sorted(r[4] for r in rows if r[4] is not None)
    return Bucket(
        start=start,
        requests=len(rows),
        errors=sum(1 for r in rows if r[3] >= 400),
        p50_ms=_percentile(durations, 50),
        p95_ms=_percentile(durations, 95),
        prompt_tokens=sum(r[5] or 0 for r in rows),
        completion_tokens=sum(r[6] or 0 for r in rows),
        total_tokens=sum(r[7] or 0 for r in rows),
    )


def read_series(
    paths: Paths, start: float, end: float, buckets: int, *, url: str | None = None
) -> list[Series]:
    """``series`` on the request log at ``paths`` or ``url`` (PostgreSQL)."""
    return read_log(paths, url, lambda db: series(db, start, end, buckets))
