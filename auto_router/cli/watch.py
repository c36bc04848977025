"""``auto-router status --watch``: the rotation state, redrawn every second on a terminal.

Per backend and provider: current / ready / cooling with the countdown to the reset, the
circuit breaker's state (and its countdown when open), and today's tokens from the request
log. On a terminal the screen is redrawn in place (cursor home, clear: ``ESC [H ESC [2J``);
anywhere else (a pipe, a file) each refresh is printed plainly, one after the other, with no
escape codes. Ctrl-C ends it with exit status 0.
"""

from __future__ import annotations

import datetime as dt
import sys
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, TextIO

from ..errors import AutoRouterError
from ._plain import Globals, format_duration

if TYPE_CHECKING:
    from ..paths import Paths
    from ..rotation.service import BackendStatus, ProviderStatus

_REDRAW = "\x1b[H\x1b[2J"
#: Tokens of today per (backend, provider).
Tokens = Mapping[tuple[str | None, str | None], int]


def watch_status(
    g: Globals,
    *,
    interval: float = 1.0,
    out: TextIO | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Redraw until Ctrl-C (returns then; the command exits 0)."""
    out = out or sys.stdout
    tty = out.isatty()
    rotator = g.rotator()
    paths = g.paths()
    try:
        while True:
            now = rotator.clock()
            text = render(rotator.status(), _today_tokens(paths, now), now)
            out.write(f"{_REDRAW}{text}" if tty else f"{text}\n")
            out.flush()
            sleep(interval)
    except KeyboardInterrupt:
        out.write("\n")
        out.flush()


def render(backends: tuple[BackendStatus, ...], tokens: Tokens, now: float) -> str:
    """One screen: a clock line, then each backend and its providers."""
    stamp = dt.datetime.fromtimestamp(now).astimezone().strftime("%H:%M:%S")
    lines = [f"auto-router status  {stamp}  (Ctrl-C to stop)"]
    if not backends:
        lines.append("no backends configured")
    for backend in backends:
        current = backend.current or "-"
        lines.append(
            f"{backend.name}  current: {current}" + ("  (disabled)" if not backend.enabled else "")
        )
        for provider in backend.providers:
            used = tokens.get((backend.name, provider.name), 0)
            lines.append(_line(provider, used, now))
    return "\n".join(lines) + "\n"


def _line(provider: ProviderStatus, tokens: int, now: float) -> str:
    marker = "*" if provider.current else " "
    if not provider.enabled:
        state = "disabled"
    elif provider.cooldown_until is not None:
        state = f"cooling {format_duration(max(0.0, provider.cooldown_until - now))}"
    else:
        state = "current" if provider.current else "ready"
    circuit = provider.circuit
    if circuit == "open" and provider.circuit_until is not None:
        circuit += f" {format_duration(max(0.0, provider.circuit_until - now))}"
    return f"  {marker} {provider.name:<20} {state:<18} circuit {circuit:<14} today {tokens} tokens"


def _today_tokens(paths: Paths, now: float) -> dict[tuple[str | None, str | None], int]:
    """Tokens per provider since local midnight (nothing when there is no request log)."""
    from ..store.requests import read_stats

    midnight = (
        dt.datetime.fromtimestamp(now)
        .astimezone()
        .replace(hour=0, minute=0, second=0, microsecond=0)
    )
    try:
        rows = read_stats(paths, since=midnight.timestamp())
    except AutoRouterError:
        return {}
    return {(r.backend, r.provider): r.total_tokens for r in rows}
