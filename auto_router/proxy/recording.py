"""The recording layer: what the data path writes down, from the outcomes of its attempts.

Two things are written: the rotation state (shared with every process: usage limits, the
circuit breakers, the last success) and the request's record (``Exchange``: the log line and
the request log row). ``Recorder.attempt`` makes one attempt through the attempt layer below
and writes what its outcome says; the layers above hand it what they saw themselves (a
stream that broke after the first byte, a refused continuation). Nothing below calls up here.

State writes run in a thread (SQLite may wait for another process's lock). Writes that
change nothing are skipped, so a plain successful request costs no write at all.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from functools import partial
from typing import Any, TypeVar

import structlog

from ..config import Config
from ..errors import AutoRouterError
from ..limits.cooling import clock_time
from ..limits.headroom import (
    Mark,
    Window,
    below_mark,
    changed,
    parse_headroom,
    threshold_reason,
)
from ..rotation.policy import OPEN, BackendState, record_headroom, record_threshold
from ..rotation.service import Rotator
from ..runs import RunTokens
from ..store.requests import FailedAttempt, RequestRecord
from .attempts import Answer, Attempts, Outcome, upstream_model
from .classify import LIMIT, OUTAGE, Failure
from .exchange import Call, Exchange
from .feed import request_event
from .reqlog import RequestLog, redact_body
from .routing import Plan, Router, Target
from .runs import failover_event

log = structlog.get_logger("auto_router.proxy")
T = TypeVar("T")


class Recorder:
    """State writes and request logging for the proxy, around the attempts it makes."""

    def __init__(
        self,
        router: Router,
        rotator: Rotator,
        attempts: Attempts,
        request_log: RequestLog | None,
        clock: Callable[[], float],
        run_tokens: RunTokens | None = None,
    ) -> None:
        self.router = router
        self.attempts = attempts
        self.run_tokens = run_tokens
        self.rotator = rotator
        self.request_log = request_log
        self.clock = clock
        self._background: set[asyncio.Task[Any]] = set()
        #: The headroom last written per (backend, provider): a write only when it moved.
        self._headroom: dict[tuple[str, str], tuple[Window, ...]] = {}
        #: One lock per provider: its headroom writes (most in the background, in threads)
        #: land in the order the answers came, so an older window never overwrites a newer.
        self._headroom_locks: dict[tuple[str, str], asyncio.Lock] = {}
        #: The marks of the configuration version in force, per (backend, provider).
        self._marks: tuple[int, dict[tuple[str, str], Mark]] = (-1, {})

    # ---------------------------------------------------------------- attempts

    async def attempt(
        self,
        ex: Exchange,
        target: Target,
        call: Call,
        *,
        may_retry: bool = False,
        may_wait: float = 0.0,
    ) -> Outcome:
        """One attempt on ``target``, and what it says written to the state and ``ex``."""
        ex.attempts += 1
        ex.provider, ex.backend, ex.key_id = target.provider, target.backend, target.key_id
        model = upstream_model(target, ex)
        if target.broken is None:  # a provider that cannot be used is never asked
            ex.upstream_model = model
        done = await self.attempts.attempt(
            target, ex, call, model, may_retry=may_retry, may_wait=may_wait
        )
        if isinstance(done, Failure):
            await self.settle(target, done)
            ex.failed.append(
                FailedAttempt(target.backend, target.provider, done.status, done.reason)
            )
        return done

    async def settle(self, target: Target, failure: Failure) -> None:
        """Write what ``failure.count`` says; a circuit it opens cancels its retry."""
        count = failure.count
        if count is None:
            return
        if count.kind == LIMIT:
            await self.usage_limit(target, count.until, count.reason)
            await self._refused_headroom(target, failure)
            return
        opened = await self.failed(target, count.reason, outage=count.kind == OUTAGE)
        if opened and count.trips:
            failure.tripped()

    def refused(self, ex: Exchange, target: Target, status: int, reason: str) -> None:
        """A continuation that answered, but not with a stream that continues the answer."""
        ex.failed.append(FailedAttempt(target.backend, target.provider, status, reason))

    def broke(self, ex: Exchange, target: Target, reason: str) -> int:
        """A stream broke after the first byte: listed, and counted as an outage (in the
        background: the client is waiting for the rest). The entry's index, for ``resumed``."""
        ex.failed.append(FailedAttempt(target.backend, target.provider, None, reason))
        self.stream_broke(target, reason)
        return len(ex.failed) - 1

    def resumed(self, ex: Exchange, entry: int, target: Target) -> None:
        """The break at ``entry`` was continued on ``target``: its reason says so."""
        broke = ex.failed[entry]
        ex.failed[entry] = replace(broke, reason=f"{broke.reason}; continued on {target.key}")

    def stream_broke(self, target: Target, reason: str) -> None:
        """Count a stream that broke after the first byte as an outage, in the background."""
        self.spawn(self.failed(target, reason, outage=True))

    # ------------------------------------------------------------------- state

    async def usage_limit(self, target: Target, until: float | None, reason: str) -> None:
        await self._run(
            self.rotator.record_usage_limit,
            target.backend,
            target.slot,
            reset_at=until,
            reason=f"proxy: {reason}",
        )

    async def _refused_headroom(self, target: Target, failure: Failure) -> None:
        """A usage limit's own headers (a subscription's 429 says its window is used up): the
        windows shown and steered by are the refusal's, not the last answer's before it."""
        windows = parse_headroom(failure.headers, self.clock())
        if not windows:
            return
        key = (target.backend, target.slot)
        change = partial(record_headroom, provider=target.slot, windows=windows)
        lock = self._headroom_locks.get(key) or self._headroom_locks.setdefault(key, asyncio.Lock())
        async with lock:  # after the answers' writes still under way: this reading is newer
            self._headroom[key] = windows
            await self._write(self.rotator.update, target.backend, change)

    async def failed(self, target: Target, reason: str, *, outage: bool) -> bool:
        """Count a failure; outages count toward the provider's circuit breaker (never a
        rotation: that is for usage limits). ``True`` when the circuit is open now."""
        settings = self.router.snapshot().settings
        state = await self._run(
            self.rotator.record_failure,
            target.backend,
            target.slot,
            reason,
            threshold=settings.failure_threshold if outage else None,
            open_for=settings.failure_cooldown,
        )
        if state is None:
            return False
        opened = state.provider(target.slot).circuit(self.clock()) == OPEN
        if opened:
            log.warning("circuit open", provider=target.key, seconds=settings.failure_cooldown)
        return opened

    async def claim_probe(self, target: Target) -> bool:
        """Whether this request is the one probe through ``target``'s half-open circuit.

        The claim keeps other requests (of every process) away for one breaker period, so a
        probe that never comes back does not shut the provider out for good."""
        hold = self.router.snapshot().settings.failure_cooldown
        claimed = await self._run(self.rotator.claim_probe, target.backend, target.slot, hold)
        return bool(claimed)

    async def succeeded(
        self, target: Target, plan: Plan, ex: Exchange, answer: Answer | None = None
    ) -> None:
        key = (target.backend, target.slot)
        troubled = key in plan.troubled or any(
            f.provider == target.provider and f.backend == target.backend for f in ex.failed
        )
        if answer is not None and answer.headroom:
            await self._headroom_after(target, plan, answer.headroom, troubled)
        elif troubled:
            # A success closes the circuit and ends the failure streak. Written before the
            # answer goes out, so the very next request sees the provider healthy again
            # (rare: only after trouble, so the hot path does not pay for it).
            await self._write(self.rotator.record_success, target.backend, target.slot)
        elif plan.last_success.get(target.backend) != target.slot:
            # Only when it changes something: a write per request would cost the hot path.
            self.spawn(self._write(self.rotator.record_success, target.backend, target.slot))

    async def _headroom_after(
        self, target: Target, plan: Plan, windows: tuple[Window, ...], troubled: bool
    ) -> None:
        """A success whose answer described its windows: written after the success itself
        (which ends a cooldown). Below the mark, before the answer goes out, so the next
        request already goes elsewhere; else in the background, and only when they moved."""
        key = (target.backend, target.slot)
        now = self.clock()
        hit = below_mark(windows, self._mark((target.backend, target.provider)), now)
        success = troubled or plan.last_success.get(target.backend) != target.slot
        before = self._headroom.get(key)
        if hit is None and not success and before is not None and not changed(before, windows):
            return
        self._headroom[key] = windows
        writes = self._success_and_headroom(target, success, windows, hit, now)
        if hit is not None or troubled:
            await writes
            if hit is not None:
                log.info("below the headroom mark", provider=target.key, window=hit.name)
        else:
            self.spawn(writes)

    def _mark(self, key: tuple[str, str]) -> Mark:
        snap = self.router.snapshot()
        version, marks = self._marks
        if version != snap.version:
            marks = {}
            self._marks = (snap.version, marks)
        mark = marks.get(key)
        if mark is None:
            mark = marks[key] = mark_of(snap.config, *key)
        return mark

    async def _success_and_headroom(
        self,
        target: Target,
        success: bool,
        windows: tuple[Window, ...],
        hit: Window | None,
        now: float,
    ) -> None:
        key = (target.backend, target.slot)
        lock = self._headroom_locks.get(key) or self._headroom_locks.setdefault(key, asyncio.Lock())
        async with lock:  # FIFO: tasks take it in the order they were spawned
            if success:
                await self._write(self.rotator.record_success, target.backend, target.slot)
            names = self.router.snapshot().rotation.get(target.backend, ())
            change = partial(_headroom_change, names, target.slot, windows, hit, now)
            await self._write(self.rotator.update, target.backend, change)

    async def _run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T | None:
        """A state write, in a thread (SQLite may wait for another process's lock)."""
        try:
            return await asyncio.to_thread(fn, *args, **kwargs)
        except AutoRouterError as exc:
            log.warning("rotation state write failed", error=str(exc))
            return None

    async def _write(self, fn: Callable[..., Any], *args: Any) -> None:
        await self._run(fn, *args)

    def spawn(self, coro: Awaitable[Any]) -> None:
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
            key=ex.key_id,
            model=ex.client_model,
            status=ex.status,
            attempts=ex.attempts,
            stream=ex.stream,
            ms=round(duration, 2),
            error=ex.error,
        )
        if ex.run is not None and self.run_tokens is not None:  # every request: the run's record
            self.run_tokens.record_failover(ex.run[0], failover_event(ex))
        if self.request_log is not None:
            self.request_log.add(self._record(ex, duration))
        if self.rotator.events.feed_wanted:  # the dashboard's live feed, only while watched
            config = self.router.snapshot().config
            self.rotator.events.publish((request_event(ex, duration, config),))

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
            run_id=ex.run[1].run_id if ex.run is not None else None,
            key_id=ex.key_id,
        )


def mark_of(config: Config, backend: str, provider: str) -> Mark:
    """The headroom mark of ``provider`` (its own keys, else its backend's)."""
    b = config.backends.get(backend)
    p = config.providers.get(backend, {}).get(provider)
    fraction = p.rotate_below if p is not None else None
    requests = p.rotate_below_requests if p is not None else None
    tokens = p.rotate_below_tokens if p is not None else None
    if b is not None:
        fraction = b.rotate_below if fraction is None else fraction
        requests = b.rotate_below_requests if requests is None else requests
        tokens = b.rotate_below_tokens if tokens is None else tokens
    return Mark(fraction or None, requests, tokens)


def _headroom_change(
    names: tuple[str, ...],
    provider: str,
    windows: tuple[Window, ...],
    hit: Window | None,
    now: float,
    state: BackendState,
) -> BackendState:
    state = record_headroom(state, provider, windows)
    if hit is None or hit.reset_at is None:
        return state
    reason = threshold_reason(hit, clock_time(hit.reset_at, now))
    return record_threshold(names, state, provider, now, hit.reset_at, f"proxy: {reason}")
