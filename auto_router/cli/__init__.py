"""The ``auto-router`` command: a thin layer over the library.

``main`` runs the command and renders what fails, once: the project's errors and typer's
usage errors become one line plus a hint (or one JSON object under ``--json``) and an exit
code. The commands that run most often (``status``, ``env``, ``run``, ``proxy``) are parsed
by ``fast.py``; everything else, and ``--help``, by the typer application in ``commands.py``,
which is imported only then.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from ..errors import AutoRouterError
from ._plain import error_redactor, report_error, wants_json
from .fast import fast_path

if TYPE_CHECKING:
    from .commands import app as app


def main(argv: list[str] | None = None) -> None:
    """Entry point of the console script and ``python -m auto_router``."""
    args = sys.argv[1:] if argv is None else list(argv)
    as_json = wants_json(args)
    try:
        code = fast_path(args)
        if code is None:
            code = _run_typer(args, as_json)
    except AutoRouterError as exc:
        code = report_error(exc, as_json=as_json, redactor=error_redactor(args))
    except KeyboardInterrupt:
        code = 130
    if code:
        sys.exit(code)


def _run_typer(args: list[str], as_json: bool) -> int:
    import typer

    from ._plain import report_usage
    from .commands import app

    try:
        # Not standalone: every error, typer's usage errors included, is rendered by main.
        code = app(args=args, prog_name="auto-router", standalone_mode=False)
    except typer.Exit as exc:
        code = exc.exit_code
    except typer.TyperException as exc:
        code = report_usage(exc, args, as_json=as_json)
    except typer.Abort:
        sys.stderr.write("auto-router: aborted\n")
        code = 1
    return code if isinstance(code, int) else 0


def __getattr__(name: str) -> Any:
    if name == "app":
        from .commands import app

        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
