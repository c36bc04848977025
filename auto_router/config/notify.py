"""``[notify]`` in llm_config.toml: the command run on each rotation event, and the marks.

    [notify]
    command = ["notify-send", "auto-router"]   # the event's one-line message is appended
    thresholds = [80, 95, 100]                 # percent of a window used, for threshold events
    timeout = 10                               # seconds before a command is killed

Checked here (``parse_notify``) so that ``config validate`` names the file, line and key of
each problem; ``checks.build_config`` calls it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

DEFAULT_THRESHOLDS: Final = (80.0, 95.0, 100.0)
DEFAULT_TIMEOUT: Final = 10.0
_KEYS: Final = ("command", "thresholds", "timeout")

#: (key or ``None`` for the table itself, message)
Report = Callable[[str | None, str], None]


@dataclass(frozen=True)
class NotifyConfig:
    #: The program and its first arguments; empty: no notifications.
    command: tuple[str, ...] = ()
    #: Percent of a window used at which a threshold notification goes out, ascending.
    thresholds: tuple[float, ...] = DEFAULT_THRESHOLDS
    #: Seconds a command may run before it is killed.
    timeout: float = DEFAULT_TIMEOUT


def parse_notify(raw: Any, error: Report, warn: Report) -> NotifyConfig:
    """``[notify]`` as written -> ``NotifyConfig``; each problem reported with its key."""
    if raw is None:
        return NotifyConfig()
    if not isinstance(raw, Mapping):
        error(None, "expected a table [notify]")
        return NotifyConfig()
    for key in raw:
        if key not in _KEYS:
            warn(key, "unknown key, ignored")
    return NotifyConfig(
        command=_command(raw.get("command", []), error),
        thresholds=_thresholds(raw.get("thresholds"), error),
        timeout=_timeout(raw.get("timeout"), error),
    )


def _command(value: Any, error: Report) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        error(
            "command", 'expected a list of non-empty strings, e.g. ["notify-send", "auto-router"]'
        )
        return ()
    return tuple(value)


def _thresholds(value: Any, error: Report) -> tuple[float, ...]:
    if value is None:
        return DEFAULT_THRESHOLDS
    numbers = isinstance(value, list) and all(
        isinstance(v, int | float) and not isinstance(v, bool) and 0 < v <= 100 for v in value
    )
    if not numbers:
        error("thresholds", "expected a list of percentages above 0 and at most 100")
        return DEFAULT_THRESHOLDS
    return tuple(sorted({float(v) for v in value}))


def _timeout(value: Any, error: Report) -> float:
    if value is None:
        return DEFAULT_TIMEOUT
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 3600:
        error("timeout", "expected seconds, above 0 and at most 3600")
        return DEFAULT_TIMEOUT
    return float(value)
