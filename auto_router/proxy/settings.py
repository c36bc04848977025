"""The ``[proxy]`` table of llm_config.toml, as the proxy uses it.

```toml
[proxy]
host = "127.0.0.1"
port = 3001
default_backend = "qwen"          # else [message_backend].default
admin_token = "${AUTO_ROUTER_ADMIN_TOKEN}"   # management API; required off loopback
client_tokens = ["${PROXY_CLIENT_TOKEN}"]    # optional: required on the proxy endpoints
max_attempts = 3                  # providers tried per request before giving up (1-100)
connect_timeout = 10              # seconds
read_timeout = 300                # first byte, and between stream chunks (provider `timeout` wins)
failure_threshold = 3             # consecutive outages (5xx, refused, timeout) that ...
failure_cooldown = 60             # ... rest a provider this many seconds
fallback = true                   # after the backend's providers, try the next backends in order

[proxy.models]                    # client model name -> backend
"qwen3-coder" = "qwen"

[proxy.request_log]
enabled = true
bodies = false                    # store request/response bodies (redacted, truncated)
max_rows = 100000
max_days = 30
```

The schema and every check live in the library (``auto_router.proxyconf``; add a key there,
one line), and run whenever the configuration is loaded: ``config validate``, every edit and
this module see the same problems with the same file, line and key. What is left here is the
part that depends on the environment: expanding the tokens' ``${VAR}`` references.
"""

from __future__ import annotations

from ..proxyconf import (
    ADMIN_TOKEN_ENV,
    DEFAULT_PORT,
    KNOWN_KEYS,
    ProxySettings,
    RequestLogSettings,
    parse_proxy_settings,
)

__all__ = [
    "ADMIN_TOKEN_ENV",
    "DEFAULT_PORT",
    "KNOWN_KEYS",
    "ProxySettings",
    "RequestLogSettings",
    "parse_proxy_settings",
]
