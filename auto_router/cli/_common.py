"""What every command shares: the global options, the output and error conventions.

The conventions every command follows (``cli/run.py`` and new commands included):

- ``--json`` (declare it with ``JsonOption``) prints exactly one JSON object on stdout;
  ``emit(as_json, data, *lines)`` prints either that object or the lines for people.
- Errors are raised, never printed: ``AutoRouterError`` from the library, ``fail(...)`` for a
  command line that cannot be carried out. ``main`` renders them once (``report_error``): one
  line plus a hint on stderr, or, when ``--json`` is on the command line, one object
  ``{"error": {"code", "message", "hint"[, "problems"]}}`` on stderr. The exit status is the
  error's (never 0).

Only what ``status`` needs is imported here: command modules import the rest of the library
inside the functions that use it, so a command pays for no module it does not run.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from ..errors import AutoRouterError, ConfigError, UsageError
from ..paths import Paths, resolve_paths

if TYPE_CHECKING:
    from ..rotator import Rotator

#: The ``--json`` option of every command that prints.
JsonOption = Annotated[
    bool,
    typer.Option("--json", help="Print one JSON object (errors too, as JSON on stderr)."),
]

_GLOBAL_OPTIONS = ("--config-dir",)


@dataclass
class Globals:
    """Options given before the command (``auto-router --config-dir D status``)."""

    config_dir: Path | None = None

    def paths(self) -> Paths:
        return resolve_paths(self.config_dir)

    def rotator(self) -> Rotator:
        from ..rotator import Rotator

        return Rotator(self.paths())


def globals_of(ctx: typer.Context) -> Globals:
    root = ctx.find_root()
    if not isinstance(root.obj, Globals):
        root.obj = Globals()
    return root.obj


def print_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def emit(as_json: bool, data: Mapping[str, Any], *lines: str) -> None:
    """The command's result: ``data`` as one JSON object, or ``lines`` for people."""
    if as_json:
        print_json(dict(data))
        return
    for line in lines:
        typer.echo(line)


def fail(message: str, *, hint: str | None = None, code: int = 2) -> NoReturn:
    """Stop the command: the command line cannot be carried out as given."""
    error = UsageError(message, hint=hint)
    error.exit_code = code
    raise error


def wants_json(args: Sequence[str]) -> bool:
    """Whether ``--json`` is one of auto-router's own options on this command line (not an
    argument of the command ``run`` launches, nor anything after ``--``)."""
    skip = False
    for arg in args:
        if skip:
            skip = False
        elif arg == "--":
            return False
        elif arg == "--json":
            return True
        elif arg in _GLOBAL_OPTIONS:
            skip = True
        elif arg == "run":
            return False
    return False


def split_globals(argv: Sequence[str]) -> tuple[Path | None, list[str]]:
    """``[--config-dir D] COMMAND ...`` -> (D, [COMMAND, ...])."""
    args = list(argv)
    config_dir: str | None = None
    while args:
        name, equals, value = args[0].partition("=")
        if name != "--config-dir" or (not equals and len(args) < 2):
            break
        config_dir, args = (value, args[1:]) if equals else (args[1], args[2:])
    return (Path(config_dir) if config_dir else None), args


def report_error(exc: AutoRouterError, *, as_json: bool = False) -> int:
    """One line (more for several config problems) plus a hint; the exit code to use."""
    problems = [str(p) for p in exc.problems] if isinstance(exc, ConfigError) else []
    if as_json:
        return _json_error(exc.code, str(exc), exc.hint, problems, exc.exit_code)
    sys.stderr.write(f"auto-router: error: {exc}\n")
    for problem in problems[1:]:
        sys.stderr.write(f"  also: {problem}\n")
    if exc.hint:
        sys.stderr.write(f"hint: {exc.hint}\n")
    return exc.exit_code


def report_usage(exc: typer.TyperException, args: Sequence[str], *, as_json: bool) -> int:
    """A command line typer could not parse, in the same form as every other error."""
    from typer._click.exceptions import NoArgsIsHelpError

    if isinstance(exc, NoArgsIsHelpError):
        sys.stderr.write(exc.format_message() + "\n")
        return exc.exit_code
    message = exc.format_message().rstrip(".")
    message = message[:1].lower() + message[1:]
    ctx = getattr(exc, "ctx", None)
    hint = f"usage: {ctx.get_usage().removeprefix('Usage: ')}" if ctx is not None else None
    misplaced = [a for a in split_globals(args)[1] if a.split("=")[0] in _GLOBAL_OPTIONS]
    if ctx is not None and ctx.parent is not None and misplaced:
        where = ctx.command_path.removeprefix(ctx.find_root().info_name or "").strip()
        hint = f"global options go before the command: auto-router {misplaced[0]} DIR {where}"
    if as_json:
        return _json_error(UsageError.code, message, hint, [], exc.exit_code)
    sys.stderr.write(f"auto-router: error: {message}\n")
    if hint:
        sys.stderr.write(f"hint: {hint}\n")
    return exc.exit_code


def _json_error(code: str, message: str, hint: str | None, problems: list[str], exit: int) -> int:
    error: dict[str, Any] = {"code": code, "message": message, "hint": hint}
    if len(problems) > 1:
        error["problems"] = problems
    sys.stderr.write(json.dumps({"error": error}, ensure_ascii=False) + "\n")
    return exit or 1


def parse_since(text: str | None, now: float | None = None) -> float | None:
    """``--since``: ``30m`` / ``12h`` / ``7d`` ago, epoch seconds, or an ISO date (time)."""
    import time

    from ..durations import parse_since as parse

    try:
        return parse(text, time.time() if now is None else now)
    except ValueError as exc:
        fail(f"--since {exc}")


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
