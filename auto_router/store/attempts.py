"""The attempts log: every child process ``auto-router run`` started, for ``history``.

Only what is safe to keep: the command's basename (arguments may hold prompts or keys), the
marker that matched, never the output itself.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..errors import StateError
from .db import connect, transaction

#: Outcomes of an attempt.
OK = "ok"
FAILED = "failed"
USAGE_LIMIT = "usage-limit"
INTERRUPTED = "interrupted"
TIMEOUT = "timeout"
NOT_STARTED = "not-started"
#: The child is still running (the row is completed when it ends; a launcher killed with
#: SIGKILL leaves it so).
RUNNING = "running"


@dataclass(frozen=True)
class Attempt:
    run_id: str
    attempt: int
    started_at: float
    backend: str
    provider: str | None
    command: str
    outcome: str
    duration: float | None = None
    exit_code: int | None = None
    limit_detected: bool = False
    marker: str | None = None
    reset_at: float | None = None
    id: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


_COLUMNS = (
    "run_id, attempt, started_at, backend, provider, command, outcome, duration, exit_code, "
    "limit_detected, marker, reset_at"
)

_PLACEHOLDERS = ", ".join("?" * len(_COLUMNS.split(",")))


class AttemptLog:
    """Reads and writes the ``run_attempts`` table of the auto-router database."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db = connect(path)

    def close(self) -> None:
        self._db.close()

    def add(self, attempt: Attempt) -> int:
        with _translate(), transaction(self._db):
            cursor = self._db.execute(
                f"INSERT INTO run_attempts ({_COLUMNS}) VALUES ({_PLACEHOLDERS})",
                (
                    attempt.run_id,
                    attempt.attempt,
                    attempt.started_at,
                    attempt.backend,
                    attempt.provider,
                    attempt.command,
                    attempt.outcome,
                    attempt.duration,
                    attempt.exit_code,
                    int(attempt.limit_detected),
                    attempt.marker,
                    attempt.reset_at,
                ),
            )
            return int(cursor.lastrowid or 0)

    def finish(self, attempt: Attempt) -> None:
        """Complete the row ``add`` wrote when the attempt started (``attempt.id``)."""
        if attempt.id is None:
            raise StateError("an attempt without an id cannot be finished")
        with _translate(), transaction(self._db):
            self._db.execute(
                "UPDATE run_attempts SET outcome = ?, duration = ?, exit_code = ?, "
                "limit_detected = ?, marker = ?, reset_at = ?, backend = ?, provider = ?, "
                "command = ? WHERE id = ?",
                (
                    attempt.outcome,
                    attempt.duration,
                    attempt.exit_code,
                    int(attempt.limit_detected),
                    attempt.marker,
                    attempt.reset_at,
                    attempt.backend,
                    attempt.provider,
                    attempt.command,
                    attempt.id,
                ),
            )

    def query(
        self,
        *,
        limit: int | None = 50,
        backend: str | None = None,
        provider: str | None = None,
        run_id: str | None = None,
        exit_code: int | None = None,
        succeeded: bool | None = None,
        since: float | None = None,
    ) -> list[Attempt]:
        """The newest attempts first, filtered (``succeeded``: outcome ok, or anything else)."""
        where: list[str] = []
        params: list[Any] = []
        for column, value in (
            ("backend", backend),
            ("provider", provider),
            ("run_id", run_id),
            ("exit_code", exit_code),
        ):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        if succeeded is not None:
            where.append("outcome = 'ok'" if succeeded else "outcome != 'ok'")
        if since is not None:
            where.append("started_at >= ?")
            params.append(since)
        sql = f"SELECT id, {_COLUMNS} FROM run_attempts"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY started_at DESC, id DESC"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        with _translate():
            rows = self._db.execute(sql, params).fetchall()
        return [_attempt(row) for row in rows]


def _attempt(row: tuple[Any, ...]) -> Attempt:
    (
        id_,
        run_id,
        attempt,
        started_at,
        backend,
        provider,
        command,
        outcome,
        duration,
        exit_code,
        limit_detected,
        marker,
        reset_at,
    ) = row
    return Attempt(
        id=id_,
        run_id=run_id,
        attempt=attempt,
        started_at=started_at,
        backend=backend,
        provider=provider,
        command=command,
        outcome=outcome,
        duration=duration,
        exit_code=exit_code,
        limit_detected=bool(limit_detected),
        marker=marker,
        reset_at=reset_at,
    )


@contextmanager
def _translate() -> Iterator[None]:
    try:
        yield
    except sqlite3.Error as exc:
        raise StateError(f"attempts log database error: {exc}") from exc


def history(
    path: Path,
    *,
    limit: int | None = 50,
    backend: str | None = None,
    provider: str | None = None,
    run_id: str | None = None,
    exit_code: int | None = None,
    succeeded: bool | None = None,
    since: float | None = None,
) -> list[Attempt]:
    """The ``limit`` newest attempts matching the filters, oldest first (for reading)."""
    log = AttemptLog(path)
    try:
        rows = log.query(
            limit=limit,
            backend=backend,
            provider=provider,
            run_id=run_id,
            exit_code=exit_code,
            succeeded=succeeded,
            since=since,
        )
    finally:
        log.close()
    return list(reversed(rows))
