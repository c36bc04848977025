"""The ``auto-router`` command: a thin typer layer over the library.

Each command module parses its options, calls one library function and renders the result.
``main`` catches the project's base error once and turns it into a message and exit code.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from ..errors import AutoRouterError
from ._common import Globals, report_error
from .config_cmds import config_app
from .proxy_cmds import proxy, proxy_fast_path, requests, stats
from .status import status

app = typer.Typer(
    name="auto-router",
    help="Keep coding agents and scripts running by rotating LLM providers on usage limits.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def root(
    ctx: typer.Context,
    config_dir: Annotated[
        Path | None,
        typer.Option(
            "--config-dir",
            help="Directory of llm_config.toml, provider_metadata.toml and the state "
            "database (default: $AUTO_ROUTER_HOME, else the platform's user dirs).",
        ),
    ] = None,
) -> None:
    ctx.obj = Globals(config_dir=config_dir)


app.command("status")(status)
app.add_typer(config_app, name="config")
app.command("proxy")(proxy)
app.command("stats")(stats)
app.command("requests")(requests)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the console script and ``python -m auto_router``."""
    try:
        if proxy_fast_path(sys.argv[1:] if argv is None else argv):
            return
        app(args=argv, prog_name="auto-router")
    except AutoRouterError as exc:
        sys.exit(report_error(exc))
    except KeyboardInterrupt:
        sys.exit(130)
