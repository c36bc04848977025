"""Where a request goes: targets precomputed per config version, plans cached per state version.

The hot path must not parse TOML or read SQLite per request. ``Router`` keeps

* a ``Snapshot`` per configuration version: the parsed ``[proxy]`` settings, the model map,
  and per provider a ``Target`` with its URLs, credential header table and timeout;
* a ``Plan`` per (backend, family, pinned provider), valid while neither the rotation state
  (``StateStore.version()``, one ``PRAGMA data_version``) nor the config version changes and
  no cooldown in it has run out.

So a provider switched by another process (CLI, Python API, launcher) is seen by the very
next request, at the price of one cheap pragma per request.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from types import MappingProxyType

from ..config import Config, ProviderConfig, kinds, parse_proxy_settings
from ..config.model import ROUND_ROBIN, STICKY
from ..config.proxy import ProxySettings
from ..errors import (
    AutoRouterError,
    BackendNotFoundError,
    ExhaustedProvider,
    ProviderNotFoundError,
)
from ..rotation.configsource import ConfigSource
from ..rotation.policy import (
    DIRECT,
    HALF_OPEN,
    OPEN,
    BackendState,
    earliest_available,
    pick,
    serving_order,
    session_order,
)
from ..rotation.state import StateStore
from .affinity import affinity_for
from .targets import (
    DEFAULT_USAGE_MARKERS,
    Target,
    adhoc_targets,
    build_targets,
    compile_markers,
    target_timeouts,
)


#: Text in an error body that means "usage limit" (besides a backend's own usage_markers).
@dataclass(frozen=True, slots=True)
class Snapshot:
    version: int
    config: Config
    settings: ProxySettings
    #: client model name -> backend ([proxy.models], then backends' own model, then names).
    model_map: Mapping[str, str]
    #: client model name -> the one provider it must go to (``"backend/provider"`` entries).
    model_pins: Mapping[str, str]
    #: (backend, provider) -> family -> target.
    targets: Mapping[tuple[str, str], Mapping[str, Target]]
    #: backend -> enabled provider names in rotation order (``(DIRECT,)``: none configured).
    rotation: Mapping[str, tuple[str, ...]]


@dataclass(frozen=True, slots=True)
class Plan:
    """The providers to try for one request, in order, and what to say if none is left."""

    backend: str
    candidates: tuple[Target, ...]
    earliest: ExhaustedProvider | None
    backends: tuple[str, ...]
    expires_at: float
    #: last_success per backend, to skip redundant ``record_success`` writes.
    last_success: Mapping[str, str | None]
    #: (backend, provider) of candidates whose circuit is half-open: one probe may go.
    probes: frozenset[tuple[str, str]] = frozenset()
    #: (backend, provider) with failures in a row: a success there must reset the streak.
    troubled: frozenset[tuple[str, str]] = frozenset()
    #: Round-robin: the plan of each turn (``Router.plan`` hands them out in turn).
    turns: tuple[Plan, ...] = ()


#: (backend, family, pinned provider): what a plan is cached by.
_PlanKey = tuple[str, str, str | None]


class RoutingError(AutoRouterError):
    """The request names a backend or provider that cannot serve it (HTTP 400/404)."""

    status = 400


class Router:
    def __init__(
        self,
        config: ConfigSource | Config,
        store: StateStore,
        *,
        overrides: ProxySettings | None = None,
        backend: str | None = None,
        clock: Callable[[], float] = time.time,
        adhoc: Mapping[str, Target] | None = None,
    ) -> None:
        self._source = config
        self._store = store
        self._backend = backend
        self._clock = clock
        self._adhoc = adhoc
        self._settings_override = overrides
        self._snapshot: Snapshot | None = None
        self._settings_error: Exception | None = None
        #: per key, the plan (under round-robin: one per turn), and the round-robin counters.
        self._plans: dict[_PlanKey, Plan] = {}
        self._turns: dict[_PlanKey, int] = {}
        #: plans with a session's provider moved first, made once per (key, provider).
        self._affine: dict[tuple[_PlanKey, tuple[str, str]], Plan] = {}
        #: session -> provider that served it (memory, or the shared store: affinity.py).
        self.affinity = affinity_for(store, clock)
        self._state_version = -1
        self._config_version = -1

    # ----------------------------------------------------------------- snapshot

    def snapshot(self) -> Snapshot:
        source = self._source
        if isinstance(source, ConfigSource):
            config = source.get()
            version = source.version
        else:
            config, version = source, 0
        snap = self._snapshot
        if snap is None or snap.version != version:
            try:
                snap = self._build(config, version)
            except AutoRouterError as exc:
                if snap is None:
                    raise
                self._settings_error = exc  # keep serving with the last good settings
                return snap
            self._settings_error = None
            self._snapshot = snap
        return snap

    @property
    def reload_error(self) -> Exception | None:
        """Why the last change to the files was not applied (the previous config serves)."""
        source = self._source
        error = source.reload_error if isinstance(source, ConfigSource) else None
        return error or self._settings_error

    def _build(self, config: Config, version: int) -> Snapshot:
        settings = self._settings_override or parse_proxy_settings(config)
        model_map: dict[str, str] = {}
        for name, backend in config.backends.items():
            model_map.setdefault(name, name)
            if backend.model:
                model_map.setdefault(backend.model, name)
        for name, provider_table in config.providers.items():
            for provider in provider_table.values():
                if provider.model and provider.enabled:
                    model_map.setdefault(provider.model, name)
        model_pins: dict[str, str] = {}
        for model, target in settings.models.items():
            backend_name, _, provider_name = target.partition("/")
            model_map[model] = backend_name
            if provider_name:
                model_pins[model] = provider_name
        targets: dict[tuple[str, str], Mapping[str, Target]] = {}
        rotation: dict[str, tuple[str, ...]] = {}
        for name, backend in config.backends.items():
            enabled = [p for p in config.providers_of(name) if p.enabled]
            slots = tuple(s for p in enabled for s in config.slots_of(p))
            rotation[name] = () if not backend.enabled else slots or (DIRECT,)
            for provider in config.providers_of(name):
                if not provider.has_api:
                    continue  # direct only: never in a plan, never an attempt (config.kinds)
                # one target per slot: a pool key is a provider of one key (issue 19)
                for slot in config.slots_of(provider):
                    targets[(name, slot)] = MappingProxyType(
                        build_targets(
                            config.provider(name, slot),
                            settings,
                            backend.usage_markers,
                            backend.model,
                            translate=backend.translate,
                        )
                    )
        if self._adhoc:
            first = next(iter(self._adhoc.values()))
            targets[(first.backend, first.provider)] = MappingProxyType(dict(self._adhoc))
        return Snapshot(
            version=version,
            config=config,
            settings=settings,
            model_map=MappingProxyType(model_map),
            model_pins=MappingProxyType(model_pins),
            targets=MappingProxyType(targets),
            rotation=MappingProxyType(rotation),
        )

    # --------------------------------------------------------------------- plan

    def backend_for(self, snap: Snapshot, header: str | None, model: str | None) -> str:
        """X-Auto-Router-Backend, else the model map, else --backend, else the default."""
        if header:
            if header not in snap.config.backends:
                known = ", ".join(snap.config.backends) or "none"
                raise BackendNotFoundError(f"no backend named {header!r} (known: {known})")
            return header
        if model is not None:
            mapped = snap.model_map.get(model)
            if mapped is not None:
                return mapped
        chosen = self._backend or snap.settings.default_backend or snap.config.default_backend
        if chosen is None:
            raise BackendNotFoundError(
                "no backend is configured", hint="write llm_config.toml or use --upstream"
            )
        return chosen

    @staticmethod
    def pinned_for(
        snap: Snapshot, header_backend: str | None, header_provider: str | None, model: str | None
    ) -> str | None:
        """X-Auto-Router-Provider, else the provider a ``[proxy.models]`` entry names."""
        if header_provider or header_backend or model is None:
            return header_provider
        return snap.model_pins.get(model)

    def plan(
        self, backend: str, family: str, pinned: str | None = None, session: str | None = None
    ) -> Plan:
        """The plan for one request; ``session`` (``affinity.session_id``) puts the provider
        that served the session last first, while it may serve."""
        snap = self.snapshot()
        state_version = self._store.version()
        if state_version != self._state_version or snap.version != self._config_version:
            self._plans.clear()
            self._affine.clear()
            self._state_version, self._config_version = state_version, snap.version
        key = (backend, family, pinned)
        plan = self._plans.get(key)
        now = self._clock()
        if plan is None or now >= plan.expires_at:
            plan = self._plans[key] = self._make_plans(snap, backend, family, pinned, now)
            self._affine.clear()
        if session is not None and pinned is None:
            bound = self.affinity.get((session, backend))
            # A subscription at the head of the plan takes its sessions back once usable
            # again (issue 20): its window reset, and it costs nothing extra per request.
            if bound is not None and not (plan.candidates and plan.candidates[0].passthrough):
                return self._affine_plan(key, plan, bound)
        turns = plan.turns
        if not turns:
            return plan
        # round-robin: one plan per turn, made once; a request costs a counter
        turn = self._turns.get(key, 0)
        self._turns[key] = turn + 1
        return turns[turn % len(turns)]

    def bind(self, session: str | None, plan: Plan, target: Target) -> None:
        """``target`` answered a request of ``session``: the session stays there."""
        if session is not None:
            self.affinity.bind((session, plan.backend), (target.backend, target.slot))

    def _affine_plan(self, key: _PlanKey, plan: Plan, bound: tuple[str, str]) -> Plan:
        cached = self._affine.get((key, bound))
        if cached is None:
            keys = [(t.backend, t.slot) for t in plan.candidates]
            order = session_order(keys, bound)
            by_key = dict(zip(keys, plan.candidates, strict=True))
            candidates = tuple(by_key[k] for k in order)
            cached = replace(
                plan, candidates=candidates, last_success=_expecting(plan, candidates), turns=()
            )
            self._affine[(key, bound)] = cached
        return cached

    def _make_plans(
        self, snap: Snapshot, backend: str, family: str, pinned: str | None, now: float
    ) -> Plan:
        """The plan; under round-robin it holds one plan per turn (its backend's part rotated)."""
        if pinned is not None:
            return self._pinned_plan(snap, backend, family, pinned)
        plan, spread = self._make_plan(snap, backend, now, family)
        if spread is None:
            return plan
        start, end = spread
        c = plan.candidates
        turns = [(*c[:start], *c[i:end], *c[start:i], *c[end:]) for i in range(start, end)]
        return replace(
            plan,
            turns=tuple(
                replace(plan, candidates=t, last_success=_expecting(plan, t)) for t in turns
            ),
        )

    def _make_plan(
        self, snap: Snapshot, backend: str, now: float, family: str
    ) -> tuple[Plan, tuple[int, int] | None]:
        """The plan, and where in its candidates the first round-robin backend's are."""
        config = snap.config
        names = config.backend_order(backend) if snap.settings.fallback else (backend,)
        if backend not in names:
            names = (backend, *names)
        draft = _Draft()
        earliest: ExhaustedProvider | None = None
        expires = math.inf
        last_success: dict[str, str | None] = {}
        considered: list[str] = []
        spread: tuple[int, int] | None = None
        for name in names:
            rotation = snap.rotation.get(name, ())
            if not rotation or rotation == (DIRECT,):
                continue
            considered.append(name)
            state = self._store.get(name)
            last_success[name] = state.last_success
            # a cooldown's end is an expiry: under priority the preferred one is back at once
            expires = min(expires, _next_expiry(rotation, state, now))
            strategy = config.backend(name).strategy
            if pick(rotation, state, now, strategy) is None:
                earliest = _earlier(earliest, name, rotation, state)
                continue
            start = len(draft.candidates)
            for provider in serving_order(rotation, state, now, strategy):
                target = snap.targets.get((name, provider), {}).get(family)
                if target is not None:
                    draft.add(target, state, now)
            if strategy == ROUND_ROBIN and spread is None and len(draft.candidates) - start > 1:
                spread = (start, len(draft.candidates))
        if not draft.candidates and draft.tripped and earliest is None:
            until, name, provider = min(draft.tripped)
            earliest = ExhaustedProvider(name, provider, until)
        plan = Plan(
            backend=backend,
            candidates=tuple(draft.candidates),
            earliest=earliest,
            backends=tuple(considered),
            expires_at=expires,
            last_success=MappingProxyType(last_success),
            probes=frozenset(draft.probes),
            troubled=frozenset(draft.troubled),
        )
        return plan, spread

    def _pinned_plan(self, snap: Snapshot, backend: str, family: str, pinned: str) -> Plan:
        if "/" in pinned:
            backend, pinned = pinned.split("/", 1)
        provider: ProviderConfig = snap.config.provider(backend, pinned)
        if not provider.enabled:
            raise ProviderNotFoundError(f"provider {provider.key} is disabled")
        if not provider.has_api:
            raise RoutingError(f"provider {provider.key} is a {kinds.DESCRIPTION[provider.kind]}")
        # a pool: its keys in serving order, the cooling ones last (pinned: always tried)
        state, now = self._store.get(backend), self._clock()
        order = serving_order(snap.config.slots_of(provider), state, now, STICKY)
        slots = sorted(order, key=lambda s: not state.provider(s).is_available(now))
        found = [snap.targets.get((backend, s), {}).get(family) for s in slots]
        candidates = tuple(t for t in found if t is not None)
        if not candidates:
            raise RoutingError(
                f"provider {provider.key} (type {provider.type}) does not speak this endpoint"
            )
        return Plan(
            backend=backend,
            candidates=candidates,
            earliest=None,
            backends=(backend,),
            expires_at=_next_expiry(slots, state, now),
            last_success=MappingProxyType({backend: state.last_success}),
        )


class _Draft:
    """The candidates of a plan being made, with what the circuit breakers say of each."""

    def __init__(self) -> None:
        self.candidates: list[Target] = []
        #: (until, backend, provider) of providers skipped because their circuit is open.
        self.tripped: list[tuple[float, str, str]] = []
        self.probes: set[tuple[str, str]] = set()
        self.troubled: set[tuple[str, str]] = set()

    def add(self, target: Target, state: BackendState, now: float) -> None:
        provider = state.provider(target.slot)
        if not provider.is_available(now):
            return  # cooling down after a usage limit
        key = (target.backend, target.slot)
        circuit = provider.circuit(now)
        if circuit == OPEN:
            self.tripped.append((provider.circuit_until or now, *key))
            return
        if circuit == HALF_OPEN:
            self.probes.add(key)
        if provider.streak or provider.circuit_until is not None:
            self.troubled.add(key)
        self.candidates.append(target)


def _expecting(plan: Plan, candidates: tuple[Target, ...]) -> Mapping[str, str | None]:
    """``last_success`` as if the first candidate had served already.

    Round-robin turns and sessions change providers from one request to the next by
    design. The recorder writes ``record_success`` only when the provider differs from the
    plan's ``last_success``: without this, each such request would cost a state write, and
    the write would drop every cached plan (the state version changes). So "last used" is
    written when a provider serves for the first time, when it serves out of turn (a
    failover), and after trouble; not on every turn."""
    first = candidates[0] if candidates else None
    if first is None or plan.last_success.get(first.backend) is None:
        return plan.last_success
    return MappingProxyType({**plan.last_success, first.backend: first.slot})


def _earlier(
    earliest: ExhaustedProvider | None, name: str, rotation: Sequence[str], state: BackendState
) -> ExhaustedProvider | None:
    """``earliest``, or this backend's first provider back if that comes sooner."""
    found = earliest_available(rotation, state)
    if found is None or found[1] is None:
        return earliest
    if earliest is None or earliest.available_at is None or found[1] < earliest.available_at:
        return ExhaustedProvider(name, found[0], found[1])
    return earliest


def _next_expiry(names: Sequence[str], state: BackendState, now: float) -> float:
    """When the plan goes stale: a cooldown ends or an open circuit half-opens."""
    pending = [
        until
        for n in names
        for until in (state.provider(n).cooldown_until, state.provider(n).circuit_until)
        if until is not None and until > now
    ]
    return min(pending, default=math.inf)


__all__ = [
    "DEFAULT_USAGE_MARKERS",
    "Plan",
    "Router",
    "RoutingError",
    "Snapshot",
    "Target",
    "adhoc_targets",
    "build_targets",
    "compile_markers",
    "target_timeouts",
]
