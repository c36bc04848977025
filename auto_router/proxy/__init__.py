"""The OpenAI-compatible proxy: routing, failover, request log. See docs/proxy.md."""

from __future__ import annotations

from .app import ProxyApp, ProxyOptions, create_app
from .auth import admin_error, admin_only, check_bind
from .services import Services, services_of
from .settings import ProxySettings, RequestLogSettings, parse_proxy_settings

__all__ = [
    "ProxyApp",
    "ProxyOptions",
    "ProxySettings",
    "RequestLogSettings",
    "Services",
    "admin_error",
    "admin_only",
    "check_bind",
    "create_app",
    "parse_proxy_settings",
    "services_of",
]
