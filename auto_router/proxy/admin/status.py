"""``GET /v1/status``: the rotation status as ``auto-router status`` sees it, for the dashboard.

``/v1/providers`` says where each provider stands in rotation; this adds what a screen
shows and a config listing does not: each provider's headroom windows (one past its reset
marked ``fresh: false``: refilled since), the cooldown's reason, the circuit's
reopening time, its prices (so a cost can be read as "unknown" rather than "free"), and per
backend the strategy and, under ``priority``, where the overflow goes and when the preferred
provider is back. Times are epoch seconds, with the server's ``now`` beside them, so a page
counts down on its own clock corrected by the difference.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ...limits.headroom import Window
from ...providers.pricing import prices_in
from ...rotation.service import (
    BackendStatus,
    ProviderStatus,
    Rotator,
    overflow_of,
    status_label,
)
from ._base import admin_endpoint, in_thread, ok, services


def window_json(window: Window, now: float) -> dict[str, Any]:
    """A window as last read; ``fresh`` false once its reset has passed: the provider has
    refilled it (shown as full again rather than dropped, so a reset can be watched)."""
    used = window.utilization
    return {
        "name": window.name,
        "remaining": window.remaining,
        "limit": window.limit,
        "utilization": None if used is None else round(used, 4),
        "reset_at": window.reset_at,
        "seen_at": window.seen_at or None,
        "fresh": window.fresh(now),
    }


def overflow_json(backend: BackendStatus) -> dict[str, Any] | None:
    """The backend's overflow (``rotation.service.overflow_of``) as the page reads it."""
    overflow = overflow_of(backend)
    if overflow is None:
        return None
    return {"from": overflow.preferred, "to": overflow.to, "back_at": overflow.back_at}


def provider_json(
    rotator: Rotator, backend: str, provider: ProviderStatus, now: float
) -> dict[str, Any]:
    prices = prices_in(rotator.config, backend, provider.name)
    return {
        "name": provider.name,
        "type": provider.type,
        "model": provider.model,
        "description": provider.description,
        "enabled": provider.enabled,
        "current": provider.current,
        "status": status_label(provider.enabled, provider.current, provider.cooldown_until),
        "cooldown_until": provider.cooldown_until,
        "cooldown_reason": provider.state.last_error if provider.cooling else None,
        "circuit": provider.circuit,
        "circuit_until": provider.circuit_until,
        "failure_streak": provider.state.streak,
        "headroom": [window_json(w, now) for w in provider.state.headroom],
        "price_input": prices.input,
        "price_output": prices.output,
    }


def status_json(rotator: Rotator) -> dict[str, Any]:
    """Every backend and its providers, in rotation order. Blocking (SQLite reads)."""
    now = rotator.clock()
    return {
        "now": now,
        "backends": [
            {
                "name": b.name,
                "enabled": b.enabled,
                "default": b.is_default,
                "model": b.model,
                "current": b.current,
                "last_used": b.last_used,
                "strategy": b.strategy,
                "overflow": overflow_json(b),
                "providers": [provider_json(rotator, b.name, p, now) for p in b.providers],
            }
            for b in rotator.status()
        ],
    }


@admin_endpoint
async def get_status(request: Request) -> Response:
    return ok(await in_thread(status_json, services(request).rotator))
