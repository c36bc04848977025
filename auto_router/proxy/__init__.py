"""The OpenAI-compatible proxy: routing, failover, request log. See docs/proxy.md."""

from __future__ import annotations

from ..config import parse_proxy_settings
from ..config.proxy import ProxySettings, RequestLogSettings
from .app import ProxyApp, ProxyOptions, create_app
from .auth import admin_error, admin_only, check_bind
from .services import Services, services_of

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
