"""The ``[proxy]`` table of llm_config.toml, validated into a frozen dataclass.

```toml
[proxy]
host = "127.0.0.1"
port = 3001
default_backend = "qwen"          # else [message_backend].default
admin_token = "${AUTO_ROUTER_ADMIN_TOKEN}"   # management API; required off loopback
client_tokens = ["${PROXY_CLIENT_TOKEN}"]    # optional: required on the proxy endpoints
max_attempts = 3                  # upstream attempts per request (retries included)
connect_timeout = 10              # seconds to open a connection
header_timeout = 30               # streams: seconds to the response head
first_token_timeout = 60          # streams: head -> first event (a provider may set its own)
idle_timeout = 60                 # streams: longest gap between chunks (provider `timeout` wins)
total_timeout = 600               # non-streaming: the whole answer (provider `timeout` wins)
max_retry_wait = 5                # a 429 asking to wait no longer than this is waited out
failure_threshold = 3             # outages in a row (5xx, refused, timeout) that open ...
failure_cooldown = 30             # ... a provider's circuit breaker this many seconds
continue_streams = true           # a stream cut mid-answer is continued by the next provider
fallback = true                   # after the backend's providers, try the next backends in order

[proxy.models]                    # client model name -> backend
"qwen3-coder" = "qwen"

[proxy.request_log]
enabled = true
bodies = false                    # store request/response bodies (redacted, truncated)
max_rows = 100000
max_days = 30
```
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final

from ..config import Config
from ..errors import ConfigValidationError
from ..expand import ExpansionError, expand
from ..secrets import Secret
from ..values import (
    as_bool,
    as_str,
    port_number,
    positive_number,
    positive_seconds,
    whole_number,
)


def non_negative_seconds(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ValueError(f"expected a number of seconds >= 0, got {value!r}")
    return float(value)


ADMIN_TOKEN_ENV: Final = "AUTO_ROUTER_ADMIN_TOKEN"
DEFAULT_PORT: Final = 3001


@dataclass(frozen=True)
class RequestLogSettings:
    enabled: bool = True
    bodies: bool = False
    max_body_bytes: int = 16_384
    max_rows: int = 100_000
    max_days: float = 30.0


@dataclass(frozen=True)
class ProxySettings:
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    default_backend: str | None = None
    admin_token: Secret | None = field(default=None, repr=False)
    client_tokens: tuple[Secret, ...] = field(default=(), repr=False)
    models: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    max_attempts: int = 3
    connect_timeout: float = 10.0
    header_timeout: float = 30.0
    first_token_timeout: float = 60.0
    idle_timeout: float = 60.0
    total_timeout: float = 600.0
    #: The old name of ``idle_timeout`` (and the non-streaming limit); kept for old files.
    read_timeout: float | None = None
    max_retry_wait: float = 5.0
    failure_threshold: int = 3
    failure_cooldown: float = 30.0
    continue_streams: bool = True
    fallback: bool = True
    request_log: RequestLogSettings = field(default_factory=RequestLogSettings)


_KEYS: Final[Mapping[str, Callable[[Any], Any]]] = {
    "host": as_str,
    "port": port_number,
    "default_backend": as_str,
    "max_attempts": whole_number,
    "connect_timeout": positive_seconds,
    "header_timeout": positive_seconds,
    "first_token_timeout": positive_seconds,
    "idle_timeout": positive_seconds,
    "total_timeout": positive_seconds,
    "read_timeout": positive_seconds,
    "max_retry_wait": non_negative_seconds,
    "failure_threshold": whole_number,
    "failure_cooldown": positive_seconds,
    "continue_streams": as_bool,
    "fallback": as_bool,
}
_LOG_KEYS: Final[Mapping[str, Callable[[Any], Any]]] = {
    "enabled": as_bool,
    "bodies": as_bool,
    "max_body_bytes": whole_number,
    "max_rows": whole_number,
    "max_days": positive_number,
}


def parse_proxy_settings(config: Config, environ: Mapping[str, str] | None = None) -> ProxySettings:
    """Validate ``config.proxy``; errors name the file and the key path."""
    env = os.environ if environ is None else environ
    raw = dict(config.proxy)
    path = config.paths.llm_config

    def fail(key: str, message: str) -> ConfigValidationError:
        return ConfigValidationError(message, path=path, key_path=f"[proxy].{key}")

    values: dict[str, Any] = {}
    for key, convert in _KEYS.items():
        if key in raw:
            try:
                values[key] = convert(raw[key])
            except ValueError as exc:
                raise fail(key, str(exc)) from None
    old = values.get("read_timeout")
    if old is not None:  # the single timeout of older versions: idle and total limits
        values.setdefault("idle_timeout", old)
        values.setdefault("total_timeout", old)
    default = values.get("default_backend")
    if default is not None and default not in config.backends:
        raise fail("default_backend", f"backend {default!r} is not defined")

    def secret(key: str, text: Any) -> Secret | None:
        try:
            value = expand(as_str(text), env)
        except (ValueError, ExpansionError) as exc:
            raise fail(key, str(exc)) from None
        return Secret(value) if value else None

    admin = secret("admin_token", raw["admin_token"]) if "admin_token" in raw else None
    if env.get(ADMIN_TOKEN_ENV):
        admin = Secret(env[ADMIN_TOKEN_ENV])
    tokens_raw = raw.get("client_tokens", [])
    if not isinstance(tokens_raw, list):
        raise fail("client_tokens", "expected a list of strings")
    tokens = tuple(t for t in (secret("client_tokens", v) for v in tokens_raw) if t)

    models_raw = raw.get("models", {})
    if not isinstance(models_raw, dict):
        raise fail("models", 'expected a table like [proxy.models] "model-name" = "backend"')
    for model, target in models_raw.items():
        if not isinstance(target, str):
            raise fail(f'models."{model}"', 'expected "backend" or "backend/provider"')
        backend, _, provider = target.partition("/")
        if backend not in config.backends:
            raise fail(f'models."{model}"', f"backend {backend!r} is not defined")
        if provider and provider not in config.providers.get(backend, {}):
            raise fail(f'models."{model}"', f"backend {backend!r} has no provider {provider!r}")

    log_raw = raw.get("request_log", {})
    if not isinstance(log_raw, dict):
        raise fail("request_log", "expected a table [proxy.request_log]")
    log_values: dict[str, Any] = {}
    for key, convert in _LOG_KEYS.items():
        if key in log_raw:
            try:
                log_values[key] = convert(log_raw[key])
            except ValueError as exc:
                raise fail(f"request_log.{key}", str(exc)) from None
    return ProxySettings(
        admin_token=admin,
        client_tokens=tokens,
        models=MappingProxyType(dict(models_raw)),
        request_log=RequestLogSettings(**log_values),
        **values,
    )


KNOWN_KEYS: Final = frozenset({*_KEYS, "admin_token", "client_tokens", "models", "request_log"})


def unknown_keys(config: Config) -> list[str]:
    """Keys of ``[proxy]`` this version does not know (reported as warnings)."""
    return sorted(k for k in config.proxy if k not in KNOWN_KEYS)
