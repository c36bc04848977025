"""``auto-router set B P``, ``rotate B``, ``reset [B]``: change the shared rotation state."""

from __future__ import annotations

from typing import Annotated

import typer

from ._common import globals_of
from ._refs import split_ref


def set_command(
    ctx: typer.Context,
    backend: Annotated[str, typer.Argument(metavar="BACKEND[/PROVIDER]")],
    provider: Annotated[str | None, typer.Argument(metavar="[PROVIDER]")] = None,
) -> None:
    """Make PROVIDER the current provider of BACKEND now (launchers and the proxy follow)."""
    if provider is None:
        b, p = split_ref(backend)
        if b is None:
            from ..errors import ConfigValidationError

            raise ConfigValidationError(
                "say which provider", hint="auto-router set BACKEND PROVIDER (or BACKEND/PROVIDER)"
            )
        backend, provider = b, p
    rotator = globals_of(ctx).rotator()
    rotator.set_current(backend, provider)
    typer.echo(f"{backend}: current provider is now {provider}")


def rotate_command(
    ctx: typer.Context, backend: Annotated[str, typer.Argument(metavar="BACKEND")]
) -> None:
    """Advance BACKEND to its next usable provider."""
    rotator = globals_of(ctx).rotator()
    moved = rotator.advance(backend)
    current = rotator.current_provider_name(backend)
    if moved:
        typer.echo(f"{backend}: current provider is now {current}")
    else:
        typer.echo(f"{backend}: no other usable provider; still {current or '-'}")


def reset_command(
    ctx: typer.Context,
    backend: Annotated[str | None, typer.Argument(metavar="[BACKEND]")] = None,
) -> None:
    """Clear rotation and cooldowns of BACKEND (of every backend when none is named)."""
    globals_of(ctx).rotator().reset(backend)
    typer.echo(f"reset {backend or 'all backends'}")
