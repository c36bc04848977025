"""The ``[proxy]`` table of llm_config.toml, validated into a frozen dataclass.

```toml
[proxy]
host = "127.0.0.1"
port = 3001
default_backend = "qwen"          # else [message_backend].default
admin_token = "${AUTO_ROUTER_ADMIN_TOKEN}"   # management API; required off loopback
client_tokens = ["${PROXY_CLIENT_TOKEN}"]    # optional: required on the proxy endpoints
max_attempts = 3                  # providers tried per request before giving up
connect_timeout = 10              # seconds
read_timeout = 300                # first byte, and between stream chunks (provider `timeout` wins)
failure_threshold = 3             # consecutive outages (5xx, refused, timeout) that ...
failure_cooldown = 60             # ... rest a provider this many seconds
fallback = true                   # after the backend's providers, try the next backends in order
allowed_hosts = ["proxy.lan"]     # extra Host names served (bound and loopback names always are)
allowed_origins = []              # browser origins allowed to call it (CORS); none by default
max_body_bytes = 33554432         # largest request body (32 MiB); larger gets 413

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

ADMIN_TOKEN_ENV: Final = "AUTO_ROUTER_ADMIN_TOKEN"
DEFAULT_PORT: Final = 3001
DEFAULT_MAX_BODY: Final = 32 * 1024 * 1024


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
    read_timeout: float = 300.0
    failure_threshold: int = 3
    failure_cooldown: float = 60.0
    fallback: bool = True
    request_log: RequestLogSettings = field(default_factory=RequestLogSettings)
    #: Host names (``name`` or ``name:port``) served besides the bound and loopback ones.
    allowed_hosts: tuple[str, ...] = ()
    #: Browser origins (``https://app.example``) allowed to call the proxy, with CORS.
    allowed_origins: tuple[str, ...] = ()
    max_body_bytes: int = DEFAULT_MAX_BODY


def _names(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ValueError("expected a list of non-empty strings")
    return tuple(v.strip().lower().rstrip("/") for v in value)


_KEYS: Final[Mapping[str, Callable[[Any], Any]]] = {
    "host": as_str,
    "port": port_number,
    "default_backend": as_str,
    "max_attempts": whole_number,
    "connect_timeout": positive_seconds,
    "read_timeout": positive_seconds,
    "failure_threshold": whole_number,
    "failure_cooldown": positive_seconds,
    "fallback": as_bool,
    "allowed_hosts": _names,
    "allowed_origins": _names,
    "max_body_bytes": whole_number,
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
