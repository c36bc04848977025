"""``GET /v1/requests`` and ``GET /v1/stats``: the request log, as ``auto-router requests``
and ``auto-router stats`` show it (same library queries, same JSON rows)."""

from __future__ import annotations

import datetime as dt
from functools import partial
from typing import Final

from starlette.requests import Request
from starlette.responses import Response

from ...durations import parse_since
from ...paths import Paths
from ...store.requests import RequestFilter, read_requests, read_stats
from ._base import ApiError, admin_endpoint, in_thread, invalid, ok, services

MAX_LIMIT: Final = 1000


def _since(text: str | None, now: float) -> float | None:
    try:
        return parse_since(text, now)
    except ValueError as exc:
        raise invalid(f"since: {exc}") from None


def _log_url(request: Request) -> str | None:
    """Where this proxy's log goes: PostgreSQL's URL, or ``None`` for SQLite."""
    found = services(request).request_log
    return None if found is None else found.url


def _log_paths(request: Request) -> Paths:
    found = services(request)
    if found.paths is None:
        raise ApiError(
            409,
            "NO_REQUEST_LOG",
            "this proxy keeps no request log (--upstream without --request-log)",
        )
    return found.paths


async def _flush(request: Request) -> None:
    """What was proxied just before is in the answer (writes are batched off the loop)."""
    log = services(request).request_log
    if log is not None:
        await in_thread(log.flush, 2.0)


def _filters(request: Request) -> RequestFilter:
    query = request.query_params
    limit_text = query.get("limit") or "50"
    if not limit_text.isdigit() or not 1 <= int(limit_text) <= MAX_LIMIT:
        raise invalid(f"limit must be a whole number from 1 to {MAX_LIMIT}")
    status = query.get("status") or None
    if status is not None and not status.isdigit() and status not in ("ok", "error"):
        raise invalid(f"status must be an HTTP status, 'ok' or 'error', not {status!r}")
    return RequestFilter(
        limit=int(limit_text),
        backend=query.get("backend") or None,
        provider=query.get("provider") or None,
        status=int(status) if status and status.isdigit() else None,
        status_class=status if status in ("ok", "error") else None,
        since=_since(query.get("since"), services(request).rotator.clock()),
    )


@admin_endpoint
async def list_requests(request: Request) -> Response:
    """``?limit=50&backend=&provider=&status=429|ok|error&since=1h``, newest first."""
    paths = _log_paths(request)
    filters = _filters(request)
    await _flush(request)
    rows = await in_thread(partial(read_requests, paths, filters, url=_log_url(request)))
    return ok({"requests": [r.to_json() for r in rows]})


@admin_endpoint
async def get_stats(request: Request) -> Response:
    """Per provider: requests, errors, failovers, p50/p95 latency, tokens (``?since=``)."""
    paths = _log_paths(request)
    since = _since(request.query_params.get("since"), services(request).rotator.clock())
    await _flush(request)
    rows = await in_thread(partial(read_stats, paths, since=since, url=_log_url(request)))
    iso = (
        None
        if since is None
        else dt.datetime.fromtimestamp(since).astimezone().isoformat(timespec="seconds")
    )
    return ok({"since": iso, "providers": [r.to_json() for r in rows]})
