"""The management API of the proxy (see docs/management-api.md).

``admin_routes()`` is what ``create_app`` mounts next to the data path. Every endpoint needs
``Authorization: Bearer <admin token>``, on every address: the configured one
(``AUTO_ROUTER_ADMIN_TOKEN`` or ``[proxy].admin_token``) or the one the proxy was started with
(``ProxyOptions.admin_token``: the managed proxy's, in its 0600 ``proxy.json``; the one
``auto-router proxy`` generates into a 0600 token file). Loopback is no defence against
another local user. Endpoints that call a provider with its key (health, ``test``,
``models``) are POST-only, so no simple browser request reaches them. Changes go through the
same library as the CLI (``auto_router.editing``, the ``Rotator``) and are seen by the next
proxied request.
"""

from __future__ import annotations

from starlette.routing import BaseRoute, Route

from . import backends, checks, events, providers, requests, runs, sessions, settings, status

_PROVIDER = "/v1/providers/{backend}/{provider}"
_BACKEND = "/v1/backends/{backend}"


def admin_routes() -> list[BaseRoute]:
    """The management endpoints, to mount in the proxy's Starlette app."""
    return [
        # providers
        Route("/v1/providers", providers.list_providers, methods=["GET"]),
        Route("/v1/providers", providers.add_provider, methods=["POST"]),
        Route("/v1/providers/health", checks.providers_health, methods=["POST"]),
        Route("/v1/providers/reload", providers.reload_config, methods=["POST"]),
        Route("/v1/providers/templates", checks.list_templates, methods=["GET"]),
        Route(_PROVIDER, providers.show_provider, methods=["GET"]),
        Route(_PROVIDER, providers.edit_provider, methods=["PUT", "PATCH"]),
        Route(_PROVIDER, providers.remove_provider, methods=["DELETE"]),
        Route(f"{_PROVIDER}/enable", providers.enable_provider, methods=["POST"]),
        Route(f"{_PROVIDER}/disable", providers.disable_provider, methods=["POST"]),
        Route(f"{_PROVIDER}/rename", providers.rename_provider, methods=["POST"]),
        Route(f"{_PROVIDER}/keys/{{key}}/reset", providers.reset_key, methods=["POST"]),
        Route(f"{_PROVIDER}/keys/{{key}}/enable", providers.enable_key, methods=["POST"]),
        Route(f"{_PROVIDER}/keys/{{key}}/disable", providers.disable_key, methods=["POST"]),
        Route(f"{_PROVIDER}/reload", providers.reload_config, methods=["POST"]),
        Route(f"{_PROVIDER}/test", checks.test_provider, methods=["POST"]),
        Route(f"{_PROVIDER}/models", checks.provider_models, methods=["POST"]),
        Route(f"{_PROVIDER}/config", providers.get_config, methods=["GET"]),
        Route(f"{_PROVIDER}/config", providers.put_config, methods=["PUT"]),
        # settings and the shared rotation state
        Route("/v1/settings", settings.get_settings, methods=["GET"]),
        Route("/v1/settings/active_provider", settings.get_active_provider, methods=["GET"]),
        Route("/v1/settings/active_provider", settings.put_active_provider, methods=["PUT"]),
        # backends
        Route("/v1/backends", backends.list_backends, methods=["GET"]),
        Route("/v1/backends", backends.add_backend, methods=["POST"]),
        Route("/v1/backends/order", backends.set_order, methods=["PUT"]),
        Route("/v1/backends/default", backends.set_default, methods=["PUT"]),
        Route("/v1/backends/reset", backends.reset_all, methods=["POST"]),
        Route(_BACKEND, backends.show_backend, methods=["GET"]),
        Route(_BACKEND, backends.edit_backend, methods=["PUT", "PATCH"]),
        Route(_BACKEND, backends.remove_backend, methods=["DELETE"]),
        Route(f"{_BACKEND}/enable", backends.enable_backend, methods=["POST"]),
        Route(f"{_BACKEND}/disable", backends.disable_backend, methods=["POST"]),
        Route(f"{_BACKEND}/providers", backends.set_provider_order, methods=["PUT"]),
        Route(f"{_BACKEND}/rotate", backends.rotate_backend, methods=["POST"]),
        Route(f"{_BACKEND}/reset", backends.reset_backend, methods=["POST"]),
        # the request log
        Route("/v1/requests", requests.list_requests, methods=["GET"]),
        Route("/v1/stats", requests.get_stats, methods=["GET"]),
        Route("/v1/stats/series", requests.get_series, methods=["GET"]),
        # the rotation status with headroom windows and overflow (the dashboard's main view)
        Route("/v1/status", status.get_status, methods=["GET"]),
        # the launcher's runs (as `history`) and the sessions with affinity
        Route("/v1/runs", runs.list_runs, methods=["GET"]),
        Route("/v1/sessions", sessions.list_sessions, methods=["GET"]),
        # rotation events, as they happen (SSE)
        Route("/v1/events", events.stream_events, methods=["GET"]),
    ]


__all__ = ["admin_routes"]
