"""`auto-router status` and `config path|init|validate|show` through the real entry point."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from auto_router.paths import resolve_paths
from auto_router.rotation.service import Rotator
from tests.helpers import write_config

pytestmark = pytest.mark.integration


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "auto_router", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=60,
    )


def test_status_shows_current_cooling_disabled_and_last_used(three_providers: Path) -> None:
    (three_providers / "provider_metadata.toml").write_text(
        (three_providers / "provider_metadata.toml")
        .read_text()
        .replace("[qwen.qwen-direct]\n", "[qwen.qwen-direct]\nenabled = false\n")
    )
    rotator = Rotator(resolve_paths(three_providers))
    rotator.record_usage_limit("qwen", "qwen-open-router", reason="429 quota exceeded")
    rotator.record_success("qwen", "qwen-azure")
    result = cli("--config-dir", str(three_providers), "status")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("qwen (default)")
    assert "last used: qwen-azure" in lines[0]
    router = next(line for line in lines if "qwen-open-router" in line)
    # An hour from now: today's time, or (after 23:00) tomorrow's date and time.
    assert re.search(
        r"cooling until (\d\d:\d\d:\d\d|\d{4}-\d\d-\d\d \d\d:\d\d) \(in (59m|1h00m)", router
    )
    assert "last error: 429 quota exceeded" in result.stdout
    azure = next(line for line in lines[1:] if "qwen-azure" in line)
    assert azure.lstrip().startswith("* ") and "current" in azure
    assert "disabled" in next(line for line in lines if "qwen-direct" in line)


def test_status_json(three_providers: Path) -> None:
    result = cli("--config-dir", str(three_providers), "status", "--json")
    data = json.loads(result.stdout)
    assert [b["name"] for b in data["backends"]] == ["qwen", "gemini"]
    assert data["backends"][0]["current"] == "qwen-open-router"


def test_status_follows_auto_router_home(three_providers: Path) -> None:
    result = cli("status", env={"AUTO_ROUTER_HOME": str(three_providers)})
    assert "qwen-open-router" in result.stdout


def test_malformed_file_is_one_line_with_position_and_no_traceback(tmp_path: Path) -> None:
    write_config(tmp_path, '[backends.qwen]\nproviders = ["a",\n')
    result = cli("--config-dir", str(tmp_path), "status")
    assert result.returncode == 78
    assert "Traceback" not in result.stderr
    first = result.stderr.splitlines()[0]
    assert first.startswith(f"auto-router: error: {tmp_path / 'llm_config.toml'}:2:18: invalid")
    assert "hint:" in result.stderr


def test_validate_lists_every_problem(tmp_path: Path) -> None:
    write_config(tmp_path, '[backends.a]\nenabled = 1\nproviders = ["x"]\n')
    result = cli("--config-dir", str(tmp_path), "config", "validate")
    assert result.returncode == 78
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 2
    assert "llm_config.toml:2: [backends.a].enabled: expected true or false" in errors[0]
    assert "llm_config.toml:3: [backends.a].providers: provider 'x' has no table" in errors[1]
    data = json.loads(cli("--config-dir", str(tmp_path), "config", "validate", "--json").stdout)
    assert data["valid"] is False and len(data["errors"]) == 2


def test_validate_ok_prints_warnings(tmp_path: Path) -> None:
    write_config(tmp_path, '[backends.a]\ncolour = "red"\n')
    result = cli("--config-dir", str(tmp_path), "config", "validate")
    assert result.returncode == 0
    assert result.stdout.startswith("ok:")
    assert "[backends.a].colour: unknown key, ignored" in result.stderr


def test_config_path_and_init_never_overwrite(tmp_path: Path) -> None:
    home = tmp_path / "home"
    paths = json.loads(cli("--config-dir", str(home), "config", "path", "--json").stdout)
    assert paths["llm_config"] == str(home / "llm_config.toml")
    assert paths["database"] == str(home / "auto-router.db")
    first = cli("--config-dir", str(home), "config", "init")
    assert first.returncode == 0
    assert first.stdout.count("wrote ") == 2
    (home / "llm_config.toml").write_text("# mine\n")
    second = cli("--config-dir", str(home), "config", "init")
    assert "kept " in second.stdout
    assert (home / "llm_config.toml").read_text() == "# mine\n"
    assert cli("--config-dir", str(home), "config", "validate").returncode == 0


def test_config_show_masks_literal_secrets_and_keeps_references(tmp_path: Path) -> None:
    write_config(
        tmp_path,
        "",
        '[q.a]\napi_key = "sk-literal-secret-abcdefgh"\nOPENAI_API_KEY = "${MY_KEY}"\n'
        'ENDPOINT = "https://x.test"\nheaders = { Authorization = "Bearer tok-secret-999999999" }\n',
    )
    for args in (["config", "show"], ["config", "show", "--json"]):
        result = cli("--config-dir", str(tmp_path), *args)
        assert result.returncode == 0, result.stderr
        assert "sk-literal-secret" not in result.stdout
        assert "tok-secret" not in result.stdout
        assert "****efgh" in result.stdout
        assert "${MY_KEY}" in result.stdout
        assert "https://x.test" in result.stdout


def test_unknown_backend_is_a_clear_error(three_providers: Path) -> None:
    result = cli("--config-dir", str(three_providers), "status", "--bogus")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
