"""Per provider, what a request needs to reach it: a ``Target``, built once per
configuration version (URLs, credential headers, timeouts, usage markers, the protocols it
reaches through translation, its model map)."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final

from ..config import ProviderConfig, ResolvedProvider
from ..config.pools import slot_name
from ..config.proxy import ProxySettings
from ..errors import AutoRouterError
from ..providers import protocols
from .endpoints import (
    ANTHROPIC,
    FAMILY_OF_PROTOCOL,
    FIXED_URL_ENDPOINTS,
    GEMINI,
    GEMINI_METHODS,
    OPENAI,
)
from .translation import Route, routes
from .upstream import Timeouts

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
    #: The id of its pool key (issue 19, config/pools.py); ``None``: a provider of one key.
    key_id: str | None = None
    #: The names in ``headers``, for the hot path's "did the client send it?" test; computed
    #: once per target (targets are built once per configuration version).
    header_names: frozenset[str] = field(init=False, repr=False, compare=False)
    #: Its name in the rotation state (``provider#key-id`` for a pool key), made once.
    slot: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "header_names", frozenset(n for n, _ in self.headers))
        object.__setattr__(self, "slot", slot_name(self.provider, self.key_id))

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
                key_id=provider.key_id,
            )
        )
    urls = _fixed_urls(resolved, family)
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
        prefill=provider.takes_prefill,
        key_id=provider.key_id,
    )
    return _by_plan_family(target)


def _fixed_urls(resolved: ResolvedProvider, family: str) -> dict[str, str]:
    """The provider's URL for each fixed-path endpoint of its own family."""
    urls: dict[str, str] = {}
    for endpoint in FIXED_URL_ENDPOINTS:
        if endpoint.family != family:
            continue
        if family == OPENAI:
            urls[endpoint.name] = protocols.openai_url(resolved, endpoint.upstream_path)
        elif family == ANTHROPIC:
            urls[endpoint.name] = protocols.anthropic_url(resolved, endpoint.upstream_path)
    return urls


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
        body_bytes=settings.max_response_bytes,
        event_bytes=settings.max_event_bytes,
        stream_bytes=settings.max_stream_bytes,
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
