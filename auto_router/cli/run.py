"""``auto-router run`` and ``auto-router env`` as typer commands: their options and ``--help``.

A plain command line of either is parsed by ``fast.py`` without typer; both paths call the
same functions in ``launch.py``, which do the work.
"""

from __future__ import annotations

from typing import Annotated

import typer

from ..launcher.shells import SHELLS
from ._common import JsonOption, globals_of
from .launch import print_env, run_command

#: Everything after ``--`` (or after the first word that is not an option) is the command.
RUN_CONTEXT = {
    "allow_extra_args": True,
    "ignore_unknown_options": True,
    "allow_interspersed_args": False,
}


# The options of `run`, declared once here so that the command reads in one screen.
_Command = Annotated[
    list[str] | None,
    typer.Argument(
        metavar="-- CMD ARGS",
        help="The command to run; default: the provider's (then the backend's) command.",
        show_default=False,
    ),
]
_Backend = Annotated[
    str | None, typer.Option("--backend", "-b", help="Backend (default: the default one).")
]
_Provider = Annotated[
    str | None,
    typer.Option("--provider", help="Start with this provider, even if it is cooling down."),
]
_MaxAttempts = Annotated[
    int | None,
    typer.Option(
        "--max-attempts", min=1, help="Give up after N attempts (default: every provider once)."
    ),
]
_NoRotate = Annotated[
    bool, typer.Option("--no-rotate", help="Record a usage limit but do not run again.")
]
_DryRun = Annotated[
    bool,
    typer.Option(
        "--dry-run", help="Print the command and the variables it would set; run nothing."
    ),
]
_AllowBackendSwitch = Annotated[
    bool,
    typer.Option(
        "--allow-backend-switch",
        help="With an explicit command, go on to the next backend in `order` when this "
        "backend's providers are all cooling down.",
    ),
]
_Timeout = Annotated[
    float | None,
    typer.Option("--timeout", min=0.001, help="Stop the command after SECONDS (exit 124)."),
]
_ViaProxy = Annotated[
    bool | None,
    typer.Option(
        "--via-proxy/--direct",
        help="Send the agent's requests through the local proxy (failover per request, "
        "the session survives a limit), or straight to the provider. Default: "
        '`via_proxy` in [launcher] or the backend ("auto": the proxy when every provider '
        "is reachable through it).",
        show_default=False,
    ),
]


def run(
    ctx: typer.Context,
    command: _Command = None,
    backend: _Backend = None,
    provider: _Provider = None,
    max_attempts: _MaxAttempts = None,
    no_rotate: _NoRotate = False,
    dry_run: _DryRun = False,
    allow_backend_switch: _AllowBackendSwitch = False,
    timeout: _Timeout = None,
    via_proxy: _ViaProxy = None,
) -> None:
    """Run a coding agent (or any command); its session survives a provider's usage limit.

    Through the local proxy (the default when the backend's providers are reachable through
    it), each request fails over to the next provider and the agent never sees the limit.
    Direct, a detected limit puts the provider in cooldown and the command runs again on the
    next one.

    Example: auto-router run -- claude
    """
    code = run_command(
        globals_of(ctx),
        [*(command or []), *ctx.args],
        backend=backend,
        provider=provider,
        max_attempts=max_attempts,
        no_rotate=no_rotate,
        dry_run=dry_run,
        allow_backend_switch=allow_backend_switch,
        timeout=timeout,
        via_proxy=via_proxy,
    )
    raise typer.Exit(code)


def env(
    ctx: typer.Context,
    backend: Annotated[str | None, typer.Option("--backend", "-b", help="Backend.")] = None,
    provider: Annotated[
        str | None, typer.Option("--provider", help="This provider instead of the current one.")
    ] = None,
    shell: Annotated[
        str | None,
        typer.Option("--shell", help=f"One of {', '.join(SHELLS)} (default: from $SHELL)."),
    ] = None,
    unset: Annotated[
        bool, typer.Option("--unset", help="Print the lines that remove the variables.")
    ] = False,
    reveal: Annotated[
        bool, typer.Option("--reveal", help="Show secret values even on a terminal.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Print export lines for the current provider: eval "$(auto-router env)"."""
    print_env(
        globals_of(ctx),
        backend=backend,
        provider=provider,
        shell=shell,
        unset=unset,
        reveal=reveal,
        as_json=as_json,
    )
