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
