"""``auto-router status``: per backend, providers in order with current / cooling / disabled."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import typer

from ..config import Config
from ..rotator import BackendStatus, ProviderStatus
from ..translate.serves import describe, serves
from ._common import format_time, globals_of, iso, print_json


def status(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Show each backend's providers, which one is current, and which are cooling down."""
    rotator = globals_of(ctx).rotator()
    backends = rotator.status()
    if as_json:
        print_json({"backends": [_backend_json(b, rotator.config) for b in backends]})
        return
    now = rotator.clock()
    config = rotator.config
    if not backends:
        typer.echo(f"no backends configured in {config.paths.config_dir}")
        typer.echo("hint: `auto-router config init` writes commented starter files")
        return
    for warning in config.warnings:
        typer.echo(f"warning: {warning}", err=True)
    for backend in backends:
        typer.echo(_backend_line(backend))
        if not backend.providers:
            typer.echo("    (no providers: fallback mode, no rotation)")
        for provider in backend.providers:
            typer.echo(_provider_line(provider, now))
            typer.echo(f"      {_speaks(config, backend.name, provider.name, describe)}")


def _speaks(config: Config, backend: str, provider: str, how: Callable[..., Any]) -> Any:
    """What the provider serves (``describe`` for a line, ``serves`` for JSON)."""
    p = config.provider(backend, provider)
    translate = p.translate if p.translate is not None else config.backend(backend).translate
    return how(p.protocol, responses=p.responses, translate=translate)


def _backend_line(backend: BackendStatus) -> str:
    tags = []
    if backend.is_default:
        tags.append("default")
    if not backend.enabled:
        tags.append("disabled")
    text = backend.name + (f" ({', '.join(tags)})" if tags else "")
    if backend.model:
        text += f"  model {backend.model}"
    text += f"  last used: {backend.last_used or '-'}"
    return text


def _provider_line(provider: ProviderStatus, now: float) -> str:
    marker = "*" if provider.current else " "
    if not provider.enabled:
        what = "disabled"
    elif provider.cooldown_until is not None:
        what = f"cooling until {format_time(provider.cooldown_until, now)}"
    elif provider.current:
        what = "current"
    else:
        what = "ready"
    line = f"  {marker} {provider.name:<24} {provider.type:<12} {what}"
    if provider.description:
        line += f"  - {provider.description}"
    if provider.cooldown_until is not None and provider.state.last_error:
        line += f"\n      last error: {provider.state.last_error[:160]}"
    return line


def _backend_json(backend: BackendStatus, config: Config) -> dict[str, Any]:
    return {
        "name": backend.name,
        "enabled": backend.enabled,
        "default": backend.is_default,
        "model": backend.model,
        "current": backend.current,
        "last_used": backend.last_used,
        "providers": [
            {
                "name": p.name,
                "type": p.type,
                "serves": dict(
                    zip(
                        ("native", "translated"),
                        _speaks(config, backend.name, p.name, serves),
                        strict=True,
                    )
                ),
                "enabled": p.enabled,
                "current": p.current,
                "cooling": p.cooling,
                "cooldown_until": iso(p.cooldown_until),
                "description": p.description,
                "model": p.model,
                "last_error": p.state.last_error,
                "usage_limits": p.state.usage_limits,
                "failures": p.state.failures,
                "successes": p.state.successes,
            }
            for p in backend.providers
        ],
    }
