"""``/v1/settings``, the active provider, ``rotate`` / ``reset`` and ``/v1/backends``."""

from __future__ import annotations

import dataclasses

import pytest

from auto_router.config.proxy import ProxySettings
from auto_router.paths import Paths
from auto_router.rotation.service import Rotator
from tests.helpers import FakeClock as Clock

from .conftest import CHAT, LLM, Upstreams, client_for, error_of, texts

pytestmark = pytest.mark.anyio


async def test_switching_the_active_provider_moves_the_very_next_request(
    configured: Paths,
) -> None:
    upstreams = Upstreams()
    async with client_for(configured, upstreams) as (client, _):
        await client.post("/v1/chat/completions", json=CHAT)
        assert upstreams.hosts() == ["one.example"]

        resp = await client.put(
            "/v1/settings/active_provider", json={"backend": "qwen", "provider": "two"}
        )
        assert resp.status_code == 200, resp.text
        assert resp.json() == {"backend": "qwen", "provider": "two", "previous": "one"}
        await client.post("/v1/chat/completions", json=CHAT)
        assert upstreams.hosts()[-1] == "two.example"
        # The shared state: another process (the CLI, a launcher) sees the switch too.
        assert Rotator(configured).current_provider_name("qwen") == "two"

        active = (await client.get("/v1/settings/active_provider")).json()
        assert active == {"active_providers": {"qwen": "two", "claude": "anthropic-direct"}}

        resp = await client.put("/v1/settings/active_provider", json={"provider": "qwen/one"})
        assert resp.status_code == 200 and resp.json()["provider"] == "one"
        await client.post("/v1/chat/completions", json=CHAT)
        assert upstreams.hosts()[-1] == "one.example"


async def test_a_switch_made_elsewhere_is_seen_by_the_api_and_the_data_path(
    configured: Paths,
) -> None:
    upstreams = Upstreams()
    async with client_for(configured, upstreams) as (client, _):
        await client.post("/v1/chat/completions", json=CHAT)
        Rotator(configured).set_current("qwen", "two")  # like `auto-router set qwen two`
        assert (await client.get("/v1/providers/qwen/two")).json()["current"] is True
        await client.post("/v1/chat/completions", json=CHAT)
        assert upstreams.hosts() == ["one.example", "two.example"]


async def test_active_provider_errors(configured: Paths) -> None:
    async with client_for(configured) as (client, _):
        cases = [
            ({"backend": "qwen", "provider": "nope"}, 404, "PROVIDER_NOT_FOUND"),
            ({"backend": "nope", "provider": "one"}, 404, "BACKEND_NOT_FOUND"),
            ({"backend": "claude", "provider": "qwen/one"}, 400, "VALIDATION_ERROR"),
            ({"provider": "one"}, 400, "VALIDATION_ERROR"),
            ({"backend": "qwen"}, 400, "VALIDATION_ERROR"),
            ({"backend": "qwen", "provider": 2}, 400, "VALIDATION_ERROR"),
        ]
        for body, status, code in cases:
            resp = await client.put("/v1/settings/active_provider", json=body)
            assert (resp.status_code, error_of(resp)["code"]) == (status, code), body

        await client.post("/v1/providers/qwen/two/disable")
        resp = await client.put("/v1/settings/active_provider", json={"provider": "qwen/two"})
        assert resp.status_code == 409
        error = error_of(resp)
        assert error["code"] == "PROVIDER_DISABLED" and "/enable" in error["hint"]


async def test_rotate_and_reset(configured: Paths, home: Paths) -> None:
    upstreams = Upstreams()
    clock = Clock()
    async with client_for(configured, upstreams, clock=clock) as (client, _):
        resp = await client.post("/v1/backends/qwen/rotate")
        assert resp.json() == {
            "backend": "qwen",
            "rotated": True,
            "previous": "one",
            "current": "two",
        }
        await client.post("/v1/chat/completions", json=CHAT)
        assert upstreams.hosts() == ["two.example"]

        # A cooldown on `one` (as a 429 would set), then reset clears it and the rotation.
        Rotator(configured, clock=clock).record_usage_limit("qwen", "one", reset_at=clock.now + 600)
        row = (await client.get("/v1/providers/qwen/one")).json()
        assert row["status"] == "cooling" and row["cooldown_until"] == clock.now + 600
        resp = await client.post("/v1/backends/qwen/reset")
        assert resp.json() == {"reset": "qwen", "current": {"qwen": "one"}}
        await client.post("/v1/chat/completions", json=CHAT)
        assert upstreams.hosts()[-1] == "one.example"

        resp = await client.post("/v1/backends/claude/rotate")
        assert resp.json()["rotated"] is False  # only one provider
        resp = await client.post("/v1/backends/reset")
        assert resp.json()["reset"] == "all"
        resp = await client.post("/v1/backends/nope/rotate")
        assert resp.status_code == 404 and error_of(resp)["code"] == "BACKEND_NOT_FOUND"


async def test_settings_show_what_is_in_force_with_tokens_masked(configured: Paths) -> None:
    configured.llm_config.write_text(
        LLM
        + '\n[proxy]\nport = 3999\nadmin_token = "admin-token-abcdefghijklmnop"\n'
        + 'client_tokens = ["client-token-0123456789"]\n\n[proxy.models]\n"gpt-x" = "claude"\n'
    )
    token = "admin-token-abcdefghijklmnop"
    async with client_for(configured, token=token) as (client, _):
        resp = await client.get("/v1/settings")
        assert resp.status_code == 200
        data = resp.json()
        assert data["mode"] == "config"
        assert data["default_backend"] == "qwen"
        assert data["order"] == ["qwen", "claude"]
        assert data["active_providers"] == {"qwen": "one", "claude": "anthropic-direct"}
        assert data["config_error"] is None
        proxy = data["proxy"]
        assert proxy["port"] == 3999
        assert proxy["admin_token"] == "****mnop"
        assert proxy["client_tokens"] == ["****6789"]
        assert proxy["models"] == {"gpt-x": "claude"}
        assert token not in resp.text and "client-token-0123456789" not in resp.text
        assert data["files"]["llm_config"] == str(configured.llm_config)
        # every [proxy] setting is shown: one added to the schema and not here fails this
        assert set(proxy) == {f.name for f in dataclasses.fields(ProxySettings)}


async def test_backends_list_show_order_default_and_provider_order(configured: Paths) -> None:
    async with client_for(configured) as (client, _):
        data = (await client.get("/v1/backends")).json()
        assert data["default"] == "qwen" and data["order"] == ["qwen", "claude"]
        qwen = data["backends"][0]
        assert qwen["name"] == "qwen" and qwen["current"] == "one"
        assert qwen["providers"] == ["one", "two"]

        shown = (await client.get("/v1/backends/qwen")).json()
        assert [p["name"] for p in shown["provider_details"]] == ["one", "two"]
        assert (await client.get("/v1/backends/nope")).status_code == 404

        resp = await client.put("/v1/backends/order", json={"order": ["claude", "qwen"]})
        assert resp.status_code == 200 and resp.json()["order"] == ["claude", "qwen"]
        assert 'order = ["claude", "qwen"]   # fallback order' in texts(configured)[0]
        resp = await client.put("/v1/backends/default", json={"backend": "claude"})
        assert resp.json() == {"default": "claude", "changed": True}
        resp = await client.put("/v1/backends/qwen/providers", json={"providers": ["two", "one"]})
        assert resp.json()["providers"] == ["two", "one"]
        assert 'providers = ["two", "one"]   # rotation order' in texts(configured)[0]

        resp = await client.put("/v1/backends/order", json={"order": ["qwen", "qwen"]})
        assert resp.status_code == 400 and error_of(resp)["code"] == "VALIDATION_ERROR"
        resp = await client.put("/v1/backends/order", json={"order": ["ghost"]})
        assert resp.status_code == 404 and error_of(resp)["code"] == "BACKEND_NOT_FOUND"
        resp = await client.put("/v1/backends/default", json={"name": "qwen"})
        assert resp.status_code == 400 and error_of(resp)["code"] == "VALIDATION_ERROR"
        resp = await client.put("/v1/backends/qwen/providers", json={"providers": ["one", "x"]})
        assert resp.status_code == 404 and error_of(resp)["code"] == "PROVIDER_NOT_FOUND"


async def test_backend_add_edit_disable_remove(configured: Paths) -> None:
    async with client_for(configured) as (client, _):
        resp = await client.post(
            "/v1/backends", json={"name": "gemini", "settings": {"model": "gemini-2.5-pro"}}
        )
        assert resp.status_code == 201, resp.text
        assert resp.json()["model"] == "gemini-2.5-pro"
        resp = await client.post("/v1/backends", json={"name": "gemini"})
        assert resp.status_code == 409 and error_of(resp)["code"] == "BACKEND_EXISTS"
        resp = await client.post("/v1/backends", json={"name": "Gem!"})
        assert resp.status_code == 400 and error_of(resp)["code"] == "INVALID_IDENTIFIER"

        resp = await client.put("/v1/backends/gemini", json={"set": {"cooldown": 120}})
        assert resp.json()["backend"]["cooldown"] == 120
        resp = await client.put("/v1/backends/gemini", json={"set": {"colour": 1}})
        assert resp.status_code == 400 and error_of(resp)["code"] == "VALIDATION_ERROR"

        resp = await client.post("/v1/backends/gemini/disable")
        assert resp.json()["backend"]["enabled"] is False
        resp = await client.post("/v1/backends/gemini/enable")
        assert resp.json()["backend"]["enabled"] is True

        resp = await client.delete("/v1/backends/qwen")
        assert resp.status_code == 400  # the default backend
        assert "default" in error_of(resp)["message"]
        resp = await client.delete("/v1/backends/gemini")
        assert resp.json() == {"deleted": "gemini"}
        assert "gemini" not in texts(configured)[0]
        resp = await client.delete("/v1/backends/claude")
        assert resp.status_code == 400 and "still has providers" in error_of(resp)["message"]
        resp = await client.delete("/v1/backends/claude", params={"with_providers": "true"})
        assert resp.status_code == 200
        assert "anthropic" not in texts(configured)[1]
