"""``auto-router proxy``, ``auto-router stats`` and ``auto-router requests``."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer

from ..errors import AutoRouterError
from ..redaction import redact_record
from ..secrets import Secret
from ..store.requests import (
    ProviderStats,
    RequestFilter,
    RequestRecord,
    read_requests,
    read_stats,
)
from ._common import fail, globals_of, iso, print_json


def proxy(
    ctx: typer.Context,
    host: Annotated[
        str | None, typer.Option("--host", help="Address to listen on (default 127.0.0.1).")
    ] = None,
    port: Annotated[
        int | None, typer.Option("--port", help="Port to listen on (default 3001).")
    ] = None,
    backend: Annotated[
        str | None,
        typer.Option("--backend", help="Backend for requests no header or model map routes."),
    ] = None,
    upstream: Annotated[
        str | None,
        typer.Option(
            "--upstream",
            help="Serve one ad-hoc OpenAI-compatible upstream (base URL with /v1); "
            "no configuration files are read.",
        ),
    ] = None,
    api_key_env: Annotated[
        str | None,
        typer.Option("--api-key-env", help="With --upstream: variable holding its API key."),
    ] = None,
    log_json: Annotated[
        bool, typer.Option("--log-json", help="Log one JSON object per line.")
    ] = False,
    request_log: Annotated[
        bool | None,
        typer.Option(
            "--request-log/--no-request-log",
            help="Record requests in the database (default: [proxy.request_log].enabled; "
            "off with --upstream).",
        ),
    ] = None,
) -> None:
    """Run the OpenAI-compatible proxy with failover (Ctrl-C stops it)."""
    run_proxy(
        globals_of(ctx).config_dir,
        host=host,
        port=port,
        backend=backend,
        upstream=upstream,
        api_key_env=api_key_env,
        log_json=log_json,
        request_log=request_log,
    )


def run_proxy(
    config_dir: Path | None,
    *,
    host: str | None,
    port: int | None,
    backend: str | None,
    upstream: str | None,
    api_key_env: str | None,
    log_json: bool,
    request_log: bool | None,
) -> None:
    from ..paths import resolve_paths
    from ..proxy.app import ProxyOptions, create_app
    from ..proxy.logs import configure_logging
    from ..proxy.server import serve

    key = None
    if api_key_env:
        if upstream is None:
            raise _usage("--api-key-env only applies with --upstream")
        value = os.environ.get(api_key_env)
        if not value:
            raise _usage(f"{api_key_env} is not set", hint=f"export {api_key_env}=...")
        key = Secret(value)
    options = ProxyOptions(
        paths=resolve_paths(config_dir) if upstream is None or request_log else None,
        backend=backend,
        upstream=upstream,
        upstream_api_key=key,
        request_log=request_log,
    )
    app = create_app(options)
    services = app.services
    configure_logging(json=log_json, redactor=lambda: services.redactors.current)
    settings = services.settings
    serve(app, host or settings.host, port or settings.port)


def fast_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="auto-router proxy", add_help=False)
    parser.add_argument("--host")
    parser.add_argument("--port", type=int)
    parser.add_argument("--backend")
    parser.add_argument("--upstream")
    parser.add_argument("--api-key-env")
    parser.add_argument("--log-json", action="store_true")
    parser.add_argument("--request-log", action=argparse.BooleanOptionalAction, default=None)
    return parser


def _usage(message: str, *, hint: str | None = None) -> AutoRouterError:
    error = AutoRouterError(message, hint=hint)
    error.exit_code = 2
    return error


def proxy_fast_path(argv: Sequence[str]) -> bool:
    """Run ``[--config-dir D] proxy ...`` without typer's parameter machinery.

    typer coerces parameters through pydantic, which costs the long-running proxy ~10 MB of
    resident memory and ~0.1 s of start-up. The options mirror ``proxy`` above (a test
    checks they agree); ``--help`` and anything unusual go through typer.
    """
    args = list(argv)
    config_dir: str | None = None
    if args[:1] == ["--config-dir"] and len(args) > 1:
        config_dir, args = args[1], args[2:]
    elif args[:1] and args[0].startswith("--config-dir="):
        config_dir, args = args[0].split("=", 1)[1], args[1:]
    if args[:1] != ["proxy"] or any(a in ("--help", "-h") for a in args):
        return False
    options = fast_parser().parse_args(args[1:])
    run_proxy(
        Path(config_dir) if config_dir else None,
        host=options.host,
        port=options.port,
        backend=options.backend,
        upstream=options.upstream,
        api_key_env=options.api_key_env,
        log_json=options.log_json,
        request_log=options.request_log,
    )
    return True


def stats(
    ctx: typer.Context,
    since: Annotated[
        str | None,
        typer.Option("--since", help="Only requests since: 30m, 12h, 7d, or an ISO date/time."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Per provider: requests, errors, failovers, p50/p95 latency, tokens (from the proxy log)."""
    start = parse_since(since)
    rows = read_stats(globals_of(ctx).paths(), since=start)
    if as_json:
        print_json({"since": iso(start), "providers": [r.to_json() for r in rows]})
        return
    if not rows:
        typer.echo("no proxied requests recorded" + (f" since {since}" if since else ""))
        return
    typer.echo(render_stats(rows))


def requests(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option("--limit", min=1, help="How many, newest first.")] = 20,
    backend: Annotated[str | None, typer.Option("--backend")] = None,
    provider: Annotated[str | None, typer.Option("--provider")] = None,
    status: Annotated[
        str | None,
        typer.Option("--status", help="An HTTP status (429), or 'ok' / 'error'."),
    ] = None,
    since: Annotated[str | None, typer.Option("--since", help="30m, 12h, 7d or a date.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """List proxied requests, newest first."""
    filters = RequestFilter(
        limit=limit,
        backend=backend,
        provider=provider,
        status=int(status) if status and status.isdigit() else None,
        status_class=status if status in ("ok", "error") else None,
        since=parse_since(since),
    )
    if status and not status.isdigit() and status not in ("ok", "error"):
        fail(f"--status expects a number, 'ok' or 'error', not {status!r}")
    found = globals_of(ctx)
    redactor = found.redactor()
    rows = [redact_record(r, redactor) for r in read_requests(found.paths(), filters)]
    if as_json:
        print_json([r.to_json() for r in rows])
        return
    if not rows:
        typer.echo("no requests match")
        return
    typer.echo(render_requests(rows))


def parse_since(text: str | None, now: float | None = None) -> float | None:
    """``30m`` / ``12h`` / ``7d`` / ``90s`` ago, or an ISO date or date-time."""
    if text is None:
        return None
    now = time.time() if now is None else now
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
    unit = text[-1:].lower()
    if unit in units and text[:-1].replace(".", "", 1).isdigit():
        return now - float(text[:-1]) * units[unit]
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        fail(f"--since expects 30m, 12h, 7d or an ISO date, not {text!r}")
    if moment.tzinfo is None:
        moment = moment.astimezone()
    return moment.timestamp()


def render_stats(rows: list[ProviderStats]) -> str:
    header = ("provider", "requests", "errors", "failovers", "p50 ms", "p95 ms", "tokens")
    table: list[tuple[str, ...]] = [header]
    for r in rows:
        name = f"{r.backend or '-'}/{r.provider or '-'}"
        table.append(
            (
                name,
                str(r.requests),
                str(r.errors),
                str(r.failovers),
                _ms(r.p50_ms),
                _ms(r.p95_ms),
                f"{r.total_tokens:,}",
            )
        )
    return _columns(table)


def render_requests(rows: list[RequestRecord]) -> str:
    table: list[tuple[str, ...]] = [
        ("time", "endpoint", "provider", "model", "status", "tries", "ms", "tokens", "")
    ]
    for r in rows:
        when = dt.datetime.fromtimestamp(r.ts).astimezone().strftime("%m-%d %H:%M:%S")
        model = r.client_model or "-"
        if r.upstream_model and r.upstream_model != r.client_model:
            model += f" -> {r.upstream_model}"
        note = r.error or ""
        if r.failed:
            note = (
                "failed: "
                + ", ".join(f"{f.provider} ({f.status or f.reason[:40]})" for f in r.failed)
                + (f"; {note}" if note else "")
            )
        table.append(
            (
                when,
                r.endpoint + (" (stream)" if r.stream else ""),
                f"{r.backend or '-'}/{r.provider or '-'}",
                model,
                str(r.status),
                str(r.attempts),
                _ms(r.duration_ms),
                str(r.total_tokens) if r.total_tokens is not None else "-",
                note[:100],
            )
        )
    return _columns(table)


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _columns(rows: Sequence[tuple[str, ...]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )
