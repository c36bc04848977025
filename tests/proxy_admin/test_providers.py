"""``/v1/providers``: reading, changing through the editing layer, the raw table, reload."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

import pytest

from auto_router.paths import Paths

from .conftest import CHAT, LLM, META, Upstreams, client_for, error_of, texts

pytestmark = pytest.mark.anyio


async def test_list_in_rotation_order_with_status_and_filters(configured: Paths) -> None:
    async with client_for(configured) as (client, _):
        resp = await client.get("/v1/providers")
        assert resp.status_code == 200
        rows = resp.json()["providers"]
        assert [(r["backend"], r["name"]) for r in rows] == [
            ("qwen", "one"),
            ("qwen", "two"),
            ("claude", "anthropic-direct"),
        ]
        one = rows[0]
        assert one["current"] is True and one["status"] == "current"
        assert one["settings"]["api_key"] == "****3456"
        assert one["model"] == "one-model" and one["description"] == "first choice"
        assert rows[1]["status"] == "ready" and rows[1]["current"] is False

        qwen = (await client.get("/v1/providers", params={"backend": "qwen"})).json()
        assert [r["name"] for r in qwen["providers"]] == ["one", "two"]
        anthropic = (await client.get("/v1/providers", params={"type": "anthropic"})).json()
        assert [r["name"] for r in anthropic["providers"]] == ["anthropic-direct"]
        disabled = (await client.get("/v1/providers", params={"enabled": "false"})).json()
        assert disabled["providers"] == []

        bad = await client.get("/v1/providers", params={"enabled": "maybe"})
        assert bad.status_code == 400 and error_of(bad)["code"] == "VALIDATION_ERROR"
        missing = await client.get("/v1/providers", params={"backend": "nope"})
        assert missing.status_code == 404 and error_of(missing)["code"] == "BACKEND_NOT_FOUND"


async def test_show_and_not_found(configured: Paths) -> None:
    async with client_for(configured) as (client, _):
        resp = await client.get("/v1/providers/qwen/two")
        assert resp.status_code == 200
        row = resp.json()
        assert row["name"] == "two" and row["backend"] == "qwen"
        assert row["settings"]["headers"] == {"X-Title": "auto-router", "X-Api-Token": "****7777"}
        assert row["env"] == {"TWO_API_KEY": "****8888"}

        resp = await client.get("/v1/providers/qwen/nope")
        assert resp.status_code == 404
        error = error_of(resp)
        assert error["code"] == "PROVIDER_NOT_FOUND" and "one, two" in error["message"]
        resp = await client.get("/v1/providers/nope/one")
        assert resp.status_code == 404 and error_of(resp)["code"] == "BACKEND_NOT_FOUND"


async def test_add_keeps_every_comment_and_is_served_at_once(configured: Paths) -> None:
    upstreams = Upstreams()
    # A long stat interval: only the API's own invalidation can make the change visible.
    async with client_for(configured, upstreams, config_interval=3600.0) as (client, _):
        resp = await client.post(
            "/v1/providers",
            json={
                "backend": "qwen",
                "id": "three",
                "template": "generic",
                "settings": {"base_url": "https://three.example/v1", "model": "three-model"},
                "env": {"THREE_KEY": "${THREE_KEY:-x}"},
                "description": "added over HTTP",
                "position": 1,
            },
        )
        assert resp.status_code == 201, resp.text
        assert resp.headers["location"] == "/v1/providers/qwen/three"
        body = resp.json()
        assert body["order"] == ["three", "one", "two"]
        assert body["provider"]["description"] == "added over HTTP"

        llm, meta = texts(configured)
        assert llm == LLM.replace('["one", "two"]', '["three", "one", "two"]')
        assert meta.startswith(META.split("[claude.anthropic-direct]")[0])
        assert meta.endswith(
            "[claude.anthropic-direct]" + META.split("[claude.anthropic-direct]")[1]
        )
        assert '[qwen.three]\ndescription = "added over HTTP"' in meta

        # The very next proxied request uses the new first provider.
        chat = await client.post("/v1/chat/completions", json=CHAT)
        assert chat.status_code == 200
        assert upstreams.hosts() == ["three.example"]


async def test_add_errors(configured: Paths) -> None:
    before = texts(configured)
    async with client_for(configured) as (client, _):
        cases = [
            ({"backend": "qwen", "id": "one"}, 409, "PROVIDER_EXISTS"),
            ({"backend": "qwen", "id": "Bad Name"}, 400, "INVALID_IDENTIFIER"),
            ({"backend": "nope", "id": "x"}, 404, "BACKEND_NOT_FOUND"),
            (
                {"backend": "qwen", "id": "x", "settings": {"colour": "red"}},
                400,
                "VALIDATION_ERROR",
            ),
            ({"backend": "qwen", "id": "x", "template": "nope"}, 404, "TEMPLATE_NOT_FOUND"),
            ({"backend": "qwen", "id": "x", "position": 0}, 400, "VALIDATION_ERROR"),
            ({"backend": "qwen", "id": "x", "position": "1"}, 400, "VALIDATION_ERROR"),
            ({"backend": "qwen", "id": "x", "env": {"lower": "v"}}, 400, "VALIDATION_ERROR"),
            ({"backend": "qwen", "id": "x", "typo": 1}, 400, "VALIDATION_ERROR"),
            ({"backend": "qwen"}, 400, "VALIDATION_ERROR"),
            # valid TOML, but an invalid configuration: refused, nothing written
            (
                {"backend": "qwen", "id": "x", "settings": {"timeout": "soon"}},
                400,
                "VALIDATION_ERROR",
            ),
        ]
        for body, status, code in cases:
            resp = await client.post("/v1/providers", json=body)
            assert (resp.status_code, error_of(resp)["code"]) == (status, code), body
        for raw in (b"{not json", b"[1, 2]", b""):
            resp = await client.post(
                "/v1/providers", content=raw, headers={"content-type": "application/json"}
            )
            assert resp.status_code == 400 and error_of(resp)["code"] == "INVALID_JSON"
    assert texts(configured) == before


async def test_add_with_create_backend(configured: Paths) -> None:
    async with client_for(configured) as (client, _):
        resp = await client.post(
            "/v1/providers",
            json={
                "backend": "gemini",
                "id": "g1",
                "settings": {"type": "gemini", "base_url": "https://g.example"},
                "create_backend": True,
            },
        )
        assert resp.status_code == 201, resp.text
        backends = (await client.get("/v1/backends")).json()
        assert backends["order"] == ["qwen", "claude", "gemini"]


async def test_edit_set_unset_env_unenv_keeps_the_rest_byte_for_byte(configured: Paths) -> None:
    async with client_for(configured, config_interval=3600.0) as (client, _):
        resp = await client.put(
            "/v1/providers/qwen/one",
            json={"set": {"model": "new-model", "timeout": 30}, "unset": ["description"]},
        )
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert body["changed"] is True
        assert body["provider"]["model"] == "new-model"
        assert body["provider"]["settings"]["timeout"] == 30
        llm, meta = texts(configured)
        assert llm == LLM
        assert meta == META.replace('description = "first choice"\n', "").replace(
            'model = "one-model"   # provider\'s own name',
            'model = "new-model"   # provider\'s own name\ntimeout = 30',
        )

        resp = await client.patch(
            "/v1/providers/qwen/two",
            json={"env": {"EXTRA_FLAG": "1"}, "unenv": ["TWO_API_KEY"]},
        )
        assert resp.status_code == 200
        assert resp.json()["provider"]["env"] == {"EXTRA_FLAG": "1"}

        resp = await client.put("/v1/providers/qwen/two", json={"unset": ["nope"]})
        assert resp.status_code == 404 and error_of(resp)["code"] == "NOT_FOUND"
        resp = await client.put("/v1/providers/qwen/two", json={})
        assert resp.status_code == 400 and error_of(resp)["code"] == "VALIDATION_ERROR"
        resp = await client.put("/v1/providers/qwen/two", json={"set": {"model": None}})
        assert resp.status_code == 400 and "null" in error_of(resp)["message"]
        resp = await client.put("/v1/providers/qwen/ghost", json={"set": {"model": "m"}})
        assert resp.status_code == 404 and error_of(resp)["code"] == "PROVIDER_NOT_FOUND"


async def test_disable_enable_remove_rename(configured: Paths) -> None:
    upstreams = Upstreams()
    async with client_for(configured, upstreams, config_interval=3600.0) as (client, _):
        resp = await client.post("/v1/providers/qwen/one/disable")
        assert resp.status_code == 200
        assert resp.json()["provider"]["status"] == "disabled"
        assert (
            'api_key = "sk-one-secret-key-123456"   # literal on purpose\nmodel = "one-model"   # provider\'s own name\nenabled = false'
            in texts(configured)[1]
        )
        await client.post("/v1/chat/completions", json=CHAT)
        assert upstreams.hosts() == ["two.example"]

        resp = await client.post("/v1/providers/qwen/one/enable")
        assert resp.json()["provider"]["enabled"] is True
        await client.post("/v1/chat/completions", json=CHAT)
        assert upstreams.hosts()[-1] == "one.example"

        resp = await client.post("/v1/providers/qwen/two/rename", json={"id": "backup"})
        assert resp.status_code == 200, resp.text
        assert resp.json()["renamed_from"] == "qwen/two"
        assert "[qwen.backup]" in texts(configured)[1]
        assert '["one", "backup"]   # rotation order' in texts(configured)[0]
        resp = await client.post("/v1/providers/qwen/one/rename", json={"id": "backup"})
        assert resp.status_code == 409 and error_of(resp)["code"] == "PROVIDER_EXISTS"

        resp = await client.delete("/v1/providers/qwen/backup")
        assert resp.status_code == 200
        assert resp.json() == {"deleted": "qwen/backup", "order": ["one"]}
        assert "[qwen.backup]" not in texts(configured)[1]
        assert (await client.get("/v1/providers/qwen/backup")).status_code == 404
        resp = await client.delete("/v1/providers/qwen/backup")
        assert resp.status_code == 404 and error_of(resp)["code"] == "PROVIDER_NOT_FOUND"


async def test_config_table_masked_round_trip_and_conflict(configured: Paths) -> None:
    async with client_for(configured) as (client, _):
        resp = await client.get("/v1/providers/qwen/two/config")
        assert resp.status_code == 200
        table = resp.json()
        assert table == {
            "base_url": "https://two.example/v1",
            "api_key": "****4321",
            "headers": {"X-Title": "auto-router", "X-Api-Token": "****7777"},
            "TWO_API_KEY": "****8888",
        }
        etag = resp.headers["etag"]

        # Write back what was read, with one change: masked values keep the real ones.
        table["model"] = "two-model"
        resp = await client.put(
            "/v1/providers/qwen/two/config", json=table, headers={"if-match": etag}
        )
        assert resp.status_code == 200, resp.text
        assert resp.json()["model"] == "two-model"
        assert resp.headers["etag"] != etag
        meta = texts(configured)[1]
        assert meta == META.replace(
            'TWO_API_KEY = "env-secret-value-888888"\n',
            'model = "two-model"\nTWO_API_KEY = "env-secret-value-888888"\n',
        )

        # A stale ETag: someone changed the table meanwhile.
        before = texts(configured)
        resp = await client.put(
            "/v1/providers/qwen/two/config", json={"base_url": "x"}, headers={"if-match": etag}
        )
        assert resp.status_code == 409 and error_of(resp)["code"] == "EDIT_CONFLICT"
        assert texts(configured) == before

        # Keys left out are removed; a new literal secret is stored as given.
        resp = await client.put(
            "/v1/providers/qwen/two/config",
            json={"base_url": "https://two.example/v1", "api_key": "sk-brand-new-key-000111"},
        )
        assert resp.status_code == 200
        assert resp.json() == {"base_url": "https://two.example/v1", "api_key": "****0111"}
        assert 'api_key = "sk-brand-new-key-000111"' in texts(configured)[1]
        assert "# the backup\n[qwen.two]" in texts(configured)[1]

        resp = await client.put("/v1/providers/qwen/two/config", json={"colour": "red"})
        assert resp.status_code == 400 and error_of(resp)["code"] == "VALIDATION_ERROR"
        resp = await client.get("/v1/providers/qwen/nope/config")
        assert resp.status_code == 404 and error_of(resp)["code"] == "PROVIDER_NOT_FOUND"


async def test_hand_edits_are_picked_up_by_mtime(configured: Paths) -> None:
    async with client_for(configured) as (client, _):
        assert (await client.get("/v1/providers/qwen/one")).json()["model"] == "one-model"
        configured.provider_metadata.write_text(META.replace('"one-model"', '"hand-model-x"'))
        assert (await client.get("/v1/providers/qwen/one")).json()["model"] == "hand-model-x"


async def test_reload_reads_hand_edits_now_and_reports_broken_files(configured: Paths) -> None:
    upstreams = Upstreams()
    async with client_for(configured, upstreams, config_interval=3600.0) as (client, _):
        await client.get("/v1/providers")
        configured.llm_config.write_text(LLM.replace('["one", "two"]', '["two", "one"]'))
        # not yet: the stat interval has not passed
        first = (await client.get("/v1/providers")).json()["providers"][0]
        assert first["name"] == "one"
        resp = await client.post("/v1/providers/reload")
        assert resp.status_code == 200 and resp.json()["reloaded"] is True
        first = (await client.get("/v1/providers")).json()["providers"][0]
        assert first["name"] == "two"

        configured.llm_config.write_text("[backends.qwen\n")
        resp = await client.post("/v1/providers/reload")
        assert resp.status_code == 409
        error = error_of(resp)
        assert error["code"] == "CONFIG_SYNTAX_ERROR" and "llm_config.toml" in error["message"]
        # The last good configuration keeps serving, and says why the new one is not used.
        chat = await client.post("/v1/chat/completions", json=CHAT)
        assert chat.status_code == 200 and upstreams.hosts() == ["two.example"]
        settings = (await client.get("/v1/settings")).json()
        assert "invalid TOML" in settings["config_error"]
        # An edit cannot build on a broken file.
        resp = await client.post("/v1/providers/qwen/one/disable")
        assert resp.status_code == 409 and error_of(resp)["code"] == "CONFIG_SYNTAX_ERROR"


async def test_concurrent_adds_lose_nothing(configured: Paths) -> None:
    async with client_for(configured) as (client, _):
        responses = await asyncio.gather(
            *(
                client.post(
                    "/v1/providers",
                    json={"backend": "qwen", "id": f"p{i}", "settings": {"base_url": "http://x"}},
                )
                for i in range(10)
            )
        )
        assert [r.status_code for r in responses] == [201] * 10
        names = [
            r["name"] for r in (await client.get("/v1/providers?backend=qwen")).json()["providers"]
        ]
    assert sorted(names) == sorted(["one", "two", *(f"p{i}" for i in range(10))])
    assert texts(configured)[1].startswith(META.split("[claude.anthropic-direct]")[0])


async def test_rows_agree_with_the_cli_json(configured: Paths) -> None:
    async with client_for(configured) as (client, _):
        api = (await client.get("/v1/providers")).json()["providers"]
    cli = subprocess.run(
        [
            sys.executable,
            "-m",
            "auto_router",
            "--config-dir",
            str(configured.config_dir),
            "provider",
            "list",
            "--json",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    rows = json.loads(cli.stdout)["providers"]
    extra = {"status", "cooldown_until", "last_error", "circuit", "circuit_until"}
    assert [{k: v for k, v in r.items() if k not in extra} for r in api] == rows
