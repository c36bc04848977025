"""Persisted rotation state, shared by every auto-router process (launchers, proxy, CLI).

``StateStore`` is the small interface the rest of the code depends on; ``SQLiteStateStore``
is the implementation for one machine, ``redis_state.RedisStateStore`` the one several proxy
replicas share (``[state] url``; ``open_state_store`` chooses). Every store implements the
same methods: ``update`` must apply its function atomically, as one read-modify-write that
no other writer can interleave with.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Protocol

from ..config.shared import STATE_URL_ENV, StateConfig, state_url_problem
from ..errors import StateError
from ..limits.headroom import Window
from ..store.db import connect, transaction
from .policy import BackendState, ProviderState

Change = Callable[[BackendState], BackendState]


class StateStore(Protocol):
    def get(self, backend: str) -> BackendState: ...

    def get_all(self) -> dict[str, BackendState]: ...

    def update(self, backend: str, change: Change) -> BackendState:
        """Apply ``change`` to the stored state atomically and return the new state."""
        ...

    def clear(self, backend: str | None = None) -> None:
        """Forget everything about ``backend`` (every backend when ``None``)."""
        ...

    def version(self) -> int:
        """A number that changes whenever any process changes the state (for caching)."""
        ...


def open_state_store(
    database: Path,
    config: StateConfig,
    clock: Callable[[], float] = time.time,
    env: Mapping[str, str] = os.environ,
    *,
    fallback: bool = False,
) -> StateStore:
    """The store ``AUTO_ROUTER_STATE_URL`` or ``[state] url`` names, else SQLite at
    ``database``. ``fallback`` (the proxy): a shared store that does not answer is served
    from memory meanwhile (``RedisStateStore``), not an error."""
    url = env.get(STATE_URL_ENV) or (config.url.reveal() if config.url else None)
    if not url:
        return SQLiteStateStore(database, clock=clock)
    problem = state_url_problem(url)
    if problem:
        raise StateError(f"{STATE_URL_ENV}: {problem}")
    try:
        from .redis_state import RedisStateStore
    except ImportError:
        raise StateError(
            "a Redis state store needs the redis package",
            hint="pip install 'auto-router[redis]'",
        ) from None
    return RedisStateStore(url, prefix=config.prefix, fallback=fallback)


class SQLiteStateStore:
    """Rotation state in the auto-router SQLite database. Thread-safe; multi-process safe."""

    def __init__(self, path: Path, clock: Callable[[], float] = time.time) -> None:
        self.path = path
        self._clock = clock
        self._lock = threading.RLock()
        self._db = connect(path)
        self._own_writes = 0

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def get(self, backend: str) -> BackendState:
        with self._lock, self._translate():
            return self._read(backend)

    def get_all(self) -> dict[str, BackendState]:
        with self._lock, self._translate():
            names = [
                row[0]
                for row in self._db.execute(
                    "SELECT backend FROM backend_state UNION SELECT backend FROM provider_state"
                )
            ]
            return {name: self._read(name) for name in names}

    def update(self, backend: str, change: Change) -> BackendState:
        with self._lock, self._translate(), transaction(self._db):
            new = change(self._read(backend))
            self._write(new)
            self._own_writes += 1
            return new

    def clear(self, backend: str | None = None) -> None:
        with self._lock, self._translate(), transaction(self._db):
            if backend is None:
                self._db.execute("DELETE FROM backend_state")
                self._db.execute("DELETE FROM provider_state")
            else:
                self._db.execute("DELETE FROM backend_state WHERE backend = ?", (backend,))
                self._db.execute("DELETE FROM provider_state WHERE backend = ?", (backend,))
            self._own_writes += 1

    def version(self) -> int:
        # data_version moves when *another* connection commits; our own writes are counted
        # separately. Together they change whenever anyone changes the state.
        with self._lock, self._translate():
            other = self._db.execute("PRAGMA data_version").fetchone()[0]
            return int(other) * 1_000_003 + self._own_writes

    def _read(self, backend: str) -> BackendState:
        row = self._db.execute(
            "SELECT current, last_success, last_success_at FROM backend_state WHERE backend = ?",
            (backend,),
        ).fetchone()
        providers = {
            name: ProviderState(
                cooldown_until=cooldown,
                last_error=error,
                last_error_at=error_at,
                usage_limits=limits,
                failures=failures,
                successes=successes,
                last_success_at=success_at,
                streak=streak,
                circuit_until=circuit,
                headroom=_headroom(headroom),
            )
            for (
                name,
                cooldown,
                error,
                error_at,
                limits,
                failures,
                successes,
                success_at,
                streak,
                circuit,
                headroom,
            ) in self._db.execute(
                "SELECT provider, cooldown_until, last_error, last_error_at, usage_limits, "
                "failures, successes, last_success_at, streak, circuit_until, headroom "
                "FROM provider_state WHERE backend = ?",
                (backend,),
            )
        }
        current, last_success, last_success_at = row if row else (None, None, None)
        return BackendState(
            backend=backend,
            current=current,
            last_success=last_success,
            last_success_at=last_success_at,
            providers=MappingProxyType(providers),
        )

    def _write(self, state: BackendState) -> None:
        self._db.execute(
            "INSERT INTO backend_state (backend, current, last_success, last_success_at, "
            "updated_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (backend) DO UPDATE SET "
            "current = excluded.current, last_success = excluded.last_success, "
            "last_success_at = excluded.last_success_at, updated_at = excluded.updated_at",
            (
                state.backend,
                state.current,
                state.last_success,
                state.last_success_at,
                self._clock(),
            ),
        )
        # The new state is the whole state: rows for providers it no longer holds (renamed,
        # forgotten) go, or they would come back under their old name.
        names = list(state.providers)
        self._db.execute(
            "DELETE FROM provider_state WHERE backend = ? "
            f"AND provider NOT IN ({', '.join('?' * len(names))})",
            (state.backend, *names),
        )
        self._db.executemany(
            "INSERT INTO provider_state (backend, provider, cooldown_until, last_error, "
            "last_error_at, usage_limits, failures, successes, last_success_at, streak, "
            "circuit_until, headroom) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (backend, provider) DO UPDATE SET "
            "cooldown_until = excluded.cooldown_until, last_error = excluded.last_error, "
            "last_error_at = excluded.last_error_at, usage_limits = excluded.usage_limits, "
            "failures = excluded.failures, successes = excluded.successes, "
            "last_success_at = excluded.last_success_at, streak = excluded.streak, "
            "circuit_until = excluded.circuit_until, headroom = excluded.headroom",
            [
                (
                    state.backend,
                    name,
                    p.cooldown_until,
                    p.last_error,
                    p.last_error_at,
                    p.usage_limits,
                    p.failures,
                    p.successes,
                    p.last_success_at,
                    p.streak,
                    p.circuit_until,
                    _headroom_json(p.headroom),
                )
                for name, p in state.providers.items()
            ],
        )

    class _Translate:
        def __enter__(self) -> None:
            return None

        def __exit__(
            self, kind: type[BaseException] | None, exc: BaseException | None, tb: object
        ) -> None:
            if isinstance(exc, sqlite3.Error):
                raise StateError(f"rotation state database error: {exc}") from exc

    def _translate(self) -> SQLiteStateStore._Translate:
        return SQLiteStateStore._Translate()


def _headroom(text: str | None) -> tuple[Window, ...]:
    """Stored windows (JSON); a row of an older version (NULL) or a broken one: none."""
    if not text:
        return ()
    try:
        data = json.loads(text)
    except ValueError:
        return ()
    if not isinstance(data, list):
        return ()
    return tuple(w for w in map(Window.from_dict, data) if w is not None)


def _headroom_json(windows: tuple[Window, ...]) -> str | None:
    return json.dumps([w.as_dict() for w in windows]) if windows else None


class MemoryStateStore:
    """State in this process only: for tests of the policy glue, and ``--no-state`` uses."""

    def __init__(self) -> None:
        self._states: dict[str, BackendState] = {}
        self._lock = threading.Lock()
        self._version = 0

    def get(self, backend: str) -> BackendState:
        with self._lock:
            return self._states.get(backend) or BackendState(backend)

    def get_all(self) -> dict[str, BackendState]:
        with self._lock:
            return dict(self._states)

    def update(self, backend: str, change: Change) -> BackendState:
        with self._lock:
            new = change(self._states.get(backend) or BackendState(backend))
            self._states[backend] = new
            self._version += 1
            return new

    def clear(self, backend: str | None = None) -> None:
        with self._lock:
            if backend is None:
                self._states.clear()
            else:
                self._states.pop(backend, None)
            self._version += 1

    def version(self) -> int:
        return self._version
