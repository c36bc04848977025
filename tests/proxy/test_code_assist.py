"""Gemini CLI's Google login through the proxy (issue 20): Code Assist's ``/v1internal``.

Real sockets: the proxy on uvicorn, a fake Code Assist that accepts only the Google bearer
(tests/proxy/codeassist_fake.py), plan providers (``FakeProvider``) that record what they got,
and httpx posting the shapes Gemini CLI 0.61 sends (packages/core/src/code_assist/server.ts:
``{model, project, user_prompt_id, request}``, ``?alt=sse`` for the stream)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import httpx
import pytest

from auto_router.demo.fake_upstream import FakeProvider, FakeUpstream, Seen
from auto_router.paths import Paths
from auto_router.runs import RunEntry, RuntimeDir, RunTokens, new_token
from tests.helpers import serve

from .codeassist_fake import GOOGLE_LOGIN, PROJECT, TEXT, CodeAssistFake
from .conftest import Clock, make_app, write_config

pytestmark = pytest.mark.integration

TOKEN = "tok-client-gemini-4242"
PLAN_KEY = "plan-gemini-key-0000-secret"


def config(home: Paths, sub: str | None, plan: str, plan_type: str = "gemini") -> None:
    providers = '["sub", "plan"]' if sub is not None else '["plan"]'
    sub_table = (
        f'[main.sub]\ntype = "gemini"\nauth = "passthrough"\nbase_url = "{sub}"\n'
        if sub is not None
        else ""
    )
    write_config(
        home,
        f'[backends.main]\nstrategy = "priority"\nproviders = {providers}\n'
        f'[message_backend]\ndefault = "main"\n'
        f'[proxy]\nfallback = false\nclient_tokens = ["{TOKEN}"]\n',
        sub_table + f'[main.plan]\ntype = "{plan_type}"\nbase_url = "{plan}"\n'
        f'api_key = "{PLAN_KEY}"\n[main.plan.model_map]\n"gemini-*" = "plan-model"\n',
    )


def gemini_cli(
    base: str, token: str | None = TOKEN, login: str | None = GOOGLE_LOGIN
) -> httpx.Client:
    """Gemini CLI logged in with Google: its bearer; the run's token beside it."""
    headers = {"content-type": "application/json"}
    if login is not None:
        headers["authorization"] = f"Bearer {login}"
    if token is not None:
        headers["x-auto-router-token"] = token
    return httpx.Client(base_url=base, headers=headers, timeout=10)


def wrapped(text: str = "hi") -> dict[str, object]:
    return {
        "model": "gemini-2.5-pro",
        "project": PROJECT,
        "user_prompt_id": "prompt-1",
        "request": {"contents": [{"role": "user", "parts": [{"text": text}]}]},
    }


def text_of(document: dict[str, object]) -> str:
    response = document["response"]
    assert isinstance(response, dict)
    return str(response["candidates"][0]["content"]["parts"][0]["text"])


def sse_documents(body: str) -> list[dict[str, object]]:
    return [json.loads(line[6:]) for line in body.splitlines() if line.startswith("data: ")]


def assert_no_login(seen: list[Seen]) -> None:
    for request in seen:
        assert GOOGLE_LOGIN not in repr(request)
        assert "authorization" not in request.headers
        assert "x-auto-router-token" not in request.headers


def test_account_calls_go_to_code_assist_alone_with_the_google_bearer(
    home: Paths, clock: Clock
) -> None:
    with FakeUpstream(CodeAssistFake()) as sub, FakeUpstream(FakeProvider("plan")) as plan:
        config(home, sub.root, plan.root)
        with serve(make_app(home, clock)) as base, gemini_cli(base) as cli:
            load = cli.post("/v1internal:loadCodeAssist", json={"metadata": {}})
            quota = cli.post("/v1internal:retrieveUserQuota", json={"project": PROJECT})
            flags = cli.post("/v1internal:listExperiments", json={"project": PROJECT})
    assert [r.status_code for r in (load, quota, flags)] == [200, 200, 200]
    assert load.json()["cloudaicompanionProject"] == PROJECT
    assert quota.json()["buckets"][0]["remainingFraction"] == 0.4
    assert [s.route for s in sub.seen] == [
        "/v1internal:loadCodeAssist",
        "/v1internal:retrieveUserQuota",
        "/v1internal:listExperiments",
    ]
    assert all(s.headers["authorization"] == f"Bearer {GOOGLE_LOGIN}" for s in sub.seen)
    assert all("x-auto-router-token" not in s.headers for s in sub.seen)
    assert plan.seen == []


def test_generate_content_overflows_on_the_quota_429_and_is_wrapped_back(
    home: Paths, clock: Clock
) -> None:
    code_assist = CodeAssistFake(answers=1)
    with FakeUpstream(code_assist) as sub, FakeUpstream(FakeProvider("plan", text="plan")) as plan:
        config(home, sub.root, plan.root)
        with serve(make_app(home, clock)) as base, gemini_cli(base) as cli:
            first = cli.post("/v1internal:generateContent", json=wrapped())
            second = cli.post("/v1internal:generateContent", json=wrapped("again"))
    assert (first.status_code, second.status_code) == (200, 200)
    assert text_of(first.json()) == TEXT
    assert text_of(second.json()) == "plan"  # Code Assist's shape, the plan's answer
    assert second.headers["x-auto-router-provider"] == "main/plan"
    assert [s.route for s in sub.seen] == ["/v1internal:generateContent"] * 2
    (asked,) = plan.seen
    assert asked.route == "/v1beta/models/plan-model:generateContent"
    assert asked.headers["x-goog-api-key"] == PLAN_KEY
    assert asked.json() == wrapped("again")["request"]  # unwrapped, as Gemini's API takes it
    assert_no_login(plan.seen)


def test_a_stream_overflows_and_every_chunk_is_wrapped(home: Paths, clock: Clock) -> None:
    with (
        FakeUpstream(CodeAssistFake(answers=0)) as sub,
        FakeUpstream(FakeProvider("plan", text="streamed")) as plan,
    ):
        config(home, sub.root, plan.root)
        with serve(make_app(home, clock)) as base, gemini_cli(base) as cli:
            reply = cli.post(
                "/v1internal:streamGenerateContent", params={"alt": "sse"}, json=wrapped()
            )
    assert reply.status_code == 200
    assert "event-stream" in reply.headers["content-type"]
    documents = sse_documents(reply.text)
    assert documents and all(set(d) == {"response"} for d in documents)
    assert "".join(text_of(d) for d in documents) == "streamed"
    assert sub.seen[0].path == "/v1internal:streamGenerateContent?alt=sse"
    (asked,) = plan.seen
    assert asked.path == "/v1beta/models/plan-model:streamGenerateContent?alt=sse"
    assert_no_login(plan.seen)


def test_the_overflow_is_translated_for_a_provider_of_another_api(
    home: Paths, clock: Clock
) -> None:
    with (
        FakeUpstream(CodeAssistFake(answers=0)) as sub,
        FakeUpstream(FakeProvider("plan", text="from claude")) as plan,
    ):
        config(home, sub.root, plan.root, plan_type="anthropic")
        with serve(make_app(home, clock)) as base, gemini_cli(base) as cli:
            reply = cli.post("/v1internal:generateContent", json=wrapped())
    assert reply.status_code == 200, reply.text
    assert text_of(reply.json()) == "from claude"
    (asked,) = plan.seen
    assert asked.route == "/v1/messages"
    assert asked.headers["x-api-key"] == PLAN_KEY
    assert_no_login(plan.seen)


def test_without_a_code_assist_provider_nothing_leaves_the_proxy(home: Paths, clock: Clock) -> None:
    with FakeUpstream(FakeProvider("plan")) as plan:
        config(home, None, plan.root)
        with serve(make_app(home, clock)) as base, gemini_cli(base) as cli:
            load = cli.post("/v1internal:loadCodeAssist", json={})
            generate = cli.post("/v1internal:generateContent", json=wrapped())
    for reply in (load, generate):
        assert reply.status_code == 400
        assert "no Code Assist provider" in reply.json()["error"]["message"]
        assert GOOGLE_LOGIN not in reply.text
    assert plan.seen == []


def test_a_request_without_our_token_or_without_a_login_is_refused(
    home: Paths, clock: Clock
) -> None:
    with FakeUpstream(CodeAssistFake()) as sub, FakeUpstream(FakeProvider("plan")) as plan:
        config(home, sub.root, plan.root)
        with serve(make_app(home, clock)) as base:
            with gemini_cli(base, token=None) as cli:
                no_token = cli.post("/v1internal:loadCodeAssist", json={})
            with gemini_cli(base, token="tok-wrong") as cli:
                wrong = cli.post("/v1internal:generateContent", json=wrapped())
            with gemini_cli(base, login=None) as cli:
                no_login = cli.post("/v1internal:loadCodeAssist", json={})
    assert [r.status_code for r in (no_token, wrong, no_login)] == [401, 401, 401]
    assert "Google login" in no_login.json()["error"]["message"]
    assert sub.seen == [] and plan.seen == []


def test_a_run_token_in_the_path_routes_to_the_runs_backend(
    home: Paths, clock: Clock, tmp_path: Path
) -> None:
    """``CODE_ASSIST_ENDPOINT=http://127.0.0.1:PORT/r/<run token>``: what the launcher sets."""
    runtime = RuntimeDir(home)
    token = new_token()
    runtime.register(token, RunEntry("run-1", "main", os.getpid(), time.time()))
    with (
        FakeUpstream(CodeAssistFake(answers=0)) as sub,
        FakeUpstream(FakeProvider("plan", text="plan")) as plan,
    ):
        config(home, sub.root, plan.root)
        app = make_app(home, clock, run_tokens=RunTokens(runtime))
        with serve(app) as base, gemini_cli(f"{base}/r/{token}", token=None) as cli:
            load = cli.post("/v1internal:loadCodeAssist", json={})
            reply = cli.post("/v1internal:generateContent", json=wrapped())
        with serve(app) as base, gemini_cli(f"{base}/r/not-a-run", token=None) as cli:
            refused = cli.post("/v1internal:loadCodeAssist", json={})
    assert load.status_code == 200 and text_of(reply.json()) == "plan"
    assert refused.status_code == 401
    assert all("/r/" not in s.path and token not in repr(s) for s in sub.seen + plan.seen)
    assert_no_login(plan.seen)
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert GOOGLE_LOGIN.encode() not in path.read_bytes(), path


def test_a_plain_gemini_request_never_goes_to_code_assist(home: Paths, clock: Clock) -> None:
    """Even with a bearer and our token beside it: Code Assist speaks only ``/v1internal``."""
    with (
        FakeUpstream(CodeAssistFake()) as sub,
        FakeUpstream(FakeProvider("plan", text="plan")) as plan,
    ):
        config(home, sub.root, plan.root)
        with serve(make_app(home, clock)) as base, gemini_cli(base) as cli:
            reply = cli.post(
                "/v1beta/models/gemini-2.5-pro:generateContent", json=wrapped()["request"]
            )
    assert reply.status_code == 200
    assert reply.json()["candidates"][0]["content"]["parts"][0]["text"] == "plan"
    assert sub.seen == []
    assert_no_login(plan.seen)


def test_after_its_quota_429_code_assist_is_not_asked_until_the_reset(
    home: Paths, clock: Clock
) -> None:
    """The 429 says ``retryDelay: 30s``: model requests overflow at once until then."""
    code_assist = CodeAssistFake(answers=0)
    with FakeUpstream(code_assist) as sub, FakeUpstream(FakeProvider("plan", text="plan")) as plan:
        config(home, sub.root, plan.root)
        with serve(make_app(home, clock)) as base, gemini_cli(base) as cli:
            texts = [text_of(cli.post("/v1internal:generateContent", json=wrapped()).json())]
            texts.append(text_of(cli.post("/v1internal:generateContent", json=wrapped()).json()))
            asked_while_cooling = len(sub.seen)
            account = cli.post("/v1internal:retrieveUserQuota", json={"project": PROJECT})
            code_assist.answers = 10  # its quota is back
            clock.advance(31)
            texts.append(text_of(cli.post("/v1internal:generateContent", json=wrapped()).json()))
    assert texts == ["plan", "plan", TEXT]
    assert asked_while_cooling == 1  # the second request went straight to the plan
    assert account.status_code == 200  # the account calls still go to Code Assist
    assert len(plan.seen) == 2


def test_code_assist_answers_a_stream_itself_and_its_401_is_the_clients(
    home: Paths, clock: Clock
) -> None:
    with FakeUpstream(CodeAssistFake(answers=5)) as sub, FakeUpstream(FakeProvider("plan")) as plan:
        config(home, sub.root, plan.root)
        with serve(make_app(home, clock)) as base:
            with gemini_cli(base) as cli:
                streamed = cli.post(
                    "/v1internal:streamGenerateContent", params={"alt": "sse"}, json=wrapped()
                )
            with gemini_cli(base, login="ya29.expired-login") as cli:
                expired = cli.post("/v1internal:generateContent", json=wrapped())
    assert streamed.status_code == 200
    assert [text_of(d) for d in sse_documents(streamed.text)] == [TEXT]
    # an expired login: Gemini CLI refreshes it on the 401; no overflow hides it
    assert expired.status_code == 401
    assert expired.json()["error"]["status"] == "UNAUTHENTICATED"
    assert plan.seen == []
