"""Session affinity: which provider served a session last, so it keeps the prompt cache warm.

A session is one ``auto-router run`` (its run token) or whatever a client names with
``X-Auto-Router-Session``. The router puts the session's provider first in its plan while
that provider may serve (not cooling, circuit not open: ``rotation.policy.session_order``);
the data path binds the session to whoever answered, so after a forced move it sticks to
the new provider.

Why in proxy memory and not in the SQLite state: the binding is only a cache hint
(losing it costs one cold prompt cache, never a wrong answer); it changes on every answered
request of every session, which would be a write per request on the hot path; and only the
proxy that serves a session can use it. So it is bounded instead: at most ``size`` sessions
(least recently used out first) and an entry idle for ``idle`` seconds is forgotten.

With a shared store (Redis, issue 22) a session's next request may reach another replica,
so ``SharedAffinity`` keeps the bindings there too: written only when a binding changes
(or to keep it from expiring), read from this replica's memory while no replica has bound
a session since (a channel of their own).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Final, Protocol

#: Sessions remembered at once (an entry is two short strings: well under 2 MB in all).
DEFAULT_SIZE: Final = 10_000
#: Seconds a session may stay idle before its binding is forgotten.
DEFAULT_IDLE: Final = 3600.0
#: A client's session id longer than this is cut (the map's memory stays bounded).
MAX_SESSION_ID: Final = 256

#: (session, backend the request was routed to): the map's key.
Key = tuple[str, str]
#: (backend, rotation slot) that served it: a pool key's slot is ``provider#key-id``, so a
#: session stays on its provider and key (issue 19).
Where = tuple[str, str]


class Affinity:
    """A bounded LRU map session -> (backend, provider), with idle expiry on read."""

    def __init__(
        self,
        clock: Callable[[], float] = time.time,
        *,
        size: int = DEFAULT_SIZE,
        idle: float = DEFAULT_IDLE,
    ) -> None:
        self._clock = clock
        self._size = size
        self._idle = idle
        self._entries: OrderedDict[Key, tuple[Where, float]] = OrderedDict()
        #: Keys ``label``: random per process, so a label says nothing of the session id.
        self._label_key = secrets.token_bytes(16)

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: Key) -> Where | None:
        """Where ``key`` was served last, unless it has been idle too long."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        now = self._clock()
        if now - entry[1] > self._idle:
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return entry[0]

    def entries(self) -> list[tuple[Key, Where, float]]:
        """(key, where, last served) of the sessions bound now, the latest first."""
        cutoff = self._clock() - self._idle
        return [(k, w, t) for k, (w, t) in reversed(self._entries.items()) if t >= cutoff]

    def label(self, session: str) -> str:
        """A short keyed hash of ``session`` to show in its place (a run token's digest or a
        client's own string: neither leaves the proxy)."""
        return hmac.new(self._label_key, session.encode(), hashlib.sha256).hexdigest()[:12]

    def bind(self, key: Key, where: Where) -> None:
        """``key`` was served by ``where`` now; the least recently used go past ``size``."""
        entries = self._entries
        entries[key] = (where, self._clock())
        entries.move_to_end(key)
        while len(entries) > self._size:
            entries.popitem(last=False)


def session_id(header: str | None, run: str | None) -> str | None:
    """The session of a request: the client's header, else its run (the token's digest).

    The two live in separate name spaces, so a client cannot name its way into a run's
    binding."""
    if header:
        return "h:" + header[:MAX_SESSION_ID]
    return None if run is None else "r:" + run


class SessionStore(Protocol):
    """What a shared state store offers for sessions (``rotation.redis_state``)."""

    def session(self, key: str) -> str | None: ...

    def bind_session(self, key: str, where: str, idle: float) -> None: ...

    def session_version(self) -> int: ...


class SharedAffinity(Affinity):
    """``Affinity`` whose bindings every replica sees: in the shared store, cached here."""

    def __init__(
        self,
        store: SessionStore,
        clock: Callable[[], float] = time.time,
        *,
        size: int = DEFAULT_SIZE,
        idle: float = DEFAULT_IDLE,
    ) -> None:
        super().__init__(clock, size=size, idle=idle)
        self._store = store
        #: key -> (the store's version when read or written here, when written there)
        self._checked: dict[Key, tuple[int, float]] = {}

    def get(self, key: Key) -> Where | None:
        version = self._store.session_version()
        checked = self._checked.get(key)
        if checked is not None and checked[0] == version:
            return super().get(key)
        found = self._store.session(_name(key))
        self._checked[key] = (version, checked[1] if checked else float("-inf"))
        if found is None:  # unknown there (or the store away): this replica's memory
            return super().get(key)
        backend, _, slot = found.partition("\t")
        super().bind(key, (backend, slot))
        return backend, slot

    def bind(self, key: Key, where: Where) -> None:
        now = self._clock()
        entry = self._entries.get(key)
        checked = self._checked.get(key)
        written = checked[1] if checked else float("-inf")
        super().bind(key, where)
        if entry is not None and entry[0] == where and now - written < self._idle / 2:
            return  # unchanged and far from expiring there: no write on the hot path
        self._store.bind_session(_name(key), "\t".join(where), self._idle)
        self._checked[key] = (self._store.session_version(), now)
        while len(self._checked) > self._size:
            self._checked.pop(next(iter(self._checked)))


def _name(key: Key) -> str:
    return f"{key[1]}:{key[0]}"


def affinity_for(store: object, clock: Callable[[], float] = time.time) -> Affinity:
    """Shared when ``store`` is (it can hold sessions), else in this process's memory."""
    if hasattr(store, "bind_session") and hasattr(store, "session"):
        return SharedAffinity(store, clock)  # type: ignore[arg-type]
    return Affinity(clock)
