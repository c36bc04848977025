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
  with ``threshold``).

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

from .policy import CLOSED, BackendState, current_provider

ROTATION: Final = "rotation"
EXHAUSTION: Final = "exhaustion"
RECOVERY: Final = "recovery"
CIRCUIT: Final = "circuit"
THRESHOLD: Final = "threshold"
KINDS: Final = (ROTATION, EXHAUSTION, RECOVERY, CIRCUIT, THRESHOLD)
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
) -> list[Event]:
    """The events of one state write of ``before.backend`` (``names``: its enabled providers
    in order). ``reason``: the usage limit's, when the write recorded one."""
    backend = after.backend
    events: list[Event] = []
    if reason is not None and reason.removeprefix("proxy: ").startswith("threshold"):
        changed = [n for n in names if before.provider(n) != after.provider(n)]
        for name in changed:
            until = after.provider(name).cooldown_until
            events.append(
                Event(
                    THRESHOLD,
                    backend,
                    name,
                    f"{name} below its headroom mark",
                    now,
                    {"until": until, "reason": reason},
                )
            )
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
    for name in sorted(set(before.providers) | set(after.providers)):
        events += _provider_events(backend, name, before, after, now)
    return events


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
        events.append(Event(RECOVERY, backend, name, f"{name} is serving again", now))
    return events


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
