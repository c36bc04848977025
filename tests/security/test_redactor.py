"""The redactor itself: what it masks, built from a real configuration."""

from __future__ import annotations

from pathlib import Path

from auto_router.config import load_config
from auto_router.paths import Paths
from auto_router.redaction import MASK, Redactor, RedactorCache, redactor_for


def test_masks_whole_values_json_escapes_and_pieces() -> None:
    key = 'sk-abc"def\\ghi-0123456789'
    r = Redactor([key, "short"])
    assert r.text(f"key={key}!") == f"key={MASK}!"
    escaped = 'sk-abc\\"def\\\\ghi-0123456789'  # as it appears inside a JSON string
    assert r.text(f'{{"k": "{escaped}"}}') == f'{{"k": "{MASK}"}}'
    assert r.text("prefix ghi-01234567 suffix") == f"prefix {MASK} suffix"  # a piece
    assert r.text("short words stay") == "short words stay"  # under MIN_SECRET: kept
    assert r.binary(f"x {key}".encode()) == f"x {MASK}".encode()
    assert r.data({"a": [key, 1, None], key: "v"}) == {"a": [MASK, 1, None], MASK: "v"}
    assert r.found(key.encode()) and not r.found(b"nothing here")
    assert not Redactor() and Redactor().text(key) == key


def test_built_from_every_credential_of_the_configuration(tmp_path: Path) -> None:
    (tmp_path / "llm_config.toml").write_text(
        '[backends.q]\nproviders = ["a"]\n[message_backend]\ndefault = "q"\n'
        '[proxy]\nadmin_token = "${ADMIN_T}"\nclient_tokens = ["client-tok-123456"]\n'
    )
    (tmp_path / "provider_metadata.toml").write_text(
        '[q.a]\nbase_url = "http://127.0.0.1:9/v1"\napi_key = "${KEY_A}"\n'
        'MY_SECRET = "literal-secret-value"\nREGION = "eu-west-region-1"\n'
        'headers = { "x-api-key" = "header-key-value-1", "x-trace" = "trace-value-12" }\n'
    )
    env = {"KEY_A": "expanded-key-abcdef", "ADMIN_T": "admin-tok-654321"}
    r = redactor_for(load_config(Paths(tmp_path, tmp_path)), env)
    for secret in (
        "expanded-key-abcdef",
        "admin-tok-654321",
        "client-tok-123456",
        "literal-secret-value",
        "header-key-value-1",
    ):
        assert r.text(f"[{secret}]") == f"[{MASK}]", secret
    # Not credentials: left alone.
    assert r.text("eu-west-region-1 trace-value-12") == "eu-west-region-1 trace-value-12"


def test_the_cache_rebuilds_only_for_a_new_configuration(tmp_path: Path) -> None:
    cache = RedactorCache(["extra-secret-value"])
    first = cache.get(None)
    assert cache.get(None) is first and cache.current is first
    assert first.text("extra-secret-value") == MASK


def test_rows_stored_before_redaction_are_masked_when_shown(tmp_path: Path) -> None:
    """A request log written by an older version still holds echoed keys: `requests` and
    `history` mask them on the way out."""
    import json
    import os
    import subprocess
    import sys

    from auto_router.store.db import connect
    from auto_router.store.requests import FailedAttempt, RequestRecord, insert_batch

    key = "sk-legacy-row-key-0123456789"
    (tmp_path / "llm_config.toml").write_text(
        '[backends.q]\nproviders = ["a"]\n[message_backend]\ndefault = "q"\n'
    )
    (tmp_path / "provider_metadata.toml").write_text(
        f'[q.a]\nbase_url = "http://127.0.0.1:9/v1"\napi_key = "{key}"\n'
    )
    db = connect(tmp_path / "auto-router.db")
    failed = (FailedAttempt("q", "a", 401, f"HTTP 401: bad key {key}"),)
    insert_batch(
        db,
        [RequestRecord(ts=1.0, method="POST", endpoint="chat", status=401, failed=failed,
                       error=f"Incorrect API key provided: {key}")],
    )  # fmt: skip
    db.close()
    env = {**os.environ, "AUTO_ROUTER_HOME": str(tmp_path)}
    for command in (["requests"], ["requests", "--json"], ["history"], ["history", "--json"]):
        result = subprocess.run(
            [sys.executable, "-m", "auto_router", *command],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        assert "Incorrect API key" in result.stdout or "failed" in result.stdout, command
        assert key not in result.stdout + result.stderr, command
        if command[-1] == "--json":
            json.loads(result.stdout)
