"""The failover layer: a plan's candidates in order, until one answers.

Before the first byte goes to the client a failure is still free to handle (docs/proxy.md,
"Failure handling", has the whole table):

* a transient failure (refused, reset, 500/502/503) is tried once more on the same provider
  after a short jittered pause, then the next candidate has a go;
* a 429 that asks to wait no longer than ``max_retry_wait`` is waited out once;
* a context-length error goes to a candidate with a larger window;
* a request error (400, 404, content policy) goes back unchanged, never retried.

No provider gets more than ``Pacing.per_window`` attempts within ``Pacing.window`` seconds.
Two budgets bound a request, apart so that one cannot spend the other: ``max_attempts``
counts the providers it tries, ``max_retries`` its same-provider retries and waits (a
provider's retry used to count as one of three attempts, so a 429 and a 500 left healthy
providers untried behind a 503). When a relayed stream breaks, the continuation gets its next
attempt here too (``resume``): the relay never walks the plan.

Each attempt goes through the recording layer (``Recorder.attempt``), which makes it and
writes what came of it; this layer only decides what to try next.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import structlog

from ..config.proxy import ProxySettings
from .attempts import Answer
from .classify import CONTEXT, Failure
from .endpoints import GEMINI
from .exchange import Call, Exchange
from .recording import Recorder
from .routing import Plan, Target

log = structlog.get_logger("auto_router.proxy")


@dataclass(frozen=True)
class Pacing:
    """The waits of the retry rules. Tests make them short; production keeps the defaults."""

    #: The pause before retrying a transient failure: uniform in this range (seconds).
    retry_pause: tuple[float, float] = (0.25, 1.0)
    #: Never more than ``per_window`` attempts on one provider within ``window`` seconds.
    per_window: int = 3
    window: float = 3.0
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    monotonic: Callable[[], float] = time.monotonic
    jitter: Callable[[float, float], float] = field(default=random.uniform)


def is_sse(done: Answer) -> bool:
    return "event-stream" in (done.resp.header("content-type") or "")


@dataclass(slots=True)
class _Budget:
    """What is left of one request's two budgets."""

    providers: int
    retries: int


class Failover:
    """Walks a plan: which candidate next, retried or waited for, within the budgets."""

    def __init__(self, recorder: Recorder, pacing: Pacing | None = None) -> None:
        self.recorder = recorder
        self.pacing = pacing or Pacing()

    async def run(
        self, ex: Exchange, plan: Plan, call: Call, settings: ProxySettings
    ) -> Answer | Failure | None:
        """Try the candidates in turn: the first answer, else the last failure."""
        last: Failure | None = None
        window: int | None = None  # after a context-length error: only larger windows
        budget = _Budget(settings.max_attempts, settings.max_retries)
        for index, target in enumerate(plan.candidates):
            if window is not None and (target.context_window or 0) <= window:
                continue
            if target.passthrough and not _carries_login(target, call):
                continue  # skipped, not failed: no login to send it (issue 20)
            if budget.providers <= 0:
                _untried(plan.candidates[index:], settings)
                break
            probe = (target.backend, target.slot) in plan.probes
            if probe and not await self.recorder.claim_probe(target):
                continue  # another request is probing it; this one goes on
            budget.providers -= 1
            done = await self._on_provider(target, ex, call, settings, probe, budget)
            if isinstance(done, Answer):
                return done
            last = done
            if done.kind == CONTEXT:
                window = max(window or 0, target.context_window or 0)
        return last

    async def _on_provider(
        self,
        target: Target,
        ex: Exchange,
        call: Call,
        settings: ProxySettings,
        probe: bool,
        budget: _Budget,
    ) -> Answer | Failure:
        """Attempts on one provider: the first, one retry of a transient failure, one wait;
        each retry or wait taken from the request's ``max_retries``."""
        tries: list[float] = []
        retried = waited = probe  # a probe is a single request
        while True:
            tries.append(self.pacing.monotonic())
            spare = budget.retries > 0
            may_wait = settings.max_retry_wait if spare and not waited else 0.0
            done = await self.recorder.attempt(
                ex, target, call, may_retry=spare and not retried, may_wait=may_wait
            )
            if isinstance(done, Answer):
                return done
            if not (done.retry or done.wait is not None):
                return done
            budget.retries -= 1
            if done.wait is not None:
                waited, pause = True, done.wait
            else:
                retried, pause = True, self.pacing.jitter(*self.pacing.retry_pause)
            await self.pacing.sleep(max(pause, self._spacing(tries)))

    def _spacing(self, tries: list[float]) -> float:
        """How long to wait so that one provider never sees too many attempts too fast."""
        pacing = self.pacing
        if len(tries) < pacing.per_window:
            return 0.0
        return max(0.0, tries[-pacing.per_window] + pacing.window - pacing.monotonic())

    async def resume(
        self, ex: Exchange, plan: Plan, call: Call, settings: ProxySettings, broke: Target
    ) -> Answer | None:
        """The next candidate after ``broke`` that takes ``call`` (the request with the partial
        answer as a prefill) and answers with a stream; ``None`` when none does."""
        candidates = plan.candidates
        start = candidates.index(broke) + 1 if broke in candidates else 0
        # The providers this request already tried count against the same budget.
        tried = {(f.backend, f.provider) for f in ex.failed} | {(broke.backend, broke.provider)}
        providers = settings.max_attempts - len(tried)
        for target in candidates[start:]:
            if not target.prefill or (target.backend, target.slot) in plan.probes:
                continue
            if target.passthrough and not _carries_login(target, call):
                continue
            if providers <= 0:
                break
            providers -= 1
            done = await self.recorder.attempt(ex, target, call)
            if isinstance(done, Failure):
                continue
            if done.payload is None and is_sse(done):
                return done
            # An error passed back (the prefill was refused), or no stream at all.
            if done.payload is None:
                await done.resp.abort()
            status = done.resp.status
            reason = f"continuation refused: HTTP {status}" if status >= 400 else "not a stream"
            self.recorder.refused(ex, target, status, reason)
        return None


def _carries_login(target: Target, call: Call) -> bool:
    """A passthrough provider takes this request: it has a login, and the provider is not
    Code Assist, which speaks only ``/v1internal`` (served by ``codeassist``, not plans)."""
    return bool(call.login) and target.family != GEMINI


def _untried(rest: Sequence[Target], settings: ProxySettings) -> None:
    """The budget of providers ran out before the plan did: say which were left."""
    log.warning(
        "max_attempts reached",
        max_attempts=settings.max_attempts,
        untried=[t.key for t in rest],
    )
