"""The rotation service: configuration + persisted state + policy, with an injected clock.

Every part of auto-router (the Python API, the launcher, the proxy, the CLI) asks a
``Rotator`` which provider to use and tells it what happened. Because the state lives in the
shared store, a rotation made by one process is what every other process sees next.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, replace
from functools import partial
from typing import NamedTuple

from ..config import BackendConfig, Config, ProviderConfig
from ..config.pools import find_key, slot_name, split_slot
from ..errors import AutoRouterError, ProviderNotFoundError
from ..paths import Paths, resolve_paths
from ..redaction import RedactorCache
from .configsource import ConfigSource
from .events import EventBus, transitions
from .policy import (
    CLOSED,
    DIRECT,
    OPEN,
    BackendState,
    Candidate,
    ProviderState,
    pick,
    reset_one,
)
from .policy import advance as advance_policy
from .policy import choose as choose_policy
from .policy import claim_probe as claim_probe_policy
from .policy import record_failure as record_failure_policy
from .policy import record_success as record_success_policy
from .policy import record_usage_limit as record_usage_limit_policy
from .policy import reset as reset_policy
from .policy import set_current as set_current_policy
from .pools import KeyStatus, key_status, pool_summary
from .state import StateStore, open_state_store

Clock = Callable[[], float]


@dataclass(frozen=True)
class Choice:
    """Where a call goes: a backend and one of its providers (``None`` in fallback mode)."""

    backend: BackendConfig
    provider: ProviderConfig | None

    @property
    def provider_name(self) -> str | None:
        """Its rotation slot: the provider's name, or ``name#key-id`` for a pool key (what
        ``record_*`` take; ``provider`` is then narrowed to that key)."""
        return None if self.provider is None else self.provider.slot

    @property
    def model(self) -> str | None:
        if self.provider is not None and self.provider.model:
            return self.provider.model
        return self.backend.model


@dataclass(frozen=True)
class ProviderStatus:
    name: str
    enabled: bool
    current: bool
    cooldown_until: float | None
    description: str
    type: str
    model: str | None
    state: ProviderState

    #: The circuit breaker: ``closed``, ``open`` or ``half-open`` (see policy.py).
    circuit: str = CLOSED
    circuit_until: float | None = None
    #: A key pool's keys, each with its own state (rotation/pools.py); ``()`` without one.
    keys: tuple[KeyStatus, ...] = ()

    @property
    def cooling(self) -> bool:
        return self.cooldown_until is not None


def status_label(enabled: bool, current: bool, cooldown_until: float | None) -> str:
    """A provider's place in rotation in one word (``/health``, ``provider list --json``):
    ``disabled``, ``cooling``, ``current`` or ``ready``."""
    if not enabled:
        return "disabled"
    if cooldown_until is not None:
        return "cooling"
    return "current" if current else "ready"


@dataclass(frozen=True)
class BackendStatus:
    name: str
    enabled: bool
    is_default: bool
    model: str | None
    current: str | None
    last_used: str | None
    providers: tuple[ProviderStatus, ...]
    #: ``[backends.X] strategy`` in force (config.model.STRATEGIES).
    strategy: str = "sticky"


class Overflow(NamedTuple):
    """Under ``priority``: the preferred provider cannot serve, ``to`` does, until ``back_at``."""

    preferred: str
    to: str
    back_at: float | None


def overflow_of(backend: BackendStatus) -> Overflow | None:
    """The backend's overflow, if it is on one (``priority`` only: the other strategies do not
    come back by themselves); ``status``, ``status --watch`` and the dashboard all show it."""
    if backend.strategy != "priority" or backend.current is None:
        return None
    enabled = [p for p in backend.providers if p.enabled]
    if not enabled or enabled[0].name == backend.current:
        return None
    first = enabled[0]
    back = first.cooldown_until
    if first.circuit == OPEN and first.circuit_until is not None:
        back = max(back or 0.0, first.circuit_until)
    return Overflow(first.name, backend.current, back)


class Rotator:
    def __init__(
        self,
        paths: Paths | None = None,
        *,
        config: ConfigSource | Config | None = None,
        store: StateStore | None = None,
        clock: Clock = time.time,
        secrets: Collection[str] = (),
    ) -> None:
        self.paths = paths or resolve_paths()
        #: Error texts are stored and shown with every configured credential (and
        #: ``secrets``, e.g. an ad-hoc upstream's key) masked.
        self._redactors = RedactorCache(secrets)
        if config is None:
            config = ConfigSource(self.paths)
        self._config = config
        self._store = store
        self.clock = clock
        #: Rotation events of this process's state writes (``events.py``): /v1/events, notify.
        self.events = EventBus()

    @property
    def store(self) -> StateStore:
        """The given store, else the one ``[state]`` names (opened on first use: a command
        that never touches the state never connects to a shared store)."""
        if self._store is None:
            self._store = open_state_store(
                self.paths.database, self.config.shared.state, self.clock
            )
        return self._store

    @property
    def config(self) -> Config:
        source = self._config
        return source.get() if isinstance(source, ConfigSource) else source

    def redact(self, text: str) -> str:
        """``text`` with the configuration's credentials masked (see ``redaction``)."""
        return self._redactors.get(self.config).text(text)

    def invalidate_config(self) -> None:
        """Re-read the files on the next use of ``config`` (after this process edited them).

        Everything built on the same ``ConfigSource`` (the proxy's router) sees it too."""
        if isinstance(self._config, ConfigSource):
            self._config.invalidate()

    # ------------------------------------------------------------------ reading

    def rotation_names(self, backend: str) -> tuple[str, ...]:
        """Enabled providers in order; ``(DIRECT,)`` for a backend with none configured."""
        b = self.config.backend(backend)
        if not b.enabled:
            return ()
        if not b.provider_names:
            return (DIRECT,)
        config = self.config
        return tuple(s for p in config.enabled_providers_of(backend) for s in config.slots_of(p))

    def state(self, backend: str) -> BackendState:
        return self.store.get(backend)

    def current_provider_name(self, backend: str) -> str | None:
        """The provider the next call of ``backend`` uses (the stored one if all are cooling)."""
        slot = self.current_slot(backend)
        return None if slot is None else split_slot(slot)[0]

    def current_slot(self, backend: str) -> str | None:
        """``current_provider_name``, with the key of a pool (``name#key-id``)."""
        names = self.rotation_names(backend)
        if names == (DIRECT,):
            return None
        state = self.store.get(backend)
        found = pick(names, state, self.clock(), self.config.backend(backend).strategy)
        if found is not None:
            return found
        return state.current if state.current in names else (names[0] if names else None)

    def choose(
        self,
        backend: str | None = None,
        *,
        fallback: bool = True,
        among: Collection[str] | None = None,
    ) -> Choice:
        """The backend and provider to use now; with ``fallback``, later backends in order
        (only those in ``among``, when given).

        Raises ``AllProvidersExhaustedError`` when every candidate is cooling down.
        """
        config = self.config
        start = backend or config.default_backend
        if start is None:
            raise ProviderNotFoundError(
                "no backend is configured",
                hint="write llm_config.toml (see `auto-router config init`)",
            )
        config.backend(start)
        names = config.backend_order(start) if fallback else (start,)
        if among is not None:
            names = tuple(n for n in names if n == start or n in among)
        candidates = [
            Candidate(n, self.rotation_names(n), config.backend(n).strategy) for n in names
        ]
        candidates = [c for c in candidates if c.names]
        states = {c.backend: self.store.get(c.backend) for c in candidates}
        chosen_backend, chosen_provider = choose_policy(candidates, states, self.clock())
        provider = (
            None if chosen_provider == DIRECT else config.provider(chosen_backend, chosen_provider)
        )
        return Choice(config.backend(chosen_backend), provider)

    def status(self) -> tuple[BackendStatus, ...]:
        config = self.config
        now = self.clock()
        result = []
        for name, backend in config.backends.items():
            state = self.store.get(name)
            slot = self.current_slot(name) if backend.enabled else None
            current = None if slot is None else split_slot(slot)[0]
            providers = tuple(
                self._provider_status(p, state, p.name == current, slot, now)
                for p in config.providers_of(name)
            )
            last = split_slot(state.last_success)[0] if state.last_success else None
            last_used = last if last in backend.provider_names else None
            result.append(
                BackendStatus(
                    name=name,
                    enabled=backend.enabled,
                    is_default=name == config.default_backend,
                    model=backend.model,
                    current=current,
                    last_used=last_used,
                    providers=providers,
                    strategy=backend.strategy,
                )
            )
        return tuple(result)

    def _provider_status(
        self, p: ProviderConfig, state: BackendState, current: bool, slot: str | None, now: float
    ) -> ProviderStatus:
        own = state.provider(p.name)
        keys = key_status(self.config.pool(p), p.name, state, slot, now, self._shown)
        cooldown, circuit = _active_cooldown(own, now), own.circuit(now)
        if keys:
            cooldown, circuit = pool_summary(keys)
        return ProviderStatus(
            name=p.name,
            enabled=p.enabled,
            current=current,
            cooldown_until=cooldown,
            description=p.description,
            type=p.type,
            model=p.model,
            state=self._shown(own),
            circuit=circuit,
            circuit_until=None if keys else own.circuit_until,
            keys=keys,
        )

    # ------------------------------------------------------------------ changing

    def record_usage_limit(
        self,
        backend: str,
        provider: str | None,
        *,
        reset_at: float | None = None,
        reason: str | None = None,
    ) -> BackendState:
        """Put ``provider`` in cooldown until ``reset_at`` (else the configured default)."""
        now = self.clock()
        until = reset_at if reset_at is not None else now + self._cooldown(backend, provider)
        reason = None if reason is None else self.redact(reason)
        return self._update(
            backend,
            partial(
                _apply_limit, self.rotation_names(backend), provider or DIRECT, now, until, reason
            ),
            reason,
        )

    def record_success(self, backend: str, provider: str | None) -> BackendState:
        now = self.clock()
        return self._update(backend, lambda s: record_success_policy(s, provider or DIRECT, now))

    def record_failure(
        self,
        backend: str,
        provider: str | None,
        reason: str,
        *,
        threshold: int | None = None,
        open_for: float = 0.0,
    ) -> BackendState:
        """Count a failure; with ``threshold``, open the circuit after that many in a row."""
        now = self.clock()
        reason = self.redact(reason)
        return self._update(
            backend,
            partial(_apply_failure, provider or DIRECT, now, reason, threshold, open_for),
        )

    def claim_probe(self, backend: str, provider: str, hold: float) -> bool:
        """Whether this caller may send the one probe through a half-open circuit."""
        now = self.clock()
        claimed: list[bool] = []

        def change(state: BackendState) -> BackendState:
            new = claim_probe_policy(state, provider, now, hold)
            claimed.append(new is not state)
            return new

        # Not published: a claimed probe holds the circuit for one period, it is no change.
        self.store.update(backend, change)
        return claimed[-1]

    def advance(self, backend: str) -> bool:
        """Move ``backend`` to its next usable provider; ``False`` when there is none."""
        names = self.rotation_names(backend)
        now = self.clock()
        rotated: list[bool] = []

        def change(state: BackendState) -> BackendState:
            new, moved = advance_policy(names, state, now)
            rotated.append(moved)
            return new

        self._update(backend, change)
        return rotated[-1]

    def set_current(self, backend: str, provider: str) -> None:
        """Make ``provider`` current for ``backend`` now (it must exist); a pool's first
        usable key, unless ``provider`` names the key (``name#key-id``)."""
        slots = self.config.slots_of(self.config.provider(backend, provider))
        if not slots:
            raise ProviderNotFoundError(f"provider {backend}/{provider} has no usable key")
        self._update(backend, lambda s: set_current_policy(s, slots[0]))

    def reset(self, backend: str | None = None) -> None:
        """Clear rotation and cooldowns of ``backend`` (all backends when ``None``)."""
        names = [backend] if backend else list(self.store.get_all())
        if backend:
            self.config.backend(backend)
        for name in names:
            self._update(name, reset_policy)

    def update(self, backend: str, change: Callable[[BackendState], BackendState]) -> BackendState:
        """Apply a change of the caller's own (the proxy's headroom readings) atomically, and
        publish its events as every other write does (threshold marks, window resets)."""
        return self._update(backend, change)

    def reset_key(self, backend: str, provider: str, key: str) -> KeyStatus:
        """Clear one pool key's cooldown and circuit; ``key`` is its id, mask, ``${VAR}``
        text or index (from 1). Returns the key's status after."""
        found = find_key(self.config.pool(self.config.provider(backend, provider)), key)
        if found is None or found.id is None:
            raise ProviderNotFoundError(f"provider {backend}/{provider} has no usable key {key!r}")
        slot = slot_name(provider, found.id)
        after = self._update(backend, lambda s: reset_one(s, slot))
        pool = self.config.pool(self.config.provider(backend, provider))
        now, current = self.clock(), self.current_slot(backend)
        keys = key_status(pool, provider, after, current, now, self._shown)
        return next(k for k in keys if k.id == found.id)

    def _update(
        self,
        backend: str,
        change: Callable[[BackendState], BackendState],
        reason: str | None = None,
    ) -> BackendState:
        """``store.update``, and the events of what it changed published (when anyone listens)."""
        if not self.events.listening:
            return self.store.update(backend, change)
        seen: list[BackendState] = []

        def tracked(state: BackendState) -> BackendState:
            seen.append(state)
            return change(state)

        after = self.store.update(backend, tracked)
        if seen:
            try:
                names = self.rotation_names(backend)
                config = self.config
                strategy = config.backend(backend).strategy
            except AutoRouterError:  # a backend removed meanwhile: nothing to say about it
                return after
            self.events.publish(
                transitions(
                    names,
                    seen[-1],
                    after,
                    self.clock(),
                    reason,
                    marks=config.notify.thresholds,
                    strategy=strategy,
                )
            )
        return after

    def _shown(self, state: ProviderState) -> ProviderState:
        # Rows written before redaction existed (or by an older version) are masked on read.
        if state.last_error is None:
            return state
        return replace(state, last_error=self.redact(state.last_error))

    def _cooldown(self, backend: str, provider: str | None) -> float:
        config = self.config
        b = config.backend(backend)
        if provider:
            p = config.providers.get(backend, {}).get(split_slot(provider)[0])
            if p is not None and p.cooldown is not None:
                return p.cooldown
        return b.cooldown


def _apply_limit(
    names: tuple[str, ...],
    provider: str,
    now: float,
    until: float,
    reason: str | None,
    state: BackendState,
) -> BackendState:
    return record_usage_limit_policy(names, state, provider, now, until, reason)


def _apply_failure(
    provider: str,
    now: float,
    reason: str,
    threshold: int | None,
    open_for: float,
    state: BackendState,
) -> BackendState:
    return record_failure_policy(
        state, provider, now, reason, threshold=threshold, open_for=open_for
    )


def _active_cooldown(state: ProviderState, now: float) -> float | None:
    return None if state.is_available(now) else state.cooldown_until
