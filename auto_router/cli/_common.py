"""What every command shares: the global options, error rendering, output helpers."""

from __future__ import annotations

import datetime as dt
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import typer

from ..errors import AutoRouterError, ConfigError
from ..paths import Paths, resolve_paths
from ..redaction import Redactor, redactor_for
from ..rotator import Rotator


@dataclass
class Globals:
    """Options given before the command (``auto-router --config-dir D status``)."""

    config_dir: Path | None = None

    def paths(self) -> Paths:
        return resolve_paths(self.config_dir)

    def rotator(self) -> Rotator:
        return Rotator(self.paths())

    def redactor(self) -> Redactor:
        """The configuration's redactor, for stored text printed by a command (rows
        written before redaction existed); an unreadable configuration masks nothing."""
        from ..config import load_config

        try:
            return redactor_for(load_config(self.paths()))
        except AutoRouterError:
            return Redactor()


def globals_of(ctx: typer.Context) -> Globals:
    root = ctx.find_root()
    if not isinstance(root.obj, Globals):
        root.obj = Globals()
    return root.obj


def print_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def fail(message: str, *, hint: str | None = None, code: int = 1) -> NoReturn:
    typer.echo(f"auto-router: error: {message}", err=True)
    if hint:
        typer.echo(f"hint: {hint}", err=True)
    raise typer.Exit(code)


def report_error(exc: AutoRouterError, redactor: Redactor | None = None) -> int:
    """One line (more for several config problems) plus a hint; the exit code to use.

    ``redactor`` masks credentials an error message may quote (an upstream's answer...)."""
    clean = redactor.text if redactor is not None else str
    sys.stderr.write(clean(f"auto-router: error: {exc}") + "\n")
    problems = exc.problems if isinstance(exc, ConfigError) else []
    for problem in problems[1:]:
        sys.stderr.write(clean(f"  also: {problem}") + "\n")
    if exc.hint:
        sys.stderr.write(clean(f"hint: {exc.hint}") + "\n")
    return exc.exit_code


def error_redactor(argv: list[str]) -> Redactor:
    """Best effort, on the error path only: the redactor of the configuration in use."""
    config_dir: str | None = None
    for i, arg in enumerate(argv):
        if arg == "--config-dir" and i + 1 < len(argv):
            config_dir = argv[i + 1]
        elif arg.startswith("--config-dir="):
            config_dir = arg.split("=", 1)[1]
    try:
        from ..config import load_config

        return redactor_for(load_config(resolve_paths(config_dir)))
    except Exception:  # a broken configuration: nothing more to mask than before
        return Redactor()


def format_time(timestamp: float | None, now: float | None = None) -> str:
    """Local wall-clock time, with the date only when it is not today, plus 'in 42m'."""
    if timestamp is None:
        return "-"
    moment = dt.datetime.fromtimestamp(timestamp).astimezone()
    current = dt.datetime.fromtimestamp(now).astimezone() if now else dt.datetime.now().astimezone()
    text = moment.strftime("%H:%M:%S")
    if moment.date() != current.date():
        text = moment.strftime("%Y-%m-%d %H:%M")
    left = timestamp - current.timestamp()
    if left > 0:
        text += f" (in {format_duration(left)})"
    return text


def format_duration(seconds: float) -> str:
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s" if seconds else f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def iso(timestamp: float | None) -> str | None:
    if timestamp is None:
        return None
    return dt.datetime.fromtimestamp(timestamp).astimezone().isoformat(timespec="seconds")
