"""Provider health / test / models against fake providers on real sockets; the request log;
``--upstream`` mode."""

from __future__ import annotations

import pytest

from auto_router.demo.fake_upstream import FakeUpstream, Reply, Seen, free_port
from auto_router.paths import Paths

from .conftest import CHAT, Upstreams, client_for, error_of, write_config

pytestmark = pytest.mark.anyio


def unauthorized(seen: Seen) -> Reply:
    return Reply(401, {"error": {"message": "bad key", "type": "invalid_request_error"}})


def three_kinds(paths: Paths, up: str, bad_key: str) -> None:
    write_config(
        paths,
        '[backends.qwen]\nproviders = ["up", "down", "nokey", "badkey", "off"]\n',
        f"""
[qwen.up]
base_url = "{up}"
api_key = "sk-up-secret-key-11112222"

[qwen.down]
base_url = "http://127.0.0.1:{free_port()}/v1"

[qwen.nokey]
base_url = "{up}"
api_key = "${{ADMIN_TEST_MISSING_VAR}}"

[qwen.badkey]
base_url = "{bad_key}"
api_key = "sk-bad-secret-key-33334444"

[qwen.off]
enabled = false
base_url = "{up}"
""",
    )


async def test_providers_health_checks_every_enabled_provider(home: Paths) -> None:
    with FakeUpstream() as up, FakeUpstream(unauthorized) as bad:
        three_kinds(home, up.url, bad.url)
        async with client_for(home) as (client, _):
            resp = await client.post("/v1/providers/health", params={"timeout": "5"})
            assert resp.status_code == 200
            data = resp.json()
            results = {r["provider"]: r for r in data["providers"]}
            assert list(results) == ["up", "down", "nokey", "badkey"]
            assert data["healthy"] is False and data["checked"] == 4 and data["unhealthy"] == 3
            assert results["up"]["healthy"] is True and results["up"]["models"] == 1
            assert results["down"]["error"] == "connection refused or host unreachable"
            assert "ADMIN_TEST_MISSING_VAR" in results["nokey"]["error"]
            assert results["badkey"]["status_code"] == 401
            assert "sk-up-secret" not in resp.text and "sk-bad-secret" not in resp.text
            # the key went to the provider, in the header
            assert up.seen[0].headers["authorization"] == "Bearer sk-up-secret-key-11112222"

            everyone = (await client.post("/v1/providers/health", params={"all": "1"})).json()
            assert everyone["checked"] == 5
            resp = await client.post("/v1/providers/health", params={"timeout": "0"})
            assert resp.status_code == 400 and error_of(resp)["code"] == "VALIDATION_ERROR"


async def test_test_and_models_of_one_provider(home: Paths) -> None:
    with FakeUpstream() as up, FakeUpstream(unauthorized) as bad:
        three_kinds(home, up.url, bad.url)
        async with client_for(home) as (client, _):
            resp = await client.post("/v1/providers/qwen/up/test")
            assert resp.status_code == 200
            assert resp.json()["healthy"] is True and resp.json()["status_code"] == 200
            resp = await client.post("/v1/providers/qwen/badkey/test")
            assert resp.status_code == 200 and resp.json()["healthy"] is False
            assert resp.json()["error"] == "HTTP 401: unauthorized: check the API key"

            resp = await client.post("/v1/providers/qwen/up/models")
            assert resp.status_code == 200 and resp.json()["model_ids"] == ["fake-model"]
            resp = await client.post("/v1/providers/qwen/down/models")
            assert resp.status_code == 502
            error = error_of(resp)
            assert error["code"] == "UPSTREAM_ERROR" and "qwen/down" in error["message"]
            assert resp.json()["result"]["healthy"] is False
            resp = await client.post("/v1/providers/qwen/ghost/test")
            assert resp.status_code == 404 and error_of(resp)["code"] == "PROVIDER_NOT_FOUND"


async def test_request_history_and_stats(configured: Paths) -> None:
    upstreams = Upstreams()
    async with client_for(configured, upstreams, request_log=True) as (client, _):
        for _ in range(3):
            assert (await client.post("/v1/chat/completions", json=CHAT)).status_code == 200
        bad = {**CHAT, "model": "x"}
        await client.post(
            "/v1/chat/completions", json=bad, headers={"x-auto-router-provider": "nope"}
        )
        resp = await client.get("/v1/requests")
        assert resp.status_code == 200
        rows = resp.json()["requests"]
        assert len(rows) == 4
        assert rows[0]["status"] >= 400  # newest first
        assert rows[1]["provider"] == "one" and rows[1]["total_tokens"] == 5

        limited = (await client.get("/v1/requests", params={"limit": 2})).json()["requests"]
        assert len(limited) == 2
        ok = (await client.get("/v1/requests", params={"status": "ok"})).json()["requests"]
        assert len(ok) == 3
        mine = (await client.get("/v1/requests", params={"provider": "two"})).json()
        assert mine["requests"] == []
        since = (await client.get("/v1/requests", params={"since": "1h"})).json()["requests"]
        assert len(since) == 4

        stats = (await client.get("/v1/stats")).json()
        one = next(p for p in stats["providers"] if p["provider"] == "one")
        assert one["requests"] == 3 and one["errors"] == 0 and one["total_tokens"] == 15
        assert stats["since"] is None

        for params in ({"limit": "0"}, {"limit": "x"}, {"status": "bad"}, {"since": "soon"}):
            resp = await client.get("/v1/requests", params=params)
            assert resp.status_code == 400 and error_of(resp)["code"] == "VALIDATION_ERROR"


async def test_upstream_mode_has_no_files_to_edit(home: Paths) -> None:
    async with client_for(None, upstream="http://127.0.0.1:9/v1") as (client, _):  # type: ignore[arg-type]
        rows = (await client.get("/v1/providers")).json()["providers"]
        assert [(r["backend"], r["name"]) for r in rows] == [("upstream", "upstream")]
        resp = await client.post("/v1/providers", json={"backend": "upstream", "id": "x"})
        assert resp.status_code == 409 and error_of(resp)["code"] == "NO_CONFIG_FILES"
        resp = await client.get("/v1/requests")
        assert resp.status_code == 409 and error_of(resp)["code"] == "NO_REQUEST_LOG"
        settings = (await client.get("/v1/settings")).json()
        assert settings["mode"] == "upstream" and settings["config_dir"] is None
        assert (await client.post("/v1/backends/upstream/reset")).status_code == 200
