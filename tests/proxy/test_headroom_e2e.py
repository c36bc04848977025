"""Switching before the limit (issue 19), on real sockets: a provider whose
``x-ratelimit-remaining-requests`` runs down answer by answer is left before any 429 reaches
the client, and is used again once its window has reset (the clock moved by hand)."""

from __future__ import annotations

import time

import openai
import pytest

from auto_router.demo.fake_upstream import Dwindling, FakeProvider, FakeUpstream
from auto_router.paths import Paths
from auto_router.rotation.service import Rotator
from tests.helpers import closed_after_test, serve

from .conftest import Clock, make_app, two_providers

pytestmark = pytest.mark.integration

MESSAGES = [{"role": "user", "content": "hi"}]


def sdk(base: str) -> openai.OpenAI:
    return closed_after_test(
        openai.OpenAI(base_url=f"{base}/v1", api_key="client-key", max_retries=0)
    )


def stored_remaining(home: Paths, clock: Clock, expected: int) -> list[int]:
    """The stored window's remaining count, once a background write has brought it to
    ``expected`` (a hang guard of 10 s, not a timing assertion)."""
    deadline = time.monotonic() + 10
    while True:
        state = Rotator(home, clock=clock).state("qwen")
        found = [w.remaining for w in state.provider("one").headroom]
        if found == [expected] or time.monotonic() > deadline:
            return found
        time.sleep(0.01)


def ask(client: openai.OpenAI) -> str:
    reply = client.chat.completions.create(model="m", messages=MESSAGES)  # type: ignore[arg-type]
    return reply.choices[0].message.content or ""


def test_moves_on_before_the_limit_and_back_after_the_reset(home: Paths, clock: Clock) -> None:
    one = Dwindling(FakeProvider("one", text="from one"), clock, limit=8, window=5.0)
    two = Dwindling(FakeProvider("two", text="from two"), clock, limit=8, window=5.0)
    with FakeUpstream(one) as up_one, FakeUpstream(two) as up_two:
        two_providers(home, up_one.url, up_two.url)
        # rotate_below = 0.25 of a window of 8: below 2 requests left.
        text = home.llm_config.read_text().replace(
            "providers =", "rotate_below = 0.25\nproviders ="
        )
        home.llm_config.write_text(text)
        with serve(make_app(home, clock)) as base:
            client = sdk(base)
            # 8 - 6 = 2 left: not below 2. The 7th answer leaves 1: below the mark.
            answers = [ask(client) for _ in range(7)]
            assert answers == ["from one"] * 7
            assert ask(client) == "from two"  # before any 429: one still had a request left
            state = Rotator(home, clock=clock).state("qwen")
            cooling = state.provider("one")
            assert cooling.cooldown_until == pytest.approx(clock.now + 5.0, abs=0.01)
            assert cooling.last_error is not None
            assert cooling.last_error.startswith("proxy: threshold: requests 1/8 left, resets ")
            assert [w.remaining for w in cooling.headroom] == [1]
            # Both windows reset; two (current now: rotation is sticky) runs down in turn,
            # and rotation goes back to one, whose cooldown ended with its window.
            clock.advance(5.0)
            assert Rotator(home, clock=clock).state("qwen").provider("one").is_available(clock.now)
            answers = [ask(client) for _ in range(7)]
            assert answers == ["from two"] * 7
            assert ask(client) == "from one"
        statuses = [r["status"] for r in one.inner.requests + two.inner.requests]  # type: ignore[attr-defined]
        assert 429 not in statuses
        assert len(up_one.seen) == 8 and len(up_two.seen) == 8


def test_a_lone_provider_below_the_mark_keeps_serving(home: Paths, clock: Clock) -> None:
    """With nowhere else to go, the few requests left are spent rather than refused."""
    one = Dwindling(FakeProvider("one", text="from one"), clock, limit=4, window=60.0)
    with FakeUpstream(one) as up_one, FakeUpstream(FakeProvider("two")) as up_two:
        two_providers(home, up_one.url, up_two.url)
        Rotator(home, clock=clock).record_usage_limit("qwen", "two", reset_at=clock.now + 600)
        with serve(make_app(home, clock)) as base:
            client = sdk(base)
            assert [ask(client) for _ in range(4)] == ["from one"] * 4  # the last leaves 0
        assert stored_remaining(home, clock, 0) == [0]  # written (in the background)
        state = Rotator(home, clock=clock).state("qwen")
        assert state.provider("one").cooldown_until is None


def test_headroom_is_written_only_when_it_moved(home: Paths, clock: Clock) -> None:
    """Coalesced: one of 10,000 requests less per answer is under 1 % of the limit, so after
    the first answer's write the stored window stays as it was (no write per answer)."""
    one = Dwindling(FakeProvider("one"), clock, limit=10_000, window=3600.0)
    with FakeUpstream(one) as up_one, FakeUpstream(FakeProvider("two")) as up_two:
        two_providers(home, up_one.url, up_two.url)
        app = make_app(home, clock)
        with serve(app) as base:
            client = sdk(base)
            ask(client)  # the first answer's success write carries the window along
            assert stored_remaining(home, clock, 9_999) == [9_999]
            for _ in range(19):  # then nothing new to write: not one write per answer
                ask(client)
            state = Rotator(home, clock=clock).state("qwen")
            assert [w.remaining for w in state.provider("one").headroom] == [9_999]
            clock.advance(61)  # a minute on: the next answer refreshes it (in the background)
            ask(client)
            assert stored_remaining(home, clock, 9_979) == [9_979]
        assert len(up_two.seen) == 0
