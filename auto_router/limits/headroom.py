"""Headroom: how much of each rate-limit window a provider has left, read from its headers.

Every proxied answer may carry its provider's rate-limit headers; this module turns them
into ``Window`` values (name, remaining, limit, reset time, when seen) and says whether a
provider is below the mark that makes rotation move on *before* a 429. Pure and standard
library only: it runs once per answer on the proxy's hot path (benchmarks/bench_headroom.py).

The formats, as each vendor documents them:

- Anthropic (https://docs.anthropic.com/en/api/rate-limits, "Response headers"):
  ``anthropic-ratelimit-{requests,tokens,input-tokens,output-tokens}-{limit,remaining,reset}``,
  the reset an RFC 3339 instant; ``retry-after`` (seconds) on a 429.
- OpenAI (https://platform.openai.com/docs/guides/rate-limits, "Rate limits in headers"):
  ``x-ratelimit-{limit,remaining,reset}-{requests,tokens}``, the reset a duration such as
  ``1s``, ``6m0s``, ``12ms`` (seen live: https://community.openai.com/t/1268905). Groq
  (https://console.groq.com/docs/rate-limits, "Rate limit headers") sends the same names, its
  ``-requests`` window being requests per *day* (RPD) and ``retry-after`` only on a 429;
  Together and DeepSeek use the OpenAI names as well.
- OpenRouter (https://openrouter.ai/docs/api-reference/limits): ``X-RateLimit-Limit``,
  ``X-RateLimit-Remaining`` and ``X-RateLimit-Reset`` in epoch *milliseconds* (a bare number is
  read as epoch ms, epoch s or delta seconds by its size).

- Subscriptions (issue 20): a Claude login's ``anthropic-ratelimit-unified-*`` and a ChatGPT
  login's ``x-codex-*`` windows, ``5h`` and ``7d``, read by ``subscription.py`` (its
  docstring cites the public client code they come from). They say only a used fraction:
  such a window counts in percent (``limit`` 100, ``used`` the exact fraction).

A window whose reset has passed says nothing any more (``fresh``): the provider refilled it.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Final, NamedTuple

from ..durations import parse_duration
from . import subscription

#: The mark below which a provider counts as exhausted until its window resets.
DEFAULT_ROTATE_BELOW: Final = 0.05

_ANTHROPIC: Final = "anthropic-ratelimit-"
_OPENAI: Final = "x-ratelimit-"
_FIELDS: Final = ("limit", "remaining", "reset")
#: The first letter of every header name read here, as str and as a byte: most headers of
#: an answer are passed over on this one look-up, before any slicing or decoding.
_FIRST: Final = frozenset(("x", "X", "a", "A", *b"xXaA"))
#: The key under which the unified set's common fields (status, claim, reset) are gathered.
_UNIFIED: Final = subscription.UNIFIED


class Window(NamedTuple):
    """One rate-limit window of a provider as its last answer described it (a named tuple:
    immutable, and made in a fraction of a frozen dataclass's time on the hot path)."""

    #: ``requests``, ``tokens``, ``input-tokens``, ``output-tokens``.
    name: str
    remaining: int
    limit: int | None = None
    #: Epoch seconds when the window is full again (``None``: not said).
    reset_at: float | None = None
    #: Epoch seconds of the answer that said so.
    seen_at: float = 0.0
    #: The used fraction a window says without counts (a subscription's ``5h``, ``7d``);
    #: ``remaining`` and ``limit`` are then the percent left of 100. ``None``: counted.
    used: float | None = None

    @property
    def utilization(self) -> float | None:
        """The used fraction, 0..1 (``None`` without a limit)."""
        if self.used is not None:
            return self.used
        if not self.limit or self.limit <= 0:
            return None
        return min(max(1.0 - self.remaining / self.limit, 0.0), 1.0)

    def fresh(self, now: float) -> bool:
        """Whether this still describes the provider: its reset has not passed yet."""
        return self.reset_at is None or self.reset_at > now

    def as_dict(self) -> dict[str, object]:
        return self._asdict()

    @classmethod
    def from_dict(cls, data: object) -> Window | None:
        """A stored window; ``None`` for anything that is not one (a hand-edited row)."""
        if not isinstance(data, dict):
            return None
        name, remaining = data.get("name"), data.get("remaining")
        limit, reset_at, seen_at = data.get("limit"), data.get("reset_at"), data.get("seen_at")
        used = data.get("used")  # absent in rows written before issue 20
        if not isinstance(name, str) or not isinstance(remaining, int):
            return None
        return cls(
            name,
            int(remaining),
            int(limit) if isinstance(limit, int) else None,
            float(reset_at) if isinstance(reset_at, int | float) else None,
            float(seen_at) if isinstance(seen_at, int | float) else 0.0,
            min(max(float(used), 0.0), 1.0) if isinstance(used, int | float) else None,
        )


def percent_window(name: str, used: float, reset_at: float | None, now: float) -> Window:
    """A window that says only its used fraction (clamped to 0..1), counted in percent."""
    used = min(max(used, 0.0), 1.0)
    return Window(name, round((1.0 - used) * 100), 100, reset_at, now, used)


Header = tuple[bytes, bytes] | tuple[str, str]
_Value = bytes | str


def parse_headroom(headers: Iterable[Header], now: float) -> tuple[Window, ...]:
    """The windows that rate-limit headers describe, sorted by name (``()``: none).

    ``headers`` are raw (name, value) pairs, bytes or str, in any case. A window needs its
    ``remaining``; a limit or reset that cannot be read is left out, not guessed. What a
    header name means and what a reset value says are cached: both repeat answer after
    answer, so the usual answer costs a few dictionary look-ups (bench_headroom.py).
    """
    parts: dict[str, dict[str, _Value]] | None = None
    for raw_name, raw_value in headers:
        if not raw_name or raw_name[0] not in _FIRST:  # most headers stop here
            continue
        found = _split(raw_name)
        if found is None:
            continue
        if parts is None:
            parts = {}
        window, field = found
        fields = parts.get(window)
        if fields is None:
            fields = parts[window] = {}
        fields[field] = raw_value
    if parts is None:
        return ()
    # An upstream names its windows: a few, at most, are kept (each is stored and shown).
    windows = [_window(n, parts, now) for n in sorted(parts)[:MAX_WINDOWS]]
    return tuple(w for w in windows if w is not None)


#: The most windows kept from one answer, and what a window's name may look like.
MAX_WINDOWS: Final = 8
_WINDOW_NAME: Final = re.compile(r"[a-z0-9_-]{1,40}")


@lru_cache(maxsize=512)
def _split(raw_name: bytes | str) -> tuple[str, str] | None:
    """(window, field) of a rate-limit header name, else ``None``."""
    name = (raw_name.decode("latin-1") if isinstance(raw_name, bytes) else raw_name).lower()
    found = _parts(name)
    return found if found is None or _WINDOW_NAME.fullmatch(found[0]) else None


def _parts(name: str) -> tuple[str, str] | None:
    if name.startswith(_ANTHROPIC):
        rest = name[len(_ANTHROPIC) :]
        if rest.startswith(_UNIFIED):
            return subscription.unified_part(rest)
        window, _, field = rest.rpartition("-")
        return (window, field) if window and field in _FIELDS else None
    if name.startswith(_OPENAI):
        rest = name[len(_OPENAI) :]
        field, _, window = rest.partition("-")
        if field not in _FIELDS:
            return None
        # OpenRouter's bare X-RateLimit-Limit / -Remaining / -Reset count requests (its
        # reset, in epoch ms, is told from a duration by ``_reset``).
        return (window or "requests", field)
    if name.startswith(subscription.CODEX):
        return subscription.codex_part(name)
    return None


def _window(name: str, parts: dict[str, dict[str, _Value]], now: float) -> Window | None:
    fields = parts[name]
    if name[0] in "uc" and (name.startswith(_UNIFIED) or name.startswith("codex-")):
        return _subscription_window(name, parts, now)
    remaining = _count(fields.get("remaining"))
    if remaining is None:
        return None
    reset = fields.get("reset")
    said = None if reset is None else _reset(reset)
    reset_at = None if said is None else (now + said[1] if said[0] else said[1])
    return Window(name, remaining, _count(fields.get("limit")), reset_at, now)


def _subscription_window(
    name: str, parts: dict[str, dict[str, _Value]], now: float
) -> Window | None:
    if name == _UNIFIED:  # the set's common fields: read with each of its windows
        return None
    if name.startswith(_UNIFIED):
        read = subscription.unified_window(name, parts[name], parts.get(_UNIFIED))
    else:
        read = subscription.codex_window(name, parts[name], now)
    return None if read is None else percent_window(read.name, read.used, read.reset_at, now)


def _count(value: _Value | None) -> int | None:
    if value is None:
        return None
    try:
        number = int(value)
    except ValueError:
        try:
            number = int(float(value))
        except (ValueError, OverflowError):
            return None
    return number if number >= 0 else None


@lru_cache(maxsize=512)
def _reset(raw: _Value) -> tuple[bool, float] | None:
    """(relative?, seconds) of an RFC 3339 instant (Anthropic), a duration (OpenAI), or a
    bare number."""
    value = (raw.decode("latin-1") if isinstance(raw, bytes) else raw).strip()
    if value[:1].isdigit() and len(value) >= 19 and value[4:5] == "-":
        try:
            moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.UTC)
        return False, moment.timestamp()
    if value.replace(".", "", 1).isdigit():
        return _epoch_or_delta(value)
    seconds = parse_duration(value)
    return None if seconds is None else (True, seconds)


def _epoch_or_delta(value: str) -> tuple[bool, float] | None:
    """OpenRouter's epoch ms; also epoch seconds or delta seconds, told apart by size."""
    try:
        number = float(value)
    except ValueError:
        return None
    if number != number or number < 0:
        return None
    if number > 1e11:  # epoch milliseconds (1e11 s would be the year 5138)
        return False, number / 1000
    if number > 1e9:  # epoch seconds (after 2001)
        return False, number
    return True, number


# ------------------------------------------------------------------------ the mark


@dataclass(frozen=True, slots=True)
class Mark:
    """When a provider counts as exhausted: a used fraction, or absolute counts left."""

    #: Below this fraction of the limit left (0.05: 5 %); ``None``: no fractional mark.
    fraction: float | None = DEFAULT_ROTATE_BELOW
    requests: int | None = None
    tokens: int | None = None


def below_mark(windows: Sequence[Window], mark: Mark, now: float) -> Window | None:
    """The fresh window that is below ``mark`` and resets last (it decides when the provider
    is usable again), else ``None``. A window with no reset time is never below the mark: a
    cooldown must end, and nothing says when it would. (Once per answer: written out flat.)"""
    hit: Window | None = None
    fraction = mark.fraction
    for window in windows:
        reset_at = window.reset_at
        if reset_at is None or reset_at <= now:
            continue
        used = window.used
        if used is not None:  # a subscription window: its fraction; full is always below
            below = used >= 1.0 or (fraction is not None and 1.0 - used < fraction)
        else:
            absolute = mark.requests if window.name == "requests" else mark.tokens
            limit = window.limit
            below = (absolute is not None and window.remaining < absolute) or (
                fraction is not None and bool(limit) and window.remaining < fraction * (limit or 0)
            )
        if below and (hit is None or reset_at > (hit.reset_at or 0.0)):
            hit = window
    return hit


def threshold_reason(window: Window, clock: str) -> str:
    """``threshold: requests 3/100 left, resets 12:30`` (``clock``: the reset as shown);
    ``threshold: 5h 96% used, resets 12:30`` for a subscription window."""
    if window.used is not None:
        return f"threshold: {window.name} {window.used:.0%} used, resets {clock}"
    of = "" if window.limit is None else f"/{window.limit}"
    return f"threshold: {window.name} {window.remaining}{of} left, resets {clock}"


def changed(before: Sequence[Window], after: Sequence[Window], *, every: float = 60.0) -> bool:
    """Whether ``after`` says something ``before`` did not, worth a state write: another set
    of windows, a remaining count moved by 1 % of its limit (at least 1), a reset moved by
    more than 5 s, or ``every`` seconds passed (so ``seen_at`` stays recent)."""
    if len(before) != len(after):
        return True
    for old, new in zip(before, after, strict=True):
        if old.name != new.name or old.limit != new.limit:
            return True
        step = max(1, (new.limit or 0) // 100)
        if abs(old.remaining - new.remaining) >= step:
            return True
        if (old.reset_at is None) != (new.reset_at is None):
            return True
        if old.reset_at is not None and abs(old.reset_at - (new.reset_at or 0.0)) > 5.0:
            return True
        if new.seen_at - old.seen_at >= every:
            return True
    return False
