"""The ``[proxy]`` table of llm_config.toml, as the proxy uses it.

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
