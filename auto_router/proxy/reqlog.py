"""Request-log writes off the event loop: a queue drained in batches by one thread.

``add`` never blocks the request: it appends to an unbounded-speed ``SimpleQueue`` (and
drops, counting, when the backlog passes ``max_queue``). The thread writes at most one
transaction per ``interval`` and prunes to the configured retention now and then.

The log goes to the SQLite database, or to PostgreSQL when ``url`` names one (issue 22:
``[request_log] url``, replicas sharing one log). PostgreSQL may be away: the batches then
wait in memory (``max_queue`` records in all, the oldest dropped and counted past that),
the thread reconnects each ``interval``, and the log catches up when it is back.
"""

from __future__ import annotations

import json
import queue
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

import structlog

from ..config.proxy import RequestLogSettings
from ..errors import AutoRouterError
from ..redaction import Redactor, redact_record
from ..secrets import looks_secret
from ..store.db import connect
from ..store.requests import RequestRecord, insert_batch, prune

log = structlog.get_logger("auto_router.proxy.reqlog")

_KEYLIKE: Final = re.compile(
    r"(sk-[A-Za-z0-9_\-]{8,}|AIza[0-9A-Za-z_\-]{20,}|Bearer\s+[A-Za-z0-9._\-]{8,})"
)
_PRUNE_EVERY: Final = 60.0


def redact_body(body: bytes, limit: int) -> str:
    """A body fit for the log: secret-looking string fields and key-like tokens masked."""
    try:
        text = json.dumps(_redact(json.loads(body)), ensure_ascii=False)
    except (ValueError, RecursionError):  # not JSON, or nested too deep to walk (issue 18)
        text = body[:limit].decode("utf-8", "replace")
    text = _KEYLIKE.sub("****", text)
    return text if len(text) <= limit else text[:limit] + "…(truncated)"


def _redact(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: "****" if isinstance(v, str) and looks_secret(k) else _redact(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_redact(v) for v in value]
    return value


class _Flush:
    def __init__(self) -> None:
        self.done = threading.Event()


class RequestLog:
    def __init__(
        self,
        database: Path,
        settings: RequestLogSettings,
        *,
        interval: float = 0.25,
        max_batch: int = 1000,
        max_queue: int = 50_000,
        clock: Callable[[], float] = time.time,
        redactor: Callable[[], Redactor] | None = None,
        url: str | None = None,
    ) -> None:
        self.database = database
        self._url = url
        #: Where the log goes: a PostgreSQL URL (the readers use the same), else SQLite.
        self.url = url
        #: Batches PostgreSQL did not take yet (oldest first), and whether it answers.
        self._pending: list[RequestRecord] = []
        self.up = True
        self._warned_at = float("-inf")
        #: Applied in the writer thread, off the event loop: error texts, failed attempts'
        #: reasons and bodies are stored with every configured credential masked.
        self._redactor = redactor
        self.settings = settings
        self._interval = interval
        self._max_batch = max_batch
        self._max_queue = max_queue
        self._clock = clock
        self._queue: queue.SimpleQueue[RequestRecord | _Flush | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self.dropped = 0
        self.written = 0

    def start(self) -> None:
        # Open (and migrate) in the caller so a broken database fails the start, loudly;
        # a PostgreSQL away at the start is waited for instead (the proxy serves).
        db = connect(self.database) if self._url is None else self._connect_pg()
        self._thread = threading.Thread(
            target=self._run, args=(db,), name="auto-router-request-log", daemon=True
        )
        self._thread.start()

    def add(self, record: RequestRecord) -> None:
        if self._queue.qsize() >= self._max_queue:
            self.dropped += 1
            return
        self._queue.put(record)

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything added so far is written (tests, shutdown)."""
        if self._thread is None or not self._thread.is_alive():
            return False
        marker = _Flush()
        self._queue.put(marker)
        return marker.done.wait(timeout)

    def close(self, timeout: float = 10.0) -> None:
        if self._thread is None:
            return
        self._queue.put(None)
        self._thread.join(timeout)
        self._thread = None

    def _run(self, db: Any) -> None:
        last_prune = float("-inf")
        try:
            while True:
                batch, markers, stop = self._collect()
                db = self._write(db, batch)
                for marker in markers:
                    marker.done.set()
                now = time.monotonic()
                if batch and db is not None and now - last_prune >= _PRUNE_EVERY:
                    last_prune = now
                    self._prune(db)
                if stop:
                    return
        finally:
            if db is not None:
                db.close()

    def _collect(self) -> tuple[list[RequestRecord], list[_Flush], bool]:
        batch: list[RequestRecord] = []
        markers: list[_Flush] = []
        try:  # with batches waiting for PostgreSQL, come back to retry them
            item = self._queue.get(timeout=self._interval if self._pending else None)
        except queue.Empty:
            return batch, markers, False
        deadline = time.monotonic() + self._interval
        while True:
            if item is None:
                return batch, markers, True
            if isinstance(item, _Flush):
                markers.append(item)
                return batch, markers, False
            batch.append(item)
            remaining = deadline - time.monotonic()
            if len(batch) >= self._max_batch or remaining <= 0:
                return batch, markers, False
            try:
                item = self._queue.get(timeout=remaining)
            except queue.Empty:
                return batch, markers, False

    def health(self) -> dict[str, Any]:
        """For ``/health``: where the log goes, whether it answers, what waits, what was lost."""
        return {
            "kind": "sqlite" if self._url is None else "postgresql",
            "up": self.up,
            "pending": len(self._pending) + self._queue.qsize(),
            "written": self.written,
            "dropped": self.dropped,
        }

    def _connect_pg(self) -> Any:
        from ..store import postgres

        assert self._url is not None
        try:
            db = postgres.connect(self._url, timeout=max(1.0, self._interval * 4))
        except AutoRouterError as exc:
            self._away(exc)
            return None
        self.up = True
        return db

    def _away(self, exc: AutoRouterError) -> None:
        self.up = False
        now = time.monotonic()
        if now - self._warned_at >= 60.0:
            self._warned_at = now
            log.warning("request log unreachable: buffering", error=str(exc))

    def _write_pg(self, db: Any, batch: list[RequestRecord]) -> Any:
        """The pending batches and ``batch`` to PostgreSQL; the connection to use next."""
        from ..store import postgres

        pending = self._pending
        pending.extend(batch)
        if len(pending) > self._max_queue:  # bounded: the oldest go, counted
            self.dropped += len(pending) - self._max_queue
            del pending[: len(pending) - self._max_queue]
        if db is None:
            db = self._connect_pg()
            if db is None:
                return None
        try:
            postgres.insert_batch(db, pending)
        except AutoRouterError as exc:
            self._away(exc)
            db.close()
            return None
        self.written += len(pending)
        pending.clear()
        self.up = True
        return db

    def _write(self, db: Any, batch: list[RequestRecord]) -> Any:
        if not batch and not self._pending:
            return db
        if self._redactor is not None:
            redactor = self._redactor()
            if redactor:
                batch = [redact_record(record, redactor) for record in batch]
        if self._url is not None:
            return self._write_pg(db, batch)
        try:
            insert_batch(db, batch)
            self.written += len(batch)
        except AutoRouterError as exc:
            self.dropped += len(batch)
            log.warning("request log write failed", error=str(exc), dropped=len(batch))
        return db

    def _prune(self, db: Any) -> None:
        pruner = prune
        if self._url is not None:
            from ..store import postgres

            pruner = postgres.prune  # type: ignore[assignment]
        try:
            pruner(
                db,
                max_rows=self.settings.max_rows,
                max_days=self.settings.max_days,
                now=self._clock(),
            )
        except Exception as exc:
            log.warning("request log pruning failed", error=str(exc))
