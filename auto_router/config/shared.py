"""``[state]`` in llm_config.toml: where the rotation state lives when replicas share it.

    [state]
    url = "redis://127.0.0.1:6379/0"   # absent: the SQLite database (one machine)
    prefix = "auto-router"             # the Redis keys' prefix (several teams on one Redis)

``AUTO_ROUTER_STATE_URL`` in the environment wins over the file, so a password in the URL
can stay out of it (``rotation.state.open_state_store`` reads both). Checked here so that
``config validate`` names the file, line and key of each problem; ``checks.build_config``
calls it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from ..secrets import Secret

STATE_URL_ENV: Final = "AUTO_ROUTER_STATE_URL"
STATE_SCHEMES: Final = ("redis://", "rediss://", "unix://")
DEFAULT_PREFIX: Final = "auto-router"
_PREFIX: Final = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
_KEYS: Final = ("url", "prefix")

#: (key or ``None`` for the table itself, message)
Report = Callable[[str | None, str], None]


@dataclass(frozen=True)
class StateConfig:
    #: ``None``: the SQLite state of this machine. A URL may hold a password: a Secret.
    url: Secret | None = field(default=None, repr=False)
    prefix: str = DEFAULT_PREFIX


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
