"""Token usage from the request log, summed per provider and per day or per run's request.

The proxy records each request's usage from the attempt that answered it (``proxy_requests``
``prompt_tokens`` / ``completion_tokens``); this module only adds them up, for
``stats --cost`` and ``history --run``. Prices are not the store's business: the callers
cost the sums (``providers.pricing``).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, TypeVar

from ..paths import Paths
from .requests import read_log
from .rows import Database

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Usage:
    """Tokens one provider used: all of them, or on one day (``day``, local ``YYYY-MM-DD``)."""

    backend: str | None
    provider: str | None
    requests: int
    #: Requests whose answer carried a usage count (an error, or a stream cut short, has none).
    counted: int
    prompt_tokens: int
    completion_tokens: int
    day: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


_SUMS = (
    "count(*), count(coalesce(prompt_tokens, completion_tokens)), "
    "coalesce(sum(prompt_tokens), 0), coalesce(sum(completion_tokens), 0)"
)


def usage(
    db: Database,
    *,
    since: float | None = None,
    run_id: str | None = None,
    per_day: bool = False,
) -> list[Usage]:
    """Requests a provider answered (its ``provider`` is set) and their tokens, by provider
    (and by local day when ``per_day``), oldest day first."""
    clauses, args = ["provider IS NOT NULL"], list[Any]()
    if since is not None:
        clauses.append("ts >= ?")
        args.append(since)
    if run_id is not None:
        clauses.append("run_id = ?")
        args.append(run_id)
    day = "date(ts, 'unixepoch', 'localtime')" if per_day else "NULL"
    rows = db.execute(
        f"SELECT {day}, backend, provider, {_SUMS} FROM proxy_requests "
        f"WHERE {' AND '.join(clauses)} GROUP BY 1, backend, provider ORDER BY 1, backend, "
        "provider",
        args,
    ).fetchall()
    return [Usage(b, p, n, counted, pin, pout, d) for d, b, p, n, counted, pin, pout in rows]


def per_attempt(db: Database, run_id: str, starts: Sequence[float]) -> list[tuple[int, Usage]]:
    """A run's usage per attempt (1-based, by ``starts``: when each attempt began; a request
    belongs to the last attempt started before it) and provider, in attempt order."""
    sums: dict[tuple[int, str | None, str | None], list[int]] = {}
    for ts, backend, provider, prompt, completion in db.execute(
        "SELECT ts, backend, provider, prompt_tokens, completion_tokens FROM proxy_requests "
        "WHERE run_id = ? AND provider IS NOT NULL ORDER BY ts",
        (run_id,),
    ):
        attempt = max(1, bisect_right(starts, ts))
        row = sums.setdefault((attempt, backend, provider), [0, 0, 0, 0])
        row[0] += 1
        row[1] += prompt is not None or completion is not None
        row[2] += prompt or 0
        row[3] += completion or 0
    return [
        (k[0], Usage(k[1], k[2], v[0], v[1], v[2], v[3]))
        for k, v in sorted(sums.items(), key=_order)
    ]


def read_usage(
    paths: Paths,
    *,
    since: float | None = None,
    run_id: str | None = None,
    per_day: bool = False,
    url: str | None = None,
) -> list[Usage]:
    """``usage`` on the request log at ``paths`` or ``url`` (for the CLI)."""
    return read_log(paths, url, lambda db: usage(db, since=since, run_id=run_id, per_day=per_day))


def read_per_attempt(
    paths: Paths, run_id: str, starts: Sequence[float], *, url: str | None = None
) -> list[tuple[int, Usage]]:
    """``per_attempt`` on the request log at ``paths`` or ``url`` (for the CLI)."""
    return read_log(paths, url, lambda db: per_attempt(db, run_id, starts))


def _order(item: tuple[tuple[int, str | None, str | None], list[int]]) -> tuple[int, str, str]:
    (attempt, backend, provider), _ = item
    return attempt, backend or "", provider or ""
