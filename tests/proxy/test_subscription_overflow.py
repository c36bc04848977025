"""Issue 20's picture through the proxy: a session on its subscription, overflowing to an
API-key provider when the 5-hour window closes (before the 429, or at it), with no error
reaching the client and the model mapped, and back on the subscription once the window
resets (on an injected clock), the run's session included.

Real sockets and SDK clients; the subscriptions are fakes that accept only their vendor's
login and send its window headers (tests/proxy/subscriptions.py)."""

from __future__ import annotations

import os
import time

import anthropic
import openai
import pytest

from auto_router.demo.fake_upstream import FakeProvider, FakeUpstream
from auto_router.paths import Paths
from auto_router.runs import RunEntry, RuntimeDir, RunTokens, new_token
from tests.helpers import serve

from .conftest import Clock, make_app, write_config
from .subscriptions import (
    CHATGPT_ACCOUNT,
    CHATGPT_LOGIN,
    CLAUDE_BETA,
    CLAUDE_LOGIN,
    ClaudeSubscription,
    CodexSubscription,
)

pytestmark = pytest.mark.integration


def config(
    home: Paths, kind: str, sub: str, plan: str, rotate_below: float = 0.05, proxy: str = ""
) -> None:
    extra = "responses = true\n" if kind == "openai" else ""
    write_config(
        home,
        f'[backends.main]\nstrategy = "priority"\nrotate_below = {rotate_below}\n'
        'providers = ["sub", "plan"]\n[message_backend]\ndefault = "main"\n'
        "[proxy]\nfallback = false\n" + proxy,
        f'[main.sub]\ntype = "{kind}"\nauth = "passthrough"\nbase_url = "{sub}"\n{extra}'
        f'[main.plan]\ntype = "{kind}"\nbase_url = "{plan}"\napi_key = "sk-plan-0000-secret"\n'
        f'{extra}[main.plan.model_map]\n"claude-opus-*" = "glm-5.1"\n"gpt-*" = "plan-model"\n',
    )


def register(home: Paths) -> tuple[str, RunTokens]:
    runtime = RuntimeDir(home)
    token = new_token()
    runtime.register(token, RunEntry("run-1", "main", os.getpid(), time.time()))
    return token, RunTokens(runtime)


def claude_code(base: str, token: str) -> anthropic.Anthropic:
    """Claude Code under ``auto-router run``, logged in: its own bearer, the run token as
    ``ANTHROPIC_CUSTOM_HEADERS`` sends it."""
    headers = {"anthropic-beta": CLAUDE_BETA, "X-Auto-Router-Token": token}
    return anthropic.Anthropic(
        base_url=base, auth_token=CLAUDE_LOGIN, default_headers=headers, max_retries=0
    )


def ask(client: anthropic.Anthropic) -> str:
    reply = client.messages.create(
        model="claude-opus-4-7", max_tokens=5, messages=[{"role": "user", "content": "hi"}]
    )
    return reply.content[0].text  # type: ignore[union-attr]


SUB, PLAN = "from the subscription", "plan"


def test_claude_overflows_before_the_429_and_its_session_comes_back_after_the_reset(
    home: Paths, clock: Clock
) -> None:
    sub = ClaudeSubscription(clock, step=0.24, reset_in=2.0)  # 24, 48, 72, 96 % used
    with FakeUpstream(sub) as up_sub, FakeUpstream(FakeProvider("plan", text=PLAN)) as up_plan:
        config(home, "anthropic", up_sub.root, up_plan.root)
        token, tokens = register(home)
        with serve(make_app(home, clock, run_tokens=tokens)) as base:
            client = claude_code(base, token)
            before = [ask(client) for _ in range(6)]
            clock.advance(2.5)  # the 5-hour window (two seconds here) resets
            after = [ask(client) for _ in range(2)]
    # at 96 % (4 % left, under rotate_below = 5 %) the next request goes elsewhere
    assert before == [SUB] * 4 + [PLAN] * 2
    assert after == [SUB] * 2  # priority, and the run's session, come back
    assert all(s.route == "/v1/messages" for s in up_sub.seen)
    assert len(up_sub.seen) == 6  # no request was refused: no 429 was ever needed
    assert [s.json()["model"] for s in up_sub.seen] == ["claude-opus-4-7"] * 6
    assert [s.json()["model"] for s in up_plan.seen] == ["glm-5.1"] * 2  # model_map
    for request in up_plan.seen:
        assert CLAUDE_LOGIN not in repr(request) and "authorization" not in request.headers
        assert request.headers["x-api-key"] == "sk-plan-0000-secret"
    events = RuntimeDir(home).events(token)
    assert [e["provider"] for e in events] == ["sub"] * 4 + ["plan"] * 2 + ["sub"] * 2


def test_a_rejected_window_fails_over_at_the_429_and_cools_only_until_its_reset(
    home: Paths, clock: Clock
) -> None:
    sub = ClaudeSubscription(clock, step=0.5, reset_in=2.0)
    sub.window.used, sub.window.reset_at = 1.0, clock() + 2.0  # closed, reset two seconds on
    with FakeUpstream(sub) as up_sub, FakeUpstream(FakeProvider("plan", text=PLAN)) as up_plan:
        # no waiting out a short limit (a real window's reset is hours away)
        proxy = "max_retry_wait = 0\n"
        config(home, "anthropic", up_sub.root, up_plan.root, rotate_below=0, proxy=proxy)
        token, tokens = register(home)
        with serve(make_app(home, clock, run_tokens=tokens)) as base:
            client = claude_code(base, token)
            first = [ask(client) for _ in range(2)]  # the 429, failed over: no error seen
            clock.advance(1.0)
            still = ask(client)
            clock.advance(1.5)  # past the named reset (not the default hour's cooldown)
            back = ask(client)
    assert first == [PLAN, PLAN] and still == PLAN and back == SUB
    statuses = [r["status"] for r in sub.inner.requests]
    assert statuses == [200]  # the refused request never reached the model
    assert len(up_sub.seen) == 2  # the 429, then the request after the reset
    assert all(CLAUDE_LOGIN not in repr(s) for s in up_plan.seen)


def test_codex_on_chatgpt_overflows_to_an_openai_key_and_comes_back(
    home: Paths, clock: Clock
) -> None:
    sub = CodexSubscription(clock, step=0.24, reset_in=2.0)
    with FakeUpstream(sub) as up_sub, FakeUpstream(FakeProvider("plan", text=PLAN)) as up_plan:
        config(home, "openai", up_sub.url, up_plan.url)
        token, tokens = register(home)
        with serve(make_app(home, clock, run_tokens=tokens)) as base:
            codex = openai.OpenAI(
                base_url=f"{base}/r/{token}/v1",
                api_key=CHATGPT_LOGIN,
                default_headers={"chatgpt-account-id": CHATGPT_ACCOUNT, "originator": "codex_exec"},
                max_retries=0,
            )

            def ask_codex() -> str:
                return codex.responses.create(model="gpt-5.5", input="hi").output_text

            before = [ask_codex() for _ in range(5)]
            clock.advance(2.5)
            after = ask_codex()
    assert before == ["from the chatgpt plan"] * 4 + [PLAN] and after == "from the chatgpt plan"
    assert [s.json()["model"] for s in up_plan.seen] == ["plan-model"]
    assert [s.route for s in up_sub.seen] == ["/v1/responses"] * 5
    for request in up_plan.seen:
        text = repr(request)
        assert CHATGPT_LOGIN not in text and CHATGPT_ACCOUNT not in text
        assert request.headers["authorization"] == "Bearer sk-plan-0000-secret"
