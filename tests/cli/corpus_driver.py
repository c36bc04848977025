"""Run ``status``, ``config validate``, ``run -- true`` and the proxy's start-up over every
case directory given, in this one process (the CLI's own ``main``), and print one JSON object
of results. Anything but a clean exit is recorded: an exception that escapes ``main`` is a
traceback; a command still running after ``LIMIT`` seconds is a hang.

    python tests/cli/corpus_driver.py CASE_DIR...
"""

from __future__ import annotations

import contextlib
import io
import json
import signal
import sys
import traceback
from pathlib import Path
from typing import Any

LIMIT = 15  # seconds; every command here answers in well under one


class Hang(BaseException):
    pass


def _alarm(signum: int, frame: Any) -> None:
    raise Hang


def run(command: str, home: Path) -> dict[str, Any]:
    from auto_router.cli import main
    from auto_router.errors import AutoRouterError
    from auto_router.paths import resolve_paths
    from auto_router.proxy.app import ProxyOptions, create_app

    argv = {
        "status": ["status"],
        "validate": ["config", "validate"],
        "run": ["run", "--", "true"],
    }.get(command)
    out, err = io.StringIO(), io.StringIO()
    code: int | str = 0
    signal.alarm(LIMIT)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            if argv is not None:
                main(["--config-dir", str(home), *argv])
            else:  # the proxy's start-up: everything `auto-router proxy` does before it binds
                try:
                    create_app(ProxyOptions(paths=resolve_paths(home)))
                except AutoRouterError as exc:
                    err.write(f"auto-router: error: {exc}\n")
                    code = exc.exit_code
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except Hang:
        code = "hang"
    except BaseException:
        code = "traceback"
        err.write(traceback.format_exc())
    finally:
        signal.alarm(0)
    return {"code": code, "stdout": out.getvalue(), "stderr": err.getvalue()}


def main(argv: list[str]) -> None:
    signal.signal(signal.SIGALRM, _alarm)
    results = {
        Path(d).name: {c: run(c, Path(d) / "home") for c in ("status", "validate", "run", "proxy")}
        for d in argv
    }
    print(json.dumps(results))


if __name__ == "__main__":
    main(sys.argv[1:])
