"""A key pool's rows in ``status`` (issue 19): each key masked, with its id and its own
cooldown. Kept apart from ``status.py`` so that its provider rows can grow (headroom bars,
cost) without these; ``key_lines`` / ``keys_json`` are all it calls."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._plain import format_time, iso

if TYPE_CHECKING:
    from ..rotation.service import ProviderStatus


def key_lines(provider: ProviderStatus, now: float) -> list[str]:
    """One line per key: ``* key 2  sk-…B3c4  id 1f2e3d4c5b  current`` (the mask is made
    from the live key; the key itself is never printed)."""
    lines = []
    for key in provider.keys:
        marker = "*" if key.current else " "
        if key.disabled:
            what = "disabled"
        elif key.problem is not None:
            what = f"unusable: {key.problem}"
        elif key.cooldown_until is not None:
            what = f"cooling until {format_time(key.cooldown_until, now)}"
        else:
            what = "current" if key.current else "ready"
        if key.circuit != "closed":
            what += f", circuit {key.circuit}"
        ident = f"id {key.id}" if key.id else ""
        lines.append(f"      {marker} key {key.index}  {key.masked:<12} {ident:<13} {what}")
    return lines


def keys_json(provider: ProviderStatus) -> list[dict[str, Any]]:
    return [
        {
            "index": k.index,
            "id": k.id,
            "masked": k.masked,
            "current": k.current,
            "disabled": k.disabled,
            "cooling": k.cooldown_until is not None,
            "cooldown_until": iso(k.cooldown_until),
            "circuit": k.circuit,
            "usage_limits": k.state.usage_limits,
            "failures": k.state.failures,
            "successes": k.state.successes,
            "last_error": k.state.last_error,
            "problem": k.problem,
        }
        for k in provider.keys
    ]
