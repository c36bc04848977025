"""``auth = "passthrough"`` (issue 20): the client's own login goes to the subscription
provider and to no other; a request without one skips it; its 401 is the client's.

Real sockets: the proxy on uvicorn, fake subscription upstreams that accept only their
vendor's login (tests/proxy/subscriptions.py), an API-key provider that records what it
got, and the official SDKs as clients."""

from __future__ import annotations

from pathlib import Path

import anthropic
import httpx
import openai
import pytest

from auto_router.demo.fake_upstream import FakeProvider, FakeUpstream, Seen
from auto_router.paths import Paths
from auto_router.secrets import Secret
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

TOKEN = "tok-client-4242-abcd"
ADMIN = "adm-passthrough-test-0123456789"
SECRETS = (CLAUDE_LOGIN, CHATGPT_LOGIN, CHATGPT_ACCOUNT)


def config(home: Paths, kind: str, sub: str, plan: str) -> None:
    """Backend ``main``: the subscription first (``priority``), then an API-key provider of
    the same type."""
    extra = "responses = true\n" if kind == "openai" else ""
    write_config(
        home,
        '[backends.main]\nstrategy = "priority"\nproviders = ["sub", "plan"]\n'
        '[message_backend]\ndefault = "main"\n'
        f'[proxy]\nfallback = false\nclient_tokens = ["{TOKEN}"]\n'
        "[proxy.request_log]\nbodies = true\n",
        f'[main.sub]\ntype = "{kind}"\nauth = "passthrough"\nbase_url = "{sub}"\n{extra}'
        f'[main.plan]\ntype = "{kind}"\nbase_url = "{plan}"\napi_key = "sk-plan-0000-secret"\n'
        f"{extra}",
    )


def claude(base: str, login: str = CLAUDE_LOGIN, beta: str = CLAUDE_BETA) -> anthropic.Anthropic:
    """Claude Code logged in: its OAuth bearer, the beta flags, our token beside them."""
    headers = {"anthropic-beta": beta, "X-Auto-Router-Token": TOKEN}
    return anthropic.Anthropic(
        base_url=base, auth_token=login, default_headers=headers, max_retries=0
    )


def ask(client: anthropic.Anthropic) -> str:
    reply = client.messages.create(
        model="claude-opus-4-7", max_tokens=5, messages=[{"role": "user", "content": "hi"}]
    )
    return reply.content[0].text  # type: ignore[union-attr]


def assert_no_login(seen: list[Seen]) -> None:
    for request in seen:
        text = repr(request)
        assert not any(secret in text for secret in SECRETS), text
        assert "chatgpt-account-id" not in request.headers
        assert "x-auto-router-token" not in request.headers


def assert_never_stored(home: Path, *shown: str) -> None:
    """Nothing under the config/data directory, nor any shown text, holds a login."""
    for path in home.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert not any(secret.encode() in data for secret in SECRETS), path
    for text in shown:
        assert not any(secret in text for secret in SECRETS)


def test_the_login_goes_to_the_subscription_and_never_to_the_api_key_provider(
    home: Paths, clock: Clock, tmp_path: Path
) -> None:
    sub = ClaudeSubscription(clock, step=0.5)
    with FakeUpstream(sub) as up_sub, FakeUpstream(FakeProvider("plan", text="plan")) as up_plan:
        config(home, "anthropic", up_sub.root, up_plan.root)
        with serve(make_app(home, clock, admin_token=Secret(ADMIN))) as base:
            client = claude(base)
            answers = [ask(client) for _ in range(4)]
            admin = {"authorization": f"Bearer {ADMIN}"}
            shown = [
                httpx.get(f"{base}{path}", headers=admin).text
                for path in ("/v1/providers", "/v1/requests", "/v1/providers/main/sub")
            ]
    # the subscription until its window is full, then the API-key provider, no error seen
    assert answers[:2] == ["from the subscription"] * 2
    assert answers[2:] == ["plan", "plan"]
    for request in up_sub.seen:
        assert request.headers["authorization"] == f"Bearer {CLAUDE_LOGIN}"
        assert "oauth-2025-04-20" in request.headers["anthropic-beta"]
        assert "x-api-key" not in request.headers and "x-auto-router-token" not in request.headers
    assert up_plan.seen and all(
        s.headers["x-api-key"] == "sk-plan-0000-secret" for s in up_plan.seen
    )
    assert all("authorization" not in s.headers for s in up_plan.seen)
    assert_no_login(up_plan.seen)
    assert_never_stored(tmp_path, *shown)


def test_a_chatgpt_login_and_its_account_go_to_the_codex_backend_alone(
    home: Paths, clock: Clock, tmp_path: Path
) -> None:
    sub = CodexSubscription(clock, step=0.5)
    with FakeUpstream(sub) as up_sub, FakeUpstream(FakeProvider("plan", text="plan")) as up_plan:
        config(home, "openai", up_sub.url, up_plan.url)
        with serve(make_app(home, clock)) as base:
            codex = openai.OpenAI(
                base_url=f"{base}/r/{TOKEN}/v1",
                api_key=CHATGPT_LOGIN,
                default_headers={"chatgpt-account-id": CHATGPT_ACCOUNT, "originator": "codex_exec"},
                max_retries=0,
            )
            texts = [
                codex.responses.create(model="gpt-5", input="hi").output_text for _ in range(4)
            ]
            assert [m.id for m in codex.models.list()]
    assert texts[:2] == ["from the chatgpt plan"] * 2 and texts[2:] == ["plan", "plan"]
    assert all(s.headers["chatgpt-account-id"] == CHATGPT_ACCOUNT for s in up_sub.seen)
    assert all(s.headers["originator"] == "codex_exec" for s in up_plan.seen)  # not a credential
    assert all(s.headers["authorization"] == "Bearer sk-plan-0000-secret" for s in up_plan.seen)
    assert_no_login(up_plan.seen)
    assert_never_stored(tmp_path)


def test_a_request_without_a_login_skips_the_subscription_and_does_not_cool_it(
    home: Paths, clock: Clock
) -> None:
    sub = ClaudeSubscription(clock, step=0.1)
    with FakeUpstream(sub) as up_sub, FakeUpstream(FakeProvider("plan", text="plan")) as up_plan:
        config(home, "anthropic", up_sub.root, up_plan.root)
        with serve(make_app(home, clock)) as base:
            # our token alone (header), then as the bearer: no login either way
            as_bearer = anthropic.Anthropic(base_url=base, auth_token=TOKEN, max_retries=0)
            assert ask(as_bearer) == "plan"
            by_header = httpx.post(
                f"{base}/v1/messages",
                json={"model": "m", "max_tokens": 5, "messages": []},
                headers={"X-Auto-Router-Token": TOKEN, "anthropic-version": "2023-06-01"},
            )
            assert by_header.status_code == 200
            assert by_header.headers["x-auto-router-provider"] == "main/plan"
            assert ask(claude(base)) == "from the subscription"  # not cooled: back at once
    assert len(up_sub.seen) == 1
    assert len(up_plan.seen) == 2
    assert_no_login(up_plan.seen)


def test_a_401_from_the_subscription_reaches_the_client_and_cools_nothing(
    home: Paths, clock: Clock
) -> None:
    sub = ClaudeSubscription(clock)
    with FakeUpstream(sub) as up_sub, FakeUpstream(FakeProvider("plan", text="plan")) as up_plan:
        config(home, "anthropic", up_sub.root, up_plan.root)
        with serve(make_app(home, clock)) as base:
            stale = claude(base, beta="claude-code-20250219")  # no OAuth flag: refused
            with pytest.raises(anthropic.AuthenticationError) as caught:
                ask(stale)
            assert caught.value.status_code == 401
            assert caught.value.response.headers["x-auto-router-provider"] == "main/sub"
            assert ask(claude(base)) == "from the subscription"  # the login refreshed: served
    assert len(up_sub.seen) == 2
    assert not up_plan.seen  # the client's login problem is not failed over
