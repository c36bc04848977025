"""``auto-router proxy``, ``auto-router stats`` and ``auto-router requests``."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from ..secrets import Secret
from ._common import fail, globals_of


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
    from ..proxy.app import ProxyOptions, create_app
    from ..proxy.logs import configure_logging
    from ..proxy.server import serve

    configure_logging(json=log_json)
    key = None
    if api_key_env:
        if upstream is None:
            fail("--api-key-env only applies with --upstream")
        value = os.environ.get(api_key_env)
        if not value:
            fail(f"{api_key_env} is not set", hint=f"export {api_key_env}=...")
        key = Secret(value)
    g = globals_of(ctx)
    options = ProxyOptions(
        paths=g.paths() if upstream is None or request_log else None,
        backend=backend,
        upstream=upstream,
        upstream_api_key=key,
        request_log=request_log,
    )
    app = create_app(options)
    settings = app.services.settings
    serve(app, host or settings.host, port or settings.port)
