"""The words a reset time is written in: one set of patterns for both readers of them.

The launcher (``resets``) reads an agent's terminal output, prose written for a person; the
proxy (``upstream``) reads an upstream's error body, written by a program and read after
the headers (``Retry-After`` and the rate-limit headers are read from the headers there).
Both read ``<verb> after|in <duration>``. The launcher accepts more, kept explicit here
rather than hidden in two regexes: agents' own words (``available again in``, ``wait in``,
``in about``) and the bare-number fields their JSON logs carry (``resets_in_seconds``,
``retry_after``). The proxy reads ``retryDelay`` only as Gemini's ``RetryInfo`` writes it.
Widening the proxy to the launcher's set would change which upstream answers it reads a
reset from; that is a decision of its own, not part of sharing the patterns.
"""

from __future__ import annotations

import re
from typing import Final

from ..durations import DURATION

#: A number of seconds: ``30``, ``37.5``.
SECONDS: Final = r"\d+(?:\.\d+)?"
#: The verbs both readers know: "try again in 5 minutes", "retry after 1h", "resets in 2h".
RETRY_VERBS: Final = r"resets?|retry|try again"
#: An agent's prose adds these: "available again in 3 hours", "please wait in 10 minutes".
PROSE_VERBS: Final = rf"{RETRY_VERBS}|available again|wait"


def in_duration(verbs: str, *, about: bool) -> re.Pattern[str]:
    """``<verb> after|in [about] <duration>``; the duration is the group ``duration``."""
    about_word = r"(?:about\s+)?" if about else ""
    return re.compile(
        rf"(?:{verbs})\s+(?:after|in)\s+{about_word}(?P<duration>{DURATION})", re.IGNORECASE
    )


#: The launcher's duration phrases (an agent's output).
PROSE_DURATION: Final = in_duration(PROSE_VERBS, about=True)
#: The proxy's duration phrases (an upstream's error body).
BODY_DURATION: Final = in_duration(RETRY_VERBS, about=False)

#: The launcher's seconds fields: ``Retry-After: 30``, ``"resets_in_seconds": 120``,
#: ``retry_after=30``, ``"retryDelay": "37s"``, in any case.
SECONDS_FIELDS: Final = re.compile(
    r"(?:retry-after\s*:\s*|\"?(?:resets_in_seconds|retry_after|retryDelay)\"?\s*[:=]\s*\"?)"
    rf"(?P<seconds>{SECONDS})s?\b",
    re.IGNORECASE,
)
#: The proxy's: Gemini's ``"retryDelay": "37s"`` (google.rpc.RetryInfo), exactly.
RETRY_DELAY: Final = re.compile(rf'"retryDelay"\s*:\s*"(?P<seconds>{SECONDS})s"')
