"""Rotation events: what changed in a backend's state, told to whoever listens, never waited on.

The ``Rotator`` works out the events of each state write (``transitions``: a pure function of
the state before and after, table-tested) and publishes them on its ``EventBus``. The proxy's
``GET /v1/events`` and the ``[notify]`` command subscribe. The kinds:

* ``rotation``: the backend's current provider changed (a switch);
* ``exhaustion``: every provider of the backend is cooling down;
* ``recovery``: a provider answered again after failures, or a cooldown was cleared;
* ``circuit``: a write changed a provider's circuit breaker (``open``, ``closed``; half-open
  comes with time, not a write, and shows as the ``was`` of the next change);
* ``threshold``: a provider's headroom fell below the mark (a cooldown whose reason starts
  with ``threshold``), or one of its windows reached a ``[notify] thresholds`` mark (80, 95
  and 100 % used by default): once per crossing, compared with the window the write replaced;
* ``reset``: a provider was used again after a window of it reset (one that had reached the
  lowest mark: a window that refilled unnoticed is no news) or after its cooldown ran out;
* ``return``: under ``priority``, traffic came back to a provider earlier in the order than
  the one that served before (the preferred one is serving again).

And one kind that is not a state change: ``request`` (``REQUEST``), one per proxied request
when it finishes, for the dashboard's live feed. It is not in ``KINDS``: a subscriber takes
it only by asking (``subscribe(kinds=...)``), and the proxy makes one only while someone
asked (``EventBus.feed_wanted``), so a request costs nothing when nobody watches and ``[notify]``
never sees one.

Publishing never blocks and never waits: state writes run in threads and on the event loop,
and a request must not pay for a slow listener. Each subscription holds a bounded queue; an
event that does not fit is dropped and counted (``Subscription.dropped``), the newest kept out,
so a listener that falls behind sees a gap it can report rather than a delay it causes.
"""

from __future__ import annotations

import contextlib
import threading
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from ..config.model import PRIORITY, STICKY
from ..limits.headroom import Window
from .policy import CLOSED, BackendState, ProviderState, current_provider

ROTATION: Final = "rotation"
EXHAUSTION: Final = "exhaustion"
RECOVERY: Final = "recovery"
CIRCUIT: Final = "circuit"
THRESHOLD: Final = "threshold"
RESET: Final = "reset"
RETURN: Final = "return"
KINDS: Final = (ROTATION, EXHAUSTION, RECOVERY, CIRCUIT, THRESHOLD, RESET, RETURN)
#: A proxied request finished (the live feed): only to subscribers that name it.
REQUEST: Final = "request"

#: Events one subscription may hold before new ones are dropped.
QUEUE_LIMIT: Final = 256


@dataclass(frozen=True, slots=True)
class Event:
    kind: str
    backend: str
    provider: str | None
    message: str
    ts: float
    #: More about it, all JSON-safe (``until``, ``from``, ``to``, ``state``).
    detail: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "backend": self.backend,
            "provider": self.provider,
            "message": self.message,
            "ts": self.ts,
            **self.detail,
        }

    def line(self) -> str:
        """One line for a notification: ``rotation: qwen: switched from one to two``."""
        return f"{self.kind}: {self.backend}: {self.message}"


class Subscription:
    """One listener's bounded queue. ``wake`` is called (from the publishing thread) after an
    event is queued: it must not block (``loop.call_soon_threadsafe``, ``threading.Event.set``)."""

    def __init__(
        self,
        bus: EventBus,
        limit: int,
        wake: Callable[[], None] | None = None,
        kinds: frozenset[str] | None = None,
    ) -> None:
        self._bus = bus
        #: The kinds this listener takes (``None``: every kind but ``REQUEST``).
        self.kinds = kinds
        self._limit = limit
        self._wake = wake
        self._queue: deque[Event] = deque()
        self._lock = threading.Lock()
        self.dropped = 0
        #: Set by ``EventBus.close`` (the server shuts down): the listener should end.
        self.closed = False

    def offer(self, event: Event) -> None:
        if not self.takes(event.kind):
            return
        with self._lock:
            if len(self._queue) >= self._limit:
                self.dropped += 1
                return
            self._queue.append(event)
        self._ring()

    def takes(self, kind: str) -> bool:
        return kind != REQUEST if self.kinds is None else kind in self.kinds

    def _ring(self) -> None:
        if self._wake is not None:
            # RuntimeError: the listener's event loop is closed; it is going away.
            with contextlib.suppress(RuntimeError):
                self._wake()

    def drain(self) -> list[Event]:
        """The queued events, oldest first (and the queue emptied)."""
        with self._lock:
            events = list(self._queue)
            self._queue.clear()
        return events

    def close(self) -> None:
        self._bus.unsubscribe(self)

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class EventBus:
    """Publish to every subscription at once; a publisher never waits on one."""

    def __init__(self) -> None:
        self._subscriptions: tuple[Subscription, ...] = ()
        self._lock = threading.Lock()
        #: Some subscriber takes ``REQUEST`` (rewritten with the tuple).
        self._feed = False

    def subscribe(
        self,
        wake: Callable[[], None] | None = None,
        *,
        limit: int = QUEUE_LIMIT,
        kinds: frozenset[str] | None = None,
    ) -> Subscription:
        """``kinds``: what to queue (default: every kind but ``REQUEST``, taken only when named)."""
        sub = Subscription(self, limit, wake, kinds)
        with self._lock:
            self._subscriptions = (*self._subscriptions, sub)
            self._feed = any(s.takes(REQUEST) for s in self._subscriptions)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        with self._lock:
            self._subscriptions = tuple(s for s in self._subscriptions if s is not sub)
            self._feed = any(s.takes(REQUEST) for s in self._subscriptions)

    @property
    def feed_wanted(self) -> bool:
        """Whether any subscriber takes ``REQUEST``: checked before one is made (one
        attribute read, so a request pays nothing for a feed nobody watches)."""
        return self._feed

    def close(self) -> None:
        """Tell every subscription to end (the server is shutting down)."""
        for sub in self._subscriptions:
            sub.closed = True
            sub._ring()

    @property
    def listening(self) -> bool:
        return bool(self._subscriptions)

    def publish(self, events: Sequence[Event]) -> None:
        # The tuple is replaced, never changed: iterating it needs no lock.
        for sub in self._subscriptions:
            for event in events:
                sub.offer(event)


def transitions(
    names: Sequence[str],
    before: BackendState,
    after: BackendState,
    now: float,
    reason: str | None = None,
    *,
    marks: Sequence[float] = (),
    strategy: str = STICKY,
) -> list[Event]:
    """The events of one state write of ``before.backend`` (``names``: its enabled providers
    in order). ``reason``: the usage limit's, when the write recorded one; ``marks``: the
    ``[notify] thresholds`` (percent used); ``strategy``: the backend's."""
    backend = after.backend
    fell = _fell_below(names, before, after, reason)
    events = [_below_mark(backend, name, after, reason, now) for name in fell]
    was = current_provider(names, before, now) if names else None
    now_current = current_provider(names, after, now) if names else None
    if names and was is not None and now_current is None:
        events.append(
            Event(
                EXHAUSTION,
                backend,
                None,
                "every provider is cooling down",
                now,
                {"earliest": _earliest(names, after)},
            )
        )
    elif now_current is not None and was != now_current and after.current != before.current:
        text = f"switched from {was} to {now_current}" if was else f"now on {now_current}"
        events.append(
            Event(ROTATION, backend, now_current, text, now, {"from": was, "to": now_current})
        )
    returned = _returned(names, before, after, now) if strategy == PRIORITY else []
    events += returned
    for name in sorted(set(before.providers) | set(after.providers)):
        told = _provider_events(backend, name, before, after, now)
        if returned and returned[0].provider == name:  # "back on one" says its cooldown ended
            told = [e for e in told if e.kind != RESET]
        events += told
        old, new = before.provider(name).headroom, after.provider(name).headroom
        if old != new:
            events += window_events(backend, name, old, new, now, marks)
    return events


def _fell_below(
    names: Sequence[str], before: BackendState, after: BackendState, reason: str | None
) -> list[str]:
    """Providers this write put in a threshold cooldown: named by the write's ``reason``, or
    (a headroom write, which has none) by the cooldown's own reason."""
    if reason is not None:
        if not _is_threshold(reason):
            return []
        return [n for n in names if before.provider(n) != after.provider(n)]
    return [
        n
        for n in names
        if after.provider(n).usage_limits > before.provider(n).usage_limits
        and _is_threshold(after.provider(n).last_error or "")
    ]


def _is_threshold(reason: str) -> bool:
    return reason.removeprefix("proxy: ").startswith("threshold")


def _below_mark(
    backend: str, name: str, after: BackendState, reason: str | None, now: float
) -> Event:
    state = after.provider(name)
    detail = {"until": state.cooldown_until, "reason": reason or state.last_error}
    return Event(THRESHOLD, backend, name, f"{name} below its headroom mark", now, detail)


def _returned(
    names: Sequence[str], before: BackendState, after: BackendState, now: float
) -> list[Event]:
    """Under ``priority``: the provider that served moved up the order (the preferred one is
    back). ``last_success`` says who served; ``current`` stays where the overflow put it."""
    was, now_on = before.last_success, after.last_success
    if was == now_on or was not in names or now_on not in names:
        return []
    if names.index(now_on) > names.index(was):
        return []
    text = f"back on {now_on} (from {was})"
    return [Event(RETURN, after.backend, now_on, text, now, {"from": was, "to": now_on})]


def _provider_events(
    backend: str, name: str, before: BackendState, after: BackendState, now: float
) -> list[Event]:
    old, new = before.provider(name), after.provider(name)
    events: list[Event] = []
    was, state = old.circuit(now), new.circuit(now)
    if was != state:
        events.append(
            Event(
                CIRCUIT,
                backend,
                name,
                f"circuit of {name} {state}",
                now,
                {"state": state, "was": was},
            )
        )
    # A cooldown still on record (even one that ran out) ends at the next success or reset.
    troubled = old.streak > 0 or was != CLOSED or old.cooldown_until is not None
    healed = new.streak == 0 and state == CLOSED and new.is_available(now)
    if troubled and healed and (new.successes > old.successes or new.cooldown_until is None):
        if _cooldown_ran_out(old, new, now):
            events.append(
                Event(RESET, backend, name, f"{name} is serving again after its cooldown", now)
            )
        else:
            events.append(Event(RECOVERY, backend, name, f"{name} is serving again", now))
    return events


def _cooldown_ran_out(old: ProviderState, new: ProviderState, now: float) -> bool:
    """A usage limit's cooldown that ended by itself and the provider answered: a reset (no
    failures on record, so it is not a recovery from an outage)."""
    until = old.cooldown_until
    return (
        until is not None
        and until <= now
        and old.streak == 0
        and old.circuit_until is None
        and new.successes > old.successes
    )


def window_events(
    backend: str,
    name: str,
    before: Sequence[Window],
    after: Sequence[Window],
    now: float,
    marks: Sequence[float],
) -> list[Event]:
    """What a new reading of ``name``'s windows says: the marks it crossed (one event per
    window, at the highest mark crossed) and the windows that reset since the last reading.
    Generic over window names (``requests``, ``tokens``, a subscription's ``5h``, ``7d``), and
    usable for any set of windows (a key of a pool: ``name`` says whose)."""
    old = {w.name: w for w in before}
    events: list[Event] = []
    reset: list[str] = []
    for window in after:
        used = _percent(window)
        previous = old.get(window.name)
        if used is None or previous is None or not window.fresh(now):
            continue
        last = _percent(previous)
        if not previous.fresh(now) and window.seen_at > previous.seen_at:
            # It reset since the last reading: it starts again from empty.
            if marks and last is not None and last >= marks[0]:
                reset.append(window.name)
            last = 0.0
        crossed = marks_crossed(last, used, marks)
        if crossed:
            events.append(_crossed(backend, name, window, used, crossed, now))
    if reset:
        text = f"{', '.join(reset)} window{'s' if len(reset) > 1 else ''} of {name} reset"
        events.insert(0, Event(RESET, backend, name, text, now, {"windows": reset}))
    return events


def _percent(window: Window) -> float | None:
    used = window.utilization
    return None if used is None else round(used * 100, 6)


def _crossed(
    backend: str, name: str, window: Window, used: float, crossed: tuple[float, ...], now: float
) -> Event:
    mark = crossed[-1]
    counts = "" if window.limit is None else f" ({window.limit - window.remaining}/{window.limit})"
    text = f"{name} at {mark:g}% of its {window.name} window{counts}"
    detail = {
        "window": window.name,
        "mark": mark,
        "marks": list(crossed),
        "used": used,
        "reset_at": window.reset_at,
    }
    return Event(THRESHOLD, backend, name, text, now, detail)


def marks_crossed(before: float | None, after: float, marks: Sequence[float]) -> tuple[float, ...]:
    """The ``[notify] thresholds`` (percent of a window used) that ``after`` reached and
    ``before`` had not; none on the first reading (``before`` is ``None``) or after a reset.
    For the headroom readings: one threshold event per mark passed, not one per answer."""
    if before is None or after <= before:
        return ()
    return tuple(m for m in marks if before < m <= after)


def _earliest(names: Sequence[str], state: BackendState) -> float | None:
    times = [state.provider(n).cooldown_until for n in names]
    found = [t for t in times if t is not None]
    return min(found) if found else None
