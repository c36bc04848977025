"""Strategies and session affinity through the proxy on real sockets (issue 19).

Two fake providers behind the proxy (uvicorn on a free port); the first can be told to
answer 429 with a short ``Retry-After``. The proxy's clock is a fake the test advances past
that cooldown, so "after the reset" needs no sleeping.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import httpx
import pytest

from auto_router.demo.fake_upstream import FakeProvider, FakeUpstream, Reply, Seen
from auto_router.paths import Paths
from auto_router.rotation.service import Rotator
from auto_router.runs import RunEntry, RuntimeDir, RunTokens, new_token
from tests.helpers import serve

from .conftest import Clock, make_app, two_providers

pytestmark = pytest.mark.integration

CHAT = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
SESSION = "x-auto-router-session"


class Limitable:
    """A fake provider that answers 429 (``Retry-After: 30``) while ``limited`` is set."""

    def __init__(self) -> None:
        self.limited = False
        self._provider = FakeProvider()

    def __call__(self, seen: Seen) -> object:
        if self.limited:
            return Reply(429, {"error": {"message": "Rate limit reached"}}, {"retry-after": "30"})
        return self._provider(seen)


@pytest.fixture
def pair() -> Iterator[tuple[Limitable, FakeUpstream, FakeUpstream]]:
    script = Limitable()
    with FakeUpstream(script) as one, FakeUpstream() as two:  # type: ignore[arg-type]
        yield script, one, two


def served(client: httpx.Client, **headers: str) -> str:
    """Which provider answered one chat request (the proxy says, in a header)."""
    reply = client.post("/v1/chat/completions", json=CHAT, headers=headers)
    assert reply.status_code == 200, reply.text
    return reply.headers["x-auto-router-provider"]


def configure(home: Paths, one: FakeUpstream, two: FakeUpstream, strategy: str) -> None:
    two_providers(home, one.url, two.url)
    text = home.llm_config.read_text()
    marker = 'providers = ["one", "two"]\n'
    home.llm_config.write_text(text.replace(marker, f'{marker}strategy = "{strategy}"\n', 1))


@pytest.mark.parametrize(("strategy", "after_reset"), [("priority", "one"), ("sticky", "two")])
def test_after_the_cooldown_priority_returns_and_sticky_stays(
    home: Paths,
    clock: Clock,
    pair: tuple[Limitable, FakeUpstream, FakeUpstream],
    strategy: str,
    after_reset: str,
) -> None:
    script, one, two = pair
    configure(home, one, two, strategy)
    with serve(make_app(home, clock)) as base, httpx.Client(base_url=base, timeout=20) as client:
        assert served(client) == "qwen/one"
        script.limited = True
        assert served(client) == "qwen/two"  # one 429ed: failed over, one cools for 30 s
        script.limited = False
        assert served(client) == "qwen/two"  # still cooling: not asked
        assert len(one.seen) == 2
        clock.advance(31)
        assert served(client) == f"qwen/{after_reset}"
        assert served(client) == f"qwen/{after_reset}"
    status = {b.name: b for b in Rotator(home, clock=clock).status()}["qwen"]
    assert status.strategy == strategy
    assert status.current == after_reset


def test_round_robin_alternates_and_skips_a_cooling_provider(
    home: Paths, clock: Clock, pair: tuple[Limitable, FakeUpstream, FakeUpstream]
) -> None:
    script, one, two = pair
    configure(home, one, two, "round-robin")
    with serve(make_app(home, clock)) as base, httpx.Client(base_url=base, timeout=20) as client:
        assert [served(client) for _ in range(4)] == ["qwen/one", "qwen/two"] * 2
        script.limited = True
        first = served(client)  # one's turn: 429, so two answers
        script.limited = False
        assert first == "qwen/two"
        assert {served(client) for _ in range(3)} == {"qwen/two"}
        clock.advance(31)
        assert sorted(served(client) for _ in range(4)) == ["qwen/one"] * 2 + ["qwen/two"] * 2


def test_a_session_keeps_its_provider_under_round_robin_and_moves_only_when_it_must(
    home: Paths, clock: Clock, pair: tuple[Limitable, FakeUpstream, FakeUpstream]
) -> None:
    script, one, two = pair
    configure(home, one, two, "round-robin")
    with serve(make_app(home, clock)) as base, httpx.Client(base_url=base, timeout=20) as client:
        a = [served(client, **{SESSION: "session-a"}) for _ in range(4)]
        b = [served(client, **{SESSION: "session-b"}) for _ in range(4)]
        assert a == ["qwen/one"] * 4
        assert b == ["qwen/two"] * 4  # the next turn, then kept
        script.limited = True
        assert served(client, **{SESSION: "session-a"}) == "qwen/two"  # must move
        script.limited = False
        clock.advance(31)  # one is back, but session-a stays where it moved
        assert {served(client, **{SESSION: "session-a"}) for _ in range(3)} == {"qwen/two"}
        # no session: round-robin goes on over both
        assert {served(client) for _ in range(2)} == {"qwen/one", "qwen/two"}
    # the session header is the proxy's: never sent upstream
    assert all(SESSION not in seen.headers for seen in [*one.seen, *two.seen])
    assert one.seen and two.seen


def test_a_session_keeps_its_provider_under_priority_after_failback(
    home: Paths, clock: Clock, pair: tuple[Limitable, FakeUpstream, FakeUpstream]
) -> None:
    """Affinity over preference: a session moved by a limit keeps its warm cache on the
    second provider, while new requests go back to the first once it is available."""
    script, one, two = pair
    configure(home, one, two, "priority")
    with serve(make_app(home, clock)) as base, httpx.Client(base_url=base, timeout=20) as client:
        script.limited = True
        assert served(client, **{SESSION: "s"}) == "qwen/two"
        script.limited = False
        clock.advance(31)
        assert served(client) == "qwen/one"
        assert served(client, **{SESSION: "s"}) == "qwen/two"
        assert served(client, **{SESSION: "new"}) == "qwen/one"


def test_each_run_keeps_its_provider_under_round_robin(
    home: Paths, clock: Clock, pair: tuple[Limitable, FakeUpstream, FakeUpstream]
) -> None:
    """Two ``auto-router run``s through the proxy: each run's token is its session."""
    _, one, two = pair
    configure(home, one, two, "round-robin")
    runtime = RuntimeDir(home)
    tokens = [new_token(), new_token()]
    for i, token in enumerate(tokens):
        runtime.register(token, RunEntry(f"run-{i}", "qwen", os.getpid(), time.time()))
    app = make_app(home, clock, run_tokens=RunTokens(runtime))
    with serve(app) as base, httpx.Client(base_url=base, timeout=20) as client:
        first, second = (
            [served(client, authorization=f"Bearer {token}") for _ in range(3)] for token in tokens
        )
        assert first == ["qwen/one"] * 3
        assert second == ["qwen/two"] * 3
        assert [served(client, authorization=f"Bearer {tokens[0]}") for _ in range(2)] == [
            "qwen/one"
        ] * 2
