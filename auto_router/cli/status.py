"""``auto-router status``: per backend, providers in order with current / cooling / disabled."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..providers.serves import describe_provider, serves
from ._plain import Globals, format_time, iso, print_json
from .keys_view import key_lines, keys_json

if TYPE_CHECKING:
    from ..config import Config, ProviderConfig
    from ..rotation.service import BackendStatus, ProviderStatus


def show_status(g: Globals, as_json: bool) -> None:
    """Each backend's providers, which one is current, and which are cooling down.

    No typer here: ``auto-router status`` runs in shell prompts, through the fast path.
    """
    rotator = g.rotator()
    backends = rotator.status()
    if as_json:
        print_json({"backends": [_backend_json(b, rotator.config) for b in backends]})
        return
    now = rotator.clock()
    config = rotator.config
    if not backends:
        print(f"no backends configured in {config.paths.config_dir}")
        print("hint: `auto-router config init` writes commented starter files")
        return
    for warning in config.warnings:
        sys.stderr.write(f"warning: {warning}\n")
    for backend in backends:
        print(_backend_line(backend))
        if backend.providers:
            print(_strategy_line(backend))
        if not backend.providers:
            print("    (no providers: fallback mode, no rotation)")
        for provider in backend.providers:
            print(_provider_line(provider, now))
            p = config.provider(backend.name, provider.name)
            print(f"      {describe_provider(p, translate=_translates(config, p))}")
            for line in key_lines(provider, now):  # a key pool's keys (keys_view.py)
                print(line)


def _translates(config: Config, p: ProviderConfig) -> bool:
    return p.translate if p.translate is not None else config.backend(p.backend).translate


def _speaks(config: Config, backend: str, provider: str, how: Callable[..., Any]) -> Any:
    """What the provider serves (``serves`` for JSON)."""
    p = config.provider(backend, provider)
    return how(p.protocol, responses=p.responses, translate=_translates(config, p))


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


#: What each ``[backends.X] strategy`` means, in the words ``status`` prints.
_STRATEGY_MEANS = {
    "sticky": "stays on the current provider until it must move",
    "priority": "the first available provider in order serves",
    "round-robin": "requests spread over the available providers",
}


def _strategy_line(backend: BackendStatus) -> str:
    means = _STRATEGY_MEANS.get(backend.strategy, "")
    return f"    strategy: {backend.strategy}" + (f" ({means})" if means else "")


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
    if provider.circuit != "closed" and provider.circuit_until is not None:
        what += f", circuit {provider.circuit}"
        if provider.circuit == "open":
            what += f" until {format_time(provider.circuit_until, now)}"
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
        "strategy": backend.strategy,
        "providers": [
            {
                "name": p.name,
                "type": p.type,
                "kind": config.provider(backend.name, p.name).kind,
                "derived": dict(config.provider(backend.name, p.name).derived),
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
                "circuit": p.circuit,
                "circuit_until": iso(p.circuit_until),
                "failure_streak": p.state.streak,
                "keys": keys_json(p),  # a key pool's keys, masked (keys_view.py)
            }
            for p in backend.providers
        ],
    }
