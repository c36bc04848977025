"""What an upstream error status means for the request: pass it back, or try elsewhere.

Pure functions over the status, the error body and the headers. The attempt layer turns a
verdict into a ``Failure`` that says what the rotation state must remember of it (``Count``);
the recording layer writes that, and the failover layer acts on the rest (retries, failover).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from ..limits.upstream import is_usage_limit, reset_time, should_fail_over
from .exchange import DROP_RESPONSE, summary
from .upstream import UpstreamResponse

#: A usage limit: the provider cools down until ``until`` and the next one becomes current.
LIMIT: Final = "limit"
#: The provider is unwell (5xx, refused, timeout) or refuses our credentials (401/403).
OUTAGE: Final = "outage"
#: Try elsewhere, without holding it against the provider (408).
FAILOVER: Final = "failover"
#: The request is at fault (400, 404, 422...): the client gets the answer unchanged.
PASS: Final = "pass"
#: The prompt is too long for this provider: a candidate with a larger window may take it.
CONTEXT: Final = "context"

#: Statuses worth one more try on the same provider (before any byte reached the client).
TRANSIENT_STATUSES: Final = frozenset({500, 502, 503})
_CONTEXT_LENGTH: Final = re.compile(
    r"context[_ ]length[_ ]exceeded|maximum context length|context window|prompt is too long"
    r"|too many (?:input )?tokens|input is too long|exceeds? the (?:model's )?context",
    re.I,
)


@dataclass(frozen=True, slots=True)
class Verdict:
    kind: str
    reason: str
    #: When a usage-limited provider works again (``None``: unknown).
    until: float | None = None


@dataclass(frozen=True, slots=True)
class Count:
    """What the rotation state must remember of a failed attempt (``recording`` writes it)."""

    #: ``LIMIT``: a usage limit until ``until``; ``OUTAGE``: a failure toward the circuit
    #: breaker; ``FAILOVER``: a failure that does not count toward it.
    kind: str
    reason: str
    until: float | None = None
    #: Whether a circuit this failure opens cancels the retry (and is named in the reason).
    trips: bool = True


class Failure(Exception):
    """An attempt that failed before the first byte reached the client."""

    def __init__(
        self,
        reason: str,
        *,
        status: int | None = None,
        body: bytes = b"",
        headers: list[tuple[bytes, bytes]] | None = None,
        kind: str = "http",
        retry: bool = False,
        wait: float | None = None,
        passback: bool = False,
        count: Count | None = None,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.body = body
        self.headers = headers or []
        self.kind = kind
        #: A transient failure: one more try on the same provider may work.
        self.retry = retry
        #: A short rate limit: the same provider works again after this many seconds.
        self.wait = wait
        #: When nothing else answers, the client gets this error exactly as it came.
        self.passback = passback
        #: What the rotation state must remember (``None``: nothing).
        self.count = count

    def tripped(self) -> None:
        """The failure opened its provider's circuit: no retry there, and the reason says so."""
        self.retry = False
        self.reason = f"{self.reason} (circuit opened)"
        self.args = (self.reason,)


def classify(
    resp: UpstreamResponse, error: bytes, markers: Sequence[re.Pattern[str]], now: float
) -> Verdict:
    """The verdict on an error response (``resp.status >= 400``) whose body is ``error``."""
    status = resp.status
    text = error[:8192].decode("utf-8", "replace")
    reason = f"HTTP {status}: {summary(text)}"
    if status in (400, 413, 422) and _CONTEXT_LENGTH.search(text):
        return Verdict(CONTEXT, reason)
    if is_usage_limit(status, text, markers):
        headers = {n.decode("latin-1").lower(): v.decode("latin-1") for n, v in resp.raw_headers()}
        return Verdict(LIMIT, reason, reset_time(headers, text, now))
    if should_fail_over(status):
        return Verdict(OUTAGE if status >= 500 or status in (401, 403) else FAILOVER, reason)
    return Verdict(PASS, reason)


def failure(resp: UpstreamResponse, error: bytes, verdict: Verdict, **how: Any) -> Failure:
    """The failure to carry on with (its status and body reach the client if it is the last)."""
    headers = [(n.lower(), v) for n, v in resp.raw_headers() if n.lower() not in DROP_RESPONSE]
    kind = "context" if verdict.kind == CONTEXT else "http"
    return Failure(
        verdict.reason, status=resp.status, body=error, headers=headers, kind=kind, **how
    )
