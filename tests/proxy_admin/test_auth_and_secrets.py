"""Who may use the management API, and what it never shows."""

from __future__ import annotations

import re

import pytest

from auto_router.paths import Paths

from .conftest import (
    ADMIN_TOKEN,
    CHAT,
    LLM,
    SECRETS,
    START_TOKEN,
    Upstreams,
    client_for,
    error_of,
    texts,
)

pytestmark = pytest.mark.anyio

#: (method, path, JSON body) of management calls, read-only first.
READS = [
    ("GET", "/v1/providers", None),
    ("GET", "/v1/providers/qwen/one", None),
    ("GET", "/v1/providers/qwen/two", None),
    ("GET", "/v1/providers/claude/anthropic-direct", None),
    ("GET", "/v1/providers/qwen/two/config", None),
    ("GET", "/v1/providers/claude/anthropic-direct/config", None),
    ("GET", "/v1/providers/templates", None),
    ("GET", "/v1/settings", None),
    ("GET", "/v1/settings/active_provider", None),
    ("GET", "/v1/backends", None),
    ("GET", "/v1/backends/qwen", None),
    ("GET", "/v1/requests", None),
    ("GET", "/v1/stats", None),
]
WRITES = [
    ("PUT", "/v1/providers/qwen/one", {"set": {"model": "m2"}}),
    ("POST", "/v1/providers/qwen/two/disable", None),
    ("POST", "/v1/providers/qwen/two/enable", None),
    ("PUT", "/v1/providers/qwen/two/config", None),  # body: what GET returned
    (
        "POST",
        "/v1/providers",
        {"backend": "qwen", "id": "three", "settings": {"api_key": "sk-three-secret-key-42424242"}},
    ),
    ("PUT", "/v1/settings/active_provider", {"backend": "qwen", "provider": "two"}),
    ("POST", "/v1/backends/qwen/rotate", None),
    ("POST", "/v1/backends/qwen/reset", None),
    ("POST", "/v1/providers/reload", None),
    ("DELETE", "/v1/providers/qwen/three", None),
]


def with_token(paths: Paths) -> None:
    paths.llm_config.write_text(LLM + f'\n[proxy]\nadmin_token = "{ADMIN_TOKEN}"\n')


async def test_admin_token_required_when_configured(configured: Paths) -> None:
    with_token(configured)
    before = texts(configured)
    async with client_for(configured, token="") as (client, _):
        for method, path, body in READS + WRITES:
            for headers in ({}, {"authorization": "Bearer wrong"}, {"authorization": ADMIN_TOKEN}):
                resp = await client.request(method, path, json=body, headers=headers)
                assert resp.status_code == 401, (method, path, headers)
                assert error_of(resp)["code"] == "UNAUTHORIZED"
                assert resp.headers["www-authenticate"] == "Bearer"
        assert texts(configured) == before  # nothing changed
        # /health needs no token (but says nothing secret).
        health = await client.get("/health")
        assert health.status_code == 200 and health.json()["status"] == "ok"

        good = {"authorization": f"Bearer {ADMIN_TOKEN}"}
        assert (await client.get("/v1/providers", headers=good)).status_code == 200
        resp = await client.post("/v1/backends/qwen/rotate", headers={"x-api-key": ADMIN_TOKEN})
        assert resp.status_code == 200


async def test_admin_token_from_the_environment(
    configured: Paths, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AUTO_ROUTER_ADMIN_TOKEN", "env-admin-token-0000")
    async with client_for(configured, token="") as (client, _):
        assert (await client.get("/v1/settings")).status_code == 401
        resp = await client.get(
            "/v1/settings", headers={"authorization": "Bearer env-admin-token-0000"}
        )
        assert resp.status_code == 200
        assert "env-admin-token-0000" not in resp.text


async def test_client_tokens_do_not_open_the_management_api(configured: Paths) -> None:
    configured.llm_config.write_text(
        LLM + f'\n[proxy]\nadmin_token = "{ADMIN_TOKEN}"\nclient_tokens = ["client-tok-1"]\n'
    )
    upstreams = Upstreams()
    async with client_for(configured, upstreams, token="") as (client, _):
        client_auth = {"authorization": "Bearer client-tok-1"}
        chat = await client.post("/v1/chat/completions", json=CHAT, headers=client_auth)
        assert chat.status_code == 200
        assert (await client.post("/v1/chat/completions", json=CHAT)).status_code == 401
        resp = await client.get("/v1/providers", headers=client_auth)
        assert resp.status_code == 401


async def test_without_a_configured_token_the_api_is_closed_but_to_the_start_up_one(
    configured: Paths,
) -> None:
    before = texts(configured)
    async with client_for(configured, token="", admin_token=None) as (client, _):
        for method, path, body in READS + WRITES:
            resp = await client.request(method, path, json=body)
            assert resp.status_code == 401, (method, path, resp.text)
    assert texts(configured) == before
    async with client_for(configured, token="") as (client, _):
        resp = await client.get("/v1/settings")
        assert resp.status_code == 401 and error_of(resp)["code"] == "UNAUTHORIZED"
        good = {"authorization": f"Bearer {START_TOKEN}"}
        assert (await client.get("/v1/settings", headers=good)).status_code == 200


async def test_cross_origin_changes_are_refused_even_with_the_token(configured: Paths) -> None:
    before = texts(configured)
    async with client_for(configured) as (client, _):
        evil = {"origin": "http://evil.example"}
        resp = await client.post("/v1/providers/qwen/one/disable", headers=evil)
        assert resp.status_code == 403 and error_of(resp)["code"] == "FORBIDDEN_ORIGIN"
        assert texts(configured) == before
        same = {"origin": "http://proxy"}
        resp = await client.post("/v1/providers/qwen/one/disable", headers=same)
        assert resp.status_code == 200
        assert (await client.post("/v1/providers/qwen/one/enable")).status_code == 200


async def test_no_literal_secret_in_any_response(configured: Paths) -> None:
    with_token(configured)
    good = {"authorization": f"Bearer {ADMIN_TOKEN}"}
    bodies: list[str] = []
    async with client_for(configured, token=ADMIN_TOKEN, request_log=True) as (client, _):
        await client.post("/v1/chat/completions", json=CHAT)
        for method, path, body in READS + WRITES + READS:
            if path.endswith("/config") and method == "PUT":
                body = (await client.get(path)).json()
            resp = await client.request(method, path, json=body, headers=good)
            assert resp.status_code < 300, (method, path, resp.text)
            bodies.append(resp.text)
        for method, path in [("GET", "/v1/providers/qwen/nope"), ("POST", "/v1/providers")]:
            bodies.append((await client.request(method, path, json={"x": 1})).text)
        bodies.append((await client.get("/health")).text)
    everything = "\n".join(bodies)
    for secret in (*SECRETS, "sk-three-secret-key-42424242", ADMIN_TOKEN):
        assert secret not in everything
    # and the masks are there, so the responses did carry the fields
    assert "****3456" in everything, everything
    assert "****4242" in everything, everything
    assert "${ANTHROPIC_TEST_KEY_UNSET:-****9999}" in everything
    # the write kept the real secret on disk
    assert "sk-three-secret-key-42424242" not in texts(configured)[1]  # deleted again
    assert re.search(r'api_key = "sk-two-secret-key-654321"', texts(configured)[1])


async def test_unknown_management_path_is_a_json_404(configured: Paths) -> None:
    async with client_for(configured) as (client, _):
        resp = await client.get("/v1/providers/qwen/one/nothing-here")
        assert resp.status_code == 404 and resp.json()["error"]["code"] == "not_found"
        resp = await client.post("/v1/settings")
        assert resp.status_code == 405


async def test_unexpected_failures_are_json_500_without_traceback(configured: Paths) -> None:
    async with client_for(configured) as (client, app):
        services = app.services

        class Broken:
            def status(self) -> None:
                raise RuntimeError("boom sk-one-secret-key-123456")

            def __getattr__(self, name: str) -> object:
                raise RuntimeError("boom")

        real = services.rotator
        services.rotator = Broken()  # type: ignore[assignment]
        try:
            resp = await client.get("/v1/providers")
        finally:
            services.rotator = real
        assert resp.status_code == 500
        error = error_of(resp)
        assert error["code"] == "INTERNAL_ERROR"
        assert "boom" not in resp.text and "sk-one" not in resp.text
