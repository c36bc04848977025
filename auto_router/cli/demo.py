"""``auto-router demo``: see rotation work with fake providers on localhost."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer


def demo_command(
    directory: Annotated[
        Path | None,
        typer.Option("--dir", help="Keep the demo's configuration and database here."),
    ] = None,
    proxy: Annotated[
        bool, typer.Option("--proxy/--no-proxy", help="Also show failover through the proxy.")
    ] = True,
) -> None:
    """Run an agent through three fake providers, two out of quota: no cloud account needed."""
    from ..demo.run import run_demo

    raise typer.Exit(run_demo(sys.stdout, directory, proxy=proxy))
