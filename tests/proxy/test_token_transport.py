"""The proxy token without the bearer (issue 20): ``X-Auto-Router-Token`` or a ``/r/<token>/``
path carries a run's (or a client) token, so the agent's bearer can stay its own login.

Real sockets: the proxy on uvicorn, the fake upstream, the official SDKs as clients."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence

import anthropic
import httpx
import openai
import pytest
import structlog

from auto_router.demo.fake_upstream import FakeUpstream
from auto_router.paths import Paths
from auto_router.runs import RunEntry, RuntimeDir, RunTokens, new_token
from auto_router.store.requests import RequestFilter, read_requests
from tests.helpers import serve

from .conftest import make_app, write_config

pytestmark = pytest.mark.integration

#: What a logged-in Claude Code sends as its bearer: its own OAuth access token.
LOGIN = "sk-ant-oat01-client-own-login-0123456789"


def config(home: Paths, anth: str, chat: str, proxy: str = "") -> None:
    write_config(
        home,
        '[backends.other]\nproviders = ["o"]\n[backends.claude]\nproviders = ["anth"]\n'
        '[message_backend]\ndefault = "other"\n[proxy]\nfallback = false\n' + proxy,
        f'[other.o]\nbase_url = "{chat}/v1"\napi_key = "sk-other-0000"\nresponses = true\n'
        f'[claude.anth]\ntype = "anthropic"\nbase_url = "{anth}"\napi_key = "sk-anth-0000"\n',
    )


def register(home: Paths, backend: str) -> tuple[str, RunTokens]:
    runtime = RuntimeDir(home)
    token = new_token()
    runtime.register(token, RunEntry("run-1", backend, os.getpid(), time.time()))
    return token, RunTokens(runtime)


def no_token_upstream(seen: Sequence[object], token: str) -> None:
    for request in seen:
        text = repr(request)
        assert token not in text
        assert "x-auto-router-token" not in text.lower()
        assert "/r/" not in getattr(request, "path", "")


def test_a_run_token_by_header_routes_and_the_bearer_is_not_taken_for_it(home: Paths) -> None:
    with FakeUpstream() as anth, FakeUpstream() as other:
        config(home, anth.root, other.root)
        token, tokens = register(home, "claude")
        with serve(make_app(home, run_tokens=tokens)) as base:
            client = anthropic.Anthropic(
                base_url=base,
                auth_token=LOGIN,
                default_headers={"X-Auto-Router-Token": token},
                max_retries=0,
            )
            reply = client.messages.create(model="c", max_tokens=5, messages=[])
            assert reply.type == "message"
            # the login alone is no token, nor is a wrong token beside a right-looking bearer
            for headers in (
                {"authorization": f"Bearer {LOGIN}"},
                {"authorization": f"Bearer {token}", "x-auto-router-token": "arr_" + "z" * 43},
            ):
                refused = httpx.post(f"{base}/v1/messages", json={"model": "c"}, headers=headers)
                assert refused.status_code == 401
    assert len(anth.seen) == 1 and not other.seen  # the run's backend, once
    sent = anth.seen[0]
    assert sent.headers["x-api-key"] == "sk-anth-0000"
    assert "authorization" not in sent.headers  # the client's login went nowhere
    no_token_upstream(anth.seen, token)
    assert LOGIN not in repr(anth.seen)


def test_a_run_token_in_the_path_serves_every_endpoint_and_never_reaches_a_log(
    home: Paths,
) -> None:
    with FakeUpstream() as anth, FakeUpstream() as other:
        config(home, anth.root, other.root, proxy="[proxy.request_log]\nbodies = true\n")
        token, tokens = register(home, "other")
        app = make_app(home, run_tokens=tokens)
        with structlog.testing.capture_logs() as logs, serve(app) as base:
            oa = openai.OpenAI(base_url=f"{base}/r/{token}/v1", api_key=LOGIN, max_retries=0)
            assert oa.responses.create(model="m", input="hi").status == "completed"
            assert [m.id for m in oa.models.list()]
            chat = oa.chat.completions.create(
                model="m", messages=[{"role": "user", "content": "x"}]
            )
            assert chat.choices
            an = anthropic.Anthropic(base_url=f"{base}/r/{token}", api_key=LOGIN, max_retries=0)
            assert an.messages.create(model="m", max_tokens=5, messages=[]).content
            assert httpx.head(f"{base}/r/{token}/").status_code == 200  # Claude Code's probe
            wrong = httpx.post(f"{base}/r/arr_{'q' * 43}/v1/responses", json={"model": "m"})
            assert wrong.status_code == 401
        rows = read_requests(home, RequestFilter(limit=20))  # flushed on the way out
    assert [s.path for s in other.seen] == [
        "/v1/responses",
        "/v1/models",
        "/v1/chat/completions",
        "/v1/chat/completions",  # the Anthropic client's request, translated
    ]
    assert not anth.seen
    assert all(s.headers["authorization"] == "Bearer sk-other-0000" for s in other.seen)
    no_token_upstream(other.seen, token)
    assert len(rows) == 5
    stored = repr(logs) + repr([r.to_json() for r in rows])
    assert token not in stored and LOGIN not in stored
    assert all(r.run_id == "run-1" for r in rows if r.status < 400)


def test_a_client_token_by_header_lets_a_client_in_and_is_not_forwarded(home: Paths) -> None:
    with FakeUpstream() as anth, FakeUpstream() as other:
        config(home, anth.root, other.root, proxy='client_tokens = ["tok-client-4242-abcd"]\n')
        with serve(make_app(home)) as base:
            client = openai.OpenAI(
                base_url=f"{base}/v1",
                api_key=LOGIN,
                default_headers={"X-Auto-Router-Token": "tok-client-4242-abcd"},
                max_retries=0,
            )
            assert client.responses.create(model="m", input="hi").status == "completed"
            by_path = openai.OpenAI(
                base_url=f"{base}/r/tok-client-4242-abcd/v1", api_key=LOGIN, max_retries=0
            )
            assert by_path.responses.create(model="m", input="hi").status == "completed"
            with pytest.raises(openai.AuthenticationError):
                openai.OpenAI(base_url=f"{base}/v1", api_key=LOGIN, max_retries=0).models.list()
    assert len(other.seen) == 2
    no_token_upstream(other.seen, "tok-client-4242-abcd")
    assert LOGIN not in repr(other.seen)


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("path", "raw", "token", "rest"),
    [
        ("/r/arr_abc/v1/messages", b"/r/arr_abc/v1/messages", "arr_abc", "/v1/messages"),
        ("/r/arr_abc", b"/r/arr_abc", "arr_abc", "/"),  # Claude Code's HEAD of the base URL
        ("/r/arr_abc/", b"/r/arr_abc/", "arr_abc", "/"),
        ("/r//v1/models", b"/r//v1/models", None, "/r//v1/models"),  # no token: as it came
        ("/v1/r/x", b"/v1/r/x", None, "/v1/r/x"),
    ],
)
async def test_the_gate_takes_the_token_off_the_path_before_the_app_sees_it(
    path: str, raw: bytes, token: str | None, rest: str
) -> None:
    from auto_router.config.proxy import ProxySettings
    from auto_router.proxy.asgi import PATH_TOKEN, Message, Scope
    from auto_router.proxy.gate import Gate
    from auto_router.redaction import Redactor

    seen: list[Scope] = []

    async def app(scope: Scope, receive: object, send: object) -> None:
        seen.append(dict(scope))

    async def receive() -> Message:
        return {"type": "http.request", "body": b""}

    async def send(message: Message) -> None:
        return None

    scope: Scope = {
        "type": "http",
        "method": "GET",
        "path": path,
        "raw_path": raw,
        "headers": [(b"host", b"127.0.0.1:3001")],
        "server": ("127.0.0.1", 3001),
    }
    await Gate(app, ProxySettings, Redactor)(scope, receive, send)
    (got,) = seen
    assert got["path"] == rest and got["raw_path"] == rest.encode()
    assert got.get(PATH_TOKEN) == token
