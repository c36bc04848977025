"""The typer application: every command, in the order ``--help`` lists them.

Each command module parses its options, calls one library function and renders the result.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ._common import Globals, JsonOption, globals_of
from .backends import backend_app
from .config_cmds import config_app
from .config_edit import edit_command as config_edit_command
from .demo import demo_command
from .history import history_command
from .migrate import MigrateCommand, migrate_command
from .models import models_command
from .providers import provider_app
from .proxy_cmds import proxy, requests
from .rotation_cmds import reset_command, rotate_command, set_command
from .run import RUN_CONTEXT, env, run
from .stats import stats
from .status import show_status
from .ui import ui

app = typer.Typer(
    name="auto-router",
    help="Keep coding agents and scripts running by rotating LLM providers on usage limits.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,
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


def status(
    ctx: typer.Context,
    as_json: JsonOption = False,
    watch: Annotated[
        bool, typer.Option("--watch", help="Redraw every second (on a terminal) until Ctrl-C.")
    ] = False,
) -> None:
    """Show each backend's providers, which one is current, and which are cooling down."""
    if watch and not as_json:
        from .watch import watch_status

        watch_status(globals_of(ctx))
        return
    show_status(globals_of(ctx), as_json)


# Listed in --help in this order: the main jobs first, then state, then configuration.
app.command("run", context_settings=RUN_CONTEXT)(run)
app.command("proxy")(proxy)
app.command("demo")(demo_command)
app.command("status")(status)
app.command("ui")(ui)
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
app.command("migrate", cls=MigrateCommand)(migrate_command)
