from __future__ import annotations

import typer.main

from auto_router.cli import app
from auto_router.cli.proxy_cmds import fast_parser, parse_since, proxy_fast_path


def test_fast_path_accepts_exactly_the_typer_options() -> None:
    command = typer.main.get_command(app).commands["proxy"]  # type: ignore[attr-defined]
    typer_options = {o for p in command.params for o in (*p.opts, *p.secondary_opts)}
    typer_options.discard("--help")
    fast_options = {o for a in fast_parser()._actions for o in a.option_strings}
    assert typer_options == fast_options


def test_fast_path_leaves_help_and_other_commands_to_typer() -> None:
    assert not proxy_fast_path(["proxy", "--help"])
    assert not proxy_fast_path(["status"])
    assert not proxy_fast_path(["--config-dir", "x", "stats"])


def test_parse_since() -> None:
    assert parse_since("90s", now=1000.0) == 910.0
    assert parse_since("2h", now=10_000.0) == 2800.0
    assert parse_since(None) is None
    assert parse_since("2026-01-01T00:00:00+00:00") == 1767225600.0
