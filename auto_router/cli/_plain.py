"""What the CLI shares that needs no typer: the global options, rendering results and errors.

``main`` and the fast path (``fast.py``) use these before typer is imported, if it ever is;
``_common`` re-exports them for the command modules.
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from ..errors import AutoRouterError, ConfigError, UsageError
from ..paths import Paths, resolve_paths

if TYPE_CHECKING:
    import typer

    from ..redaction import Redactor
    from ..rotation.service import Rotator

#: Options of ``auto-router`` itself, given before the command.
GLOBAL_OPTIONS = ("--config-dir",)


class Globals:
    """Options given before the command (``auto-router --config-dir D status``).

    A plain class, not a dataclass: generating a dataclass's methods costs start-up time.
    """

    def __init__(self, config_dir: Path | None = None) -> None:
        self.config_dir = config_dir

    def paths(self) -> Paths:
        return resolve_paths(self.config_dir)

    def rotator(self) -> Rotator:
        from ..rotation.service import Rotator

        return Rotator(self.paths())

    def redactor(self) -> Redactor:
        """The configuration's redactor, for stored text printed by a command (rows
        written before redaction existed); an unreadable configuration masks nothing."""
        from ..config import load_config
        from ..redaction import Redactor, redactor_for

        try:
            return redactor_for(load_config(self.paths()))
        except AutoRouterError:
            return Redactor()


def echo(line: str, *, err: bool = False) -> None:
    """One line for people, flushed (as ``typer.echo`` does, without importing typer)."""
    stream = sys.stderr if err else sys.stdout
    stream.write(line + "\n")
    stream.flush()


def fail(message: str, *, hint: str | None = None, code: int = 2) -> NoReturn:
    """Stop the command: the command line cannot be carried out as given."""
    error = UsageError(message, hint=hint)
    error.exit_code = code
    raise error


def print_json(data: Any) -> None:
    import json

    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


def wants_json(args: Sequence[str]) -> bool:
    """Whether ``--json`` is one of auto-router's own options on this command line (not an
    argument of the command ``run`` launches, nor anything after ``--``)."""
    command = split_globals(args)[1]
    if command[:1] == ["run"]:
        return False
    return "--json" in (command[: command.index("--")] if "--" in command else command)


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


def report_error(
    exc: AutoRouterError, *, as_json: bool = False, redactor: Redactor | None = None
) -> int:
    """One line (more for several config problems) plus a hint; the exit code to use.

    ``redactor`` masks credentials an error message may quote (an upstream's answer...)."""
    clean = redactor.text if redactor is not None else str
    problems = [clean(str(p)) for p in exc.problems] if isinstance(exc, ConfigError) else []
    hint = clean(exc.hint) if exc.hint else None
    if as_json:
        return _json_error(exc.code, clean(str(exc)), hint, problems, exc.exit_code)
    sys.stderr.write(clean(f"auto-router: error: {exc}") + "\n")
    for problem in problems[1:]:
        sys.stderr.write(f"  also: {problem}\n")
    if hint:
        sys.stderr.write(f"hint: {hint}\n")
    return exc.exit_code


def error_redactor(argv: Sequence[str]) -> Redactor:
    """Best effort, on the error path only: the redactor of the configuration in use."""
    from ..redaction import Redactor, redactor_for

    try:
        from ..config import load_config

        return redactor_for(load_config(resolve_paths(split_globals(argv)[0])))
    except Exception:  # a broken configuration: nothing more to mask than before
        return Redactor()


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
    misplaced = [a for a in split_globals(args)[1] if a.split("=")[0] in GLOBAL_OPTIONS]
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
    import json

    sys.stderr.write(json.dumps({"error": error}, ensure_ascii=False) + "\n")
    return exit or 1


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
