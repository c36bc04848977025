"""The ``[proxy]`` table of llm_config.toml: its schema and its checks.

This lives in the library, not in ``proxy/``, because the same checks run for
``config validate``, before every edit and at the proxy's start-up (one validation): a
``[proxy]`` problem is found with file, line and key path wherever it is looked for.

Adding a key is one line: a field declared with ``setting(default, checker)`` below. Its
checker (``values.py``) converts the TOML value or raises ``ValueError``.

Only the token values (``admin_token``, ``client_tokens``) depend on the environment; their
``${VAR}`` syntax is checked here and their expansion happens when the proxy starts
(``config.parse_proxy_settings``) and in ``config validate``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import Field, dataclass, field, fields
from types import MappingProxyType
from typing import Any, Final

from ..secrets import Secret
from .expand import ExpansionError, references
from .source import TomlSource
from .values import (
    as_bool,
    as_str,
    count_up_to,
    port_number,
    positive_days,
    positive_seconds,
    seconds_or_zero,
    whole_number,
    whole_number_up_to,
)

ADMIN_TOKEN_ENV: Final = "AUTO_ROUTER_ADMIN_TOKEN"
DEFAULT_PORT: Final = 3001
DEFAULT_MAX_BODY: Final = 32 * 1024 * 1024
#: The caps on what an upstream sends back (issue 18; docs/proxy.md, "Caps on answers").
#: A whole answer, decompressed: the largest real one is an embeddings batch (2,048
#: inputs of 3,072 dimensions is ~34 MB as base64, the SDKs' default encoding).
MAX_RESPONSE_BYTES: Final = 64 * 1024 * 1024
#: One SSE event: a delta is a few hundred bytes; a Responses ``response.completed``
#: repeats the whole answer.
MAX_EVENT_BYTES: Final = 16 * 1024 * 1024
#: A whole stream, decompressed: a 128k-token answer in Chat deltas is ~40 MB.
MAX_STREAM_BYTES: Final = 256 * 1024 * 1024
_CHECK: Final = "check"

#: ``report(key_path, message)``: ``key_path`` is relative to ``[proxy]``, e.g. ``("port",)``.
Report = Callable[[tuple[str, ...], str], None]


def host_names(value: Any) -> tuple[str, ...]:
    """``allowed_hosts`` / ``allowed_origins``: non-empty strings, compared lower-case."""
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ValueError("expected a list of non-empty strings")
    return tuple(v.strip().lower().rstrip("/") for v in value)


def setting(default: Any, check: Callable[[Any], Any]) -> Any:
    """A field read from TOML and checked by ``check``."""
    return field(default=default, metadata={_CHECK: check})


@dataclass(frozen=True)
class RequestLogSettings:
    enabled: bool = setting(True, as_bool)
    bodies: bool = setting(False, as_bool)
    max_body_bytes: int = setting(16_384, whole_number)
    max_rows: int = setting(100_000, whole_number)
    max_days: float = setting(30.0, positive_days)


@dataclass(frozen=True)
class ProxySettings:
    host: str = setting("127.0.0.1", as_str)
    port: int = setting(DEFAULT_PORT, port_number)
    default_backend: str | None = setting(None, as_str)
    admin_token: Secret | None = field(default=None, repr=False)
    client_tokens: tuple[Secret, ...] = field(default=(), repr=False)
    models: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    #: Providers one request may try (a retry on the same one is not another provider) ...
    max_attempts: int = setting(10, whole_number_up_to(100))
    #: ... and same-provider retries and short waits it may make in all, on top of them.
    max_retries: int = setting(2, count_up_to(10))
    connect_timeout: float = setting(10.0, positive_seconds)
    header_timeout: float = setting(30.0, positive_seconds)
    first_token_timeout: float = setting(60.0, positive_seconds)
    idle_timeout: float = setting(60.0, positive_seconds)
    total_timeout: float = setting(600.0, positive_seconds)
    #: The old name of ``idle_timeout`` (and the non-streaming limit); kept for old files.
    read_timeout: float | None = setting(None, positive_seconds)
    max_retry_wait: float = setting(5.0, seconds_or_zero)
    failure_threshold: int = setting(3, whole_number_up_to(10_000))
    failure_cooldown: float = setting(30.0, positive_seconds)
    continue_streams: bool = setting(True, as_bool)
    fallback: bool = setting(True, as_bool)
    request_log: RequestLogSettings = field(default_factory=RequestLogSettings)
    #: Host names (``name`` or ``name:port``) served besides the bound and loopback ones.
    allowed_hosts: tuple[str, ...] = setting((), host_names)
    #: Browser origins (``https://app.example``) allowed to call the proxy, with CORS.
    allowed_origins: tuple[str, ...] = setting((), host_names)
    max_body_bytes: int = setting(DEFAULT_MAX_BODY, whole_number)
    #: What one client may hold (both proxies; read at start, see proxy/server.py): a request
    #: head must be whole this long after its first byte (a new connection's, after connect),
    request_head_timeout: float = setting(10.0, positive_seconds)
    #: an idle keep-alive connection is closed after this long,
    keep_alive_timeout: float = setting(30.0, positive_seconds)
    #: and past this many open connections (fewer if the descriptor limit is lower) a new
    #: one gets a 503 and is closed.
    max_connections: int = setting(4096, whole_number)
    # -- caps on what an upstream sends back (issue 18): past one, the answer is refused
    max_response_bytes: int = setting(MAX_RESPONSE_BYTES, whole_number)
    max_event_bytes: int = setting(MAX_EVENT_BYTES, whole_number)
    max_stream_bytes: int = setting(MAX_STREAM_BYTES, whole_number)
    # -- end of the caps


def _checked_fields(cls: type) -> dict[str, Field[Any]]:
    return {f.name: f for f in fields(cls) if _CHECK in f.metadata}


#: Keys whose values are not plain settings (checked by their own code below).
_SPECIAL: Final = ("admin_token", "client_tokens", "models", "request_log")
KNOWN_KEYS: Final = frozenset({*_checked_fields(ProxySettings), *_SPECIAL})


def check_proxy(
    raw: Mapping[str, Any],
    providers: Mapping[str, Mapping[str, Any]],
    backends: Mapping[str, Any],
    error: Report,
    warn: Report,
) -> ProxySettings:
    """``[proxy]`` as settings (tokens not yet expanded: left empty). Every problem goes to
    ``error``/``warn`` with its key path; what is wrong keeps its default."""
    values = _convert(raw, ProxySettings, (), error)
    old = values.get("read_timeout")
    if old is not None:  # the single timeout of older versions: idle and total limits
        values.setdefault("idle_timeout", old)
        values.setdefault("total_timeout", old)
    default = values.get("default_backend")
    if default is not None and default not in backends:
        error(("default_backend",), f"backend {default!r} is not defined")
        del values["default_backend"]
    _check_tokens(raw, error)
    models = _check_models(raw.get("models", {}), providers, backends, error)
    log_raw = raw.get("request_log", {})
    if not isinstance(log_raw, dict):
        error(("request_log",), "expected a table [proxy.request_log]")
        log_raw = {}
    log = _convert(log_raw, RequestLogSettings, ("request_log",), error)
    for key in raw:
        if key not in KNOWN_KEYS:
            warn((key,), "unknown key, ignored")
    for key in log_raw:
        if key not in _checked_fields(RequestLogSettings):
            warn(("request_log", key), "unknown key, ignored")
    return ProxySettings(
        models=MappingProxyType(models), request_log=RequestLogSettings(**log), **values
    )


def token_values(raw: Mapping[str, Any]) -> list[tuple[str, str]]:
    """``(key, text)`` of every token as written (already checked by ``check_proxy``)."""
    found: list[tuple[str, str]] = []
    if isinstance(raw.get("admin_token"), str):
        found.append(("admin_token", raw["admin_token"]))
    tokens = raw.get("client_tokens", [])
    if isinstance(tokens, list):
        found.extend(("client_tokens", t) for t in tokens if isinstance(t, str))
    return found


def token_lines(source: TomlSource | None, proxy: Mapping[str, Any]) -> dict[str, int]:
    """The line of each token key in ``[proxy]``, for the errors of their expansion."""
    lines = {k: source.line_of(("proxy",), k) if source else None for k, _ in token_values(proxy)}
    return {k: line for k, line in lines.items() if line}


def _convert(
    raw: Mapping[str, Any], cls: type, prefix: tuple[str, ...], error: Report
) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, spec in _checked_fields(cls).items():
        if name in raw:
            try:
                values[name] = spec.metadata[_CHECK](raw[name])
            except ValueError as exc:
                error((*prefix, name), str(exc))
    return values


def _check_tokens(raw: Mapping[str, Any], error: Report) -> None:
    if "admin_token" in raw and not isinstance(raw["admin_token"], str):
        error(("admin_token",), "expected a string")
    tokens = raw.get("client_tokens", [])
    if not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens):
        error(("client_tokens",), "expected a list of strings")
    for key, text in token_values(raw):
        try:
            references(text)
        except ExpansionError as exc:
            error((key,), str(exc))


def _check_models(
    raw: Any,
    providers: Mapping[str, Mapping[str, Any]],
    backends: Mapping[str, Any],
    error: Report,
) -> dict[str, str]:
    if not isinstance(raw, dict):
        error(("models",), 'expected a table like [proxy.models] "model-name" = "backend"')
        return {}
    models: dict[str, str] = {}
    for model, target in raw.items():
        where = ("models", model)
        if not isinstance(target, str):
            error(where, 'expected "backend" or "backend/provider"')
            continue
        backend, _, provider = target.partition("/")
        if backend not in backends:
            error(where, f"backend {backend!r} is not defined")
        elif provider and provider not in providers.get(backend, {}):
            error(where, f"backend {backend!r} has no provider {provider!r}")
        else:
            models[model] = target
    return models
