"""Where the commands that read the request log (``requests``, ``history``, ``stats``)
read it: PostgreSQL when ``[request_log] url`` (or ``AUTO_ROUTER_REQUEST_LOG_URL``) names
it, else the SQLite database (issue 22)."""

from __future__ import annotations

import os

import typer

from ._common import globals_of


def log_url(ctx: typer.Context) -> str | None:
    """The PostgreSQL URL, or ``None`` for SQLite. The environment's is used without
    reading the configuration; an unreadable configuration means SQLite (the commands
    still show what the database holds, and ``config validate`` says what is wrong)."""
    from ..config.shared import REQUEST_LOG_URL_ENV

    if os.environ.get(REQUEST_LOG_URL_ENV):
        return os.environ[REQUEST_LOG_URL_ENV]
    from ..config import load_config
    from ..errors import AutoRouterError

    try:
        return load_config(globals_of(ctx).paths()).shared.log_url()
    except AutoRouterError:
        return None
