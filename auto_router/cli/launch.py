"""What ``run`` and ``env`` do once their options are parsed, without typer.

``run`` starts on every agent invocation and ``env`` in shell start-up files, so both are
parsed by ``fast.py`` and call these functions directly; importing typer (and its vendored
click) would cost them more than the rest of their start-up. The typer commands in ``run.py``
(for ``--help`` and the command lines the fast parsers leave to typer) call the same ones.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from ._plain import Globals, echo, fail, print_json


def run_command(
    g: Globals,
    command: Sequence[str],
    *,
    backend: str | None = None,
    provider: str | None = None,
    max_attempts: int | None = None,
    no_rotate: bool = False,
    dry_run: bool = False,
    allow_backend_switch: bool = False,
    timeout: float | None = None,
    via_proxy: bool | None = None,
) -> int:
    """Run ``command`` (empty: the provider's or backend's) and return its exit status."""
    from ..launcher.runner import Launcher, RunOptions

    options = RunOptions(
        backend=backend,
        provider=provider,
        command=tuple(command) if command else None,
        max_attempts=max_attempts,
        rotate=not no_rotate,
        allow_backend_switch=allow_backend_switch,
        timeout=timeout,
        via_proxy=via_proxy,
    )
    launcher = Launcher(g.rotator(), environ=os.environ)
    if dry_run:
        for line in launcher.dry_run(options):
            echo(line)
        return 0
    sys.stdout.flush()
    return launcher.run(options).exit_code


def print_env(
    g: Globals,
    *,
    backend: str | None = None,
    provider: str | None = None,
    shell: str | None = None,
    unset: bool = False,
    reveal: bool = False,
    as_json: bool = False,
) -> None:
    """The export lines (or one JSON object) for the current provider of ``backend``."""
    from ..launcher.plan import export_for
    from ..launcher.shells import SHELLS, default_shell, render, unset_lines

    chosen_shell = shell or default_shell(os.environ)
    if chosen_shell not in SHELLS:
        fail(f"unknown shell {chosen_shell!r}", hint=f"use one of: {', '.join(SHELLS)}", code=2)
    export = export_for(g.rotator(), backend, provider, os.environ)
    where = f"{export.backend}/{export.provider}" if export.provider else export.backend
    header = [f"auto-router: {where} ({export.agent.title})"]
    if export.args:
        header.append(f"{export.agent.title} also needs these arguments: " + " ".join(export.args))
    on_terminal = sys.stdout.isatty() and not reveal
    masked = export.secret_names if on_terminal else ()
    if as_json:
        variables = {k: "****" if k in masked else v for k, v in export.variables.items()}
        data = {"backend": export.backend, "provider": export.provider, "agent": export.agent.name}
        extra = {"args": list(export.args), "unset": sorted(export.unset)}
        print_json({**data, "variables": variables, **extra})
        return
    for line in render(chosen_shell, export.variables, unset=unset, masked=masked, header=header):
        echo(line)
    if not unset:  # keys in the shell that would replace the agent's own login
        for line in unset_lines(chosen_shell, sorted(export.unset)):
            echo(line)
    if on_terminal and not unset and export.secret_names:
        echo(
            'auto-router: secret values masked on a terminal; use eval "$(auto-router env)" '
            "or --reveal",
            err=True,
        )
