"""``auto-router status``: per backend, providers in order with current / cooling / disabled,
the headroom of each window as a bar with its reset countdown, the circuit, today's tokens and
cost, and under ``priority`` where the overflow goes and when it comes back (status_view.py
draws the pieces)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TextIO

from ..providers.serves import describe_provider, serves
from ..rotation.policy import fresh_headroom
from . import status_view as view
from ._plain import Globals, format_time, iso, print_json
from .keys_view import key_lines, keys_json

if TYPE_CHECKING:
    from ..config import Config, ProviderConfig
    from ..rotation.service import BackendStatus, ProviderStatus, Rotator


def show_status(g: Globals, as_json: bool, out: TextIO | None = None) -> None:
    """Each backend's providers, which one is current, and which are cooling down.

    No typer here: ``auto-router status`` runs in shell prompts, through the fast path.
    """
    out = out or sys.stdout
    rotator = g.rotator()
    backends = rotator.status()
    now = rotator.clock()
    config = rotator.config
    usages = view.today_usage(rotator.paths, config, now) if backends else {}
    if as_json:
        print_json({"backends": [_backend_json(b, config, usages, now) for b in backends]})
        return
    if not backends:
        out.write(f"no backends configured in {config.paths.config_dir}\n")
        out.write("hint: `auto-router config init` writes commented starter files\n")
        return
    for warning in config.warnings:
        sys.stderr.write(f"warning: {warning}\n")
    out.write(render_status(rotator, backends, usages, view.style_for(out)))


def render_status(
    rotator: Rotator,
    backends: tuple[BackendStatus, ...],
    usages: view.Usages,
    style: view.Style,
) -> str:
    """The text of ``status`` (on ``rotator``'s clock)."""
    from ..rotation.service import overflow_of  # loaded with the rotator already

    now, config = rotator.clock(), rotator.config
    lines: list[str] = []
    for backend in backends:
        overflow = overflow_of(backend)
        head = _backend_line(backend)
        lines.append(head + (f"  {view.overflow_text(overflow, now)}" if overflow else ""))
        if backend.providers:
            lines.append(_strategy_line(backend))
        if not backend.providers:
            lines.append("    (no providers: fallback mode, no rotation)")
        for provider in backend.providers:
            p = config.provider(backend.name, provider.name)
            lines.append(_provider_line(provider, now))
            lines.append(f"      {describe_provider(p, translate=_translates(config, p))}")
            lines += view.indent(_details(provider, usages.get((backend.name, p.name)), now, style))
            lines += _keys(provider, now, style)
    return "\n".join(lines) + "\n"


def _details(
    provider: ProviderStatus, today: view.Today | None, now: float, style: view.Style
) -> list[str]:
    """The circuit and today's usage, the cooldown's reason, one line per window."""
    lines = [f"{view.circuit_text(provider, now)}, {view.today_text(today)}"]
    if provider.cooldown_until is not None and provider.state.last_error:
        lines.append(f"last error: {provider.state.last_error[:160]}")
    return lines + view.window_lines(view.headroom_of(provider, now), now, style)


def _keys(provider: ProviderStatus, now: float, style: view.Style) -> list[str]:
    """A key pool's keys (keys_view.py), each with its own windows under it."""
    lines: list[str] = []
    for key, line in zip(provider.keys, key_lines(provider, now), strict=True):
        lines.append(line)
        windows = fresh_headroom(key.state, now)
        lines += view.indent(view.window_lines(windows, now, style), "          ")
    return lines


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
    return line


def _backend_json(
    backend: BackendStatus, config: Config, usages: view.Usages, now: float
) -> dict[str, Any]:
    from ..rotation.service import overflow_of  # loaded with the rotator already

    return {
        "name": backend.name,
        "enabled": backend.enabled,
        "default": backend.is_default,
        "model": backend.model,
        "current": backend.current,
        "last_used": backend.last_used,
        "strategy": backend.strategy,
        "overflow": view.overflow_json(overflow_of(backend), now),
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
                "cooldown_reason": p.state.last_error if p.cooling else None,
                "headroom": [view.window_json(w, now) for w in view.headroom_of(p, now)],
                "today": view.today_json(usages.get((backend.name, p.name))),
                "keys": _keys_json(p, now),  # a key pool's keys, masked (keys_view.py)
            }
            for p in backend.providers
        ],
    }


def _keys_json(provider: ProviderStatus, now: float) -> list[dict[str, Any]]:
    """``keys_json``, each key with its own fresh windows."""
    return [
        {**shown, "headroom": [view.window_json(w, now) for w in fresh_headroom(k.state, now)]}
        for k, shown in zip(provider.keys, keys_json(provider), strict=True)
    ]
