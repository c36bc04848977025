"""What every management endpoint shares: auth, errors as JSON, body parsing, threads.

Errors are mapped to HTTP here and nowhere else (``error_response``): every
``AutoRouterError`` keeps its ``code`` (the same one ``--json`` CLI output and the Python
API carry), gets a status from its place in the exception tree, and a body

    {"error": {"code": "PROVIDER_NOT_FOUND", "type": "not_found_error",
               "message": "...", "hint": "..."}}

Anything else becomes a 500 with the same shape and no traceback.
"""

from __future__ import annotations

import asyncio
import functools
import json
import secrets
import traceback
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final, ParamSpec, TypeVar

import structlog
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ...errors import (
    AllProvidersExhaustedError,
    AlreadyExistsError,
    AutoRouterError,
    ConfigError,
    ConfigValidationError,
    EditConflictError,
    InvalidIdentifierError,
    NotFoundError,
    StateError,
    UsageLimitError,
)
from ...paths import Paths
from ..auth import admin_error
from ..services import Services, services_of

log = structlog.get_logger("auto_router.proxy.admin")

P = ParamSpec("P")
T = TypeVar("T")
Endpoint = Callable[[Request], Awaitable[Response]]


class ApiError(AutoRouterError):
    """An error only the HTTP layer knows about (bad JSON, a field of the wrong type...)."""

    def __init__(self, status: int, code: str, message: str, *, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.status = status
        self.code = code


#: Status per branch of the exception tree; the first match wins (subclasses first).
_STATUS_OF: Final[tuple[tuple[type[AutoRouterError], int], ...]] = (
    (NotFoundError, 404),
    (AlreadyExistsError, 409),
    (EditConflictError, 409),
    (InvalidIdentifierError, 400),
    (ConfigValidationError, 400),
    (ConfigError, 409),  # the files on disk cannot be used as they are
    (UsageLimitError, 429),
    (AllProvidersExhaustedError, 503),
    (StateError, 503),
)
_TYPE_OF: Final = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    409: "conflict_error",
    429: "rate_limit_error",
    502: "bad_gateway",
    503: "service_unavailable",
}


def status_of(exc: AutoRouterError) -> int:
    own = getattr(exc, "status", None)
    if isinstance(own, int):
        return own
    for kind, status in _STATUS_OF:
        if isinstance(exc, kind):
            return status
    return 400


def error_body(status: int, code: str, message: str, hint: str | None = None) -> dict[str, Any]:
    kind = _TYPE_OF.get(status, "api_error")
    return {"error": {"code": code, "type": kind, "message": message, "hint": hint}}


def error_response(exc: AutoRouterError) -> JSONResponse:
    status = status_of(exc)
    body = error_body(status, exc.code, str(exc), exc.hint)
    problems = exc.problems if isinstance(exc, ConfigError) else []
    if len(problems) > 1:
        body["error"]["problems"] = [str(p) for p in problems]
    return JSONResponse(body, status_code=status)


def _internal_error(request: Request, exc: Exception) -> JSONResponse:
    # The traceback (no locals) goes to the log, redacted there; the client gets an id.
    request_id = secrets.token_hex(8)
    log.error(
        "management API request failed",
        request_id=request_id,
        method=request.method,
        path=request.url.path,
        error_type=type(exc).__name__,
        traceback="".join(traceback.format_exception(exc, chain=False, limit=20)),
    )
    body = error_body(500, "INTERNAL_ERROR", f"internal error (request id {request_id})")
    return JSONResponse(body, status_code=500)


def admin_endpoint(handler: Endpoint) -> Endpoint:
    """Auth (an admin token, always) and errors as JSON. Host and browser
    origin were checked before (``proxy.gate``), and the response is redacted there."""

    @functools.wraps(handler)
    async def endpoint(request: Request) -> Response:
        try:
            refused = admin_error(request, services(request).admin_tokens)
            if refused is not None:
                return refused
            return await handler(request)
        except AutoRouterError as exc:
            return error_response(exc)
        except Exception as exc:
            return _internal_error(request, exc)

    return endpoint


# ------------------------------------------------------------------------- helpers


def services(request: Request) -> Services:
    return services_of(request)


def config_paths(request: Request) -> Paths:
    """The configuration directory; refused in ``--upstream`` mode (there are no files)."""
    found = services(request)
    if found.adhoc or found.paths is None:
        raise ApiError(
            409,
            "NO_CONFIG_FILES",
            "the proxy runs with --upstream: there are no configuration files to change",
            hint="run `auto-router proxy` without --upstream to manage providers",
        )
    return found.paths


async def in_thread(func: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Blocking library calls (file locks, SQLite) run off the event loop."""
    return await asyncio.to_thread(func, *args, **kwargs)


def edited(request: Request) -> None:
    """After an edit: the next request (proxied or not) sees the new files, not after the
    stat interval."""
    found = services(request)
    found.rotator.invalidate_config()
    found.router.snapshot()


def ok(data: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse(data, status_code=status, headers=headers)


# ------------------------------------------------------------------------- bodies


def invalid(message: str, hint: str | None = None) -> ApiError:
    return ApiError(400, "VALIDATION_ERROR", message, hint=hint)


class Body:
    """A JSON object body, read field by field with type checks; unknown fields refused."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        self._data = dict(data)
        self._seen: set[str] = set()

    @classmethod
    async def read(cls, request: Request, *, optional: bool = False) -> Body:
        raw = await request.body()
        if not raw.strip():
            if optional:
                return cls({})
            raise ApiError(400, "INVALID_JSON", "the request needs a JSON object body")
        try:
            data = json.loads(raw)
        except ValueError as exc:
            raise ApiError(400, "INVALID_JSON", f"the body is not valid JSON: {exc}") from None
        if not isinstance(data, dict):
            raise ApiError(400, "INVALID_JSON", "the body must be a JSON object")
        return cls(data)

    def _get(self, key: str) -> Any:
        self._seen.add(key)
        return self._data.get(key)

    def has(self, key: str) -> bool:
        return key in self._data

    def string(self, key: str) -> str:
        value = self.opt_string(key)
        if value is None:
            raise invalid(f"{key!r} is required")
        return value

    def opt_string(self, key: str) -> str | None:
        value = self._get(key)
        if value is not None and not isinstance(value, str):
            raise invalid(f"{key!r} must be a string")
        return value

    def opt_int(self, key: str) -> int | None:
        value = self._get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise invalid(f"{key!r} must be a whole number")
        return value

    def flag(self, key: str, default: bool = False) -> bool:
        value = self._get(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise invalid(f"{key!r} must be true or false")
        return value

    def mapping(self, key: str) -> dict[str, Any]:
        value = self._get(key)
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise invalid(f"{key!r} must be an object")
        return value

    def everything(self) -> dict[str, Any]:
        """The whole object (a body that is itself the value, like a provider table)."""
        self._seen.update(self._data)
        return dict(self._data)

    def string_map(self, key: str) -> dict[str, str]:
        value = self.mapping(key)
        for name, item in value.items():
            if not isinstance(item, str):
                raise invalid(f"{key}.{name} must be a string")
        return value

    def names(self, key: str, *, required: bool = False) -> list[str]:
        value = self._get(key)
        if value is None:
            if required:
                raise invalid(f"{key!r} is required (a list of names)")
            return []
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise invalid(f"{key!r} must be a list of strings")
        return value

    def done(self) -> None:
        """Refuse fields nobody asked for (a typo must not be ignored silently)."""
        unknown = sorted(set(self._data) - self._seen)
        if unknown:
            raise invalid(
                f"unknown field {unknown[0]!r}",
                hint="accepted fields: " + ", ".join(sorted(self._seen)),
            )


def query_bool(request: Request, key: str) -> bool | None:
    value = request.query_params.get(key)
    if value is None or value == "":
        return None
    lowered = value.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise invalid(f"query parameter {key!r} must be true or false, not {value!r}")


def query_float(request: Request, key: str, *, default: float, maximum: float) -> float:
    value = request.query_params.get(key)
    if value is None or value == "":
        return default
    try:
        number = float(value)
    except ValueError:
        raise invalid(f"query parameter {key!r} must be a number, not {value!r}") from None
    if not 0 < number <= maximum:
        raise invalid(f"query parameter {key!r} must be in (0, {maximum:g}]")
    return number


def editing_module() -> Any:
    """The editing layer, imported on the first edit (tomlkit is not needed to start)."""
    from ... import editing

    return editing
