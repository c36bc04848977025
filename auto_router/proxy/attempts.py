"""The attempt loop: one request, the plan's candidates in order, until one answers.

Before the first byte goes to the client, a connection error, timeout, 429, 5xx, 401/403
or usage-limit body moves on to the next candidate; a stream's first chunk is read before
answering so a failure there still fails over.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass

from ..store.requests import FailedAttempt
from .classify import LIMIT, OUTAGE, PASS, Failure, classify, failure
from .endpoints import GEMINI
from .exchange import Call, Exchange, without_key
from .recording import Recorder
from .routing import Plan, Target
from .upstream import Upstream, UpstreamError, UpstreamResponse


@dataclass(slots=True)
class Answer:
    """The attempt that answered: its response and, unless streaming, its whole body."""

    target: Target
    resp: UpstreamResponse
    #: The body (non-streaming, or an error passed back); ``None``: a stream to relay.
    payload: bytes | None


def upstream_request(
    target: Target, ex: Exchange, call: Call
) -> tuple[str, list[tuple[str, str]], bytes | None]:
    """The URL, headers and body of ``call`` for ``target`` (sets ``ex.upstream_model``)."""
    endpoint = ex.endpoint
    model = ex.client_model
    upstream_model = target.model
    if upstream_model is None:
        other_backend = target.backend != ex.routed
        upstream_model = (target.backend_model if other_backend else None) or model
    ex.upstream_model = upstream_model
    if endpoint.family == GEMINI:
        url = f"{target.gemini_prefix}{upstream_model}:{endpoint.upstream_path}"
        if call.query:
            url += "?" + without_key(call.query)
        body: bytes | None = call.body
    else:
        url = target.urls[endpoint.name]
        if call.query and endpoint.name == "models":
            kept = without_key(call.query)
            if kept:
                url += ("&" if "?" in url else "?") + kept
        body = call.body if endpoint.has_body else None
        data = call.data
        if data is not None and upstream_model != model:
            data["model"] = upstream_model
            body = json.dumps(data, ensure_ascii=False).encode()
    headers = call.forwarded
    if target.headers:
        names = target.header_names
        headers = [h for h in headers if h[0] not in names]
        headers.extend(target.headers)
    if target.default_headers:
        present = {h[0] for h in headers}
        headers = [*headers, *(h for h in target.default_headers if h[0] not in present)]
    return url, headers, body


class Attempts:
    """Sends a request to the candidates of a plan, recording what happens to each."""

    def __init__(self, upstream: Upstream, recorder: Recorder, clock: Callable[[], float]) -> None:
        self.upstream = upstream
        self.recorder = recorder
        self.clock = clock

    async def run(
        self, ex: Exchange, plan: Plan, call: Call, max_attempts: int
    ) -> Answer | Failure | None:
        """Try the candidates in turn: the first answer, else the last failure."""
        last: Failure | None = None
        for target in plan.candidates:
            if ex.attempts >= max_attempts:
                break
            ex.attempts += 1
            ex.provider, ex.backend = target.provider, target.backend
            try:
                return await self.attempt(target, ex, call)
            except Failure as exc:
                last = exc
                ex.failed.append(
                    FailedAttempt(target.backend, target.provider, exc.status, exc.reason)
                )
        return last

    async def attempt(self, target: Target, ex: Exchange, call: Call) -> Answer:
        """Send to ``target``; raise ``Failure`` when the next candidate should have a go."""
        if target.broken:
            raise Failure(f"not usable: {target.broken}", kind="config")
        url, headers, body = upstream_request(target, ex, call)
        try:
            resp = await self.upstream.send(call.method, url, headers, body, target.timeouts)
        except UpstreamError as exc:
            raise await self._outage(target, exc) from None
        if resp.status >= 400:
            try:
                error = await resp.read()
            except UpstreamError as exc:
                error = str(exc).encode()
            await self._judge(target, resp, error)
            return Answer(target, resp, error)  # a client error (400, 404, 422...)
        if ex.stream:
            ex.response_body = await self._first_chunk(target, resp)
            return Answer(target, resp, None)
        try:
            payload = await resp.read()
        except UpstreamError as exc:
            raise await self._outage(target, exc) from None
        return Answer(target, resp, payload)

    async def _first_chunk(self, target: Target, resp: UpstreamResponse) -> bytes:
        """The stream's first chunk: read before answering, so its failure still fails over."""
        try:
            first = await resp.readany()
        except UpstreamError as exc:
            await resp.abort()
            raise await self._outage(target, exc) from None
        except asyncio.CancelledError:  # the client went away: close the upstream too
            await resp.abort()
            raise
        if not first:
            await resp.release()
            reason = "the upstream stream ended before any data"
            await self.recorder.failed(target, reason, outage=True)
            raise Failure(reason, kind="connection")
        return first

    async def _outage(self, target: Target, exc: UpstreamError) -> Failure:
        await self.recorder.failed(target, str(exc), outage=True)
        return Failure(str(exc), kind=exc.kind)

    async def _judge(self, target: Target, resp: UpstreamResponse, error: bytes) -> None:
        """Raise ``Failure`` for an error that fails over; return for one passed back."""
        verdict = classify(resp, error, target.markers, self.clock())
        if verdict.kind == PASS:
            return
        if verdict.kind == LIMIT:
            await self.recorder.usage_limit(target, verdict.until, verdict.reason)
        else:
            await self.recorder.failed(target, verdict.reason, outage=verdict.kind == OUTAGE)
        raise failure(resp, error, verdict)
