"""``auto-router status --watch``: the rotation state, redrawn every second on a terminal.

Per backend and provider: current / ready / cooling with the countdown to the reset and its
reason, the circuit breaker's state (and its countdown when open), today's tokens and cost
from the request log, and a bar per headroom window (the pieces of ``status_view.py``, as
``status`` draws them). On a terminal the screen is redrawn in place (cursor home, clear:
``ESC [H ESC [2J``); anywhere else (a pipe, a file) each refresh is printed plainly, one after
the other, with no escape codes. Ctrl-C ends it with exit status 0.
"""

from __future__ import annotations

import datetime as dt
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, TextIO

from . import status_view as view
from ._plain import Globals

if TYPE_CHECKING:
    from ..rotation.service import BackendStatus, ProviderStatus

_REDRAW = "\x1b[H\x1b[2J"


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
    style = view.style_for(out)
    rotator = g.rotator()
    try:
        while True:
            now = rotator.clock()
            usages = view.today_usage(rotator.paths, rotator.config, now)
            text = render(rotator.status(), usages, now, style)
            out.write(f"{_REDRAW}{text}" if tty else f"{text}\n")
            out.flush()
            sleep(interval)
    except KeyboardInterrupt:
        out.write("\n")
        out.flush()


def render(
    backends: tuple[BackendStatus, ...],
    usages: view.Usages,
    now: float,
    style: view.Style = view.PLAIN,
) -> str:
    """One screen: a clock line, then each backend and its providers."""
    from ..rotation.service import overflow_of  # loaded with the rotator already

    stamp = dt.datetime.fromtimestamp(now).astimezone().strftime("%H:%M:%S")
    lines = [f"auto-router status  {stamp}  (Ctrl-C to stop)"]
    if not backends:
        lines.append("no backends configured")
    for backend in backends:
        current = backend.current or "-"
        line = f"{backend.name}  current: {current}"
        overflow = overflow_of(backend)
        if overflow is not None:
            line += f"  {view.overflow_text(overflow, now)}"
        lines.append(line + ("  (disabled)" if not backend.enabled else ""))
        for provider in backend.providers:
            lines.append(_line(provider, usages.get((backend.name, provider.name)), now))
            if provider.cooldown_until is not None and provider.state.last_error:
                lines.append(f"      last error: {provider.state.last_error[:160]}")
            lines += view.indent(view.window_lines(view.headroom_of(provider, now), now, style))
    return "\n".join(lines) + "\n"


def _line(provider: ProviderStatus, today: view.Today | None, now: float) -> str:
    marker = "*" if provider.current else " "
    if not provider.enabled:
        state = "disabled"
    elif provider.cooldown_until is not None:
        state = f"cooling {view.countdown(provider.cooldown_until - now)}"
    else:
        state = "current" if provider.current else "ready"
    circuit = view.circuit_text(provider, now)
    return f"  {marker} {provider.name:<20} {state:<18} {circuit:<22} {view.today_text(today)}"
