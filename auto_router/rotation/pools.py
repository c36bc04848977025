"""A key pool's keys in ``status`` (issue 19): each key's own rotation state, by id and mask.

Each pool key is a rotation slot (``provider#key-id``, config/pools.py), so the policy needs
nothing of its own for pools; this only gathers the slots' states back under their provider.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..config.pools import PoolKey, slot_name
from .policy import CLOSED, BackendState, ProviderState


@dataclass(frozen=True)
class KeyStatus:
    """One key of a pool: its id and mask (never the key), and its own rotation state."""

    index: int
    id: str | None
    masked: str
    current: bool
    cooldown_until: float | None
    state: ProviderState
    circuit: str = CLOSED
    #: Why the key cannot be used (its variable is unset), naming the entry.
    problem: str | None = None
    #: In the provider's ``disabled_keys`` (issue 21): no slot, so no traffic and no cooldown.
    disabled: bool = False


def key_status(
    pool: tuple[PoolKey, ...],
    provider: str,
    state: BackendState,
    current: str | None,
    now: float,
    shown: Callable[[ProviderState], ProviderState],
) -> tuple[KeyStatus, ...]:
    """The keys of ``provider``'s pool; ``current`` is the backend's current slot."""
    found = []
    for key in pool:
        slot = slot_name(provider, key.id)
        own = state.provider(slot)
        usable = key.id is not None
        found.append(
            KeyStatus(
                index=key.index,
                id=key.id,
                masked=key.masked,
                current=usable and current == slot,
                cooldown_until=own.cooldown_until if usable and not own.is_available(now) else None,
                state=shown(own),
                circuit=own.circuit(now),
                problem=key.problem,
                disabled=key.disabled,
            )
        )
    return tuple(found)


def pool_summary(keys: tuple[KeyStatus, ...]) -> tuple[float | None, str]:
    """The provider's cooldown and circuit: a pool cools (its circuit opens) only when every
    usable key's does (a disabled key is not in rotation); the cooldown shown is when the
    first key is back."""
    usable = [k for k in keys if k.id is not None and not k.disabled]
    cooling = [k.cooldown_until for k in usable]
    cooldown = min(c for c in cooling if c is not None) if usable and all(cooling) else None
    opened = [k.circuit for k in usable if k.circuit != CLOSED]
    circuit = opened[0] if usable and len(opened) == len(usable) else CLOSED
    return cooldown, circuit
