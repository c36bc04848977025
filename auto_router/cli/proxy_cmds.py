"""``auto-router proxy`` and ``auto-router requests`` (``stats`` is in ``stats.py``)."""

from __future__ import annotations

import datetime as dt
import os
import signal
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ..errors import UsageError
from ._common import JsonOption, fail, globals_of, parse_since, print_json

if TYPE_CHECKING:
    from ..runs import RuntimeDir
    from ..store.requests import RequestRecord


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
    from ..config.values import http_url
    from ..paths import resolve_paths
    from ..proxy.app import ProxyOptions, create_app
    from ..proxy.logs import configure_logging
    from ..proxy.server import serve
    from ..runs import ADMIN_TOKEN_PREFIX, RuntimeDir, new_token
    from ..secrets import Secret

    key = None
    if api_key_env:
        if upstream is None:
            raise UsageError("--api-key-env only applies with --upstream")
        value = os.environ.get(api_key_env)
        if not value:
            raise UsageError(f"{api_key_env} is not set", hint=f"export {api_key_env}=...")
        key = Secret(value)
    if upstream is not None:
        try:
            http_url(upstream)
        except ValueError as exc:
            raise UsageError(f"--upstream: {exc}") from None
    token = new_token(ADMIN_TOKEN_PREFIX)
    options = ProxyOptions(
        paths=resolve_paths(config_dir) if upstream is None or request_log else None,
        backend=backend,
        upstream=upstream,
        upstream_api_key=key,
        request_log=request_log,
        admin_token=Secret(token),
    )
    app = create_app(options)
    services = app.services
    configure_logging(json=log_json, redactor=lambda: services.redactors.current)
    settings = services.settings
    host, port = host or settings.host, port or settings.port
    if settings.admin_token is not None:
        services.admin_token = None  # the configured token is the one
        serve(app, host, port)
        return
    # No admin token configured: the one made above opens the management API, kept where
    # the user's CLI and scripts find it (as Jupyter keeps its own), printed nowhere.
    runtime = RuntimeDir(options.paths or resolve_paths(config_dir))
    _serve_with_token_file(lambda: serve(app, host, port), runtime, port, token)


def _serve_with_token_file(
    serve: Callable[[], None], runtime: RuntimeDir, port: int, token: str
) -> None:
    """``serve()`` with ``token`` in the 0600 token file for ``port``, removed at the end."""
    path = runtime.write_token(port, token)
    typer.echo(f"token file: {path}", err=True)
    # uvicorn re-raises the SIGTERM it shut down for once its handlers are restored
    # (uvicorn/server.py, ``capture_signals``): ours turns it into SystemExit, so the
    # ``finally`` removes the file where the default action would kill the process first.
    previous = signal.signal(signal.SIGTERM, _exit_for_signal)
    try:
        serve()
    finally:
        runtime.remove_token(port, token)
        signal.signal(signal.SIGTERM, previous)


def _exit_for_signal(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


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
    as_json: JsonOption = False,
) -> None:
    """List proxied requests, newest first."""
    from ..store.requests import RequestFilter, read_requests

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
    from ..redaction import redact_record

    found = globals_of(ctx)
    redactor = found.redactor()
    from .logdb import log_url

    url = log_url(ctx)
    rows = [redact_record(r, redactor) for r in read_requests(found.paths(), filters, url=url)]
    if as_json:
        print_json({"requests": [r.to_json() for r in rows]})
        return
    if not rows:
        typer.echo("no requests match")
        return
    typer.echo(render_requests(rows))


def render_requests(rows: Sequence[RequestRecord]) -> str:
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
