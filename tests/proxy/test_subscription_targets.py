"""The overflow targets issue 20 names, through the proxy: a Claude Code session on its
subscription that overflows, when the 5-hour window closes, to (a) an OpenAI API-key provider
through translation and (b) a local-model-style OpenAI server that takes no key, and comes
back once the window resets. Claude Code's OAuth bearer reaches neither; each gets its own
credential (the key) or none (the local server).

Real sockets, the official ``anthropic`` SDK as Claude Code, the fake subscription of
tests/proxy/subscriptions.py (unified headers, utilization rising per answer)."""

from __future__ import annotations

import pytest

from auto_router.demo.fake_upstream import FakeProvider, FakeUpstream, Seen
from auto_router.paths import Paths
from auto_router.runs import RuntimeDir
from tests.helpers import serve

from .conftest import Clock, make_app, write_config
from .subscriptions import CLAUDE_LOGIN, ClaudeSubscription
from .test_subscription_overflow import SUB, ask, claude_code, register

pytestmark = pytest.mark.integration

OPENAI_KEY = "sk-proj-overflow-0000-secret"
OTHER = "from the overflow target"


def config(home: Paths, sub: str, target: str, *, key: bool) -> None:
    """Backend ``main``: the subscription first, then an OpenAI-protocol provider."""
    credential = f'api_key = "{OPENAI_KEY}"\n' if key else ""
    write_config(
        home,
        '[backends.main]\nstrategy = "priority"\nrotate_below = 0.05\n'
        'providers = ["sub", "oai"]\n[message_backend]\ndefault = "main"\n'
        "[proxy]\nfallback = false\n",
        f'[main.sub]\ntype = "anthropic"\nauth = "passthrough"\nbase_url = "{sub}"\n'
        f'[main.oai]\ntype = "openai"\nbase_url = "{target}"\n{credential}'
        '[main.oai.model_map]\n"claude-opus-*" = "qwen3-coder-30b"\n',
    )


def overflow_and_back(home: Paths, clock: Clock, *, key: bool) -> tuple[list[str], list[Seen]]:
    """Six answers on a window that fills 24 % per answer, the reset, two more answers:
    what the client read, and what the overflow target saw."""
    sub = ClaudeSubscription(clock, step=0.24, reset_in=2.0)
    target = FakeProvider("target", text=OTHER)
    with FakeUpstream(sub) as up_sub, FakeUpstream(target) as up_target:
        config(home, up_sub.root, up_target.url, key=key)
        token, tokens = register(home)
        with serve(make_app(home, clock, run_tokens=tokens)) as base:
            client = claude_code(base, token)
            answers = [ask(client) for _ in range(6)]
            clock.advance(2.5)  # the window resets
            answers += [ask(client) for _ in range(2)]
    assert len(up_sub.seen) == 6  # never refused: the session left before the 429
    events = RuntimeDir(home).events(token)
    assert [e["provider"] for e in events] == ["sub"] * 4 + ["oai"] * 2 + ["sub"] * 2
    return answers, up_target.seen


def assert_translated(seen: list[Seen]) -> None:
    """Claude Code's Messages request reached the OpenAI provider as Chat Completions, with
    the mapped model, and without the subscription's bearer or its beta flags."""
    assert [s.route for s in seen] == ["/v1/chat/completions"] * 2
    assert [s.json()["model"] for s in seen] == ["qwen3-coder-30b"] * 2
    for request in seen:
        assert CLAUDE_LOGIN not in repr(request)
        assert "anthropic-beta" not in request.headers
        assert "x-api-key" not in request.headers


def test_a_claude_session_overflows_to_an_openai_key_through_translation_and_back(
    home: Paths, clock: Clock
) -> None:
    answers, seen = overflow_and_back(home, clock, key=True)
    assert answers == [SUB] * 4 + [OTHER] * 2 + [SUB] * 2
    assert_translated(seen)
    assert [s.headers["authorization"] for s in seen] == [f"Bearer {OPENAI_KEY}"] * 2


def test_a_claude_session_overflows_to_a_local_model_without_a_key_and_back(
    home: Paths, clock: Clock
) -> None:
    answers, seen = overflow_and_back(home, clock, key=False)
    assert answers == [SUB] * 4 + [OTHER] * 2 + [SUB] * 2
    assert_translated(seen)
    # no key configured: no credential at all, and surely not the subscription's
    assert all("authorization" not in s.headers for s in seen)
