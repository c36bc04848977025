"""Providers that fail on purpose, the ways real ones do, behind the proxy on a real socket.

For every scenario: what the official openai SDK (``max_retries=0``) receives (a complete
answer or a clean error), how many attempts each fake provider saw and the pauses between
them (the proxy's injected retry clock), and that the proxy serves normally afterwards.
The timing knobs are small: 0.5 s limits, pauses recorded instead of slept.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import anthropic
import httpx
import openai
import pytest

from auto_router.demo.fake_upstream import FakeUpstream, Seen, Stream
from auto_router.paths import Paths
from auto_router.rotation.service import Rotator
from auto_router.store.requests import RequestFilter, read_requests
from tests.helpers import closed_after_test, serve

from . import wire
from .conftest import Clock, Pauses, make_app, write_config
from .faults import ANSWER, Faults, continuing

pytestmark = pytest.mark.integration

MESSAGES = [{"role": "user", "content": "hi"}]
KNOBS = """
[proxy]
header_timeout = 0.5
first_token_timeout = 0.5
idle_timeout = 0.5
total_timeout = 1.0
"""


def pool(home: Paths, one: FakeUpstream, two: FakeUpstream, *, extra: str = "", two_meta: str = "") -> None:  # fmt: skip
    write_config(
        home,
        '[backends.qwen]\nmodel = "qwen3-coder-plus"\nproviders = ["one", "two"]\n'
        '[message_backend]\ndefault = "qwen"\n' + KNOBS + extra,
        f'[qwen.one]\nbase_url = "{one.url}"\napi_key = "sk-one-secret-key-123456"\n'
        'model = "one-model"\ncontext_window = 8192\n'
        f'[qwen.two]\nbase_url = "{two.url}"\napi_key = "sk-two-secret-key-654321"\n'
        f'model = "two-model"\nprefill = true\n{two_meta}',
    )


@dataclass
class Outcome:
    text: str | None
    error: openai.APIError | None
    one: int
    two: int
    pauses: list[float]


@pytest.fixture
def faulty() -> Iterator[tuple[FakeUpstream, FakeUpstream]]:
    with FakeUpstream(Faults()) as one, FakeUpstream(continuing()) as two:
        yield one, two


def ask(base: str, fault: str, *, stream: bool) -> tuple[str | None, openai.APIError | None]:
    with openai.OpenAI(base_url=f"{base}/v1", api_key="k", max_retries=0, timeout=20) as client:
        try:
            return _ask(client, fault, stream=stream), None
        except openai.APIError as exc:
            return None, exc


def _ask(client: openai.OpenAI, fault: str, *, stream: bool) -> str | None:
    headers = {"x-fault": fault}
    if stream:
        chunks = client.chat.completions.create(
            model="m",
            messages=MESSAGES,  # type: ignore[arg-type]
            stream=True,
            extra_headers=headers,
        )
        return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    reply = client.chat.completions.create(
        model="m",
        messages=MESSAGES,  # type: ignore[arg-type]
        extra_headers=headers,
    )
    return reply.choices[0].message.content


def scenario(home: Paths, one: FakeUpstream, two: FakeUpstream, fault: str, *, stream: bool,
             extra: str = "", two_meta: str = "") -> Outcome:  # fmt: skip
    pool(home, one, two, extra=extra, two_meta=two_meta)
    pauses = Pauses()
    with serve(make_app(home, pauses=pauses)) as base:
        text, error = ask(base, fault, stream=stream)
        seen = len(one.seen), len(two.seen)
        # healthy afterwards: a plain request and a plain stream are answered in full
        assert ask(base, "", stream=False) == (ANSWER, None)
        assert ask(base, "", stream=True) == (ANSWER, None)
        assert httpx.get(f"{base}/health").status_code == 200
    return Outcome(text, error, *seen, pauses.asked)


@pytest.mark.parametrize(
    ("fault", "stream", "one", "two", "pauses"),
    [
        ("429-once", False, 2, 0, [1.0]),  # Retry-After: 1 is waited out on the same provider
        ("429", False, 2, 1, [1.0]),  # ... once: a second 429 cools it down, next provider
        ("429-bare-once", False, 1, 1, []),  # no reset named: cooldown and failover at once
        ("429-long", False, 1, 1, []),  # 60 s > max_retry_wait: cooldown and failover
        ("500-once", False, 2, 0, [0.25]),  # one retry after a jittered pause
        ("503", False, 2, 1, [0.25]),  # retried once, then the next provider
        ("reset", False, 2, 1, [0.25]),  # reset before the head: retried once
        ("close", True, 2, 1, [0.25]),
        ("hang", False, 1, 1, []),  # total_timeout: no retry of a timeout
        ("hang", True, 1, 1, []),  # header_timeout
        ("slow-first-token", True, 1, 1, []),  # first_token_timeout
        ("cut-after-2", True, 1, 1, []),  # continued by two (prefill)
        ("stall-after-2", True, 1, 1, []),  # idle_timeout, then continued
        ("malformed", True, 1, 0, []),  # the bad event is skipped (issue 18), the rest comes
        ("malformed-first", True, 2, 1, [0.25]),  # before the answer began: retry, failover
        ("no-done", True, 1, 1, []),  # a clean end without [DONE] is not a whole answer
        ("context-length", False, 1, 1, []),  # two declares a larger window
    ],
)
def test_a_fault_gets_the_complete_answer(
    home: Paths,
    faulty: tuple[FakeUpstream, FakeUpstream],
    fault: str,
    stream: bool,
    one: int,
    two: int,
    pauses: list[float],
) -> None:
    got = scenario(home, *faulty, fault, stream=stream, two_meta="context_window = 128000\n")
    assert got.error is None and got.text == ANSWER
    assert (got.one, got.two) == (one, two)
    assert got.pauses == pytest.approx(pauses, abs=0.05)


def test_a_continuation_is_a_prefill_and_is_logged(
    home: Paths, faulty: tuple[FakeUpstream, FakeUpstream]
) -> None:
    one, two = faulty
    pool(home, one, two)
    with serve(make_app(home)) as base:
        assert ask(base, "cut-after-2", stream=True) == (ANSWER, None)
    sent = two.seen[0].json()["messages"]
    assert sent == [*MESSAGES, {"role": "assistant", "content": "Hello world,"}]
    (row,) = read_requests(home, RequestFilter(limit=10))
    assert (row.status, row.provider, row.upstream_model, row.attempts) == (
        200,
        "two",
        "two-model",
        2,
    )
    assert row.error is None
    (broke,) = row.failed
    assert broke.provider == "one" and "continued on qwen/two" in broke.reason
    # usage is the answering attempt's: the continuation's final chunk
    assert (row.prompt_tokens, row.completion_tokens) == (5, 4)
    state = Rotator(home).state("qwen")  # the break counts toward one's circuit, no rotation
    assert state.provider("one").failures == 1 and state.current is None


@pytest.mark.parametrize(
    ("fault", "stream", "extra", "status", "message"),
    [
        # a request error is never retried and comes back unchanged
        ("content-filter", False, "", 400, "content management policy"),
        ("context-length", False, "", 400, "maximum context length"),  # no larger window
        # a tool call is not continued; nor is anything with continuation off
        ("tool-call-cut", True, "", None, "upstream stream broke"),
        ("cut-after-2", True, "continue_streams = false\n", None, "upstream stream broke"),
    ],
)
def test_a_fault_gets_a_clean_error(
    home: Paths,
    faulty: tuple[FakeUpstream, FakeUpstream],
    fault: str,
    stream: bool,
    extra: str,
    status: int | None,
    message: str,
) -> None:
    got = scenario(home, *faulty, fault, stream=stream, extra=extra)
    assert got.text is None and got.error is not None
    assert message in got.error.message
    if status is not None:
        assert isinstance(got.error, openai.APIStatusError) and got.error.status_code == status
    assert (got.one, got.two) == (1, 0) and got.pauses == []


def test_no_prefill_declared_means_no_continuation(
    home: Paths, faulty: tuple[FakeUpstream, FakeUpstream]
) -> None:
    one, two = faulty
    pool(home, one, two)
    text = home.provider_metadata.read_text().replace("prefill = true\n", "")
    home.provider_metadata.write_text(text)
    with serve(make_app(home)) as base:
        got, error = ask(base, "cut-after-2", stream=True)
        assert ask(base, "", stream=True) == (ANSWER, None)
    assert got is None and error is not None and "upstream stream broke" in error.message
    assert (len(one.seen), len(two.seen)) == (2, 0)


def test_a_prefill_refused_gives_the_real_error(home: Paths) -> None:
    with FakeUpstream(Faults()) as one, FakeUpstream(continuing(accepts_prefill=False)) as two:
        got = scenario(home, one, two, "cut-after-2", stream=True)
    assert got.error is not None and "upstream stream broke" in got.error.message
    assert "prefill" not in got.error.message
    assert (got.one, got.two) == (1, 1)


def test_an_outage_opens_the_circuit_and_traffic_comes_back(home: Paths, clock: Clock) -> None:
    """One is down, then recovers: 20 requests, 10 s apart on the proxy's clock."""
    faults = Faults()
    faults.down = "503"
    with FakeUpstream(faults) as one, FakeUpstream(continuing()) as two:
        pool(home, one, two)
        with serve(make_app(home, clock)) as base:
            served: list[str] = []
            client = closed_after_test(
                openai.OpenAI(base_url=f"{base}/v1", api_key="k", max_retries=0)
            )
            for i in range(20):
                if i == 5:
                    faults.down = None  # one recovers
                raw = client.chat.completions.with_raw_response.create(
                    model="m",
                    messages=MESSAGES,  # type: ignore[arg-type]
                )
                assert raw.parse().choices[0].message.content == ANSWER
                served.append(raw.headers["x-auto-router-provider"].split("/")[1])
                clock.advance(10)
            client.close()
        status = {p.name: p for p in Rotator(home, clock=clock).status()[0].providers}
    # 1: one fails twice (a try, a retry), 2: the third failure opens its circuit (30 s),
    # 3-4: skipped, 5: the half-open probe fails and re-opens it, 6-7: skipped,
    # 8: the probe succeeds (one recovered at 6): the circuit closes, one serves again
    assert served == ["two"] * 7 + ["one"] * 13
    assert len(one.seen) == 2 + 1 + 1 + 13
    assert status["one"].circuit == "closed" and status["one"].current
    assert status["one"].state.streak == 0


def test_continued_anthropic_stream_is_one_message(home: Paths) -> None:
    def cut(seen: Seen) -> Stream:
        events, names = wire.anthropic_events(seen.json()["model"], ["Hi", " there", " friend"])
        return Stream(events, event_names=names, die_after=4)

    def rest(seen: Seen) -> Stream:
        prefill = seen.json()["messages"][-1]
        assert prefill == {"role": "assistant", "content": "Hi there"}
        events, names = wire.anthropic_events(seen.json()["model"], [" friend"])
        return Stream(events, event_names=names)

    with FakeUpstream(cut) as first, FakeUpstream(rest) as second:  # type: ignore[arg-type]
        write_config(
            home,
            '[backends.claude]\nproviders = ["first", "second"]\n'
            '[message_backend]\ndefault = "claude"\n',
            f'[claude.first]\ntype = "anthropic"\nbase_url = "{first.root}"\n'
            'api_key = "sk-ant-first-key-0000001"\nmodel = "claude-x"\n'
            f'[claude.second]\ntype = "anthropic"\nbase_url = "{second.root}"\n'
            'api_key = "sk-ant-second-key-000002"\nmodel = "claude-y"\n',
        )
        with serve(make_app(home)) as base:
            client = closed_after_test(
                anthropic.Anthropic(base_url=base, api_key="k", max_retries=0)
            )
            with client.messages.stream(
                model="claude-sonnet",
                max_tokens=10,
                messages=MESSAGES,  # type: ignore[arg-type]
            ) as stream:
                text = "".join(stream.text_stream)
                final = stream.get_final_message()
            client.close()
    assert text == "Hi there friend"
    assert [b.text for b in final.content] == ["Hi there friend"]  # type: ignore[union-attr]
    assert final.stop_reason == "end_turn"
