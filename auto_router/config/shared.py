"""``[state]`` and ``[request_log]`` in llm_config.toml: the stores replicas share.

    [state]
    url = "redis://127.0.0.1:6379/0"   # absent: the SQLite database (one machine)
    prefix = "auto-router"             # the Redis keys' prefix (several teams on one Redis)

    [request_log]
    url = "postgresql://auto_router@db.internal/auto_router"   # absent: SQLite

``AUTO_ROUTER_STATE_URL`` and ``AUTO_ROUTER_REQUEST_LOG_URL`` in the environment win over
the file, so a password in a URL can stay out of it (``rotation.state.open_state_store``,
``request_log_url``). Checked here so that ``config validate`` names the file, line and key
of each problem; ``checks.build_config`` calls ``parse_shared``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Final

from ..secrets import Secret

STATE_URL_ENV: Final = "AUTO_ROUTER_STATE_URL"
REQUEST_LOG_URL_ENV: Final = "AUTO_ROUTER_REQUEST_LOG_URL"
LOG_SCHEMES: Final = ("postgresql://", "postgres://")
#: The top-level tables this module checks.
TABLES: Final = ("state", "request_log")
STATE_SCHEMES: Final = ("redis://", "rediss://", "unix://")
DEFAULT_PREFIX: Final = "auto-router"
_PREFIX: Final = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
_KEYS: Final = ("url", "prefix")

#: (key or ``None`` for the table itself, message)
Report = Callable[[str | None, str], None]
#: (table, key or ``None``, message)
TableReport = Callable[[str, str | None, str], None]


@dataclass(frozen=True)
class StateConfig:
    #: ``None``: the SQLite state of this machine. A URL may hold a password: a Secret.
    url: Secret | None = field(default=None, repr=False)
    prefix: str = DEFAULT_PREFIX


@dataclass(frozen=True)
class SharedConfig:
    state: StateConfig = field(default_factory=StateConfig)
    #: ``[request_log] url``: PostgreSQL; ``None``: the SQLite database.
    request_log_url: Secret | None = field(default=None, repr=False)

    def log_url(self, env: Mapping[str, str] = os.environ) -> str | None:
        """The request log's PostgreSQL URL: the environment's, else the file's."""
        url = env.get(REQUEST_LOG_URL_ENV)
        return url or (self.request_log_url.reveal() if self.request_log_url else None)


def parse_shared(data: Mapping[str, Any], error: TableReport, warn: TableReport) -> SharedConfig:
    """Both tables of llm_config.toml (``data``) checked."""
    state = parse_state(data.get("state"), partial(error, "state"), partial(warn, "state"))
    return SharedConfig(
        state=state,
        request_log_url=_log_url(
            data.get("request_log"), partial(error, "request_log"), partial(warn, "request_log")
        ),
    )


def _log_url(raw: Any, error: Report, warn: Report) -> Secret | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        error(None, "expected a table [request_log]")
        return None
    for key in raw:
        if key != "url":
            warn(key, "unknown key, ignored (the log's own settings are [proxy.request_log])")
    value = raw.get("url")
    if value is None:
        return None
    if not isinstance(value, str) or not value.startswith(LOG_SCHEMES):
        error("url", "expected a PostgreSQL URL: postgresql://user@host:port/database")
        return None
    return Secret(value)


def parse_state(raw: Any, error: Report, warn: Report) -> StateConfig:
    """``[state]`` as written -> ``StateConfig``; each problem reported with its key."""
    if raw is None:
        return StateConfig()
    if not isinstance(raw, dict):
        error(None, "expected a table [state]")
        return StateConfig()
    for key in raw:
        if key not in _KEYS:
            warn(key, "unknown key, ignored")
    return StateConfig(url=_url(raw.get("url"), error), prefix=_prefix(raw.get("prefix"), error))


def state_url_problem(url: str) -> str | None:
    """Why ``url`` cannot name a state store (``None``: it can); never repeats the URL."""
    if not url.startswith(STATE_SCHEMES):
        return "expected a Redis URL: redis://host:port/db, rediss://… or unix://…"
    return None


def _url(value: Any, error: Report) -> Secret | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        error("url", "expected a string like redis://127.0.0.1:6379/0")
        return None
    problem = state_url_problem(value)
    if problem:
        error("url", problem)
        return None
    return Secret(value)


def _prefix(value: Any, error: Report) -> str:
    if value is None:
        return DEFAULT_PREFIX
    if not isinstance(value, str) or not _PREFIX.fullmatch(value):
        error("prefix", "expected up to 64 letters, digits or _ . : -")
        return DEFAULT_PREFIX
    return value
