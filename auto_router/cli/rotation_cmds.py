"""``auto-router set B P``, ``rotate B``, ``reset [B]``: change the shared rotation state."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from ._common import JsonOption, emit, fail, globals_of
from ._refs import split_ref


def set_command(
    ctx: typer.Context,
    backend: Annotated[str, typer.Argument(metavar="BACKEND[/PROVIDER]")],
    provider: Annotated[str | None, typer.Argument(metavar="PROVIDER")] = None,
    as_json: JsonOption = False,
) -> None:
    """Make PROVIDER the current provider of BACKEND now (launchers and the proxy follow)."""
    if provider is None:
        b, p = split_ref(backend)
        if b is None:
            fail(
                "say which provider", hint="auto-router set BACKEND PROVIDER (or BACKEND/PROVIDER)"
            )
        backend, provider = b, p
    rotator = globals_of(ctx).rotator()
    rotator.set_current(backend, provider)
    strategy = rotator.config.backend(backend).strategy
    emit(
        as_json,
        {"backend": backend, "current": provider, "strategy": strategy},
        f"{backend}: current provider is now {provider}" + _strategy_note(strategy),
    )


#: Under these strategies the current provider does not decide who serves: said after a
#: manual change, so that ``set`` or ``rotate`` does not look like it moved the traffic.
_NOT_STICKY = {
    "priority": "the first available provider in order serves, whatever is current",
    "round-robin": "requests take turns over the available providers, whatever is current",
}


def _strategy_note(strategy: str) -> str:
    means = _NOT_STICKY.get(strategy)
    return f"\n  note: strategy {strategy}: {means}" if means else ""


def rotate_command(
    ctx: typer.Context,
    backend: Annotated[str, typer.Argument(metavar="BACKEND")],
    as_json: JsonOption = False,
) -> None:
    """Advance BACKEND to its next usable provider."""
    rotator = globals_of(ctx).rotator()
    moved = rotator.advance(backend)
    current = rotator.current_provider_name(backend)
    strategy = rotator.config.backend(backend).strategy
    text = (
        f"{backend}: current provider is now {current}"
        if moved
        else f"{backend}: no other usable provider; still {current or '-'}"
    )
    data = {"backend": backend, "moved": moved, "current": current, "strategy": strategy}
    emit(as_json, data, text + _strategy_note(strategy))


def reset_command(
    ctx: typer.Context,
    backend: Annotated[str | None, typer.Argument(metavar="BACKEND")] = None,
    every: Annotated[
        bool, typer.Option("--all", help="Reset every backend (asked for on a terminal).")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Clear rotation and cooldowns of BACKEND, or of every backend with --all."""
    if backend is not None and every:
        fail("name a backend or give --all, not both")
    if backend is None and not every:
        # Clearing every backend's cooldowns by accident sends agents back to exhausted
        # providers, so it takes a yes on a terminal and --all anywhere else.
        if as_json or not sys.stdin.isatty():
            fail("say which backend to reset", hint="auto-router reset BACKEND, or --all")
        if not typer.confirm("Reset the rotation state of every backend?", err=True):
            raise typer.Exit(1)
    globals_of(ctx).rotator().reset(backend)
    emit(
        as_json,
        {"reset": True, "backend": backend, "all": backend is None},
        f"reset {backend or 'all backends'}",
    )
