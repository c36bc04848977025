"""``auto-router history``: what ``auto-router run`` did, attempt by attempt.

Querying (``store.attempts.history``) and rendering (below) are separate so that other logs
(the proxy's requests) can be merged into the same command.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Annotated, Any

import typer

from ..store.attempts import Attempt, history
from ._common import format_duration, globals_of, iso, print_json


def history_command(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="How many (newest).")] = 50,
    backend: Annotated[str | None, typer.Option("--backend", "-b")] = None,
    provider: Annotated[str | None, typer.Option("--provider")] = None,
    run_id: Annotated[str | None, typer.Option("--run", help="Only this run id.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """List the attempts of `auto-router run`: provider, exit code, usage limits."""
    rows = history(
        globals_of(ctx).paths().database,
        limit=limit,
        backend=backend,
        provider=provider,
        run_id=run_id,
    )
    if as_json:
        print_json({"attempts": [attempt_json(a) for a in rows]})
        return
    for line in render_attempts(rows):
        typer.echo(line)


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
