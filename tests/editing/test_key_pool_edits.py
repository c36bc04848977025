"""``provider key add/remove`` (issue 19): comments and layout kept, ``api_key`` turned into a
pool in its place, a key named by id, mask, ``${VAR}`` or index, and every refusal leaving
both files as they were. The CLI runs as a real subprocess; no key text in what it prints."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path
from types import MappingProxyType

import pytest

from auto_router import editing
from auto_router.config import load_config
from auto_router.config.pools import KeyRing
from auto_router.errors import ConfigValidationError, NotFoundError
from auto_router.paths import Paths
from auto_router.rotation.policy import BackendState, ProviderState

KEY_A = "sk-pool-aaaaaaaaaaaaA1b2"
LITERAL = "sk-literal-secret-9876wxyz"
LLM = """# rotation
[backends.qwen]
providers = ["one"]  # the only one
"""
META = """# my providers
[qwen.one]
type = "openai"  # the wire format
base_url = "https://one.invalid/v1"
api_key = "${P19_KEY_A}"  # the first account
model = "m"
# variables below
FOO = "bar"
"""
ENV = {"P19_KEY_A": KEY_A, "P19_KEY_B": "sk-pool-bbbbbbbbbbbbB3c4"}


@pytest.fixture
def paths(tmp_path: Path) -> Paths:
    (tmp_path / "llm_config.toml").write_text(LLM)
    (tmp_path / "provider_metadata.toml").write_text(META)
    return Paths(config_dir=tmp_path, data_dir=tmp_path)


def test_a_second_key_turns_api_key_into_a_pool_in_its_place_keeping_comments(
    paths: Paths,
) -> None:
    done = editing.add_key(paths, "qwen", "one", "${P19_KEY_B}", ENV)
    assert paths.provider_metadata.read_text() == META.replace(
        'api_key = "${P19_KEY_A}"  # the first account',
        'api_keys = ["${P19_KEY_A}", "${P19_KEY_B}"]  # the first account',
    )
    assert paths.llm_config.read_text() == LLM
    assert [k.masked for k in done.keys] == ["sk-…A1b2", "sk-…B3c4"]
    editing.add_key(paths, "qwen", "one", LITERAL, ENV)  # then appended
    assert '"${P19_KEY_B}", "sk-literal-secret-9876wxyz"]  # the first' in (
        paths.provider_metadata.read_text()
    )
    # a literal key in the file: the file is private
    assert stat.S_IMODE(paths.provider_metadata.stat().st_mode) == 0o600


@pytest.mark.parametrize("name", ["${P19_KEY_B}", "2", "sk-…B3c4", "its id"])
def test_a_key_is_removed_by_reference_index_mask_or_id(paths: Paths, name: str) -> None:
    editing.add_key(paths, "qwen", "one", "${P19_KEY_B}", ENV)
    editing.add_key(paths, "qwen", "one", LITERAL, ENV)
    before = paths.provider_metadata.read_text()
    if name == "its id":  # known only once the salt exists
        name = KeyRing(paths.data_dir).id_of(ENV["P19_KEY_B"])
    done = editing.remove_key(paths, "qwen", "one", name, ENV)
    assert done.removed is not None and done.removed.index == 2
    assert paths.provider_metadata.read_text() == before.replace('"${P19_KEY_B}", ', "")
    assert [k.index for k in done.keys] == [1, 2]


def test_refusals_write_nothing(paths: Paths) -> None:
    editing.add_key(paths, "qwen", "one", "${P19_KEY_B}", ENV)
    before = (paths.llm_config.read_text(), paths.provider_metadata.read_text())
    with pytest.raises(ConfigValidationError) as info:  # the same key twice
        editing.add_key(paths, "qwen", "one", "${P19_KEY_A}", ENV)
    assert info.value.key_path == "[qwen.one].api_keys" and info.value.line == 5
    assert "entry 3 repeats entry 1" in str(info.value)
    with pytest.raises(NotFoundError):
        editing.remove_key(paths, "qwen", "one", "sk-…zzzz", ENV)
    with pytest.raises(NotFoundError):
        editing.remove_key(paths, "qwen", "nobody", "1", ENV)
    editing.remove_key(paths, "qwen", "one", "1", ENV)
    after_one = (paths.llm_config.read_text(), paths.provider_metadata.read_text())
    with pytest.raises(ConfigValidationError, match="a pool cannot be empty"):
        editing.remove_key(paths, "qwen", "one", "1", ENV)
    assert (paths.llm_config.read_text(), paths.provider_metadata.read_text()) == after_one
    assert before != after_one
    load_config(paths)  # what is left is a valid pool of one


def cli(paths: Paths, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTO_ROUTER")} | ENV
    return subprocess.run(
        [sys.executable, "-m", "auto_router", "--config-dir", str(paths.config_dir), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_cli_warns_of_a_literal_key_and_never_prints_one(paths: Paths) -> None:
    added = cli(paths, "provider", "key", "add", "qwen/one", LITERAL)
    assert added.returncode == 0, added.stderr
    assert "warning: the key is written as it is" in added.stderr
    assert "sk-…wxyz" in added.stdout and "sk-…A1b2" in added.stdout
    quiet = cli(paths, "provider", "key", "add", "one", "${P19_KEY_B}", "--json")
    assert quiet.returncode == 0 and "warning" not in quiet.stderr
    removed = cli(paths, "provider", "key", "remove", "qwen/one", "sk-…wxyz")
    assert removed.returncode == 0, removed.stderr
    assert "removed key 2 (sk-…wxyz) from qwen/one" in removed.stdout
    missing = cli(paths, "provider", "key", "remove", "qwen/one", "9")
    assert missing.returncode != 0 and "has no key '9'" in missing.stderr
    # a key typed where its name was expected is not echoed back
    typed = cli(paths, "provider", "key", "remove", "qwen/one", KEY_A)
    assert typed.returncode != 0 and "has no key like that" in typed.stderr
    printed = "".join(r.stdout + r.stderr for r in (added, quiet, removed, missing, typed))
    assert LITERAL not in printed and KEY_A not in printed


def test_a_renamed_provider_keeps_its_keys_cooldowns() -> None:
    state = BackendState(
        "qwen",
        current="one#abc",
        last_success="two",
        providers=MappingProxyType(
            {
                "one#abc": ProviderState(cooldown_until=5.0),
                "one#def": ProviderState(),
                "two": ProviderState(),
            }
        ),
    )
    after = editing.rename_in_state(state, "one", "uno")
    assert set(after.providers) == {"uno#abc", "uno#def", "two"}
    assert after.provider("uno#abc").cooldown_until == 5.0
    assert (after.current, after.last_success) == ("uno#abc", "two")
