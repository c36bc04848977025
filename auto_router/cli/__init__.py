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
from ._common import Globals, error_redactor, report_error
from .backends import backend_app
from .config_cmds import config_app
from .config_edit import edit_command as config_edit_command
from .demo import demo_command
from .history import history_command
from .migrate import migrate_command
from .models import models_command
from .providers import provider_app
from .proxy_cmds import proxy, proxy_fast_path, requests, stats
from .rotation_cmds import reset_command, rotate_command, set_command
from .run import RUN_CONTEXT, env, run
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


# Listed in --help in this order: the main jobs first, then state, then configuration.
app.command("run", context_settings=RUN_CONTEXT)(run)
app.command("proxy")(proxy)
app.command("demo")(demo_command)
app.command("status")(status)
app.command("history")(history_command)
app.command("stats")(stats)
app.command("requests")(requests)
app.command("env")(env)
app.command("set")(set_command)
app.command("rotate")(rotate_command)
app.command("reset")(reset_command)
app.add_typer(provider_app, name="provider")
app.add_typer(backend_app, name="backend")
app.command("models")(models_command)
app.add_typer(config_app, name="config")
config_app.command("edit")(config_edit_command)
app.command("migrate")(migrate_command)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the console script and ``python -m auto_router``."""
    try:
        if proxy_fast_path(sys.argv[1:] if argv is None else argv):
            return
        app(args=argv, prog_name="auto-router")
    except AutoRouterError as exc:
        sys.exit(report_error(exc, error_redactor(sys.argv[1:] if argv is None else argv)))
    except KeyboardInterrupt:
        sys.exit(130)
