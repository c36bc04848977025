"""Issue 19's picture, as far as it is built: a cheap plan first under ``priority``, served
until its headroom drops below the mark, left before any 429, and used again as soon as its
window resets (not only when the overflow provider runs out, as under ``sticky``)."""

from __future__ import annotations

import openai
import pytest

from auto_router.demo.fake_upstream import Dwindling, FakeProvider, FakeUpstream
from auto_router.paths import Paths
from tests.helpers import closed_after_test, serve

from .conftest import Clock, make_app, two_providers

pytestmark = pytest.mark.integration

MESSAGES = [{"role": "user", "content": "hi"}]


def ask(client: openai.OpenAI) -> str:
    reply = client.chat.completions.create(model="m", messages=MESSAGES)  # type: ignore[arg-type]
    return reply.choices[0].message.content or ""


def test_the_plan_serves_until_its_mark_and_comes_back_when_its_window_resets(
    home: Paths, clock: Clock
) -> None:
    plan = Dwindling(FakeProvider("one", text="from the plan"), clock, limit=8, window=5.0)
    overflow = FakeProvider("two", text="from the overflow")
    with FakeUpstream(plan) as up_plan, FakeUpstream(overflow) as up_overflow:
        two_providers(home, up_plan.url, up_overflow.url)
        text = home.llm_config.read_text().replace(
            "providers =", 'strategy = "priority"\nrotate_below = 0.25\nproviders ='
        )
        home.llm_config.write_text(text)
        with serve(make_app(home, clock)) as base:
            client = closed_after_test(
                openai.OpenAI(base_url=f"{base}/v1", api_key="k", max_retries=0)
            )
            assert [ask(client) for _ in range(7)] == ["from the plan"] * 7
            # one request left of 8: below the mark, so the next goes elsewhere, no 429 seen
            assert [ask(client) for _ in range(3)] == ["from the overflow"] * 3
            clock.advance(5.0)  # the plan's window resets
            assert ask(client) == "from the plan"  # priority: back at once
        statuses = [r["status"] for r in plan.inner.requests]  # type: ignore[attr-defined]
        assert 429 not in statuses
        assert len(up_plan.seen) == 8
