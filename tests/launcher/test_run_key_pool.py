"""`auto-router run` in direct mode with a key pool (issue 19): the agent gets the first
available key, a usage limit cools that key alone, and the next start takes the next key.
Real processes, real TOML files, a real SQLite database."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import Home, digest

pytestmark = pytest.mark.integration

KEY_A = "sk-pool-aaaaaaaaaaaaA1b2"
KEY_B = "sk-pool-bbbbbbbbbbbbB3c4"
OTHER = "sk-other-0000000000000009"

LLM = """
[backends.qwen]
providers = ["pool", "other"]
[message_backend]
default = "qwen"
"""


def providers(pool: str) -> str:
    return f"""
[qwen.pool]
base_url = "https://pool.invalid/v1"
api_keys = ["${{P19_KEY_A}}", "${{P19_KEY_B}}"]
model = "pool-model"
FAKE_BEHAVIOUR = "{pool}"
FAKE_RETRY = "2h"

[qwen.other]
base_url = "https://other.invalid/v1"
api_key = "{OTHER}"
"""


def test_a_limited_key_cools_alone_and_the_next_start_takes_the_next_key(home: Home) -> None:
    home.env.update(P19_KEY_A=KEY_A, P19_KEY_B=KEY_B)
    home.write(LLM, providers("qwen-429"))
    first = home.run("run", "--max-attempts", "1", "--", "qwen")
    assert first.returncode == 75, first.stderr  # gave up after the one attempt
    home.write(LLM, providers("ok"))
    second = home.run("run", "--", "qwen")
    assert second.returncode == 0, second.stderr
    keys = [entry["env"]["OPENAI_API_KEY"] for entry in home.log()]  # type: ignore[index]
    assert keys == [digest(KEY_A), digest(KEY_B)]  # the same provider, its second key

    status = home.run("status")
    assert status.returncode == 0, status.stderr
    assert "sk-…A1b2" in status.stdout and "sk-…B3c4" in status.stdout
    assert "cooling until" in status.stdout
    printed = first.stdout + first.stderr + second.stdout + second.stderr + status.stdout
    for path in [*Path(home.path).rglob("*.db*"), *Path(home.path).rglob("key-salt")]:
        printed += path.read_bytes().decode("latin-1")
    assert KEY_A not in printed and KEY_B not in printed
