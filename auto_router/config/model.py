"""The configuration as frozen dataclasses: what every part of auto-router reads.

``config/__init__.py`` loads the files, ``checks.py`` checks them into these types.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

from ..errors import (
    BackendNotFoundError,
    ConfigValidationError,
    MissingVariableError,
    ProviderNotFoundError,
)
from ..paths import Paths
from ..secrets import Secret
from . import kinds
from .expand import ExpansionError, expand
from .notify import NotifyConfig
from .pools import KeyRing, PoolKey, expand_pool, slot_name, split_slot
from .proxy import ProxySettings
from .shared import SharedConfig
from .values import API_KEY_AUTH, PASSTHROUGH, as_str, http_url

#: Provider types. The Node router's names are OpenAI-compatible presets.
PROVIDER_TYPES: Final = (
    "openai",
    "anthropic",
    "gemini",
    "azure-openai",
    "lm-studio",
    "qwen-proxy",
    "qwen-direct",
)
#: The wire protocol each provider type speaks.
PROTOCOL_OF_TYPE: Final[Mapping[str, str]] = MappingProxyType(
    {
        "openai": "openai",
        "lm-studio": "openai",
        "qwen-proxy": "openai",
        "qwen-direct": "openai",
        "azure-openai": "azure-openai",
        "anthropic": "anthropic",
        "gemini": "gemini",
    }
)
#: Default cooldown when a provider hits a limit and names no reset time.
DEFAULT_COOLDOWN_SECONDS: Final = 3600.0
#: ``[backends.X] strategy``: which available provider serves (see rotation/policy.py).
#: ``sticky`` stays on the current one until it must move (the behaviour before issue 19);
#: ``priority`` goes back to the first of ``providers`` as soon as it is available again;
#: ``round-robin`` spreads requests over the available ones.
STICKY: Final = "sticky"
PRIORITY: Final = "priority"
ROUND_ROBIN: Final = "round-robin"
STRATEGIES: Final = (STICKY, PRIORITY, ROUND_ROBIN)
BACKEND_SECTIONS: Final = ("message_backend", "backend")
#: The types whose clients log in with a credential of their own (Claude Code, Codex), so a
#: provider of theirs may take ``auth = "passthrough"``.
PASSTHROUGH_TYPES: Final = ("anthropic", "openai", "gemini")
#: Client credential headers a passthrough provider must not carry a fixed value for.
_LOGIN_HEADER_NAMES: Final = frozenset(
    {"authorization", "x-api-key", "chatgpt-account-id", "x-openai-fedramp"}
)

_EMPTY: Final[Mapping[str, Any]] = MappingProxyType({})


def _empty() -> Mapping[str, Any]:
    return _EMPTY


def provider_type(value: Any) -> str:
    """A provider's ``type``: one of ``PROVIDER_TYPES``."""
    text = as_str(value)
    if text not in PROVIDER_TYPES:
        raise ValueError(f"expected one of {', '.join(PROVIDER_TYPES)}, got {text!r}")
    return text


def auth_conflicts(fields: Mapping[str, Any]) -> list[tuple[tuple[str, ...], str]]:
    """(key path, message) of each setting that contradicts ``auth = "passthrough"``: a provider
    that forwards the client's own login holds no credential of its own, and only the
    Anthropic and OpenAI types have clients that log in (``fields``: a provider's checked
    settings, agent variables applied)."""
    if fields.get("auth") != PASSTHROUGH:
        return []
    found: list[tuple[tuple[str, ...], str]] = []
    kind = fields.get("type", "openai")
    if kind not in PASSTHROUGH_TYPES:
        types = '"anthropic", "openai" or "gemini"'
        found.append((("auth",), f'"passthrough" is for type {types}, not {kind!r}'))
    if fields.get("api_key") is not None:
        variable = fields.get("derived", {}).get("api_key", "api_key")
        message = "a passthrough provider forwards the client's login: remove the key"
        found.append(((variable,), message))
    if fields.get("api_keys") is not None:
        found.append((("api_keys",), "a passthrough provider forwards the client's login: no pool"))
    for name in fields.get("headers", {}):
        if name.lower() in _LOGIN_HEADER_NAMES:
            found.append((("headers", name), f"a passthrough provider sends the client's {name}"))
    if not fields.get("base_url"):
        found.append((("auth",), '"passthrough" needs a base_url (the subscription\'s API)'))
    return found


@dataclass(frozen=True)
class Problem:
    """One validation finding, with where it is."""

    message: str
    path: Path
    key_path: str
    line: int | None = None

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else str(self.path)
        return (
            f"{where}: {self.key_path}: {self.message}"
            if self.key_path
            else f"{where}: {self.message}"
        )


@dataclass(frozen=True)
class ProviderConfig:
    """A provider as written in provider_metadata.toml (values not yet expanded)."""

    backend: str
    name: str
    type: str = "openai"
    enabled: bool = True
    description: str = ""
    command: str | None = None
    args: tuple[str, ...] = ()
    base_url: str | None = None
    api_key: str | None = field(default=None, repr=False)
    #: A key pool (issue 19, ``pools.py``): each key a rotation slot; never with ``api_key``.
    api_keys: tuple[str, ...] = field(default=(), repr=False)
    #: Pool keys kept but out of rotation (issue 21), by ``${VAR}`` text or id (``pools.py``).
    disabled_keys: tuple[str, ...] = ()
    #: Their places in ``api_keys`` (from 1), matched once per load (``pools.check_disabled``).
    disabled_entries: frozenset[int] = frozenset()
    #: Set on the provider narrowed to one pool key (``entry``): its id and place (from 1).
    key_id: str | None = None
    key_index: int | None = None
    model: str | None = None
    headers: Mapping[str, str] = field(default_factory=_empty, repr=False)
    timeout: float | None = None
    cooldown: float | None = None
    #: Streams: seconds from the response head to the first event (else ``[proxy]``'s).
    first_token_timeout: float | None = None
    #: Tokens the provider's model accepts: a context-length error tries a larger one.
    context_window: int | None = None
    #: Continues a trailing assistant message (a cut stream's rest); ``None``: as the type
    #: does (``takes_prefill``: on for the Anthropic protocol, docs/proxy.md).
    prefill: bool | None = None
    api_version: str | None = None
    deployment: str | None = None
    #: Client model name (exact, or a glob like ``claude-*haiku*``) -> the model sent upstream.
    model_map: Mapping[str, str] = field(default_factory=_empty)
    #: An OpenAI-type provider that serves the Responses API itself (else: via Chat).
    responses: bool = False
    #: Reach this provider through protocol translation; ``None``: as its backend says.
    translate: bool | None = None
    #: USD per million input (prompt) / output (completion) tokens, for ``stats --cost``;
    #: ``None``: the matching template's published price, else unknown (never 0).
    price_input: float | None = None
    price_output: float | None = None
    #: Headroom marks (issue 19); ``None``: the backend's.
    rotate_below: float | None = None
    rotate_below_requests: int | None = None
    rotate_below_tokens: int | None = None
    #: ``api-key`` (its own ``api_key``) or ``passthrough``: the client's own login (issue 20).
    auth: str = API_KEY_AUTH
    env: Mapping[str, str] = field(default_factory=_empty, repr=False)
    extra: Mapping[str, Any] = field(default_factory=_empty, repr=False)
    source: Path | None = None
    line: int | None = None
    #: ``type`` was written (else it is the default, ``openai``).
    explicit_type: bool = False
    #: Settings filled from the agent variables in ``env``: setting -> variable (``kinds``).
    derived: Mapping[str, str] = field(default_factory=_empty)

    @property
    def key(self) -> str:
        return f"{self.backend}/{self.name}"

    @property
    def slot(self) -> str:
        """Its name in rotation: the provider's, or ``name#key-id`` for one pool key."""
        return slot_name(self.name, self.key_id)

    def entry(self, index: int, key_id: str | None = None) -> ProviderConfig:
        """This provider with only its pool's ``index``-th key (from 1) as ``api_key``."""
        return replace(
            self, api_key=self.api_keys[index - 1], api_keys=(), key_id=key_id, key_index=index
        )

    @property
    def kind(self) -> str:
        """``api``, ``agent-variables``, ``command`` or ``variables`` (see ``config.kinds``)."""
        return kinds.kind_of(
            command=self.command,
            base_url=self.base_url,
            api_key=self.api_key or next(iter(self.api_keys), None),
            type_=self.type if self.explicit_type or self.type != "openai" else None,
            derived=self.derived,
        )

    @property
    def has_api(self) -> bool:
        """The proxy may call this provider: it has an endpoint the user wrote."""
        return self.kind in kinds.CALLABLE

    @property
    def protocol(self) -> str:
        return PROTOCOL_OF_TYPE.get(self.type, "openai")

    @property
    def passthrough(self) -> bool:
        """It forwards the client's own credential headers, and only to itself."""
        return self.auth == PASSTHROUGH

    @property
    def takes_prefill(self) -> bool:
        return self.prefill if self.prefill is not None else self.protocol == "anthropic"

    def resolve(self, environ: Mapping[str, str] | None = None) -> ResolvedProvider:
        """Expand every ``${VAR}``; a missing variable names the file, provider and key.

        A whole pool resolves to its first key that expands (its health check, ``env``)."""
        env = os.environ if environ is None else environ
        if self.api_keys:
            return self._first_usable(env).resolve(env)

        def value(key: str, raw: str) -> str:
            try:
                return expand(raw, env)
            except ExpansionError as exc:
                raise MissingVariableError(
                    str(exc),
                    path=self.source,
                    line=self.line,
                    key_path=f"[{self.backend}.{self.name}].{key}",
                    hint=f"export {exc.variable} or write ${{{exc.variable}:-default}}"
                    if exc.variable
                    else None,
                ) from exc

        def optional(key: str, raw: str | None) -> str | None:
            # a setting filled from an agent variable is reported under that variable
            return None if raw is None else value(self.derived.get(key, key), raw)

        setting = "api_key" if self.key_index is None else f"api_keys[{self.key_index}]"
        api_key = optional(setting, self.api_key)
        return ResolvedProvider(
            config=self,
            base_url=self._expanded_url(optional("base_url", self.base_url)),
            api_key=Secret(api_key) if api_key else None,
            model=optional("model", self.model),
            command=optional("command", self.command),
            args=tuple(value("args", a) for a in self.args),
            headers=MappingProxyType(
                {k: Secret(value(f"headers.{k}", v)) for k, v in self.headers.items()}
            ),
            env=MappingProxyType({k: Secret(value(k, v)) for k, v in self.env.items()}),
            api_version=optional("api_version", self.api_version),
            deployment=optional("deployment", self.deployment),
        )

    def _first_usable(self, env: Mapping[str, str]) -> ProviderConfig:
        for index, written in enumerate(self.api_keys, 1):
            if index in self.disabled_entries:  # health checks, env: never a disabled key
                continue
            try:
                if expand(written, env):
                    return self.entry(index)
            except ExpansionError:
                continue
        on = [i for i in range(1, len(self.api_keys) + 1) if i not in self.disabled_entries]
        return self.entry(on[0] if on else 1)  # none expands: its error names the first

    def _expanded_url(self, url: str | None) -> str | None:
        """A ``base_url`` built from ``${VAR}`` is checked here, once its value is known (a
        literal one was checked at load time)."""
        if url is None or url == self.base_url:
            return url
        try:
            return http_url(url)
        except ValueError as exc:
            raise ConfigValidationError(
                f"{exc} (after expanding {self.base_url!r})",
                path=self.source,
                line=self.line,
                key_path=f"[{self.backend}.{self.name}].base_url",
            ) from None


@dataclass(frozen=True)
class ResolvedProvider:
    """A provider with every value expanded, ready to use. Credentials stay ``Secret``."""

    config: ProviderConfig
    base_url: str | None
    api_key: Secret | None
    model: str | None
    command: str | None
    args: tuple[str, ...]
    headers: Mapping[str, Secret]
    env: Mapping[str, Secret]
    api_version: str | None = None
    deployment: str | None = None

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def backend(self) -> str:
        return self.config.backend

    def exported_env(self) -> dict[str, str]:
        """The UPPERCASE variables with their real values, for a child process only."""
        return {k: v.reveal() for k, v in self.env.items()}

    def passthrough_env(self) -> dict[str, str]:
        """The UPPERCASE variables an agent pointed at the proxy still gets: all but the
        endpoint, credential and model variables of any agent (its own point at the proxy)
        and anything that looks like a credential (``kinds.passes_through``)."""
        return {k: v.reveal() for k, v in self.env.items() if kinds.passes_through(k)}


@dataclass(frozen=True)
class BackendConfig:
    """A backend as written in ``[backends.<name>]`` (or implied by provider tables)."""

    name: str
    enabled: bool = True
    model: str | None = None
    #: Rotation order; ``None`` when the key was absent (table order of provider_metadata).
    provider_names: tuple[str, ...] = ()
    description: str = ""
    command: str | None = None
    args: tuple[str, ...] = ()
    agent: str | None = None
    usage_markers: tuple[str, ...] = ()
    usage_markers_replace: bool = False
    cooldown: float = DEFAULT_COOLDOWN_SECONDS
    fail_fast: bool = True
    #: ``auto-router run --timeout``: treat a timed-out child like a usage limit and rotate.
    rotate_on_timeout: bool = False
    #: ``auto-router run`` through the managed proxy: ``True``, ``False``, ``"auto"``, or
    #: ``None`` (not set here: ``[launcher].via_proxy`` decides).
    via_proxy: bool | str | None = None
    #: The proxy may reach this backend's providers of another protocol by translating.
    translate: bool = True
    #: Which available provider serves: one of ``STRATEGIES``.
    strategy: str = STICKY
    #: Headroom marks (issue 19): below this fraction of a rate-limit window left, or fewer
    #: requests / tokens than these, a provider cools down until the window resets.
    rotate_below: float = 0.05
    rotate_below_requests: int | None = None
    rotate_below_tokens: int | None = None
    extra: Mapping[str, Any] = field(default_factory=_empty, repr=False)
    declared: bool = True
    line: int | None = None


@dataclass(frozen=True)
class LauncherConfig:
    """``[launcher]`` in llm_config.toml: how ``auto-router run`` reaches providers."""

    #: ``"auto"`` (the proxy whenever the providers are reachable through it), True, False.
    via_proxy: bool | str = "auto"
    #: A proxy the user runs (``auto-router proxy``) instead of the managed one.
    proxy_url: str | None = None
    #: Its client token (``${VAR}`` expanded when used).
    proxy_token: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class Config:
    """Both files, validated. The single source every part of auto-router reads."""

    paths: Paths
    backends: Mapping[str, BackendConfig]
    providers: Mapping[str, Mapping[str, ProviderConfig]]
    default_backend: str | None
    order: tuple[str, ...]
    #: ``[proxy]`` as written (raw TOML values).
    proxy: Mapping[str, Any] = field(default_factory=_empty)
    launcher: LauncherConfig = field(default_factory=LauncherConfig)
    #: ``[notify]``: the command run on rotation events (``notify.py``).
    notify: NotifyConfig = field(default_factory=NotifyConfig)
    warnings: tuple[Problem, ...] = ()
    files_found: tuple[Path, ...] = ()
    #: ``[proxy]`` checked (tokens not yet expanded; see ``proxy.settings``).
    proxy_settings: ProxySettings = field(default_factory=ProxySettings)
    #: Line of each ``[proxy]`` token key, for the errors of their expansion.
    proxy_lines: Mapping[str, int] = field(default_factory=_empty)
    #: ``[state]`` and ``[request_log]``: the stores replicas share (``shared.py``).
    shared: SharedConfig = field(default_factory=SharedConfig)

    def backend(self, name: str) -> BackendConfig:
        try:
            return self.backends[name]
        except KeyError:
            known = ", ".join(self.backends) or "none"
            raise BackendNotFoundError(
                f"no backend named {name!r} (known: {known})",
                hint="list them with `auto-router status`",
            ) from None

    def providers_of(self, backend: str) -> tuple[ProviderConfig, ...]:
        """The backend's providers in rotation order, disabled ones included."""
        b = self.backend(backend)
        table = self.providers.get(backend, _EMPTY)
        return tuple(table[name] for name in b.provider_names)

    def enabled_providers_of(self, backend: str) -> tuple[ProviderConfig, ...]:
        return tuple(p for p in self.providers_of(backend) if p.enabled)

    def provider(self, backend: str, name: str) -> ProviderConfig:
        """A provider by name, or by rotation slot (``name#key-id``: narrowed to that key)."""
        self.backend(backend)
        name, key_id = split_slot(name)
        found: ProviderConfig | None = self.providers.get(backend, _EMPTY).get(name)
        if found is None:
            known = ", ".join(self.providers.get(backend, _EMPTY)) or "none"
            raise ProviderNotFoundError(
                f"backend {backend!r} has no provider {name!r} (known: {known})"
            )
        if key_id is None:
            return found
        key = next((k for k in self.pool(found) if k.id == key_id), None)
        if key is None:
            raise ProviderNotFoundError(f"provider {found.key} has no key {key_id!r}")
        return found.entry(key.index, key.id)

    # -- key pools (issue 19, pools.py): expanded once per configuration version ----------

    @cached_property
    def key_ring(self) -> KeyRing:
        return KeyRing(self.paths.data_dir)

    @cached_property
    def _pools(self) -> dict[str, tuple[PoolKey, ...]]:
        return {}

    def pool(self, provider: ProviderConfig) -> tuple[PoolKey, ...]:
        """The keys of ``provider``'s pool, expanded and named (none without a pool)."""
        if not provider.api_keys:
            return ()
        found = self._pools.get(provider.key)
        if found is None:
            line = f":{provider.line}" if provider.line else ""
            source = provider.source or "provider_metadata.toml"
            where = f"{source}{line}: [{provider.backend}.{provider.name}]"
            found = expand_pool(
                provider.api_keys, self.key_ring, os.environ, where, provider.disabled_keys
            )
            self._pools[provider.key] = found
        return found

    def slots_of(self, provider: ProviderConfig) -> tuple[str, ...]:
        """Its rotation slots: its name, or one per usable pool key that is not disabled (its
        name when none is: it then fails as a provider whose variable is unset does). With a
        key disabled, none: the whole pool's name could resolve to the disabled key."""
        if not provider.api_keys:
            return (provider.slot,)
        pool = self.pool(provider)
        usable = tuple(k.id for k in pool if k.id is not None and not k.disabled)
        fallback = () if any(k.disabled for k in pool) else (provider.name,)
        return tuple(slot_name(provider.name, i) for i in usable) or fallback

    def backend_order(self, start: str | None = None) -> tuple[str, ...]:
        """Backends to try, starting with ``start``, then the rest of ``order`` after it."""
        order = [b for b in self.order if b in self.backends]
        first = start or self.default_backend
        if first is None:
            return tuple(order)
        if first not in order:
            return (first, *order)
        i = order.index(first)
        return tuple(order[i:] + order[:i])
