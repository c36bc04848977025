"""Rotation state in Redis, so several proxy replicas (and their launchers) share it.

The keys, under a prefix (``auto-router`` unless ``[state] prefix`` says otherwise)::

    <prefix>:version                     a counter every change increments (routing cache)
    <prefix>:backends                    the set of backends that have a state
    <prefix>:state:<backend>             JSON: current, last success, each provider's state
    <prefix>:cooldown:<backend>:<slot>   a provider's cooldown end, expiring at that time
    <prefix>:changed                     a channel: every change publishes the backend's name
    <prefix>:session:<backend>:<session> where a session was served last (proxy/affinity.py)
    <prefix>:sessions                    a channel: every new binding publishes on it

A cooldown lives in its own key with an absolute expiry (``PXAT``), so Redis forgets it by
itself when it runs out: nothing sweeps, and ``redis-cli`` shows what is cooling now.

``update`` is optimistic: WATCH the backend's key, read, apply the change in Python, then
write everything (the state, its cooldowns, the version) in one MULTI/EXEC; a concurrent
writer makes EXEC fail and the change is applied again to what that writer left. The change
functions are pure (``policy.py``), so running one twice is harmless.

``version`` is on the proxy's hot path (once per request): a thread subscribed to the
change channel counts the messages, so it costs no round trip (docs/performance.md).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, replace
from functools import partial
from types import MappingProxyType
from typing import Any, Final

import redis
import structlog
from redis.exceptions import RedisError, WatchError

from ..errors import StateError
from ..limits.headroom import Window
from .policy import BackendState, ProviderState

DEFAULT_PREFIX: Final = "auto-router"
#: Seconds a command may take before the store counts Redis as down (loopback or a LAN).
DEFAULT_TIMEOUT: Final = 2.0
#: At most one warning this often while Redis does not answer.
WARN_EVERY: Final = 60.0

log = structlog.get_logger("auto_router.state")
#: ``state.Change``, spelt again: state.py imports this module (its factory), not back.
Change = Callable[[BackendState], BackendState]

# One round trip for a backend's state and the cooldowns of its providers: the state key
# names the providers, and their cooldown keys follow from it.
_READ: Final = """
local s = redis.call('GET', KEYS[1])
if not s then return {} end
local out = {s}
for name, _ in pairs(cjson.decode(s)['providers']) do
  out[#out + 1] = name
  out[#out + 1] = redis.call('GET', ARGV[1] .. name) or ''
end
return out
"""


class RedisStateStore:
    """``StateStore`` over one Redis database. Thread-safe (the client keeps a pool)."""

    def __init__(
        self,
        url: str,
        *,
        prefix: str = DEFAULT_PREFIX,
        timeout: float = DEFAULT_TIMEOUT,
        wall_clock: Callable[[], float] = time.time,
        fallback: bool = False,
    ) -> None:
        try:
            self._redis = redis.Redis.from_url(
                url, socket_timeout=timeout, socket_connect_timeout=timeout, decode_responses=True
            )
        except ValueError as exc:  # the URL itself; its text may hold a password
            raise StateError(f"unusable [state] url: {type(exc).__name__}") from None
        self._prefix = prefix
        #: Redis's own clock decides when a cooldown key goes; a key due already is not set.
        self._wall_clock = wall_clock
        self._read_script = self._redis.register_script(_READ)
        # The change messages this process has seen (version()), counted by one thread.
        self._listener: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._listening = threading.Event()
        self._epoch = 0
        self._seen = 0
        self._session_seen = 0
        self._session_misses = 0
        self._closed = False
        self._fallback = fallback
        #: The last state seen per backend, and those changed while Redis was away.
        self._local: dict[str, BackendState] = {}
        self._dirty: set[str] = set()
        self._local_version = 0
        self._down_since: float | None = None
        self._warned_at = float("-inf")

    def close(self) -> None:
        self._closed = True
        if self._listener is not None:
            self._listener.join(2)
        self._redis.close()

    def ping(self) -> None:
        with self._translate():
            self._redis.ping()

    def get(self, backend: str) -> BackendState:
        if self._away():
            return self._local.get(backend) or BackendState(backend)
        try:
            with self._translate():
                return self._remember(self._read(self._redis, backend))
        except StateError as exc:
            return self._local_get(backend, exc)

    def get_all(self) -> dict[str, BackendState]:
        if self._away():
            return dict(self._local)
        try:
            with self._translate():
                return {name: self._read(self._redis, name) for name in self._backends()}
        except StateError as exc:
            self._down(exc)
            return dict(self._local)

    def update(self, backend: str, change: Change) -> BackendState:
        def write(pipe: Any, old: BackendState) -> BackendState:
            new = change(old)
            pipe.multi()
            self._queue_write(pipe, old, new)
            return new

        try:
            if self._away():
                raise StateError("rotation state store (Redis) unreachable")
            return self._remember(self._transact(backend, write))
        except StateError as exc:
            self._down(exc)
            new = change(self._local_get(backend, exc))
            self._local[backend] = new
            self._dirty.add(backend)
            self._local_version += 1
            return new

    # ------------------------------------------------------------------ sessions
    # Session affinity (proxy/affinity.py) is shared too when the state is: a session's
    # next request may reach any replica. A binding is a key that expires when idle.

    def session(self, key: str) -> str | None:
        """Where a session was served last (``None``: unknown, or Redis away)."""
        if self._away():
            return None
        try:
            with self._translate():
                value = self._redis.get(self._key("session", key))
                return None if value is None else str(value)
        except StateError as exc:
            self._down(exc)
            return None

    def bind_session(self, key: str, where: str, idle: float) -> None:
        """Bind a session, for ``idle`` seconds; announced on a channel of its own, so every
        replica's cached bindings are read again (and no routing plan is)."""
        if self._away():
            return
        try:
            with self._translate(), self._redis.pipeline() as pipe:
                pipe.set(self._key("session", key), where, px=max(1, int(idle * 1000)))
                pipe.publish(self._key("sessions"), "")
                pipe.execute()
        except StateError as exc:
            self._down(exc)

    def session_version(self) -> int:
        """Like ``version``, for the session bindings; while not subscribed, it moves on
        every call (the bindings are then read each time)."""
        self._start_listening()
        if self._listening.is_set():
            return self._epoch << 40 | self._session_seen
        self._session_misses += 1
        return -self._session_misses

    def health(self) -> dict[str, Any]:
        """For ``/health``: whether Redis answers, since when not, what waits for it."""
        return {
            "kind": "redis",
            "up": self._down_since is None,
            "down_since": self._down_since,
            "pending": sorted(self._dirty),
            "fallback": self._fallback,
        }

    # ------------------------------------------------------------------ Redis away
    # With ``fallback`` (the proxy), a Redis that does not answer is no failed request: the
    # store serves the states it saw last and applies changes to them in memory, warns at
    # most once a minute, and when the change channel is back merges what changed
    # meanwhile into Redis (``reconcile``). Without it (the CLI) the error is the answer.

    def _away(self) -> bool:
        """Redis did not answer and the listener has not reconnected: the data path does
        not wait for a timeout per request; the listener finds when it is back."""
        return self._fallback and self._down_since is not None

    def _remember(self, state: BackendState) -> BackendState:
        self._local[state.backend] = state
        return state

    def _local_get(self, backend: str, exc: StateError) -> BackendState:
        self._down(exc)
        return self._local.get(backend) or BackendState(backend)

    def _down(self, exc: StateError) -> None:
        if not self._fallback:
            raise exc
        now = self._wall_clock()
        if self._down_since is None:
            self._down_since = now
        if now - self._warned_at >= WARN_EVERY:
            self._warned_at = now
            log.warning("rotation state store unreachable: serving from memory", error=str(exc))

    def reconcile(self) -> None:
        """Merge the changes made while Redis was away into it (the listener calls this
        when it subscribes again)."""
        for backend in sorted(self._dirty):
            local = self._local[backend]
            try:
                self._remember(self._transact(backend, partial(self._merged, local=local)))
            except StateError:
                return  # away again: the next subscription tries once more
            self._dirty.discard(backend)
        if self._down_since is not None:
            log.info("rotation state store reachable again: reconciled")
        self._down_since = None

    def _merged(self, pipe: Any, remote: BackendState, local: BackendState) -> BackendState:
        new = merge(remote, local)
        pipe.multi()
        self._queue_write(pipe, remote, new)
        return new

    def clear(self, backend: str | None = None) -> None:
        def forget(pipe: Any, old: BackendState) -> BackendState:
            pipe.multi()
            pipe.delete(self._state_key(old.backend))
            for name in old.providers:
                pipe.delete(self._key("cooldown", old.backend, name))
            pipe.srem(self._key("backends"), old.backend)
            pipe.incr(self._key("version"))
            pipe.publish(self._key("changed"), old.backend)
            return BackendState(old.backend)

        with self._translate():
            names = [backend] if backend is not None else list(self._backends())
        for name in names:
            self._transact(name, forget)

    def version(self) -> int:
        """No round trip while subscribed: the count of change messages (each write
        publishes one in its MULTI), in a new epoch per subscription since one may have
        been missed while not subscribed. Until then, or while Redis is away, the stored
        counter (negative: the two never meet)."""
        self._start_listening()
        if self._listening.is_set():
            return self._epoch << 40 | self._seen
        if self._away():
            return -(1 << 62) - self._local_version
        try:
            with self._translate():
                value = self._redis.get(self._key("version"))
                return -1 - (int(value) if value else 0)
        except StateError as exc:
            self._down(exc)
            return -(1 << 62) - self._local_version

    def _start_listening(self) -> None:
        if self._listener is None:
            with self._start_lock:
                if self._listener is None:
                    self._listener = threading.Thread(
                        target=self._listen, name="auto-router-state-changes", daemon=True
                    )
                    self._listener.start()

    def _listen(self) -> None:
        """Count change messages; on any error, resubscribe (the version falls back to a
        GET meanwhile)."""
        sessions = self._key("sessions")
        while not self._closed:
            pubsub = self._redis.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call]
            try:
                pubsub.subscribe(self._key("changed"), self._key("sessions"))
                if self._dirty or self._down_since is not None:
                    self.reconcile()
                self._epoch += 1
                self._listening.set()
                while not self._closed:
                    message = pubsub.get_message(timeout=0.5)
                    if message is None:
                        continue
                    if message["channel"] == sessions:
                        self._session_seen += 1
                    else:
                        self._seen += 1
            except (RedisError, OSError, ValueError) as exc:
                self._listening.clear()
                if self._fallback:
                    self._down(StateError(f"rotation state store (Redis) error: {exc}"))
                time.sleep(0.2)
            finally:
                pubsub.close()

    def _transact(
        self, backend: str, write: Callable[[Any, BackendState], BackendState]
    ) -> BackendState:
        """``write(pipe, old)`` queues a change after WATCH and a read; again on a conflict."""
        key = self._state_key(backend)
        with self._translate(), self._redis.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(key)  # type: ignore[no-untyped-call]
                    new = write(pipe, self._read(pipe, backend))
                    pipe.execute()
                    return new
                except WatchError:  # another writer came first: apply ours to its result
                    continue

    def _backends(self) -> list[str]:
        return sorted(str(n) for n in self._redis.smembers(self._key("backends")))

    # ------------------------------------------------------------------ keys and codes

    def _key(self, *parts: str) -> str:
        return ":".join((self._prefix, *parts))

    def _state_key(self, backend: str) -> str:
        return self._key("state", backend)

    def _read(self, client: Any, backend: str) -> BackendState:
        found = self._read_script(
            keys=[self._state_key(backend)],
            args=[self._key("cooldown", backend, "")],
            client=client,
        )
        if not found:
            return BackendState(backend)
        cooldowns = {
            found[i]: float(found[i + 1]) if found[i + 1] else None for i in range(1, len(found), 2)
        }
        return decode(backend, found[0], cooldowns)

    def _queue_write(self, pipe: Any, old: BackendState, new: BackendState) -> None:
        backend = new.backend
        pipe.set(self._state_key(backend), encode(new))
        pipe.sadd(self._key("backends"), backend)
        due = self._wall_clock()
        for name, state in new.providers.items():
            key = self._key("cooldown", backend, name)
            until = state.cooldown_until
            if until is not None and until > due:
                pipe.set(key, repr(until), pxat=int(until * 1000))
            else:
                pipe.delete(key)
        for name in set(old.providers) - set(new.providers):
            pipe.delete(self._key("cooldown", backend, name))
        pipe.incr(self._key("version"))
        pipe.publish(self._key("changed"), backend)

    @contextmanager
    def _translate(self) -> Iterator[None]:
        try:
            yield
        except RedisError as exc:
            # redis-py's texts name the host and port, never the password of the URL.
            raise StateError(f"rotation state store (Redis) error: {exc}") from exc


def encode(state: BackendState) -> str:
    """The state without its cooldowns (they are keys of their own), as JSON."""
    providers = {}
    for name, p in state.providers.items():
        fields = asdict(p)
        del fields["cooldown_until"]
        fields["headroom"] = [w.as_dict() for w in p.headroom]
        providers[name] = fields
    return json.dumps(
        {
            "current": state.current,
            "last_success": state.last_success,
            "last_success_at": state.last_success_at,
            "providers": providers,
        },
        separators=(",", ":"),
    )


def merge(remote: BackendState, local: BackendState) -> BackendState:
    """What Redis holds, with what this process saw while it was away: the later of each
    cooldown and circuit, the later error, the larger counters; the rotation as here."""
    providers = dict(remote.providers)
    for name, mine in local.providers.items():
        theirs = remote.providers.get(name)
        providers[name] = mine if theirs is None else _merge_provider(theirs, mine)
    return replace(
        remote,
        current=local.current or remote.current,
        providers=MappingProxyType(providers),
    )


def _merge_provider(theirs: ProviderState, mine: ProviderState) -> ProviderState:
    later = mine if (mine.last_error_at or 0) >= (theirs.last_error_at or 0) else theirs
    return replace(
        later,
        cooldown_until=_later(theirs.cooldown_until, mine.cooldown_until),
        circuit_until=_later(theirs.circuit_until, mine.circuit_until),
        usage_limits=max(theirs.usage_limits, mine.usage_limits),
        failures=max(theirs.failures, mine.failures),
        successes=max(theirs.successes, mine.successes),
        last_success_at=_later(theirs.last_success_at, mine.last_success_at),
    )


def _later(a: float | None, b: float | None) -> float | None:
    return b if a is None else a if b is None else max(a, b)


def decode(backend: str, text: str, cooldowns: dict[str, float | None]) -> BackendState:
    data = json.loads(text)
    providers = {}
    for name, fields in data["providers"].items():
        windows = tuple(w for w in map(Window.from_dict, fields.pop("headroom", [])) if w)
        providers[name] = ProviderState(
            cooldown_until=cooldowns.get(name), headroom=windows, **fields
        )
    return BackendState(
        backend=backend,
        current=data["current"],
        last_success=data["last_success"],
        last_success_at=data["last_success_at"],
        providers=MappingProxyType(providers),
    )
