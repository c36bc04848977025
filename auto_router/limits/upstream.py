"""Reading an upstream failure: is it a usage limit, and when does the provider reset?"""

from __future__ import annotations

import datetime as dt
import email.utils
import re
from collections.abc import Mapping, Sequence
from typing import Final

from ..durations import parse_duration
from .phrases import BODY_DURATION, RETRY_DELAY
from .subscription import limit_reset


def parse_retry_after(value: str | None, now: float) -> float | None:
    """``Retry-After``: delta seconds or an HTTP date -> epoch seconds."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return now + max(seconds, 0.0) if seconds < 10 * 365 * 86400 else None
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if parsed is None:
        return None
    return max(parsed.timestamp(), now)


def _parse_instant(value: str) -> float | None:
    try:
        parsed = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.timestamp()


def ratelimit_reset(headers: Mapping[str, str], now: float) -> float | None:
    """The reset of the exhausted limit in rate-limit headers (all resets when none says 0).

    Anthropic: ``anthropic-ratelimit-{requests,tokens,input-tokens,output-tokens}-reset``
    (RFC 3339 instants) beside ``...-remaining``. OpenAI: ``x-ratelimit-reset-{requests,tokens}``
    (durations like ``6m0s``, ``20ms``) beside ``x-ratelimit-remaining-...``.
    """
    exhausted: list[float] = []
    every: list[float] = []
    for name, value in headers.items():
        if name.startswith("anthropic-ratelimit-") and name.endswith("-reset"):
            at = _parse_instant(value)
            remaining = headers.get(name[: -len("reset")] + "remaining")
        elif name.startswith("x-ratelimit-reset-"):
            seconds = parse_duration(value)
            at = None if seconds is None else now + seconds
            remaining = headers.get("x-ratelimit-remaining-" + name[len("x-ratelimit-reset-") :])
        else:
            continue
        if at is None:
            continue
        every.append(at)
        if remaining is not None and remaining.strip() == "0":
            exhausted.append(at)
    chosen = exhausted or every
    return max(max(chosen), now) if chosen else None


def reset_time(headers: Mapping[str, str], body: str, now: float) -> float | None:
    """When a rate-limited provider works again: headers first, then the body's words.

    A Gemini quota of 0 comes first: its ``retryDelay`` is there, but waiting won't help.
    Then a subscription's refusal (``subscription.limit_reset``: a ``rejected`` Claude
    window, a Codex ``usage_limit_reached``), which names the window's own reset."""
    if _GEMINI_ZERO.search(body):
        return next_day(now)
    # A refused subscription names its window's reset (issue 20): that, not a short
    # Retry-After, is when it works again.
    subscribed = limit_reset(headers, body, now)
    if subscribed is not None:
        return subscribed
    found = parse_retry_after(headers.get("retry-after"), now)
    if found is not None:
        return found
    millis = headers.get("retry-after-ms")
    if millis:
        try:
            return now + float(millis) / 1000
        except ValueError:
            pass
    limited = ratelimit_reset(headers, now)
    if limited is not None:
        return limited
    plan = zai_reset(body)
    if plan is not None:
        return max(plan, now)
    delay = RETRY_DELAY.search(body)
    if delay:
        return now + float(delay.group("seconds"))
    words = BODY_DURATION.search(body)
    if words:
        seconds = parse_duration(words.group("duration"))
        if seconds:
            return now + seconds
    return None


#: Gemini's ``RESOURCE_EXHAUSTED`` for a quota the project does not have at all: ``limit: 0``
#: in the message, or ``"quotaValue": "0"`` in the ``google.rpc.QuotaFailure`` details
#: (https://ai.google.dev/gemini-api/docs/rate-limits; bodies as reported in
#: google-gemini/gemini-cli#22486 and itcon-pty-au/stremio-ai-search#170).
_GEMINI_ZERO: Final = re.compile(r'(?:\blimit: 0\b|"quotaValue"\s*:\s*"0")')
#: Z.ai's plan limits (https://docs.z.ai/api-reference/api-code): 1308, the 5-hour window,
#: and 1310, the weekly / monthly one, say "Your limit will reset at 2026-09-09 05:38:28",
#: a time in Beijing time (UTC+8), as hugalafutro/model-hotel#955 and can1357/oh-my-pi#11014
#: found against the quota API.
_ZAI_CODE: Final = re.compile(r'"code"\s*:\s*"?(?:1308|1310)\b|\[(?:1308|1310)\]')
_ZAI_RESET: Final = re.compile(
    r"reset at (?P<at>\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2})(?P<zone>Z|[+-]\d{2}:?\d{2})?"
)
_BEIJING: Final = dt.timezone(dt.timedelta(hours=8))


def zai_reset(body: str) -> float | None:
    """The reset a Z.ai 1308 / 1310 usage-limit body names (epoch seconds), else ``None``."""
    sample = body[:4096]
    if not _ZAI_CODE.search(sample):
        return None
    found = _ZAI_RESET.search(sample)
    if found is None:
        return None
    try:
        moment = dt.datetime.fromisoformat(found.group("at") + (found.group("zone") or ""))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=_BEIJING)
    return moment.timestamp()


def next_day(now: float) -> float:
    """Midnight Pacific time after ``now``, when Gemini's daily quotas reset (its rate-limits
    page); ``now`` + 24 h where the zone database is missing."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError  # only on this rare path (~4 ms)

    try:
        zone = ZoneInfo("America/Los_Angeles")
    except (ZoneInfoNotFoundError, ValueError):
        return now + 86400.0
    today = dt.datetime.fromtimestamp(now, zone).date()
    midnight = dt.datetime.combine(today + dt.timedelta(days=1), dt.time(), zone)
    return midnight.timestamp()


def is_usage_limit(status: int, body: str, markers: Sequence[re.Pattern[str]]) -> bool:
    """429 always; other 4xx/5xx when the body says so (quota, rate limit, usage limit)."""
    if status == 429:
        return True
    if status < 400:
        return False
    sample = body[:4096]
    return any(m.search(sample) for m in markers)


#: Statuses that make the proxy try the next provider (besides usage limits).
FAILOVER_STATUSES: Final = frozenset({401, 403, 408, 429})


def should_fail_over(status: int) -> bool:
    return status in FAILOVER_STATUSES or status >= 500
