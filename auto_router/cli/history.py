"""``auto-router history``: what ``auto-router run`` and ``auto-router proxy`` did.

Both logs live in the same database; each is queried by its own store module and rendered
by its own function, then shown one after the other (or as one JSON document).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ._common import JsonOption, fail, format_duration, globals_of, iso, parse_since, print_json
from .proxy_cmds import render_requests

if TYPE_CHECKING:
    from ..config import Config
    from ..paths import Paths
    from ..store.attempts import Attempt
    from ..store.requests import RequestRecord
    from ..store.usage import Usage


class Source(StrEnum):
    all = "all"
    run = "run"
    proxy = "proxy"


@dataclass(frozen=True)
class _Filters:
    """The options both logs are filtered by, as each log's query wants them."""

    limit: int
    backend: str | None
    provider: str | None
    status: str | None
    since: float | None

    @property
    def number(self) -> int | None:
        return int(self.status) if self.status and self.status.isdigit() else None

    def attempts(self, paths: Paths, run_id: str | None) -> list[Attempt]:
        from ..store.attempts import history

        succeeded = {"ok": True, "error": False}.get(self.status or "")
        return history(
            paths.database,
            limit=self.limit,
            backend=self.backend,
            provider=self.provider,
            run_id=run_id,
            exit_code=self.number,
            succeeded=succeeded,
            since=self.since,
        )

    def requests(self, paths: Paths, run_id: str | None, ctx: typer.Context) -> list[RequestRecord]:
        from ..store.requests import RequestFilter, read_requests
        from .logdb import log_url

        status_class = self.status if self.status in ("ok", "error") else None
        return read_requests(
            paths,
            RequestFilter(
                limit=self.limit,
                backend=self.backend,
                provider=self.provider,
                status=self.number,
                status_class=status_class,
                since=self.since,
                run_id=run_id,
            ),
            url=log_url(ctx),
        )


def history_command(
    ctx: typer.Context,
    limit: Annotated[
        int, typer.Option("--limit", "-n", min=1, help="How many of each (newest).")
    ] = 50,
    backend: Annotated[str | None, typer.Option("--backend", "-b")] = None,
    provider: Annotated[str | None, typer.Option("--provider")] = None,
    status: Annotated[
        str | None,
        typer.Option(
            "--status",
            help="'ok', 'error', or a number: the exit status of a run, the HTTP status of "
            "a proxied request.",
        ),
    ] = None,
    since: Annotated[str | None, typer.Option("--since", help="30m, 12h, 7d or a date.")] = None,
    source: Annotated[
        Source, typer.Option("--source", help="Launcher runs, proxied requests, or both.")
    ] = Source.all,
    run_id: Annotated[
        str | None,
        typer.Option("--run", help="Only this run: its attempts and its proxied requests."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """List what `auto-router run` tried (attempts, usage limits) and what the proxy served."""
    if status is not None and status not in ("ok", "error") and not status.isdigit():
        fail(f"--status expects 'ok', 'error' or a number, not {status!r}")
    filters = _Filters(limit, backend, provider, status, parse_since(since))
    paths = globals_of(ctx).paths()
    show_runs = source in (Source.all, Source.run)
    show_requests = source in (Source.all, Source.proxy)
    attempts = filters.attempts(paths, run_id) if show_runs else []
    requests = filters.requests(paths, run_id, ctx) if show_requests else []
    if requests:
        from ..redaction import redact_record

        redactor = globals_of(ctx).redactor()
        requests = [redact_record(r, redactor) for r in requests]
    if as_json:
        data: dict[str, Any] = {}
        if show_runs:
            data["attempts"] = [attempt_json(a) for a in attempts]
        if show_requests:
            data["requests"] = [r.to_json() for r in requests]
        if run_id is not None:
            data["usage"] = run_usage_json(ctx, paths, run_id)
        print_json(data)
        return
    if show_runs and show_requests:
        _echo_both(attempts, requests)
    elif show_runs:
        typer.echo("\n".join(render_attempts(attempts)))
    else:
        typer.echo(render_requests(requests) if requests else "no proxied requests match")
    if run_id is not None:
        typer.echo(render_run_usage(ctx, paths, run_id))


def _run_usage(
    ctx: typer.Context, paths: Paths, run_id: str
) -> tuple[list[tuple[int, Usage]], list[Usage], Config | None]:
    """A run's tokens per attempt and provider, and per provider (every request of the
    run, whatever ``--limit`` showed), with the configuration that prices them."""
    from ..store.attempts import history
    from ..store.usage import read_per_attempt, read_usage
    from .logdb import log_url
    from .stats import _config

    starts = [a.started_at for a in history(paths.database, run_id=run_id, limit=None)]
    url = log_url(ctx)
    per_attempt = read_per_attempt(paths, run_id, sorted(starts), url=url)
    return per_attempt, read_usage(paths, run_id=run_id, url=url), _config(ctx)


def run_usage_json(ctx: typer.Context, paths: Paths, run_id: str) -> dict[str, Any]:
    from .stats import usage_json

    per_attempt, providers, config = _run_usage(ctx, paths, run_id)
    return {
        "attempts": [{"attempt": n, **usage_json(u, config)} for n, u in per_attempt],
        "providers": [usage_json(u, config) for u in providers],
    }


def render_run_usage(ctx: typer.Context, paths: Paths, run_id: str) -> str:
    from .stats import render_usage

    per_attempt, providers, config = _run_usage(ctx, paths, run_id)
    if not providers:
        return (
            f"\nno proxied requests recorded for run {run_id} (tokens are known only for a "
            "run through the proxy, with [proxy.request_log] on)"
        )
    lines = [f"\ntokens and cost of run {run_id}, per attempt:"]
    for number in sorted({n for n, _ in per_attempt}):
        lines.append(f"  attempt {number}:")
        rows = [u for n, u in per_attempt if n == number]
        lines.extend("  " + line for line in render_usage(rows, config).splitlines())
    lines.append("per provider:")
    lines.append(render_usage(providers, config))
    return "\n".join(lines)


def _echo_both(attempts: Sequence[Attempt], requests: Sequence[RequestRecord]) -> None:
    if not attempts and not requests:
        typer.echo(
            "nothing recorded yet: runs appear after `auto-router run`, "
            "requests once `auto-router proxy` has served one"
        )
        return
    if attempts:
        typer.echo("runs (auto-router run):")
        typer.echo("\n".join(render_attempts(attempts)))
    if requests:
        typer.echo(("\n" if attempts else "") + "proxied requests (auto-router proxy):")
        typer.echo(render_requests(requests))


def attempt_json(attempt: Attempt) -> dict[str, Any]:
    data = attempt.as_dict()
    data["started_at"] = iso(attempt.started_at)
    data["reset_at"] = iso(attempt.reset_at)
    return data


def render_attempts(rows: Sequence[Attempt]) -> list[str]:
    if not rows:
        return ["no attempts recorded yet (they appear after `auto-router run`)"]
    header = ("TIME", "RUN", "#", "BACKEND", "PROVIDER", "COMMAND", "EXIT", "TOOK", "OUTCOME")
    table = [header]
    details: list[str | None] = [None]
    for a in rows:
        table.append(
            (
                dt.datetime.fromtimestamp(a.started_at).strftime("%Y-%m-%d %H:%M:%S"),
                a.run_id,
                str(a.attempt),
                a.backend,
                a.provider or "-",
                a.command,
                "-" if a.exit_code is None else str(a.exit_code),
                _took(a.duration),
                a.outcome,
            )
        )
        details.append(_detail(a))
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    lines = []
    for row, detail in zip(table, details, strict=True):
        lines.append("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
        if detail:
            lines.append(" " * 4 + detail)
    return lines


def _took(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return f"{seconds:.1f}s" if seconds < 10 else format_duration(seconds)


def _detail(attempt: Attempt) -> str | None:
    parts = []
    if attempt.marker:
        parts.append(f"marker: {attempt.marker}")
    if attempt.reset_at is not None:
        moment = dt.datetime.fromtimestamp(attempt.reset_at)
        parts.append(f"resets {moment.strftime('%Y-%m-%d %H:%M')}")
    return "; ".join(parts) or None
