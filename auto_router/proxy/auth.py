"""Tokens: the admin token for the management API, and the bind-address safety rule."""

from __future__ import annotations

import functools
import hmac
import ipaddress
from collections.abc import Awaitable, Callable, Iterable

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


def admin_error(request: Request, tokens: Iterable[Secret | None]) -> Response | None:
    """``None`` when the request may use the management API, else the 401 to send.

    ``tokens`` are the admin tokens in force: the configured one and the one the proxy was
    started with (the managed proxy's, kept in its 0600 ``proxy.json``; the one
    ``auto-router proxy`` writes to its 0600 token file). With none, nothing is allowed:
    a loopback address is no defence against another local user.
    """
    presented = presented_token(request)
    if any(t is not None and token_matches(presented, t) for t in tokens):
        return None
    return JSONResponse(
        {
            "error": {
                "message": "the management API needs Authorization: Bearer <admin token>",
                "type": "authentication_error",
                "code": "UNAUTHORIZED",
                "hint": "the token is [proxy] admin_token, or the one in the proxy's token "
                "file (`auto-router proxy` prints its path; a run's proxy keeps it in "
                "proxy.json)",
            }
        },
        status_code=401,
        headers={"www-authenticate": "Bearer"},
    )


Endpoint = Callable[[Request], Awaitable[Response]]


def admin_only(
    tokens_of: Callable[[Request], Iterable[Secret | None]],
) -> Callable[[Endpoint], Endpoint]:
    """Decorator for management endpoints:
    ``@admin_only(lambda r: services_of(r).admin_tokens)``."""

    def wrap(endpoint: Endpoint) -> Endpoint:
        @functools.wraps(endpoint)
        async def guarded(request: Request) -> Response:
            refused = admin_error(request, tokens_of(request))
            return refused if refused is not None else await endpoint(request)

        return guarded

    return wrap
