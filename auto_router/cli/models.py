"""``auto-router models [B/P]``: the models a provider offers (its models endpoint)."""

from __future__ import annotations

from typing import Annotated

import typer

from ..errors import ProviderNotFoundError
from ._common import JsonOption, globals_of, print_json
from ._refs import resolve_ref


def models_command(
    ctx: typer.Context,
    ref: Annotated[
        str | None,
        typer.Argument(metavar="BACKEND/PROVIDER", help="Default: the current provider."),
    ] = None,
    timeout: Annotated[float | None, typer.Option("--timeout", help="Seconds.")] = None,
    as_json: JsonOption = False,
) -> None:
    """List the models a provider offers, as its API reports them."""
    import httpx  # only here and in `provider test`: it costs more start-up than all the rest

    from ..config import load_config
    from ..providers.health import check_configured_provider

    g = globals_of(ctx)
    config = load_config(g.paths())
    if ref is None:
        backend = config.default_backend
        current = g.rotator().current_provider_name(backend) if backend else None
        if backend is None or current is None:
            raise ProviderNotFoundError(
                "no current provider", hint="name one: auto-router models BACKEND/PROVIDER"
            )
        b, p = backend, current
    else:
        b, p = resolve_ref(config, ref)
    with httpx.Client() as client:
        result = check_configured_provider(config.provider(b, p), client, timeout=timeout)
    if as_json:
        print_json({**result.as_json(), "model_ids": list(result.model_ids)})
    elif result.healthy:
        for name in result.model_ids:
            typer.echo(name)
    if not result.healthy:
        if not as_json:
            typer.echo(f"auto-router: error: {b}/{p}: {result.error}", err=True)
        raise typer.Exit(1)
