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

from collections.abc import Mapping
from typing import Annotated, Any

import typer

from ._plain import (
    Globals,
    fail,
    format_duration,
    format_time,
    iso,
    print_json,
    report_error,
    report_usage,
    split_globals,
    wants_json,
)

__all__ = [
    "Globals",
    "JsonOption",
    "emit",
    "fail",
    "format_duration",
    "format_time",
    "globals_of",
    "iso",
    "parse_since",
    "print_json",
    "report_error",
    "report_usage",
    "split_globals",
    "wants_json",
]

#: The ``--json`` option of every command that prints.
JsonOption = Annotated[
    bool,
    typer.Option("--json", help="Print one JSON object (errors too, as JSON on stderr)."),
]


def globals_of(ctx: typer.Context) -> Globals:
    root = ctx.find_root()
    if not isinstance(root.obj, Globals):
        root.obj = Globals()
    return root.obj


def emit(as_json: bool, data: Mapping[str, Any], *lines: str) -> None:
    """The command's result: ``data`` as one JSON object, or ``lines`` for people."""
    if as_json:
        print_json(dict(data))
        return
    for line in lines:
        typer.echo(line)


def parse_since(text: str | None, now: float | None = None) -> float | None:
    """``--since``: ``30m`` / ``12h`` / ``7d`` ago, epoch seconds, or an ISO date (time)."""
    import time

    from ..durations import parse_since as parse

    try:
        return parse(text, time.time() if now is None else now)
    except ValueError as exc:
        fail(f"--since {exc}")
