"""``disabled_keys`` (issue 21): a key kept in the file but out of rotation. The config check
names file, line and key; ``provider key disable|enable`` runs as a real subprocess, keeps
comments, and refuses (writing nothing) the last enabled key or a key the pool lacks."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from auto_router.config import load_config
from auto_router.config.pools import KeyRing
from auto_router.errors import ConfigValidationError, MissingVariableError
from auto_router.paths import Paths
from auto_router.rotation.service import Rotator

KEY_A = "sk-pool-aaaaaaaaaaaaA1b2"
KEY_B = "sk-pool-bbbbbbbbbbbbB3c4"
LITERAL = "sk-literal-secret-9876wxyz"
LLM = """[backends.qwen]
providers = ["one"]
"""
META = f"""# my providers
[qwen.one]
base_url = "https://one.invalid/v1"
api_keys = ["${{P21_KEY_A}}", "${{P21_KEY_B}}", "{LITERAL}"]  # three accounts
model = "m"  # the model
"""
ENV = {"P21_KEY_A": KEY_A, "P21_KEY_B": KEY_B}


@pytest.fixture
def paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Paths:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    (tmp_path / "llm_config.toml").write_text(LLM)
    (tmp_path / "provider_metadata.toml").write_text(META)
    return Paths(config_dir=tmp_path, data_dir=tmp_path)


def with_disabled(paths: Paths, line: str) -> None:
    text = META.replace('model = "m"', f'{line}\nmodel = "m"')
    paths.provider_metadata.write_text(text)


def test_a_disabled_key_has_no_slot_and_shows_disabled(
    paths: Paths, monkeypatch: pytest.MonkeyPatch
) -> None:
    literal_id = KeyRing(paths.data_dir).id_of(LITERAL)
    with_disabled(paths, f'disabled_keys = ["${{P21_KEY_A}}", "{literal_id}"]')
    config = load_config(paths)
    provider = config.provider("qwen", "one")
    id_b = KeyRing(paths.data_dir).id_of(KEY_B)
    assert config.slots_of(provider) == (f"one#{id_b}",)
    assert provider.resolve().api_key is not None
    assert provider.resolve().api_key.reveal() == KEY_B  # type: ignore[union-attr]
    (status,) = Rotator(paths).status()
    keys = status.providers[0].keys
    assert [(k.masked, k.disabled) for k in keys] == [
        ("sk-…A1b2", True),
        ("sk-…B3c4", False),
        ("sk-…wxyz", True),
    ]
    # with key B's variable unset, the whole pool's resolve (a health check) still skips the
    # disabled literal key: it fails on key B rather than use a disabled key
    monkeypatch.delenv("P21_KEY_B")
    with pytest.raises(MissingVariableError, match=r"api_keys\[2\]"):
        load_config(paths).provider("qwen", "one").resolve()


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('disabled_keys = ["${P21_NOPE}"]', "entry 1 '${P21_NOPE}' names no key of api_keys"),
        ('disabled_keys = ["0123456789"]', "entry 1 '0123456789' names no key"),
        (f'disabled_keys = ["{KEY_A}"]', "entry 1 (not an id or ${VAR}) names no key"),
        ('disabled_keys = ["${P21_KEY_A}", "${P21_KEY_A}"]', "entry 2 repeats entry 1"),
        ('disabled_keys = "${P21_KEY_A}"', "expected a list"),
    ],
)
def test_a_bad_entry_is_named_with_file_line_and_key(paths: Paths, line: str, message: str) -> None:
    with_disabled(paths, line)
    with pytest.raises(ConfigValidationError) as caught:
        load_config(paths)
    error = caught.value
    assert message in str(error)
    assert error.path == paths.provider_metadata
    assert error.key_path == "[qwen.one].disabled_keys"
    assert error.line is not None and error.line >= 2
    assert KEY_A not in str(error)  # a pasted key is never echoed


def test_every_key_disabled_is_an_error(paths: Paths) -> None:
    literal_id = KeyRing(paths.data_dir).id_of(LITERAL)
    with_disabled(paths, f'disabled_keys = ["${{P21_KEY_A}}", "${{P21_KEY_B}}", "{literal_id}"]')
    with pytest.raises(ConfigValidationError, match="every key is disabled"):
        load_config(paths)


def cli(paths: Paths, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTO_ROUTER")} | ENV
    return subprocess.run(
        [sys.executable, "-m", "auto_router", "--config-dir", str(paths.config_dir), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_cli_disables_and_enables_keeping_comments(paths: Paths) -> None:
    literal_id = KeyRing(paths.data_dir).id_of(LITERAL)
    off = cli(paths, "provider", "key", "disable", "qwen/one", "1")
    assert off.returncode == 0, off.stderr
    off_literal = cli(paths, "provider", "key", "disable", "qwen/one", "sk-…wxyz")
    assert off_literal.returncode == 0, off_literal.stderr
    text = paths.provider_metadata.read_text()
    assert text == META.replace(
        "# three accounts\n",
        f'# three accounts\ndisabled_keys = ["${{P21_KEY_A}}", "{literal_id}"]\n',
    )
    status = cli(paths, "status")
    assert status.returncode == 0, status.stderr
    rows = [ln.split()[-1] for ln in status.stdout.splitlines() if " key " in ln]
    assert rows == ["disabled", "current", "disabled"], status.stdout
    on = cli(paths, "provider", "key", "enable", "qwen/one", "${P21_KEY_A}")
    on_literal = cli(paths, "provider", "key", "enable", "qwen/one", literal_id)
    assert on.returncode == 0 and on_literal.returncode == 0, on.stderr + on_literal.stderr
    assert paths.provider_metadata.read_text() == META  # the setting goes once empty
    printed = "".join(r.stdout + r.stderr for r in (off, off_literal, status, on, on_literal))
    assert LITERAL not in printed and KEY_A not in printed and KEY_B not in printed


def test_the_cli_refuses_the_last_enabled_key_and_an_unknown_one_writing_nothing(
    paths: Paths,
) -> None:
    assert cli(paths, "provider", "key", "disable", "qwen/one", "1").returncode == 0
    assert cli(paths, "provider", "key", "disable", "qwen/one", "2").returncode == 0
    before = paths.provider_metadata.read_bytes()
    last = cli(paths, "provider", "key", "disable", "qwen/one", "3")
    assert last.returncode != 0 and "no other enabled key" in last.stderr
    unknown = cli(paths, "provider", "key", "disable", "qwen/one", "9")
    assert unknown.returncode != 0 and "has no key '9'" in unknown.stderr
    assert paths.provider_metadata.read_bytes() == before
    assert [p.name for p in paths.config_dir.iterdir() if ".tmp" in p.name] == []
    assert LITERAL not in last.stderr + unknown.stderr


def test_removing_a_disabled_key_drops_its_entry(paths: Paths) -> None:
    assert cli(paths, "provider", "key", "disable", "qwen/one", "1").returncode == 0
    removed = cli(paths, "provider", "key", "remove", "qwen/one", "1")
    assert removed.returncode == 0, removed.stderr
    assert "disabled_keys" not in paths.provider_metadata.read_text()
    load_config(paths)
