"""``GET /v1/requests`` and ``GET /v1/stats``: the request log, as ``auto-router requests``
and ``auto-router stats`` show it (same library queries, same JSON rows). ``GET
/v1/stats/series``: the same sums per time slice, for the dashboard's charts."""

from __future__ import annotations

import datetime as dt
from functools import partial
from typing import Final

from starlette.requests import Request
from starlette.responses import Response

from ...config import Config
from ...durations import parse_since
from ...paths import Paths
from ...providers.pricing import cost, prices_in
from ...store.requests import (
    ProviderStats,
    RequestFilter,
    RequestRecord,
    read_requests,
    read_stats,
)
from ...store.series import read_series
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
    config = services(request).config
    return ok({"requests": [{**r.to_json(), "cost_usd": _cost(config, r)} for r in rows]})


def _cost(config: Config, row: RequestRecord | ProviderStats) -> float | None:
    """USD at the provider's prices (``None``: a price or a count unknown; never 0 for it)."""
    prices = prices_in(config, row.backend, row.provider)
    return cost(prices, row.prompt_tokens, row.completion_tokens)


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
    config = services(request).config
    stats = [{**r.to_json(), "cost_usd": _cost(config, r)} for r in rows]
    return ok({"since": iso, "providers": stats})


#: ``?since=`` of the series -> (seconds, slices): an hour in 5-minute bars, a day in hours.
SERIES: Final = {"1h": (3600.0, 12), "1d": (86400.0, 24)}


@admin_endpoint
async def get_series(request: Request) -> Response:
    """``?since=1h|1d``: per provider, the period in slices, oldest first, each with its
    requests, errors, p50/p95 latency, tokens and cost."""
    paths = _log_paths(request)
    period = request.query_params.get("since") or "1h"
    if period not in SERIES:
        raise invalid(f"since must be one of {', '.join(SERIES)}, not {period!r}")
    seconds, slices = SERIES[period]
    width = seconds / slices
    # Slices on whole multiples of their width: the bars do not shift under a reader.
    end = (services(request).rotator.clock() // width + 1) * width
    await _flush(request)
    rows = await in_thread(
        partial(read_series, paths, end - seconds, end, slices, url=_log_url(request))
    )
    config = services(request).config
    providers = [
        {
            "backend": s.backend,
            "provider": s.provider,
            "buckets": [
                {
                    **b.to_json(),
                    "cost_usd": cost(
                        prices_in(config, s.backend, s.provider),
                        b.prompt_tokens,
                        b.completion_tokens,
                    ),
                }
                for b in s.buckets
            ],
        }
        for s in rows
    ]
    return ok({"since": period, "start": end - seconds, "width": width, "providers": providers})
