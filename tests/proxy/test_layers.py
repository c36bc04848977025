"""The layers of the request path one at a time: what each returns, and what each writes.

The attempt layer returns outcomes and writes nothing; the recording layer writes what an
outcome says; the failover layer decides what to try next from outcomes alone. Each layer
is driven here with the one below it injected (an ``httpx.MockTransport`` upstream, or a
canned layer), with the proxy's own clock and pauses: no sleeping, no monkeypatching.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from collections.abc import AsyncIterator, Callable, Iterator

import httpx
import pytest

from auto_router.config.proxy import ProxySettings
from auto_router.paths import Paths
from auto_router.proxy import ProxyApp
from auto_router.proxy.attempts import Answer, Attempts, Outcome
from auto_router.proxy.classify import LIMIT, OUTAGE, Count, Failure
from auto_router.proxy.endpoints import CHAT, Endpoint
from auto_router.proxy.exchange import Call, Exchange
from auto_router.proxy.failover import Failover
from auto_router.proxy.httpx_upstream import HttpxUpstream
from auto_router.proxy.recording import Recorder
from auto_router.proxy.routing import Plan, Target
from auto_router.store.requests import FailedAttempt, RequestFilter, read_requests
from tests.test_layout import package_imports

from .conftest import Clock, Pauses, make_app, write_config
from .test_forward import LLM, META, client_for
from .test_forward import Recorder as Upstreams

pytestmark = pytest.mark.anyio

BODY = {"model": "qwen3-coder", "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture
def app(home: Paths, clock: Clock) -> Iterator[ProxyApp]:
    write_config(home, LLM + "\n[proxy]\nfailure_threshold = 2\n", META)
    yield make_app(home, clock)


def exchange(endpoint: Endpoint = CHAT, *, stream: bool = False) -> Exchange:
    return Exchange(
        endpoint=endpoint,
        method="POST",
        started=0.0,
        ts=0.0,
        client_model="qwen3-coder",
        routed="qwen",
        stream=stream,
    )


def call(data: dict[str, object] = BODY) -> Call:
    return Call("POST", json.dumps(data).encode(), dict(data), [], b"")


def target(app: ProxyApp, provider: str = "one") -> Target:
    return app.services.router.snapshot().targets[("qwen", provider)]["openai+"]


def plan_of(app: ProxyApp) -> Plan:
    return app.services.router.plan("qwen", CHAT.plan_family)


@pytest.fixture
async def upstream() -> AsyncIterator[Callable[[httpx.MockTransport], HttpxUpstream]]:
    opened: list[HttpxUpstream] = []

    def make(transport: httpx.MockTransport) -> HttpxUpstream:
        opened.append(HttpxUpstream(transport))
        return opened[-1]

    yield make
    for client in opened:
        await client.aclose()


# ------------------------------------------------------------ the arrows, down only

#: The request path top down; each module may import only the ones after it in this list.
PATH = ("forward", "failover", "recording", "attempts", "upstream")
#: Answering the client: they answer from what they are given, so they import none of the
#: layers that plan, walk the plan or write (the outcome types of ``attempts`` only).
ANSWERING = ("relay", "continuation", "runs")


def test_the_request_path_imports_point_down() -> None:
    imported: dict[str, set[str]] = {}
    for imp in package_imports():
        if imp.source.startswith("auto_router.proxy.") and imp.target.startswith(
            "auto_router.proxy."
        ):
            imported.setdefault(imp.source.split(".")[2], set()).add(imp.target.split(".")[2])
    for n, layer in enumerate(PATH):
        above = set(PATH[:n])
        assert not imported.get(layer, set()) & above, f"{layer} imports a layer above it"
    for module in ANSWERING:
        assert not imported.get(module, set()) & {"forward", "failover", "recording"}, module


# -------------------------------------------------------------- the attempt layer


@pytest.mark.parametrize(
    ("reply", "kind", "retry"),
    [
        (httpx.Response(500, json={"error": {"message": "down"}}), OUTAGE, True),
        (httpx.Response(429, json={"error": {"message": "quota exceeded"}}), LIMIT, False),
    ],
)
async def test_an_attempt_returns_what_to_count_and_writes_nothing(
    app: ProxyApp,
    clock: Clock,
    upstream: Callable[[httpx.MockTransport], HttpxUpstream],
    reply: httpx.Response,
    kind: str,
    retry: bool,
) -> None:
    client = upstream(httpx.MockTransport(lambda r: reply))
    await client.open()
    ex = exchange()
    before = copy.deepcopy(ex)
    state = app.services.rotator.state("qwen")
    done = await Attempts(client, clock).attempt(
        target(app), ex, call(), "one-model", may_retry=True
    )
    assert isinstance(done, Failure)
    assert done.count is not None and done.count.kind == kind
    assert done.retry is retry and done.status == reply.status_code
    assert ex == before  # the request's record is not touched
    assert app.services.rotator.state("qwen") == state  # nor the rotation state


async def test_an_attempt_on_a_stream_returns_its_first_event_as_the_head(
    app: ProxyApp, clock: Clock, upstream: Callable[[httpx.MockTransport], HttpxUpstream]
) -> None:
    events = b'data: {"choices":[{"delta":{"content":"a"}}]}\n\ndata: [DONE]\n\n'
    reply = httpx.Response(200, headers={"content-type": "text/event-stream"}, content=events)
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return reply

    client = upstream(httpx.MockTransport(handler))
    await client.open()
    ex = exchange(stream=True)
    done = await Attempts(client, clock).attempt(target(app), ex, call(), "asked-model")
    assert isinstance(done, Answer) and done.payload is None
    assert done.head.startswith(b"data: ") and done.head.endswith(b"\n\n")
    assert json.loads(sent[0].content)["model"] == "asked-model"  # the model it was given
    assert ex.response_body is None and ex.upstream_model is None
    await done.resp.abort()


# ------------------------------------------------------------ the recording layer


class Canned(Attempts):
    """The attempt layer, answering from a list of outcomes (one per attempt)."""

    def __init__(self, outcomes: list[Outcome]) -> None:
        super().__init__(HttpxUpstream(), lambda: 0.0)
        self.outcomes = outcomes
        self.asked: list[tuple[str, str | None]] = []

    async def attempt(
        self,
        target: Target,
        ex: Exchange,
        call: Call,
        model: str | None,
        *,
        may_retry: bool = False,
        may_wait: float = 0.0,
    ) -> Outcome:
        self.asked.append((target.provider, model))
        done = self.outcomes.pop(0)
        if isinstance(done, Failure):
            done.retry = done.retry and may_retry  # as the real layer judges
        return done


def recorder(app: ProxyApp, clock: Clock, outcomes: list[Outcome]) -> Recorder:
    services = app.services
    return Recorder(services.router, services.rotator, Canned(outcomes), None, clock)


def down(reason: str = "HTTP 500: down") -> Failure:
    return Failure(reason, status=500, retry=True, count=Count(OUTAGE, reason))


async def test_the_recorder_writes_a_usage_limit_the_outcome_reports(
    app: ProxyApp, clock: Clock
) -> None:
    until = clock.now + 600
    limited = Failure("HTTP 429: quota", status=429, count=Count(LIMIT, "HTTP 429: quota", until))
    rec = recorder(app, clock, [limited])
    ex = exchange()
    done = await rec.attempt(ex, target(app), call())
    assert done is limited
    one = app.services.rotator.state("qwen").provider("one")
    assert one.cooldown_until == until and one.last_error == "proxy: HTTP 429: quota"
    assert ex.attempts == 1 and (ex.backend, ex.provider) == ("qwen", "one")
    assert ex.upstream_model == "one-model"
    assert ex.failed == [FailedAttempt("qwen", "one", 429, "HTTP 429: quota")]


async def test_a_failure_that_opens_the_circuit_is_not_retried(app: ProxyApp, clock: Clock) -> None:
    rec = recorder(app, clock, [down(), down()])
    first = await rec.attempt(exchange(), target(app), call(), may_retry=True)
    assert isinstance(first, Failure) and first.retry  # one failure of two: still closed
    second = await rec.attempt(exchange(), target(app), call(), may_retry=True)
    assert isinstance(second, Failure) and not second.retry
    assert second.reason == "HTTP 500: down (circuit opened)"
    assert app.services.rotator.state("qwen").provider("one").circuit(clock.now) == "open"


async def test_an_outcome_with_nothing_to_count_writes_no_state(
    app: ProxyApp, clock: Clock
) -> None:
    passed = Failure("HTTP 400: too long", status=400, kind="context", passback=True)
    rec = recorder(app, clock, [passed])
    state = app.services.rotator.state("qwen")
    ex = exchange()
    await rec.attempt(ex, target(app), call())
    assert app.services.rotator.state("qwen") == state
    assert [f.status for f in ex.failed] == [400]  # listed in the request's record all the same


# ------------------------------------------------------------- the failover layer


class Whole:
    """An upstream response with a whole JSON body (what a continuation must not be)."""

    status = 200

    def header(self, name: str) -> str | None:
        return "application/json" if name == "content-type" else None


def ok(app: ProxyApp, provider: str) -> Answer:
    return Answer(target(app, provider), Whole(), b"{}")  # type: ignore[arg-type]


async def test_failover_retries_once_then_takes_the_next_candidate(
    app: ProxyApp, clock: Clock
) -> None:
    rec = recorder(app, clock, [down(), down(), ok(app, "two")])
    pauses = Pauses()
    done = await Failover(rec, pauses.pacing()).run(
        exchange(), plan_of(app), call(), ProxySettings()
    )
    assert isinstance(done, Answer) and done.target.provider == "two"
    assert [p for p, _ in rec.attempts.asked] == ["one", "one", "two"]  # type: ignore[attr-defined]
    assert pauses.asked == [0.25]  # the one jittered pause before the retry


async def test_failover_stops_at_the_budget_and_returns_the_last_failure(
    app: ProxyApp, clock: Clock
) -> None:
    last = down("HTTP 500: last")
    rec = recorder(app, clock, [down(), down(), last])
    done = await Failover(rec, Pauses().pacing()).run(
        exchange(), plan_of(app), call(), ProxySettings(max_attempts=2, max_retries=1)
    )
    assert done is last  # one: a failure and its retry; two: no retry left
    assert [p for p, _ in rec.attempts.asked] == ["one", "one", "two"]  # type: ignore[attr-defined]


async def test_a_continuation_is_the_next_candidate_that_streams(
    app: ProxyApp, clock: Clock
) -> None:
    rec = recorder(app, clock, [ok(app, "two")])  # a whole body, not a stream: refused
    ex = exchange(stream=True)
    plan = plan_of(app)
    broke = plan.candidates[0]
    two = plan.candidates[1]
    prefilled = dataclasses.replace(
        plan, candidates=(broke, dataclasses.replace(two, prefill=True))
    )
    done = await Failover(rec, Pauses().pacing()).resume(
        ex, prefilled, call(), ProxySettings(), broke
    )
    assert done is None
    assert [p for p, _ in rec.attempts.asked] == ["two"]  # type: ignore[attr-defined]
    assert ex.failed == [FailedAttempt("qwen", "two", 200, "not a stream")]


# ------------------------------------------------- the layers together, on a stream


def chunk(text: str, finish: str | None = None) -> bytes:
    delta = {"content": text} if text else {}
    event = {"choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
    return b"data: " + json.dumps(event).encode() + b"\n\n"


class Cut(httpx.AsyncByteStream):
    """A stream that sends its chunks, then breaks (a connection reset)."""

    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = chunks

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for part in self.chunks:
            yield part
        raise httpx.ReadError("connection reset by peer")


THREE = """
[backends.qwen]
providers = ["one", "two", "three"]
[message_backend]
default = "qwen"
"""
THREE_META = "".join(
    f'[qwen.{name}]\nbase_url = "https://{name}.example/v1"\napi_key = "sk-{name}-key-1234567"\n'
    f"prefill = {'true' if name != 'one' else 'false'}\n"
    for name in ("one", "two", "three")
)


async def test_a_break_continued_past_a_refusal_is_noted_on_the_break(
    home: Paths, clock: Clock
) -> None:
    write_config(home, THREE, THREE_META)
    sse = {"content-type": "text/event-stream"}
    rec = Upstreams(
        {
            "one.example": lambda r: httpx.Response(
                200, headers=sse, stream=Cut([chunk("Hello"), chunk(" world")])
            ),
            "two.example": lambda r: httpx.Response(400, json={"error": {"message": "no"}}),
            "three.example": lambda r: httpx.Response(
                200, headers=sse, content=chunk("!", "stop") + b"data: [DONE]\n\n"
            ),
        }
    )
    async with client_for(home, rec, clock) as (client, _):
        resp = await client.post("/v1/chat/completions", json={**BODY, "stream": True})
    assert resp.status_code == 200 and b'"!"' in resp.content
    (row,) = read_requests(home, RequestFilter(limit=10))
    assert [(f.provider, f.status) for f in row.failed] == [("one", None), ("two", 400)]
    broke, refused = row.failed
    assert broke.reason.endswith("; continued on qwen/three")
    assert refused.reason == "continuation refused: HTTP 400"
