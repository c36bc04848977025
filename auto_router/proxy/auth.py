"""Tokens: the admin token for the management API, and the bind-address safety rule."""

from __future__ import annotations

import functools
import hmac
import ipaddress
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..config.proxy import ADMIN_TOKEN_ENV, ProxySettings
from ..errors import UnsafeBindError
from ..secrets import Secret


def is_loopback(host: str) -> bool:
    if host in ("localhost", "ip6-localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(host: str, settings: ProxySettings) -> None:
    """Refuse to listen beyond this machine unless tokens protect both doors.

    Off loopback anyone on the network can connect: the management API needs an admin
    token and the data path (which spends the providers' quota) needs client tokens.
    """
    if is_loopback(host):
        return
    missing = []
    if settings.admin_token is None:
        missing.append(f"an admin token ({ADMIN_TOKEN_ENV}, or admin_token in [proxy])")
    if not settings.client_tokens:
        missing.append('client tokens (client_tokens = ["${PROXY_CLIENT_TOKEN}"] in [proxy])')
    if not missing:
        return
    raise UnsafeBindError(
        f"refusing to listen on {host}: other machines could reach the proxy, and "
        + " and ".join(missing)
        + (" is" if len(missing) == 1 else " are")
        + " not set",
        hint='in llm_config.toml set [proxy] client_tokens = ["${PROXY_CLIENT_TOKEN}"] and '
        f'admin_token = "${{{ADMIN_TOKEN_ENV}}}", export both variables, and give clients '
        "the client token; or bind to 127.0.0.1",
    )


def presented_token(request: Request) -> str | None:
    """The bearer token of ``Authorization`` (or ``x-api-key``), if any."""
    value = request.headers.get("authorization")
    if value and value.lower().startswith("bearer "):
        return value[7:].strip()
    return request.headers.get("x-api-key")


def token_matches(presented: str | None, expected: Secret) -> bool:
    return presented is not None and hmac.compare_digest(
        presented.encode(), expected.reveal().encode()
    )


def admin_error(request: Request, settings: ProxySettings) -> Response | None:
    """``None`` when the request may use the management API, else the 401 to send.

    With no admin token configured the proxy only listens on loopback (``check_bind``),
    so local management calls are allowed then.
    """
    token = settings.admin_token
    if token is None or token_matches(presented_token(request), token):
        return None
    return JSONResponse(
        {
            "error": {
                "message": "the management API needs Authorization: Bearer <admin token>",
                "type": "authentication_error",
                "code": "UNAUTHORIZED",
            }
        },
        status_code=401,
        headers={"www-authenticate": "Bearer"},
    )


Endpoint = Callable[[Request], Awaitable[Response]]


def admin_only(settings_of: Callable[[Request], ProxySettings]) -> Callable[[Endpoint], Endpoint]:
    """Decorator for management endpoints: ``@admin_only(lambda r: services_of(r).settings)``."""

    def wrap(endpoint: Endpoint) -> Endpoint:
        @functools.wraps(endpoint)
        async def guarded(request: Request) -> Response:
            refused = admin_error(request, settings_of(request))
            return refused if refused is not None else await endpoint(request)

        return guarded

    return wrap
