"""A request-log row: the record the proxy makes and its columns, for either database
(SQLite here, PostgreSQL in ``postgres.py``; both import it, neither the other)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol


class Database(Protocol):
    """What the readers need of a connection: SQLite's, or ``postgres.PgDatabase``."""

    def execute(self, sql: str, parameters: Sequence[Any] = ..., /) -> Any: ...

    def close(self) -> None: ...


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


COLUMNS = (
    "ts, method, endpoint, backend, provider, client_model, upstream_model, stream, status, "
    "attempts, failed_attempts, duration_ms, ttfb_ms, prompt_tokens, completion_tokens, "
    "total_tokens, error, request_body, response_body, run_id, key_id"
)


def as_row(r: RequestRecord) -> tuple[Any, ...]:
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
