"""Request-log writes off the event loop: a queue drained in batches by one thread.

``add`` never blocks the request: it appends to an unbounded-speed ``SimpleQueue`` (and
drops, counting, when the backlog passes ``max_queue``). The thread writes at most one
transaction per ``interval`` and prunes to the configured retention now and then.
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
    ) -> None:
        self.database = database
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
        # Open (and migrate) in the caller so a broken database fails the start, loudly.
        db = connect(self.database)
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
                self._write(db, batch)
                for marker in markers:
                    marker.done.set()
                now = time.monotonic()
                if batch and now - last_prune >= _PRUNE_EVERY:
                    last_prune = now
                    self._prune(db)
                if stop:
                    return
        finally:
            db.close()

    def _collect(self) -> tuple[list[RequestRecord], list[_Flush], bool]:
        batch: list[RequestRecord] = []
        markers: list[_Flush] = []
        item = self._queue.get()
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

    def _write(self, db: Any, batch: list[RequestRecord]) -> None:
        if not batch:
            return
        if self._redactor is not None:
            redactor = self._redactor()
            if redactor:
                batch = [redact_record(record, redactor) for record in batch]
        try:
            insert_batch(db, batch)
            self.written += len(batch)
        except AutoRouterError as exc:
            self.dropped += len(batch)
            log.warning("request log write failed", error=str(exc), dropped=len(batch))

    def _prune(self, db: Any) -> None:
        try:
            prune(
                db,
                max_rows=self.settings.max_rows,
                max_days=self.settings.max_days,
                now=self._clock(),
            )
        except Exception as exc:
            log.warning("request log pruning failed", error=str(exc))
