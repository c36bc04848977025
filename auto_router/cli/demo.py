"""``auto-router demo``: see rotation work with fake providers on localhost."""

from __future__ import annotations

import os
import sys
import tempfile
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
    dashboard: Annotated[
        bool,
        typer.Option(
            "--dashboard",
            help="Keep a proxy and fake providers running with the dashboard open, and watch "
            "them cool down, fail over and fill a window, live, until Ctrl-C.",
        ),
    ] = False,
    no_open: Annotated[
        bool, typer.Option("--no-open", help="With --dashboard: print the page's address.")
    ] = False,
    pace: Annotated[
        float, typer.Option("--pace", min=0.05, hidden=True, help="Seconds between requests.")
    ] = 1.0,
    steps: Annotated[
        int | None, typer.Option("--steps", min=1, hidden=True, help="Stop after N requests.")
    ] = None,
) -> None:
    """Run an agent through three fake providers, two out of quota: no cloud account needed."""
    if dashboard:
        raise typer.Exit(_dashboard(directory, no_open=no_open, pace=pace, steps=steps))
    from ..demo.run import run_demo

    raise typer.Exit(run_demo(sys.stdout, directory, proxy=proxy))


def _dashboard(directory: Path | None, *, no_open: bool, pace: float, steps: int | None) -> int:
    from ..demo.live import run_live_demo
    from ..paths import Paths
    from ..runs import RuntimeDir
    from .ui import Found, present

    with tempfile.TemporaryDirectory(prefix="ar-demo-") as tmp:
        where = directory or Path(tmp)
        where.mkdir(parents=True, exist_ok=True)
        runtime = RuntimeDir(Paths(config_dir=where, data_dir=where))

        def show(url: str, token: str) -> None:
            present(Found(url, token), runtime, no_open=no_open, environ=os.environ)

        return run_live_demo(sys.stdout, where, show, pace=pace, steps=steps)
