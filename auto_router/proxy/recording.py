"""What the data path writes down: rotation state (shared with every process) and the logs.

State writes run in a thread (SQLite may wait for another process's lock). Writes that
change nothing are skipped, so a plain successful request costs no write at all.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import structlog

from ..errors import AutoRouterError
from ..rotator import Rotator
from ..store.requests import RequestRecord
from .exchange import Exchange
from .reqlog import RequestLog, redact_body
from .routing import Plan, Router, Target

log = structlog.get_logger("auto_router.proxy")


class Recorder:
    """State writes and request logging for the proxy."""

    def __init__(
        self,
        router: Router,
        rotator: Rotator,
        request_log: RequestLog | None,
        clock: Callable[[], float],
    ) -> None:
        self.router = router
        self.rotator = rotator
        self.request_log = request_log
        self.clock = clock
        self._consecutive: dict[tuple[str, str], int] = {}
        self._background: set[asyncio.Task[Any]] = set()

    # ------------------------------------------------------------------- state

    async def usage_limit(self, target: Target, until: float | None, reason: str) -> None:
        await self._run(
            self.rotator.record_usage_limit,
            target.backend,
            target.provider,
            reset_at=until,
            reason=f"proxy: {reason}",
        )

    async def failed(self, target: Target, reason: str, *, outage: bool) -> None:
        key = (target.backend, target.provider)
        count = self._consecutive.get(key, 0) + 1
        snap = self.router.snapshot()
        threshold = snap.settings.failure_threshold
        several = len(snap.rotation.get(target.backend, ())) > 1
        if outage and several and count >= threshold:
            self._consecutive[key] = 0
            cooldown = snap.settings.failure_cooldown
            await self._run(
                self.rotator.record_usage_limit,
                target.backend,
                target.provider,
                reset_at=self.clock() + cooldown,
                reason=f"proxy: {count} failures in a row, resting {cooldown:g}s: {reason}",
            )
            return
        self._consecutive[key] = count
        await self._run(self.rotator.record_failure, target.backend, target.provider, reason)

    async def succeeded(self, target: Target, plan: Plan) -> None:
        key = (target.backend, target.provider)
        if self._consecutive.get(key):
            self._consecutive[key] = 0
        if plan.last_success.get(target.backend) != target.provider:
            # Only when it changes something: a write per request would cost the hot path.
            self.spawn(self._run(self.rotator.record_success, target.backend, target.provider))

    async def _run(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        try:
            await asyncio.to_thread(fn, *args, **kwargs)
        except AutoRouterError as exc:
            log.warning("rotation state write failed", error=str(exc))

    def spawn(self, coro: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def drain(self) -> None:
        """Wait for background state writes (shutdown, tests)."""
        while self._background:
            await asyncio.gather(*list(self._background), return_exceptions=True)

    # --------------------------------------------------------------------- logs

    def finish(self, ex: Exchange) -> None:
        """The log line, and the request log row when the log is on."""
        duration = (time.perf_counter() - ex.started) * 1000
        log.info(
            "request",
            method=ex.method,
            endpoint=ex.endpoint.name,
            backend=ex.backend,
            provider=ex.provider,
            model=ex.client_model,
            status=ex.status,
            attempts=ex.attempts,
            stream=ex.stream,
            ms=round(duration, 2),
            error=ex.error,
        )
        if self.request_log is not None:
            self.request_log.add(self._record(ex, duration))

    def _record(self, ex: Exchange, duration: float) -> RequestRecord:
        assert self.request_log is not None
        bodies = self.request_log.settings.bodies
        limit = self.request_log.settings.max_body_bytes
        prompt, completion, total = ex.usage
        return RequestRecord(
            ts=ex.ts,
            method=ex.method,
            endpoint=ex.endpoint.name,
            status=ex.status,
            backend=ex.backend,
            provider=ex.provider,
            client_model=ex.client_model,
            upstream_model=ex.upstream_model,
            stream=ex.stream,
            attempts=ex.attempts,
            failed=tuple(ex.failed),
            duration_ms=round(duration, 3),
            ttfb_ms=None if ex.ttfb is None else round(ex.ttfb * 1000, 3),
            prompt_tokens=prompt,
            completion_tokens=completion,
            total_tokens=total,
            error=ex.error,
            request_body=redact_body(ex.request_body, limit)
            if bodies and ex.request_body
            else None,
            response_body=redact_body(ex.response_body, limit)
            if bodies and ex.response_body
            else None,
        )
