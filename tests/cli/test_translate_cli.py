"""``status`` and ``provider show`` say which protocols a provider serves, and how."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

Run = Callable[..., subprocess.CompletedProcess[str]]

LLM = """
[backends.pool]
providers = ["router", "claude", "codex"]

[backends.strict]
translate = false
providers = ["local"]
"""
META = """
[pool.router]
base_url = "https://openrouter.example/api/v1"
model = "qwen/qwen3-coder"
[pool.router.model_map]
"claude-*haiku*" = "qwen/qwen3-coder-flash"
"*" = "qwen/qwen3-coder"

[pool.claude]
type = "anthropic"
api_key = "${ANTHROPIC_API_KEY}"

[pool.codex]
base_url = "https://api.openai.example/v1"
responses = true

[strict.local]
type = "lm-studio"
"""


def test_status_and_provider_show_report_translation(run: Run, home: Path) -> None:
    (home / "llm_config.toml").write_text(LLM)
    (home / "provider_metadata.toml").write_text(META)
    status = run("status")
    assert status.returncode == 0, status.stderr
    lines = status.stdout.splitlines()
    router = lines.index(next(line for line in lines if " router " in line))
    assert lines[router + 1].strip() == "speaks chat; translated: responses, anthropic, gemini"
    assert "speaks anthropic; translated: chat, responses, gemini" in status.stdout
    assert "speaks chat, responses; translated: anthropic, gemini" in status.stdout
    assert "speaks chat, responses; no translation" in status.stdout
    data = json.loads(run("status", "--json").stdout)
    local = data["backends"][1]["providers"][0]
    assert local["serves"] == {"native": ["chat", "responses"], "translated": []}

    shown = run("provider", "show", "pool/router")
    assert "protocol: openai; serves chat natively" in shown.stdout
    assert "through translation: responses, anthropic, gemini" in shown.stdout
    row = json.loads(run("provider", "show", "pool/router", "--json").stdout)
    assert row["settings"]["model_map"] == {
        "claude-*haiku*": "qwen/qwen3-coder-flash",
        "*": "qwen/qwen3-coder",
    }
    assert row["serves"]["translated"] == ["responses", "anthropic", "gemini"]
    off = run("provider", "show", "strict/local")
    assert "through translation: none (translate = false)" in off.stdout


def test_a_bad_translation_setting_names_file_and_key(run: Run, home: Path) -> None:
    (home / "llm_config.toml").write_text(LLM)
    (home / "provider_metadata.toml").write_text(
        META.replace("responses = true", 'responses = "yes"')
    )
    result = run("status")
    assert result.returncode != 0
    assert "provider_metadata.toml" in result.stderr and "responses" in result.stderr
    assert len(result.stderr.strip().splitlines()) <= 3
