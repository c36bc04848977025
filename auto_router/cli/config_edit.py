"""``auto-router config edit [FILE]``: $VISUAL/$EDITOR, then validate; never saves invalid."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Annotated

import typer

from ..errors import ConfigError
from ._common import globals_of

_FILES = {
    "llm": "llm_config",
    "llm_config": "llm_config",
    "llm_config.toml": "llm_config",
    "providers": "provider_metadata",
    "metadata": "provider_metadata",
    "provider_metadata": "provider_metadata",
    "provider_metadata.toml": "provider_metadata",
}


def edit_command(
    ctx: typer.Context,
    which: Annotated[
        str, typer.Argument(metavar="llm|providers", help="Which file (default: llm).")
    ] = "llm",
) -> None:
    """Open a file in $VISUAL/$EDITOR; save it only if the configuration stays valid."""
    from ..editing import edit_with_editor

    name = _FILES.get(which)
    if name is None:
        raise ConfigError(f"unknown file {which!r}", hint="choose llm or providers")
    outcome = edit_with_editor(globals_of(ctx).paths(), name, _run_editor, _ask_retry)
    if outcome.saved:
        typer.echo(f"saved {name}.toml (valid)")
    else:
        typer.echo("no changes")


def _run_editor(path: Path) -> None:
    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
    try:
        done = subprocess.run([*shlex.split(editor), str(path)], check=False)
    except OSError as exc:
        raise ConfigError(
            f"cannot run editor {editor!r}: {exc.strerror}", hint="set $VISUAL or $EDITOR"
        ) from exc
    if done.returncode != 0:
        raise ConfigError(
            f"editor {editor!r} exited with status {done.returncode}; nothing was saved"
        )


def _ask_retry(error: ConfigError) -> bool:
    typer.echo(f"auto-router: error: {error}", err=True)
    if not sys.stdin.isatty():
        return False
    return typer.confirm("The file is invalid. Edit it again?", default=True)
