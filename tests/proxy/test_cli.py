from __future__ import annotations

from pathlib import Path

import pytest
import typer.main

from auto_router.cli import app
from auto_router.cli._common import split_globals
from auto_router.cli.fast import FLAGS, PARSERS, fast_path


@pytest.mark.parametrize("name", sorted({*PARSERS, *FLAGS}))
def test_fast_path_accepts_exactly_the_typer_options(name: str) -> None:
    command = typer.main.get_command(app).commands[name]  # type: ignore[attr-defined]
    typer_options = {o for p in command.params for o in (*p.opts, *p.secondary_opts)}
    typer_options.discard("--help")
    typer_options.discard("command")  # run's command words, a positional in both
    if name in FLAGS:
        fast_options = set(FLAGS[name])
    else:
        fast_options = {o for a in PARSERS[name]()._actions for o in a.option_strings}
    assert typer_options == fast_options


def test_fast_path_leaves_help_errors_and_other_commands_to_typer() -> None:
    assert fast_path(["proxy", "--help"]) is None
    assert fast_path(["status", "--help"]) is None
    assert fast_path(["status", "--bogus"]) is None
    assert fast_path(["run", "--max-attempts", "0", "--", "true"]) is None
    assert fast_path(["run", "--timeout", "soon"]) is None
    assert fast_path(["--config-dir", "x", "stats"]) is None
    assert fast_path([]) is None


def test_global_options_before_the_command() -> None:
    assert split_globals(["--config-dir", "d", "status"]) == (Path("d"), ["status"])
    assert split_globals(["--config-dir=d", "env", "-b", "x"]) == (Path("d"), ["env", "-b", "x"])
    assert split_globals(["status", "--config-dir", "d"]) == (None, ["status", "--config-dir", "d"])
