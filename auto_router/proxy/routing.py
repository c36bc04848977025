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

import fnmatch
import math
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final

from .. import protocols
from ..config import Config, ProviderConfig
from ..errors import (
    AutoRouterError,
    BackendNotFoundError,
    ExhaustedProvider,
    ProviderNotFoundError,
)
from ..rotation import (
    DIRECT,
    HALF_OPEN,
    OPEN,
    BackendState,
    current_provider,
    earliest_available,
)
from ..rotator import ConfigSource
from ..state import StateStore
from .endpoints import (
    ANTHROPIC,
    FAMILY_OF_PROTOCOL,
    FIXED_URL_ENDPOINTS,
    GEMINI,
    GEMINI_METHODS,
    OPENAI,
)
from .settings import ProxySettings, parse_proxy_settings
from .translation import Route, routes
from .upstream import Timeouts

#: Text in an error body that means "usage limit" (besides a backend's own usage_markers).
DEFAULT_USAGE_MARKERS: Final = (
    "insufficient_quota",
    "quota exceeded",
    "exceeded your current quota",
    "usage limit",
    "rate limit",
    "rate_limit",
    "resource_exhausted",
    "too many requests",
)


@dataclass(frozen=True, slots=True)
class Target:
    """One provider, ready to be called on one endpoint family. Holds real credentials."""

    backend: str
    provider: str
    family: str
    model: str | None
    #: The backend's own ``model``: used when a request falls over to another backend.
    backend_model: str | None
    headers: tuple[tuple[str, str], ...] = field(repr=False)
    #: Sent only when the client did not send them (``anthropic-version``).
    default_headers: tuple[tuple[str, str], ...]
    urls: Mapping[str, str]
    gemini_prefix: str
    timeouts: Timeouts
    markers: tuple[re.Pattern[str], ...]
    #: Why this provider cannot be used (a missing ${VAR}); ``None`` when it can.
    broken: str | None = None
    #: Tokens its model accepts (``None``: not declared).
    context_window: int | None = None
    #: It continues a trailing assistant message (Anthropic always; OpenAI when declared).
    prefill: bool = False
    #: Endpoints of another protocol this provider serves through translation.
    translate: Mapping[str, Route] = field(default_factory=lambda: _NO_ROUTES)
    #: ``model_map``: exact client model names, then (pattern, model) globs in file order.
    model_exact: Mapping[str, str] = field(default_factory=lambda: _NO_ROUTES)
    model_globs: tuple[tuple[str, str], ...] = ()
    #: The names in ``headers``, for the hot path's "did the client send it?" test; computed
    #: once per target (targets are built once per configuration version).
    header_names: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "header_names", frozenset(n for n, _ in self.headers))

    @property
    def key(self) -> str:
        return f"{self.backend}/{self.provider}"

    def upstream_model(self, client_model: str | None) -> str | None:
        """What ``model_map`` says for the client's model, else the provider's ``model``."""
        if client_model is not None and (self.model_exact or self.model_globs):
            exact = self.model_exact.get(client_model)
            if exact is not None:
                return exact
            for pattern, model in self.model_globs:
                if fnmatch.fnmatchcase(client_model, pattern):
                    return model
        return self.model


_DEFAULTS: Final = frozenset({"anthropic-version"})
_NO_ROUTES: Final[Mapping[str, Any]] = MappingProxyType({})
_FAMILY_OF_ENDPOINT: Final = {
    **{e.name: e.family for e in FIXED_URL_ENDPOINTS},
    **{e.name: e.family for e in GEMINI_METHODS.values()},
}
_GLOB: Final = re.compile(r"[*?\[]")


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
        self._plans: dict[tuple[str | None, str, str | None], Plan] = {}
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
            rotation[name] = (
                () if not backend.enabled else tuple(p.name for p in enabled) or (DIRECT,)
            )
            for provider in config.providers_of(name):
                targets[(name, provider.name)] = MappingProxyType(
                    build_targets(
                        provider,
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

    def plan(self, backend: str, family: str, pinned: str | None = None) -> Plan:
        snap = self.snapshot()
        state_version = self._store.version()
        if state_version != self._state_version or snap.version != self._config_version:
            self._plans.clear()
            self._state_version, self._config_version = state_version, snap.version
        key = (backend, family, pinned)
        plan = self._plans.get(key)
        now = self._clock()
        if plan is None or now >= plan.expires_at:
            plan = self._plans[key] = self._make_plan(snap, backend, family, pinned, now)
        return plan

    def _make_plan(
        self, snap: Snapshot, backend: str, family: str, pinned: str | None, now: float
    ) -> Plan:
        if pinned is not None:
            return self._pinned_plan(snap, backend, family, pinned)
        config = snap.config
        names = config.backend_order(backend) if snap.settings.fallback else (backend,)
        if backend not in names:
            names = (backend, *names)
        draft = _Draft()
        earliest: ExhaustedProvider | None = None
        expires = math.inf
        last_success: dict[str, str | None] = {}
        considered: list[str] = []
        for name in names:
            rotation = snap.rotation.get(name, ())
            if not rotation or rotation == (DIRECT,):
                continue
            considered.append(name)
            state = self._store.get(name)
            last_success[name] = state.last_success
            expires = min(expires, _next_expiry(rotation, state, now))
            first = current_provider(rotation, state, now)
            if first is None:
                found = earliest_available(rotation, state)
                if (
                    found
                    and found[1] is not None
                    and (
                        earliest is None
                        or earliest.available_at is None
                        or found[1] < earliest.available_at
                    )
                ):
                    earliest = ExhaustedProvider(name, found[0], found[1])
                continue
            start = rotation.index(first)
            for provider in (*rotation[start:], *rotation[:start]):
                target = snap.targets.get((name, provider), {}).get(family)
                if target is not None:
                    draft.add(target, state, now)
        if not draft.candidates and draft.tripped and earliest is None:
            until, name, provider = min(draft.tripped)
            earliest = ExhaustedProvider(name, provider, until)
        return Plan(
            backend=backend,
            candidates=tuple(draft.candidates),
            earliest=earliest,
            backends=tuple(considered),
            expires_at=expires,
            last_success=MappingProxyType(last_success),
            probes=frozenset(draft.probes),
            troubled=frozenset(draft.troubled),
        )

    def _pinned_plan(self, snap: Snapshot, backend: str, family: str, pinned: str) -> Plan:
        if "/" in pinned:
            backend, pinned = pinned.split("/", 1)
        provider: ProviderConfig = snap.config.provider(backend, pinned)
        if not provider.enabled:
            raise ProviderNotFoundError(f"provider {provider.key} is disabled")
        target = snap.targets.get((backend, pinned), {}).get(family)
        if target is None:
            raise RoutingError(
                f"provider {provider.key} (type {provider.type}) does not speak this endpoint"
            )
        state = self._store.get(backend)
        return Plan(
            backend=backend,
            candidates=(target,),
            earliest=None,
            backends=(backend,),
            expires_at=math.inf,
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
        provider = state.provider(target.provider)
        if not provider.is_available(now):
            return  # cooling down after a usage limit
        key = (target.backend, target.provider)
        circuit = provider.circuit(now)
        if circuit == OPEN:
            self.tripped.append((provider.circuit_until or now, *key))
            return
        if circuit == HALF_OPEN:
            self.probes.add(key)
        if provider.streak or provider.circuit_until is not None:
            self.troubled.add(key)
        self.candidates.append(target)


def _next_expiry(names: Sequence[str], state: BackendState, now: float) -> float:
    """When the plan goes stale: a cooldown ends or an open circuit half-opens."""
    pending = [
        until
        for n in names
        for until in (state.provider(n).cooldown_until, state.provider(n).circuit_until)
        if until is not None and until > now
    ]
    return min(pending, default=math.inf)


def compile_markers(markers: Sequence[str]) -> tuple[re.Pattern[str], ...]:
    """Usage markers: plain text (case-insensitive) or ``re:<regex>``."""
    compiled = []
    for marker in (*DEFAULT_USAGE_MARKERS, *markers):
        if marker.startswith("re:"):
            compiled.append(re.compile(marker[3:], re.I))
        else:
            compiled.append(re.compile(re.escape(marker), re.I))
    return tuple(compiled)


def build_targets(
    provider: ProviderConfig,
    settings: ProxySettings,
    markers: Sequence[str] = (),
    backend_model: str | None = None,
    *,
    translate: bool = True,
) -> dict[str, Target]:
    """The target of ``provider`` per plan family: its own, and those it reaches translated."""
    family = FAMILY_OF_PROTOCOL.get(provider.protocol, OPENAI)
    compiled = compile_markers(markers)
    timeouts = target_timeouts(settings, provider.timeout, provider.first_token_timeout)
    try:
        resolved = provider.resolve()
    except AutoRouterError as exc:
        return _by_plan_family(
            Target(
                backend=provider.backend,
                provider=provider.name,
                family=family,
                model=None,
                backend_model=None,
                headers=(),
                default_headers=(),
                urls=MappingProxyType({}),
                gemini_prefix="",
                timeouts=timeouts,
                markers=compiled,
                broken=str(exc),
            )
        )
    urls: dict[str, str] = {}
    for endpoint in FIXED_URL_ENDPOINTS:
        if endpoint.family != family:
            continue
        if family == OPENAI:
            urls[endpoint.name] = protocols.openai_url(resolved, endpoint.upstream_path)
        elif family == ANTHROPIC:
            urls[endpoint.name] = protocols.anthropic_url(resolved, endpoint.upstream_path)
    prefix = protocols.gemini_url(resolved, "/v1beta/models/") if family == GEMINI else ""
    auth = list(protocols.auth_headers(resolved).items())
    enabled = provider.translate if provider.translate is not None else translate
    exact = {k: v for k, v in provider.model_map.items() if not _GLOB.search(k)}
    target = Target(
        backend=provider.backend,
        provider=provider.name,
        family=family,
        model=resolved.model,
        backend_model=backend_model,
        headers=tuple(h for h in auth if h[0] not in _DEFAULTS),
        default_headers=tuple(h for h in auth if h[0] in _DEFAULTS),
        urls=MappingProxyType(urls),
        gemini_prefix=prefix,
        timeouts=timeouts,
        markers=compiled,
        translate=routes(family, urls, prefix, responses=provider.responses, enabled=enabled),
        model_exact=MappingProxyType(exact),
        model_globs=tuple((k, v) for k, v in provider.model_map.items() if k not in exact),
        context_window=provider.context_window,
        prefill=family == ANTHROPIC or provider.prefill,
    )
    return _by_plan_family(target)


def _by_plan_family(target: Target) -> dict[str, Target]:
    """Its own family (``openai``) and translatable endpoints (``openai+``, ``gemini+``...)."""
    found = {target.family: target, f"{target.family}+": target}
    for name in target.translate:
        found[f"{_FAMILY_OF_ENDPOINT[name]}+"] = target
    return found


def target_timeouts(
    settings: ProxySettings, limit: float | None = None, first_token: float | None = None
) -> Timeouts:
    """The limits of one provider: ``[proxy]``'s, with the provider's ``timeout`` as a cap."""
    if first_token is None:
        first_token = settings.first_token_timeout
        if limit is not None:
            first_token = min(first_token, limit)
    return Timeouts(
        connect=settings.connect_timeout,
        header=settings.header_timeout if limit is None else min(settings.header_timeout, limit),
        first_token=first_token,
        idle=limit or settings.idle_timeout,
        total=limit or settings.total_timeout,
    )


def adhoc_targets(
    base_url: str, api_key: str | None, settings: ProxySettings, backend: str = "upstream"
) -> dict[str, Target]:
    """The single provider of ``--upstream``, per family: the client's model unchanged."""
    root = base_url.rstrip("/")
    bare = root[: -len("/v1")] if root.endswith("/v1") else root
    urls = MappingProxyType(
        {
            e.name: f"{root}{e.upstream_path}" if e.family == OPENAI else f"{bare}{e.upstream_path}"
            for e in FIXED_URL_ENDPOINTS
        }
    )
    credential = {
        OPENAI: ("authorization", f"Bearer {api_key}"),
        ANTHROPIC: ("x-api-key", api_key or ""),
        GEMINI: ("x-goog-api-key", api_key or ""),
    }
    timeouts = target_timeouts(settings)
    markers = compile_markers(())
    return {
        plan_family: Target(
            backend=backend,
            provider="upstream",
            family=family,
            model=None,
            backend_model=None,
            headers=(credential[family],) if api_key else (),
            default_headers=(("anthropic-version", protocols.ANTHROPIC_VERSION),)
            if family == ANTHROPIC
            else (),
            urls=urls,
            gemini_prefix=f"{bare}/v1beta/models/",
            timeouts=timeouts,
            markers=markers,
            prefill=family == ANTHROPIC,
        )
        for family in (OPENAI, ANTHROPIC, GEMINI)
        for plan_family in (family, f"{family}+")
    }
