"""Rotation state in Redis, so several proxy replicas (and their launchers) share it.

The keys, under a prefix (``auto-router`` unless ``[state] prefix`` says otherwise)::

    <prefix>:version                     a counter every change increments (routing cache)
    <prefix>:backends                    the set of backends that have a state
    <prefix>:state:<backend>             JSON: current, last success, each provider's state
    <prefix>:cooldown:<backend>:<slot>   a provider's cooldown end, expiring at that time
    <prefix>:changed                     a channel: every change publishes the backend's name

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
from dataclasses import asdict
from types import MappingProxyType
from typing import Any, Final

import redis
from redis.exceptions import RedisError, WatchError

from ..errors import StateError
from ..limits.headroom import Window
from .policy import BackendState, ProviderState
from .state import Change

DEFAULT_PREFIX: Final = "auto-router"
#: Seconds a command may take before the store counts Redis as down (loopback or a LAN).
DEFAULT_TIMEOUT: Final = 2.0

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
        self._closed = False

    def close(self) -> None:
        self._closed = True
        if self._listener is not None:
            self._listener.join(2)
        self._redis.close()

    def ping(self) -> None:
        with self._translate():
            self._redis.ping()

    def get(self, backend: str) -> BackendState:
        with self._translate():
            return self._read(self._redis, backend)

    def get_all(self) -> dict[str, BackendState]:
        with self._translate():
            return {name: self._read(self._redis, name) for name in self._backends()}

    def update(self, backend: str, change: Change) -> BackendState:
        def write(pipe: Any, old: BackendState) -> BackendState:
            new = change(old)
            pipe.multi()
            self._queue_write(pipe, old, new)
            return new

        return self._transact(backend, write)

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
        with self._translate():
            value = self._redis.get(self._key("version"))
            return -1 - (int(value) if value else 0)

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
        while not self._closed:
            pubsub = self._redis.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call]
            try:
                pubsub.subscribe(self._key("changed"))
                self._epoch += 1
                self._listening.set()
                while not self._closed:
                    if pubsub.get_message(timeout=0.5) is not None:
                        self._seen += 1
            except (RedisError, OSError, ValueError):
                self._listening.clear()
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
