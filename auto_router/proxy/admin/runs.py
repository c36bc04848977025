"""``GET /v1/runs``: the launcher's runs as ``auto-router history`` lists them, one per run.

The rows come from the same store (``store.attempts.history``: the attempts table, which
keeps a command's basename only, never its arguments), grouped by run, newest run first.
Each run gets its summary lines, made from what the database holds: one per attempt
(``attempt 2: gamma, ok, exit 0, 3.1s``) and, for a run through the proxy with the request
log on, its requests, tokens and cost, and its failovers, as the run's own summary says
them (``launcher/session.py``). ``?limit=`` runs (default 20), ``?since=``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any, Final

from starlette.requests import Request
from starlette.responses import Response

from ...config import Config
from ...paths import Paths
from ...providers.pricing import add_costs, cost, format_cost, format_tokens, prices_in
from ...store.attempts import Attempt, history
from ...store.requests import RequestFilter, RequestRecord, read_requests
from ._base import ApiError, admin_endpoint, in_thread, invalid, ok, services
from .requests import _flush, _since

MAX_RUNS: Final = 200
#: Attempts read to find the runs (a run rarely has more than a few).
_ATTEMPTS_PER_RUN: Final = 10


@admin_endpoint
async def list_runs(request: Request) -> Response:
    """``?limit=20&since=1d``: the newest runs first, each with its attempts and summary."""
    paths = services(request).paths
    if paths is None:
        raise ApiError(409, "NO_HISTORY", "this proxy has no configuration directory (--upstream)")
    text = request.query_params.get("limit") or "20"
    if not text.isdigit() or not 1 <= int(text) <= MAX_RUNS:
        raise invalid(f"limit must be a whole number from 1 to {MAX_RUNS}")
    since = _since(request.query_params.get("since"), services(request).rotator.clock())
    await _flush(request)
    runs = await in_thread(runs_json, paths, services(request).config, int(text), since)
    return ok({"runs": runs})


def runs_json(
    paths: Paths, config: Config | None, limit: int, since: float | None = None
) -> list[dict[str, Any]]:
    """The ``limit`` newest runs (blocking: SQLite reads)."""
    attempts = history(paths.database, limit=limit * _ATTEMPTS_PER_RUN, since=since)
    grouped: dict[str, list[Attempt]] = {}
    for attempt in attempts:  # oldest first
        grouped.setdefault(attempt.run_id, []).append(attempt)
    newest = sorted(grouped.items(), key=lambda item: -item[1][0].started_at)[:limit]
    return [run_json(paths, config, run_id, rows) for run_id, rows in newest]


def run_json(
    paths: Paths, config: Config | None, run_id: str, attempts: Sequence[Attempt]
) -> dict[str, Any]:
    first, last = attempts[0], attempts[-1]
    requests = read_requests(paths, RequestFilter(limit=1000, run_id=run_id))
    ended = None if last.duration is None else last.started_at + last.duration
    return {
        "run_id": run_id,
        "command": last.command,
        "backend": last.backend,
        "started_at": first.started_at,
        "ended_at": ended,
        "attempts": len(attempts),
        "providers": list(dict.fromkeys(a.provider for a in attempts if a.provider)),
        "outcome": last.outcome,
        "exit_code": last.exit_code,
        "summary": summary_lines(attempts, requests, config),
    }


def summary_lines(
    attempts: Sequence[Attempt], requests: Sequence[RequestRecord], config: Config | None
) -> list[str]:
    lines = [_attempt_line(a) for a in attempts]
    lines += [line for line in (_usage_line(requests, config), _failover_line(requests)) if line]
    return lines


def _attempt_line(a: Attempt) -> str:
    parts = [a.provider or "-", a.outcome]
    if a.exit_code is not None:
        parts.append(f"exit {a.exit_code}")
    if a.duration is not None:
        parts.append(f"{a.duration:.1f}s")
    if a.marker:
        parts.append(f"marker: {a.marker}")
    return f"attempt {a.attempt}: " + ", ".join(parts)


def _usage_line(requests: Sequence[RequestRecord], config: Config | None) -> str | None:
    """``12 requests, 48.2k tokens in / 3.1k out, $0.21 (zai 10, kimi 2)``."""
    if not requests:
        return None
    answered = Counter(r.provider for r in requests if r.provider and r.status < 400)
    counted = [r for r in requests if r.prompt_tokens is not None or r.completion_tokens]
    noun = "request" if len(requests) == 1 else "requests"
    parts = [f"{len(requests)} {noun}"]
    if counted:
        tokens_in = sum(r.prompt_tokens or 0 for r in counted)
        tokens_out = sum(r.completion_tokens or 0 for r in counted)
        parts.append(f"{format_tokens(tokens_in)} tokens in / {format_tokens(tokens_out)} out")
        spent = add_costs(
            cost(prices_in(config, r.backend, r.provider), r.prompt_tokens, r.completion_tokens)
            for r in counted
        )
        if spent is not None:
            parts.append(format_cost(spent))
    line = ", ".join(parts)
    if answered:
        line += " (" + ", ".join(f"{p} {n}" for p, n in answered.items()) + ")"
    return line


def _failover_line(requests: Sequence[RequestRecord]) -> str | None:
    """``3 requests failed over: anth 429 x2 -> ds``."""
    failovers = [r for r in requests if r.failed]
    if not failovers:
        return None
    failed: Counter[str] = Counter()
    for r in failovers:
        for f in r.failed:
            failed[f"{f.provider} {f.status if f.status is not None else 'error'}"] += 1
    to = list(dict.fromkeys(r.provider for r in failovers if r.provider and r.status < 400))
    parts = [f"{what} x{n}" if n > 1 else what for what, n in failed.items()]
    noun = "request" if len(failovers) == 1 else "requests"
    return f"{len(failovers)} {noun} failed over: {', '.join(parts)} -> {', '.join(to) or 'none'}"
