"""The management API's provider views with a key pool (issue 19): keys listed by mask and
id with their own state, never as text; a masked table written back keeps the real keys."""

from __future__ import annotations

import json

import pytest

from auto_router.config.pools import KeyRing
from auto_router.paths import Paths

from .conftest import client_for, texts, write_config

pytestmark = pytest.mark.anyio

KEY_A = "sk-pool-aaaaaaaaaaaaA1b2"
LITERAL = "sk-literal-secret-9876wxyz"
META = f"""
[qwen.pool]
base_url = "https://pool.example/v1"
api_keys = ["${{P19_KEY_A}}", "{LITERAL}", "${{P19_UNSET_KEY}}"]  # three accounts
"""


async def test_keys_are_listed_masked_with_their_state_and_a_round_trip_keeps_them(
    home: Paths, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("P19_KEY_A", KEY_A)
    monkeypatch.delenv("P19_UNSET_KEY", raising=False)
    write_config(home, '[backends.qwen]\nproviders = ["pool"]\n', META)
    ring = KeyRing(home.data_dir)
    async with client_for(home) as (client, app):
        app.services.rotator.record_usage_limit(
            "qwen", f"pool#{ring.id_of(LITERAL)}", reset_at=app.services.rotator.clock() + 600
        )
        bodies = []
        listed = await client.get("/v1/providers")
        assert listed.status_code == 200
        bodies.append(listed.text)
        (row,) = listed.json()["providers"]
        assert row["settings"]["api_keys"] == ["${P19_KEY_A}", "****wxyz", "${P19_UNSET_KEY}"]
        assert [(k["masked"], k["id"], k["status"]) for k in row["keys"]] == [
            ("sk-…A1b2", ring.id_of(KEY_A), "current"),
            ("sk-…wxyz", ring.id_of(LITERAL), "cooling"),
            ("${P19_UNSET_KEY}", None, "unusable"),
        ]
        assert "api_keys[3]" in row["keys"][2]["problem"]
        one = await client.get("/v1/providers/qwen/pool")
        bodies.append(one.text)
        assert one.json()["keys"] == row["keys"]
        table = await client.get("/v1/providers/qwen/pool/config")
        bodies.append(table.text)
        assert table.json()["api_keys"] == ["${P19_KEY_A}", "****wxyz", "${P19_UNSET_KEY}"]
        for path in ("/v1/backends", "/v1/settings", "/v1/backends/qwen"):
            bodies.append((await client.get(path)).text)
        before = texts(home)[1]
        back = await client.put(
            "/v1/providers/qwen/pool/config",
            json=table.json(),
            headers={"if-match": table.headers["etag"]},
        )
        assert back.status_code == 200, back.text
        bodies.append(back.text)
        assert texts(home)[1] == before  # the masked entry kept the real key
        # one key back in rotation now, named by its mask (or id, ${VAR}, index)
        reset = await client.post("/v1/providers/qwen/pool/keys/sk-…wxyz/reset")
        assert reset.status_code == 200, reset.text
        bodies.append(reset.text)
        assert [k["status"] for k in reset.json()["keys"]] == ["current", "ready", "unusable"]
        unusable = await client.post("/v1/providers/qwen/pool/keys/3/reset")
        assert unusable.status_code == 404
    printed = json.dumps(bodies)
    assert KEY_A not in printed and LITERAL not in printed


async def test_a_key_is_disabled_and_enabled_through_the_editing_layer(
    home: Paths, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("P19_KEY_A", KEY_A)
    monkeypatch.delenv("P19_UNSET_KEY", raising=False)
    write_config(home, '[backends.qwen]\nproviders = ["pool"]\n', META)
    literal_id = KeyRing(home.data_dir).id_of(LITERAL)
    async with client_for(home, token="") as (anonymous, _):
        refused = await anonymous.post("/v1/providers/qwen/pool/keys/2/disable")
        assert refused.status_code == 401
    assert "disabled_keys" not in texts(home)[1]
    async with client_for(home) as (client, _):
        off = await client.post("/v1/providers/qwen/pool/keys/sk-…wxyz/disable")
        assert off.status_code == 200, off.text
        assert off.json()["changed"] is True
        keys = off.json()["provider"]["keys"]
        assert [(k["disabled"], k["status"]) for k in keys] == [
            (False, "current"),
            (True, "disabled"),
            (False, "unusable"),
        ]
        written = texts(home)[1]
        assert "# three accounts\n" in written and f'disabled_keys = ["{literal_id}"]' in written
        again = await client.post(f"/v1/providers/qwen/pool/keys/{literal_id}/disable")
        assert again.status_code == 200 and again.json()["changed"] is False
        last = await client.post("/v1/providers/qwen/pool/keys/1/disable")
        assert last.status_code == 400, last.text  # key 3 is unusable, key 2 disabled: refused
        assert texts(home)[1] == written
        missing = await client.post("/v1/providers/qwen/pool/keys/9/enable")
        assert missing.status_code == 404
        on = await client.post("/v1/providers/qwen/pool/keys/2/enable")
        assert on.status_code == 200 and not any(
            k["disabled"] for k in on.json()["provider"]["keys"]
        )
        assert texts(home)[1].endswith(META.lstrip("\n")[-40:])
        assert "disabled_keys" not in texts(home)[1]
    printed = json.dumps([off.text, again.text, last.text, on.text])
    assert KEY_A not in printed and LITERAL not in printed
