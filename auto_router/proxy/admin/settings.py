"""``/v1/settings``: what the proxy runs with, and the active provider of each backend.

``PUT /v1/settings/active_provider`` is ``auto-router set B P``: it writes the shared rotation
state, so the very next proxied request (and every launcher and CLI) uses that provider.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ...config.proxy import ProxySettings
from ...paths import Paths
from ...rotation.service import Rotator
from ._base import ApiError, Body, admin_endpoint, in_thread, invalid, ok, services


def proxy_settings_json(settings: ProxySettings) -> dict[str, Any]:
    """``[proxy]`` as in force, tokens masked."""
    log = settings.request_log
    return {
        "host": settings.host,
        "port": settings.port,
        "default_backend": settings.default_backend,
        "admin_token": None if settings.admin_token is None else settings.admin_token.masked,
        "client_tokens": [t.masked for t in settings.client_tokens],
        "models": dict(settings.models),
        "max_attempts": settings.max_attempts,
        "max_retries": settings.max_retries,
        "connect_timeout": settings.connect_timeout,
        "header_timeout": settings.header_timeout,
        "first_token_timeout": settings.first_token_timeout,
        "idle_timeout": settings.idle_timeout,
        "total_timeout": settings.total_timeout,
        "read_timeout": settings.read_timeout,
        "max_retry_wait": settings.max_retry_wait,
        "failure_threshold": settings.failure_threshold,
        "failure_cooldown": settings.failure_cooldown,
        "continue_streams": settings.continue_streams,
        "fallback": settings.fallback,
        "allowed_hosts": list(settings.allowed_hosts),
        "allowed_origins": list(settings.allowed_origins),
        "max_body_bytes": settings.max_body_bytes,
        "request_head_timeout": settings.request_head_timeout,
        "keep_alive_timeout": settings.keep_alive_timeout,
        "max_connections": settings.max_connections,
        "max_response_bytes": settings.max_response_bytes,
        "max_event_bytes": settings.max_event_bytes,
        "max_stream_bytes": settings.max_stream_bytes,
        "request_log": {
            "enabled": log.enabled,
            "bodies": log.bodies,
            "max_body_bytes": log.max_body_bytes,
            "max_rows": log.max_rows,
            "max_days": log.max_days,
        },
    }


def _files(paths: Paths) -> dict[str, str]:
    return {
        "llm_config": str(paths.llm_config),
        "provider_metadata": str(paths.provider_metadata),
        "database": str(paths.database),
    }


def active_providers(rotator: Rotator) -> dict[str, str | None]:
    """Backend -> the provider its next call uses. Blocking (SQLite)."""
    return {b.name: b.current for b in rotator.status()}


@admin_endpoint
async def get_settings(request: Request) -> Response:
    found = services(request)
    snapshot = found.router.snapshot()
    config = snapshot.config
    paths = None if found.adhoc else found.paths
    error = found.router.reload_error
    return ok(
        {
            "mode": "upstream" if found.adhoc else "config",
            "config_dir": None if paths is None else str(paths.config_dir),
            "files": None if paths is None else _files(paths),
            "config_version": snapshot.version,
            "config_error": None if error is None else str(error),
            "default_backend": config.default_backend,
            "order": list(config.order),
            "active_providers": await in_thread(active_providers, found.rotator),
            "proxy": proxy_settings_json(snapshot.settings),
            "warnings": [str(w) for w in config.warnings],
        }
    )


@admin_endpoint
async def get_active_provider(request: Request) -> Response:
    return ok({"active_providers": await in_thread(active_providers, services(request).rotator)})


def _activate(rotator: Rotator, backend: str, provider: str) -> dict[str, Any]:
    config = rotator.config
    if not config.backend(backend).enabled:
        raise ApiError(
            409,
            "BACKEND_DISABLED",
            f"backend {backend!r} is disabled",
            hint=f"enable it first: POST /v1/backends/{backend}/enable",
        )
    if not config.provider(backend, provider).enabled:
        raise ApiError(
            409,
            "PROVIDER_DISABLED",
            f"provider {backend}/{provider} is disabled",
            hint=f"enable it first: POST /v1/providers/{backend}/{provider}/enable",
        )
    previous = rotator.current_provider_name(backend)
    rotator.set_current(backend, provider)
    return {
        "backend": backend,
        "provider": rotator.current_provider_name(backend),
        "previous": previous,
    }


@admin_endpoint
async def put_active_provider(request: Request) -> Response:
    """Body ``{"backend": "qwen", "provider": "qwen-azure"}`` (or ``"provider": "qwen/x"``)."""
    body = await Body.read(request)
    backend = body.opt_string("backend")
    provider = body.string("provider")
    body.done()
    if "/" in provider:
        head, _, provider = provider.partition("/")
        if backend is not None and backend != head:
            raise invalid(f"provider {head}/{provider} is not in backend {backend!r}")
        backend = head
    if backend is None:
        raise invalid('"backend" is required', hint='or write "provider": "BACKEND/PROVIDER"')
    return ok(await in_thread(_activate, services(request).rotator, backend, provider))
