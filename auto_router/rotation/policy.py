"""Rotation policy: pure functions over immutable state, with the time passed in.

The current provider of a backend is used until it hits a usage limit. Then it is put in
cooldown (until its reset time if known, else a default) and the next enabled provider, in
rotation order, that is not cooling down becomes current. Under the default strategy,
``sticky``, when a cooldown ends the backend does not jump back to its first provider;
``priority`` does (the first available provider in order serves), and ``round-robin``
spreads calls over the available ones (``serving_order``, ``pick``, ``session_order``).

Nothing here does I/O. ``state.py`` persists these values; ``service.py`` ties both to the
configuration.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Final, TypeVar

from ..config.model import PRIORITY, ROUND_ROBIN, STICKY
from ..config.values import MAX_SECONDS
from ..errors import AllProvidersExhaustedError, ExhaustedProvider
from ..limits.headroom import Window

_T = TypeVar("_T")

#: The name rotation uses for a backend with no providers ("fallback mode"): the backend itself.
DIRECT: Final = ""


@dataclass(frozen=True)
class ProviderState:
    cooldown_until: float | None = None
    last_error: str | None = None
    last_error_at: float | None = None
    usage_limits: int = 0
    failures: int = 0
    successes: int = 0
    last_success_at: float | None = None
    #: Failures in a row (outages: 5xx, refused, timeouts); a success resets it.
    streak: int = 0
    #: The circuit breaker: open until then, half-open after (``None``: closed).
    circuit_until: float | None = None
    #: Headroom (issue 19): the rate-limit windows its last answer described (see below).
    headroom: tuple[Window, ...] = ()

    def is_available(self, now: float) -> bool:
        return self.cooldown_until is None or self.cooldown_until <= now

    def circuit(self, now: float) -> str:
        """``closed``, ``open`` (skipped) or ``half-open`` (one probe may go)."""
        if self.circuit_until is None:
            return CLOSED
        return OPEN if now < self.circuit_until else HALF_OPEN


CLOSED: Final = "closed"
OPEN: Final = "open"
HALF_OPEN: Final = "half-open"


_FRESH: Final = ProviderState()


@dataclass(frozen=True)
class BackendState:
    backend: str
    current: str | None = None
    last_success: str | None = None
    last_success_at: float | None = None
    providers: Mapping[str, ProviderState] = field(default_factory=lambda: MappingProxyType({}))

    def provider(self, name: str) -> ProviderState:
        return self.providers.get(name, _FRESH)

    def with_provider(self, name: str, state: ProviderState) -> BackendState:
        return replace(self, providers=MappingProxyType({**self.providers, name: state}))


# -- headroom (issue 19) ------------------------------------------------------------------
# ``Window`` (limits/headroom.py, where the header parser makes it) is re-exported here: it
# is part of ``ProviderState``. A provider below its mark is put in cooldown until the
# window's reset through ``record_usage_limit``, so every strategy and the launcher's direct
# mode skip it with no logic of their own; these only keep the windows.


def record_headroom(
    state: BackendState, provider: str, windows: tuple[Window, ...]
) -> BackendState:
    """``provider``'s last answer described these windows (they replace the ones before)."""
    before = state.provider(provider)
    if before.headroom == windows:
        return state
    return state.with_provider(provider, replace(before, headroom=windows))


def fresh_headroom(state: ProviderState, now: float) -> tuple[Window, ...]:
    """The windows that still describe the provider (older than their reset: ignored)."""
    return tuple(w for w in state.headroom if w.fresh(now))


def record_threshold(
    names: Sequence[str],
    state: BackendState,
    provider: str,
    now: float,
    until: float,
    reason: str,
) -> BackendState:
    """``provider`` fell below its headroom mark: a cooldown until ``until``, as a usage limit
    would be, unless no other provider of the backend could serve now (then the few
    requests it has left are better spent than refused)."""
    others = [
        n
        for n in names
        if n != provider
        and state.provider(n).is_available(now)
        and state.provider(n).circuit(now) != OPEN
    ]
    if not others or not state.provider(provider).is_available(now):
        return state
    return record_usage_limit(names, state, provider, now, until, reason)


# -- end of headroom -----------------------------------------------------------------------


def current_provider(names: Sequence[str], state: BackendState, now: float) -> str | None:
    """The provider to use now: the current one if usable, else the next usable in order.

    ``names`` are the enabled providers in rotation order. State about providers no longer
    in ``names`` is ignored. ``None`` when every provider is cooling down.
    """
    current = state.current
    if current is not None and current in names and state.provider(current).is_available(now):
        return current
    return _next_available(names, state, now, after=state.current)


def advance(names: Sequence[str], state: BackendState, now: float) -> tuple[BackendState, bool]:
    """Move to the next usable provider after the current one. Returns (state, rotated)."""
    current = current_provider(names, state, now)
    following = _next_available(names, state, now, after=current)
    if following is None or following == current:
        return state, False
    return replace(state, current=following), True


def record_usage_limit(
    names: Sequence[str],
    state: BackendState,
    provider: str,
    now: float,
    until: float,
    reason: str | None = None,
) -> BackendState:
    """``provider`` ran out until ``until``; if it was current, the next usable one takes over."""
    effective = current_provider(names, state, now)
    before = state.provider(provider)
    # A reset time read from a message or header can be anything ("in 99999999 hours", inf,
    # nan): keep it within MAX_SECONDS, a timestamp every platform can represent.
    until = min(until, now + MAX_SECONDS) if until == until else now + MAX_SECONDS
    state = state.with_provider(
        provider,
        replace(
            before,
            cooldown_until=max(until, now),
            usage_limits=before.usage_limits + 1,
            last_error=reason or before.last_error,
            last_error_at=now,
        ),
    )
    if effective not in (None, provider):
        return state  # a pinned provider ran out; the backend's current one is unaffected
    following = _next_available(names, state, now, after=provider)
    # When everything is cooling, remember the next in order so rotation resumes from there.
    return replace(state, current=following or _next_in_order(names, provider))


def record_failure(
    state: BackendState,
    provider: str,
    now: float,
    reason: str,
    *,
    threshold: int | None = None,
    open_for: float = 0.0,
) -> BackendState:
    """A failure that is not a usage limit (outage, bad key): counted, never a rotation.

    With a ``threshold``, the provider's circuit opens for ``open_for`` seconds once that
    many failures came in a row (a failed half-open probe re-opens it at once, since the
    streak was never reset).
    """
    before = state.provider(provider)
    streak = before.streak + 1
    circuit = before.circuit_until
    if threshold is not None and streak >= threshold:
        circuit = now + open_for
    return state.with_provider(
        provider,
        replace(
            before,
            failures=before.failures + 1,
            last_error=reason,
            last_error_at=now,
            streak=streak,
            circuit_until=circuit,
        ),
    )


def claim_probe(state: BackendState, provider: str, now: float, hold: float) -> BackendState:
    """Let one request probe a half-open circuit: the others see it open for ``hold`` more.

    Applied atomically by the store, so across processes exactly one request wins; the
    caller compares ``circuit_until`` before and after to know whether it did.
    """
    before = state.provider(provider)
    if before.circuit(now) != HALF_OPEN:
        return state
    return state.with_provider(provider, replace(before, circuit_until=now + hold))


def record_success(state: BackendState, provider: str, now: float) -> BackendState:
    """A call through ``provider`` worked: it is the last used one and no longer cooling."""
    before = state.provider(provider)
    state = state.with_provider(
        provider,
        replace(
            before,
            successes=before.successes + 1,
            last_success_at=now,
            cooldown_until=None,
            streak=0,
            circuit_until=None,
        ),
    )
    return replace(state, last_success=provider, last_success_at=now)


def set_current(state: BackendState, provider: str) -> BackendState:
    """Make ``provider`` current now, clearing its cooldown (the user asked for it)."""
    state = state.with_provider(provider, replace(state.provider(provider), cooldown_until=None))
    return replace(state, current=provider)


def reset(state: BackendState) -> BackendState:
    """Back to the first provider with no cooldowns or open circuits; counters are kept."""
    providers = {
        n: replace(p, cooldown_until=None, streak=0, circuit_until=None)
        for n, p in state.providers.items()
    }
    return replace(state, current=None, providers=MappingProxyType(providers))


def reset_one(state: BackendState, name: str) -> BackendState:
    """``reset`` for one provider (or one key of a pool: its slot): no cooldown, circuit
    closed; counters kept."""
    before = state.provider(name)
    return state.with_provider(
        name, replace(before, cooldown_until=None, streak=0, circuit_until=None)
    )


def earliest_available(
    names: Sequence[str], state: BackendState
) -> tuple[str, float | None] | None:
    """The provider whose cooldown ends first, with that time."""
    cooling = [(state.provider(n).cooldown_until, n) for n in names]
    known = [(until, n) for until, n in cooling if until is not None]
    if not known:
        return (names[0], None) if names else None
    until, name = min(known)
    return name, until


@dataclass(frozen=True)
class Candidate:
    """A backend that may serve, with its enabled providers in rotation order."""

    backend: str
    names: tuple[str, ...]
    #: ``[backends.X] strategy`` (config.model.STRATEGIES).
    strategy: str = STICKY


def choose(
    candidates: Sequence[Candidate], states: Mapping[str, BackendState], now: float
) -> tuple[str, str]:
    """The first candidate backend with a usable provider, and that provider.

    Raises ``AllProvidersExhaustedError`` naming the earliest time anything is usable again.
    """
    earliest: ExhaustedProvider | None = None
    for candidate in candidates:
        state = states.get(candidate.backend) or BackendState(candidate.backend)
        provider = pick(candidate.names, state, now, candidate.strategy)
        if provider is not None:
            return candidate.backend, provider
        first = earliest_available(candidate.names, state)
        if (
            first is not None
            and first[1] is not None
            and (
                earliest is None
                or earliest.available_at is None
                or first[1] < earliest.available_at
            )
        ):
            earliest = ExhaustedProvider(candidate.backend, first[0], first[1])
    raise AllProvidersExhaustedError(tuple(c.backend for c in candidates), earliest)


def serving_order(
    names: Sequence[str], state: BackendState, now: float, strategy: str, turn: int = 0
) -> tuple[str, ...]:
    """Every provider of ``names`` in the order to try them under ``strategy``.

    * ``sticky``: cyclically from the current one (``current_provider``);
    * ``priority``: as written, so the preferred one serves whenever it is available;
    * ``round-robin``: cyclically from the ``turn``-th available one (the proxy counts
      requests; ``pick`` uses the one after the last that served).

    Providers that cannot serve now stay in the order: the caller skips them (a plan also
    skips open circuits, which are no rotation matter).
    """
    if strategy == PRIORITY or not names:
        return tuple(names)
    if strategy == ROUND_ROBIN:
        available = [n for n in names if state.provider(n).is_available(now)]
        first: str | None = available[turn % len(available)] if available else None
    else:
        first = current_provider(names, state, now)
    if first is None:
        return tuple(names)
    i = names.index(first)
    return (*names[i:], *names[:i])


def pick(names: Sequence[str], state: BackendState, now: float, strategy: str) -> str | None:
    """The one provider a new call uses under ``strategy`` (the launcher, ``status``).

    ``round-robin`` has no counter across processes here: it takes the next available
    provider after the one that last served (``last_success``), so successive runs spread.
    """
    if strategy == PRIORITY:
        return next((n for n in names if state.provider(n).is_available(now)), None)
    if strategy == ROUND_ROBIN:
        return _next_available(names, state, now, after=state.last_success)
    return current_provider(names, state, now)


def session_order(order: Sequence[_T], bound: _T | None) -> tuple[_T, ...]:
    """Session affinity: ``bound`` (where the session was served last) first, if it is in
    ``order`` (the providers that may serve now), the rest as the strategy put them.

    A session moves only when its provider cannot serve; it then sticks to the new one
    because the caller binds it to whoever answered.
    """
    if bound is None or bound not in order or order[0] == bound:
        return tuple(order)
    i = order.index(bound)
    return (bound, *order[:i], *order[i + 1 :])


def _next_available(
    names: Sequence[str], state: BackendState, now: float, *, after: str | None
) -> str | None:
    """The first usable provider after ``after`` in cyclic order (``after`` itself comes last)."""
    if after in names:
        i = names.index(after)
        order = [*names[i + 1 :], *names[: i + 1]]
    else:
        order = list(names)
    for name in order:
        if state.provider(name).is_available(now):
            return name
    return None


def _next_in_order(names: Sequence[str], after: str) -> str | None:
    if not names:
        return None
    if after not in names:
        return names[0]
    return names[(names.index(after) + 1) % len(names)]
