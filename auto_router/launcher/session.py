"""A run through the local proxy: join the managed proxy (or use the user's), leave, summarize.

The managed proxy gets a fresh token per run, registered with the run id and backend, so the
proxy accepts the agent's requests, routes them to the run's backend and records failovers
for the summary line. A proxy the user runs (``[launcher] proxy_url``) is used with its client
token (``proxy_token``) instead: its own routing rules apply and no per-run record exists.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, NamedTuple

from ..config import Config, ProviderConfig
from ..config.expand import ExpansionError, expand
from ..errors import MissingVariableError
from ..limits.scanner import Detection
from ..secrets import Secret
from .plan import ProxyTarget
from .process import ChildResult, Stop

if TYPE_CHECKING:
    from ..providers.pricing import Prices
    from .spawn import Joined

# ``spawn`` (and the run registry, sockets and hashing under it) is imported only by a run
# that joins the managed proxy: a direct run, a dry run and ``[launcher] proxy_url`` never do.


@dataclass
class ProxySession:
    target: ProxyTarget
    joined: Joined | None = None
    #: The run's backend's providers: what their tokens cost (for the summary line).
    providers: tuple[ProviderConfig, ...] = ()
    #: When the run joined the proxy (epoch seconds): where its time per provider starts.
    started_at: float = 0.0

    @property
    def started_proxy(self) -> bool:
        return self.joined is not None and self.joined.started

    def events(self) -> list[dict[str, Any]]:
        """The run's record so far: one event per request the proxy served for it (none for a
        proxy the user runs, which keeps no per-run record)."""
        if self.joined is None:
            return []
        return self.joined.runtime.events(self.joined.token)

    def record_size(self) -> int:
        """The size of the run's record file: it changes when the proxy adds an event."""
        if self.joined is None:
            return 0
        from ..runs import token_digest

        path = self.joined.runtime.runs / f"{token_digest(self.joined.token)}.events"
        try:
            return path.stat().st_size
        except OSError:
            return 0

    def close(self) -> list[str]:
        """Leave the proxy; the summary lines: the run's requests, tokens and cost, its
        failovers, its time per provider and a lost prompt cache (``timeline``; none for a
        run that made no request)."""
        if self.joined is None:
            return []
        from ..providers.pricing import prices_of
        from .spawn import leave
        from .timeline import summary_lines

        events = self.events()
        ended = time.time()
        leave(self.joined)
        ready = self.joined.ready
        if ready is not None and ready.failed:
            return [f"the local proxy did not start (its log: {ready.log})"]
        prices = {p.name: prices_of(p) for p in self.providers}
        lines = [usage_summary(events, prices), failover_summary(events)]
        lines += summary_lines(events, self.started_at or ended, ended)
        return [line for line in lines if line]


def open_session(
    config: Config,
    backend: str,
    family: str,
    model: str | None,
    run_id: str,
    environ: Mapping[str, str],
) -> ProxySession:
    """Join the managed proxy (starting it if needed), or point at ``[launcher] proxy_url``."""
    settings = config.launcher
    if settings.proxy_url:
        token = "auto-router"  # a placeholder agents need; a loopback proxy takes any
        if settings.proxy_token:
            try:
                token = expand(settings.proxy_token, environ)
            except ExpansionError as exc:
                raise MissingVariableError(
                    str(exc), path=config.paths.llm_config, key_path="[launcher].proxy_token"
                ) from None
        target = ProxyTarget(settings.proxy_url.rstrip("/"), Secret(token), family, model)
        return ProxySession(target)
    from ..runs import RunEntry, new_token
    from .spawn import join

    token = new_token()
    entry = RunEntry(run_id=run_id, backend=backend, pid=os.getpid(), started_at=time.time())
    joined = join(config.paths, token, entry)
    target = ProxyTarget(joined.url, Secret(token), family, model)
    return ProxySession(target, joined, config.providers_of(backend), entry.started_at)


class Served(NamedTuple):
    """What the proxy did for some of a run's requests (one attempt's)."""

    requests: int
    answered: int
    #: The last one got the cooling 429: every provider of the backend was cooling down.
    cooling: bool
    last_status: int | None

    @property
    def nothing(self) -> bool:
        """Requests came and the proxy answered none of them."""
        return self.requests > 0 and self.answered == 0


def served(events: list[dict[str, Any]]) -> Served:
    statuses = [int(e.get("status") or 0) for e in events]
    return Served(
        requests=len(events),
        answered=sum(0 < status < 400 for status in statuses),
        cooling=bool(events) and bool(events[-1].get("cooling")),
        last_status=statuses[-1] if statuses else None,
    )


#: ``Detection.reason`` of an attempt that exited 0 although the proxy answered nothing.
NOTHING_SERVED: Final = "nothing served"
#: The marker recorded for an attempt that ended on the proxy's cooling 429.
COOLING_MARKER: Final = "the local proxy: every provider cooling down"


def judge_record(record: Served, result: ChildResult) -> Detection | None:
    """What the run's record says of one attempt, before its output is looked at."""
    if result.timed_out or result.interrupted:
        return None
    if record.cooling:
        # The proxy's own answer: nothing to try until a provider is back, whatever the
        # agent printed (or whether it was ended while waiting).
        return Detection(True, COOLING_MARKER, reason="proxy")
    if record.nothing and result.exit_code == 0:
        what = (
            f"the agent exited 0, but the local proxy answered none of its "
            f"{record.requests} request(s) (last status {record.last_status})"
        )
        return Detection(False, what, reason=NOTHING_SERVED)
    return None


def cooling_watch(session: ProxySession, seen: int) -> Stop:
    """``stop`` for a non-interactive attempt: the proxy's last answer to it (the events
    after the first ``seen``) was the cooling 429; an agent that honours ``Retry-After``
    would wait for hours."""

    size, cooling = -1, False

    def stop() -> bool:
        nonlocal size, cooling
        current = session.record_size()
        if current != size:  # read the record again only when the proxy added to it
            size, cooling = current, served(session.events()[seen:]).cooling
        return cooling

    return stop


def failover_summary(events: list[dict[str, Any]]) -> str | None:
    """``3 requests failed over: anth 429 x2 -> ds`` (``None`` when nothing failed over).

    Right of the arrow: the providers that answered after a failover and did not fail
    themselves later (``c-limited 429, c-ok 429 -> c-openai``, not ``-> c-ok, c-openai`` when
    c-ok answered once and then hit its limit too); ``none`` when no request was answered.
    """
    failovers = [event for event in events if event.get("failed")]
    if not failovers:
        return None
    failed: Counter[str] = Counter()
    answered: list[str] = []
    for event in failovers:
        for provider, status in event["failed"]:
            failed[f"{provider} {status if status is not None else 'error'}"] += 1
            if provider in answered:
                answered.remove(provider)
        who = event.get("provider")
        if who and str(who) not in answered:
            answered.append(str(who))
    parts = [f"{what} x{n}" if n > 1 else what for what, n in failed.items()]
    count = len(failovers)
    noun = "request" if count == 1 else "requests"
    return f"{count} {noun} failed over: {', '.join(parts)} -> {', '.join(answered) or 'none'}"


def usage_summary(events: list[dict[str, Any]], prices: Mapping[str, Prices]) -> str | None:
    """``12 requests, 48.2k tokens in / 3.1k out, $0.21 (zai 10, kimi 2)``: the run's
    requests, the tokens of the answers, their cost, and who answered how many.

    The cost is left out when a provider that used tokens has no price (a partial sum would
    read as the whole); the tokens when no answer reported any. ``None``: no request.
    """
    if not events:
        return None
    from ..providers.pricing import UNKNOWN, add_costs, cost, format_cost, format_tokens

    answered: Counter[str] = Counter()
    tokens: dict[str, list[int]] = {}
    for event in events:
        who = event.get("provider")
        if not who:
            continue
        answered[str(who)] += 1
        prompt, completion = [*(event.get("usage") or ()), None, None][:2]
        if isinstance(prompt, int) or isinstance(completion, int):
            sums = tokens.setdefault(str(who), [0, 0])
            sums[0] += prompt if isinstance(prompt, int) else 0
            sums[1] += completion if isinstance(completion, int) else 0
    noun = "request" if len(events) == 1 else "requests"
    parts = [f"{len(events)} {noun}"]
    if tokens:
        total_in = sum(t[0] for t in tokens.values())
        total_out = sum(t[1] for t in tokens.values())
        parts.append(f"{format_tokens(total_in)} tokens in / {format_tokens(total_out)} out")
        spent = add_costs(cost(prices.get(p, UNKNOWN), *t) for p, t in tokens.items())
        if spent is not None:
            parts.append(format_cost(spent))
    line = ", ".join(parts)
    if answered:
        line += " (" + ", ".join(f"{p} {n}" for p, n in answered.items()) + ")"
    return line
