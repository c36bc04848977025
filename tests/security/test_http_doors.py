"""DNS rebinding, cross-site pages, CORS, and the SDKs that must not notice any of it."""

from __future__ import annotations

import json

import anthropic
import httpx
import openai
import pytest

from auto_router.demo.fake_upstream import FakeUpstream, Reply, Seen
from auto_router.paths import Paths
from tests.helpers import closed_after_test

from .conftest import KEY_ONE, configure, make_app, running

pytestmark = pytest.mark.integration

CHAT = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
EVERY_DOOR = [
    ("GET", "/health"),
    ("GET", "/"),
    ("GET", "/v1/providers"),
    ("GET", "/v1/providers/qwen/one/config"),
    ("PUT", "/v1/providers/qwen/one/config"),
    ("POST", "/v1/providers/qwen/one/disable"),
    ("POST", "/v1/chat/completions"),
    ("POST", "/v1/messages"),
    ("POST", "/v1beta/models/g:generateContent"),
    ("GET", "/v1/models"),
]


def _texts(home: Paths) -> tuple[str, str]:
    return home.llm_config.read_text(), home.provider_metadata.read_text()


def test_dns_rebinding_page_gets_nothing(home: Paths, upstream: FakeUpstream) -> None:
    """The attack: evil.example resolves to 127.0.0.1; its page sends Host and Origin both
    naming itself, reads a provider's config and points base_url at the attacker."""
    configure(home, upstream.url)
    before = _texts(home)
    with running(make_app(home)) as port, httpx.Client(timeout=10) as client:
        evil = f"evil.example:{port}"
        attacker = {"host": evil, "origin": f"http://{evil}"}
        for method, path in EVERY_DOOR:
            body = {"base_url": "http://attacker.example/v1"} if method == "PUT" else CHAT
            resp = client.request(
                method, f"http://127.0.0.1:{port}{path}", headers=attacker, json=body
            )
            assert resp.status_code == 403, (method, path, resp.text)
            assert resp.headers["content-type"] == "application/json"
            assert "access-control-allow-origin" not in resp.headers
            assert KEY_ONE not in resp.text
        # Host alone is enough: a page that sends no Origin (a simple GET) is refused too.
        alone = client.get(f"http://127.0.0.1:{port}/health", headers={"host": evil})
        assert alone.status_code == 403
        assert alone.json()["error"]["code"] == "FORBIDDEN_HOST"
    assert _texts(home) == before
    assert upstream.seen == []


def test_refusals_speak_the_clients_protocol(home: Paths, upstream: FakeUpstream) -> None:
    configure(home, upstream.url)
    with running(make_app(home)) as port, httpx.Client(timeout=10) as client:
        bad = {"host": f"evil.example:{port}"}
        base = f"http://127.0.0.1:{port}"
        anthropic_error = client.post(f"{base}/v1/messages", headers=bad, json=CHAT).json()
        assert anthropic_error["type"] == "error"
        assert anthropic_error["error"]["type"] == "permission_error"
        gemini = client.post(f"{base}/v1beta/models/g:generateContent", headers=bad, json={})
        assert gemini.json()["error"]["status"] == "PERMISSION_DENIED"
        openai_error = client.post(f"{base}/v1/chat/completions", headers=bad, json=CHAT)
        assert openai_error.json()["error"]["code"] == "forbidden_host"


def test_the_proxys_own_names_are_served(home: Paths, upstream: FakeUpstream) -> None:
    configure(home, upstream.url, proxy='allowed_hosts = ["proxy.lan", "other.lan:8080"]')
    with running(make_app(home)) as port, httpx.Client(timeout=10) as client:
        url = f"http://127.0.0.1:{port}/health"
        for host in (
            f"127.0.0.1:{port}",
            f"localhost:{port}",
            f"LOCALHOST:{port}",
            f"proxy.lan:{port}",
            "other.lan:8080",
        ):
            assert client.get(url, headers={"host": host}).status_code == 200, host
        for host in (
            "localhost",  # the bound port is part of the name
            f"localhost:{port + 1}",
            "proxy.lan:1",
            f"other.lan:{port}",
            f"127.0.0.1.evil.example:{port}",
        ):
            assert client.get(url, headers={"host": host}).status_code == 403, host


def test_any_page_cannot_spend_the_quota(home: Paths, upstream: FakeUpstream) -> None:
    """A cross-origin ``text/plain`` POST needs no preflight; the gate refuses it anyway."""
    configure(home, upstream.url)
    with running(make_app(home)) as port, httpx.Client(timeout=10) as client:
        base = f"http://127.0.0.1:{port}"
        own = {"host": f"127.0.0.1:{port}", "content-type": "text/plain"}
        for extra in (
            {"origin": "https://evil.example"},
            {"origin": "null"},  # sandboxed iframes, file:// pages
            {"origin": f"http://localhost:{port + 1}"},  # another local port: same site
            {"sec-fetch-site": "cross-site"},
            {"origin": f"http://127.0.0.1:{port}", "sec-fetch-site": "cross-site"},
        ):
            resp = client.post(
                f"{base}/v1/chat/completions", headers={**own, **extra}, content=json.dumps(CHAT)
            )
            assert resp.status_code == 403, extra
            assert resp.json()["error"]["code"] == "forbidden_origin"
            assert not any(h.startswith("access-control-") for h in resp.headers)
        assert upstream.seen == []
        # The proxy's own origin (a dashboard it serves) is same-origin, not an attack.
        same = {"host": f"127.0.0.1:{port}", "origin": f"http://127.0.0.1:{port}"}
        ok = client.post(f"{base}/v1/chat/completions", headers=same, json=CHAT)
        assert ok.status_code == 200
        assert "access-control-allow-origin" not in ok.headers
        preflight = client.options(
            f"{base}/v1/chat/completions",
            headers={"origin": "https://evil.example", "access-control-request-method": "POST"},
        )
        assert preflight.status_code == 403
        assert "access-control-allow-origin" not in preflight.headers


def test_allowed_origins_get_cors_and_nobody_else(home: Paths, upstream: FakeUpstream) -> None:
    configure(home, upstream.url, proxy='allowed_origins = ["https://app.example"]')
    with running(make_app(home)) as port, httpx.Client(timeout=10) as client:
        url = f"http://127.0.0.1:{port}/v1/chat/completions"
        app = {"origin": "https://app.example", "sec-fetch-site": "cross-site"}
        pre = client.options(
            url,
            headers={
                **app,
                "access-control-request-method": "POST",
                "access-control-request-headers": "authorization, content-type",
            },
        )
        assert pre.status_code == 204
        assert pre.headers["access-control-allow-origin"] == "https://app.example"
        assert "POST" in pre.headers["access-control-allow-methods"]
        resp = client.post(url, headers=app, json=CHAT)
        assert resp.status_code == 200
        assert resp.headers["access-control-allow-origin"] == "https://app.example"
        other = client.post(url, headers={"origin": "https://evil.example"}, json=CHAT)
        assert other.status_code == 403
        assert "access-control-allow-origin" not in other.headers


def _anthropic_script(seen: Seen) -> Reply:
    if seen.path.endswith("/messages"):
        return Reply(
            body={
                "id": "msg_1",
                "type": "message",
                "role": "assistant",
                "model": "claude",
                "content": [{"type": "text", "text": "hello"}],
                "stop_reason": "end_turn",
                "stop_sequence": None,
                "usage": {"input_tokens": 1, "output_tokens": 1},
            }
        )
    return Reply(404, {"error": "no"})


def test_agents_and_sdks_are_unaffected(home: Paths) -> None:
    """The openai and anthropic SDKs send no Origin; they reach the proxy by 127.0.0.1 or
    localhost and everything works, streaming included."""
    with FakeUpstream() as oa, FakeUpstream(_anthropic_script) as an:
        configure(
            home,
            oa.url,
            extra_meta=f'\n[claude.a]\ntype = "anthropic"\nbase_url = "{an.root}"\n'
            'api_key = "sk-ant-secret-key-0000"\n',
        )
        home.llm_config.write_text(
            home.llm_config.read_text().replace(
                "[message_backend]", '[backends.claude]\nproviders = ["a"]\n\n[message_backend]'
            )
            + '\n[proxy.models]\n"claude-x" = "claude"\n'
        )
        with running(make_app(home)) as port:
            for name in ("127.0.0.1", "localhost"):
                client = closed_after_test(
                    openai.OpenAI(base_url=f"http://{name}:{port}/v1", api_key="k", max_retries=0)
                )
                reply = client.chat.completions.create(model="m", messages=CHAT["messages"])  # type: ignore[arg-type]
                assert reply.choices[0].message.content == "hello"
                stream = client.chat.completions.create(
                    model="m",
                    messages=CHAT["messages"],  # type: ignore[arg-type]
                    stream=True,
                )
                assert [c.choices[0].delta.content for c in stream if c.choices] == [
                    "Hel",
                    "lo",
                    "!",
                ]
                claude = closed_after_test(
                    anthropic.Anthropic(
                        base_url=f"http://{name}:{port}", api_key="k", max_retries=0
                    )
                )
                message = claude.messages.create(
                    model="claude-x",
                    max_tokens=10,
                    messages=[{"role": "user", "content": "hi"}],
                )
                assert message.content[0].text == "hello"  # type: ignore[union-attr]
