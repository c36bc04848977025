"""Is a provider reachable with its key? One GET of its models endpoint tells.

``check_provider(resolved, client)`` is what ``auto-router provider test`` and the proxy's
health checks use. The HTTP client is passed in (``httpx.Client`` / ``httpx.AsyncClient``,
any transport), so tests and the proxy decide how requests are made. Credentials go only into
request headers; results and errors never contain them.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import httpx

from ..config import ProviderConfig, ResolvedProvider
from ..errors import ConfigError
from .protocols import auth_headers, models_url

DEFAULT_TIMEOUT = 10.0


@dataclass(frozen=True)
class HealthResult:
    backend: str
    provider: str
    healthy: bool
    url: str | None = None
    status_code: int | None = None
    latency_ms: float | None = None
    #: Number of models listed (``None`` when the call failed).
    models: int | None = None
    model_ids: tuple[str, ...] = field(default=(), repr=False)
    #: Why it is unhealthy, in words a user can act on.
    error: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "backend": self.backend,
            "provider": self.provider,
            "healthy": self.healthy,
            "url": self.url,
            "status_code": self.status_code,
            "latency_ms": None if self.latency_ms is None else round(self.latency_ms, 1),
            "models": self.models,
            "error": self.error,
        }


def check_provider(
    resolved: ResolvedProvider,
    client: httpx.Client,
    *,
    timeout: float | None = None,
    clock: Callable[[], float] = time.perf_counter,
) -> HealthResult:
    """GET the provider's models endpoint; healthy when it answers 2xx with a model list."""
    url = models_url(resolved)
    if not url.startswith(("http://", "https://")):
        return _unreachable(resolved, url, "no base_url configured")
    started = clock()
    try:
        response = client.get(
            url, headers=auth_headers(resolved), timeout=_timeout(resolved, timeout)
        )
    except httpx.HTTPError as exc:
        return _unreachable(resolved, url, describe_error(exc), (clock() - started) * 1000)
    latency = (clock() - started) * 1000
    return _judge(resolved, url, response.status_code, response.content, latency)


async def acheck_provider(
    resolved: ResolvedProvider,
    client: httpx.AsyncClient,
    *,
    timeout: float | None = None,
    clock: Callable[[], float] = time.perf_counter,
) -> HealthResult:
    """``check_provider`` for an async client (the proxy)."""
    url = models_url(resolved)
    if not url.startswith(("http://", "https://")):
        return _unreachable(resolved, url, "no base_url configured")
    started = clock()
    try:
        response = await client.get(
            url, headers=auth_headers(resolved), timeout=_timeout(resolved, timeout)
        )
    except httpx.HTTPError as exc:
        return _unreachable(resolved, url, describe_error(exc), (clock() - started) * 1000)
    latency = (clock() - started) * 1000
    return _judge(resolved, url, response.status_code, response.content, latency)


def check_configured_provider(
    provider: ProviderConfig,
    client: httpx.Client,
    *,
    environ: Mapping[str, str] | None = None,
    timeout: float | None = None,
) -> HealthResult:
    """Resolve ``${VAR}`` references first; a missing variable is an unhealthy result."""
    try:
        resolved = provider.resolve(environ)
    except ConfigError as exc:
        return HealthResult(provider.backend, provider.name, False, error=exc.detail)
    return check_provider(resolved, client, timeout=timeout)


async def acheck_configured_provider(
    provider: ProviderConfig,
    client: httpx.AsyncClient,
    *,
    environ: Mapping[str, str] | None = None,
    timeout: float | None = None,
) -> HealthResult:
    """``check_configured_provider`` for an async client (the proxy's management API)."""
    try:
        resolved = provider.resolve(environ)
    except ConfigError as exc:
        return HealthResult(provider.backend, provider.name, False, error=exc.detail)
    return await acheck_provider(resolved, client, timeout=timeout)


def model_ids(payload: Any) -> tuple[str, ...] | None:
    """Model names from an OpenAI/Anthropic (``data[].id``) or Gemini (``models[].name``)
    listing; ``None`` when the payload is no model listing."""
    if not isinstance(payload, dict):
        return None
    items = payload.get("data")
    key = "id"
    if not isinstance(items, list):
        items, key = payload.get("models"), "name"
    if not isinstance(items, list):
        return None
    names = []
    for item in items:
        if isinstance(item, dict) and isinstance(item.get(key), str):
            names.append(item[key].removeprefix("models/"))
    return tuple(names)


def describe_error(exc: httpx.HTTPError) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    if isinstance(exc, httpx.ConnectError):
        return "connection refused or host unreachable"
    return f"request failed ({type(exc).__name__})"


_STATUS_HINTS = {
    401: "unauthorized: check the API key",
    403: "forbidden: the key lacks access",
    404: "not found: check base_url",
    429: "rate limited or out of quota",
}
_PASSTHROUGH_HINT = (
    'reachable, but it answers only with a client\'s own login (auth = "passthrough"): '
    "test it through `auto-router run` with the agent logged in"
)


def _judge(
    resolved: ResolvedProvider, url: str, status: int, body: bytes, latency: float
) -> HealthResult:
    base = HealthResult(
        resolved.backend, resolved.name, False, url=url, status_code=status, latency_ms=latency
    )
    if not 200 <= status < 300:
        if status in (401, 403) and resolved.config.passthrough:
            # No key of ours to blame: the provider takes the login of the client it serves.
            return _with(base, error=f"HTTP {status}: {_PASSTHROUGH_HINT}")
        reason = _STATUS_HINTS.get(status) or (
            "server error" if status >= 500 else "unexpected status"
        )
        return _with(base, error=f"HTTP {status}: {reason}")
    try:
        names = model_ids(json.loads(body))
    except ValueError:
        names = None
    if names is None:
        return _with(base, error="answer is not a model list (is base_url right?)")
    return _with(base, healthy=True, models=len(names), model_ids=names)


def _with(result: HealthResult, **changes: Any) -> HealthResult:
    return replace(result, **changes)


def _unreachable(
    resolved: ResolvedProvider, url: str, error: str, latency: float | None = None
) -> HealthResult:
    return HealthResult(
        resolved.backend, resolved.name, False, url=url or None, latency_ms=latency, error=error
    )


def _timeout(resolved: ResolvedProvider, timeout: float | None) -> float:
    if timeout is not None:
        return timeout
    return resolved.config.timeout or DEFAULT_TIMEOUT
