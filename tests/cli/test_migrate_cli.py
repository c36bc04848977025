"""``auto-router migrate`` on real legacy files (auto-coder's own example among them)."""

from __future__ import annotations

import json
import shutil
import stat
from pathlib import Path
from typing import Any

from auto_router.config import load_config, parse_proxy_settings
from auto_router.paths import Paths

EXAMPLE = Path(__file__).resolve().parents[1] / "fixtures" / "auto-coder-llm_config.example.toml"
Run = Any


def _legacy(tmp_path: Path) -> Path:
    legacy = tmp_path / "auto-coder"
    legacy.mkdir()
    shutil.copyfile(EXAMPLE, legacy / "llm_config.toml")
    (legacy / "provider_metadata.toml").write_text(
        '# my providers\n[qwen.qwen-open-router]\ncommand = "uvx"\n'
        'args = ["qwen-openai-proxy"]  # the proxy\nOPENROUTER_API_KEY = "${OPENROUTER_API_KEY}"\n'
    )
    (legacy / "qwen-providers.toml").write_text(
        '[[qwen.providers]]\nname = "ModelStudio"\napi_key = "${DASHSCOPE_API_KEY}"\n'
        'base_url = "https://dashscope-intl.aliyuncs.com/compatible-mode/v1"\n'
        'model = "qwen3-coder-plus"\n\n'
        '[azure]\nbase_url = "https://r.openai.azure.com"\napi_key = "${AZ}"\nfoo = 1\n'
    )
    return legacy


def test_migrate_auto_coder_example(run: Run, tmp_path: Path) -> None:
    home = tmp_path / "new-home"
    legacy = _legacy(tmp_path)
    done = run("--config-dir", str(home), "migrate", "--from", str(legacy))
    # (the runner's own --config-dir comes first; the later one wins)
    assert done.returncode == 0, done.stderr
    config = load_config(Paths(home, home))
    assert config.default_backend == "qwen-openrouter"
    assert config.backend("qwen").agent == "qwen"
    assert config.backend("qwen-fast").agent == "codex"  # via backend_type = "openrouter-base"
    openrouter = config.provider("qwen-openrouter", "openrouter")
    assert openrouter.base_url == "https://openrouter.ai/api/v1"
    assert config.backend("qwen-openrouter").args[:2] == ("-o", "HTTPReferer")
    azure = config.provider("qwen-azure", "azure")
    assert azure.type == "azure-openai" and azure.api_version == "2024-02-01"
    assert [p.name for p in config.providers_of("qwen")] == [
        "qwen-open-router",
        "modelstudio",
        "azure",
    ]
    llm_text = (home / "llm_config.toml").read_text()
    assert "# Method 1: Qwen CLI (OAuth) - Direct Qwen Usage" in llm_text
    assert "[backends.qwen-openrouter]" in llm_text and "\n[qwen-openrouter]" not in llm_text
    meta_text = (home / "provider_metadata.toml").read_text()
    assert meta_text.startswith("# my providers\n[qwen.qwen-open-router]")
    assert 'args = ["qwen-openai-proxy"]  # the proxy' in meta_text
    # the example holds literal (placeholder) keys
    assert stat.S_IMODE((home / "provider_metadata.toml").stat().st_mode) == 0o600
    assert "foo" in done.stdout  # unknown key reported, not silently dropped


def test_dry_run_writes_nothing_and_force_keeps_a_backup(
    run: Run, home: Path, tmp_path: Path
) -> None:
    legacy = _legacy(tmp_path)
    before = (home / "llm_config.toml").read_bytes()
    dry = run("migrate", "--from", str(legacy), "--dry-run")
    assert dry.returncode == 0 and "+[backends.qwen-openrouter]" in dry.stdout
    assert (home / "llm_config.toml").read_bytes() == before
    refused = run("migrate", "--from", str(legacy))
    assert refused.returncode != 0 and "--force" in refused.stderr
    assert (home / "llm_config.toml").read_bytes() == before
    forced = run("migrate", "--from", str(legacy), "--force")
    assert forced.returncode == 0, forced.stderr
    assert (home / "llm_config.toml.bak").read_bytes() == before
    assert "backends.qwen-openrouter" in (home / "llm_config.toml").read_text()


def test_migrate_provider_router_env(run: Run, tmp_path: Path) -> None:
    home = tmp_path / "h"
    env = tmp_path / ".env"
    env.write_text(
        "# Node router\nPORT=3001\nDEFAULT_PROVIDER=qwen-direct\n"
        "LM_STUDIO_BASE_URL=http://192.168.0.22:1234/v1\nLM_STUDIO_DEFAULT_MODEL=qwen3-max\n"
        "QWEN_PROXY_BASE_URL=http://localhost:3000\nQWEN_API_KEY='sk-dashscope-literal-0001'\n"
        "QWEN_BASE_URL=https://dashscope.aliyuncs.com/compatible-mode/v1\n"
        "MODEL_MAPPINGS=qwen3-coder:lm-studio,qwen3-max:qwen-proxy\nREQUEST_TIMEOUT=120000\n"
    )
    done = run(
        "--config-dir",
        str(home),
        "migrate",
        "--from",
        str(tmp_path / "none"),
        "--env-file",
        str(env),
        "--json",
    )
    assert done.returncode == 0, done.stderr
    assert "sk-dashscope-literal-0001" not in done.stdout
    assert json.loads(done.stdout)["changes"] is True
    config = load_config(Paths(home, home))
    names = [p.name for p in config.providers_of("qwen")]
    assert names == ["qwen-direct", "lm-studio", "qwen-proxy"]
    lm = config.provider("qwen", "lm-studio")
    assert lm.base_url == "http://192.168.0.22:1234/v1" and lm.model == "qwen3-max"
    assert lm.timeout == 120
    assert config.provider("qwen", "qwen-proxy").base_url == "http://localhost:3000/v1"
    assert config.provider("qwen", "qwen-direct").api_key == "sk-dashscope-literal-0001"
    assert config.proxy["models"] == {
        "qwen3-coder": "qwen/lm-studio",
        "qwen3-max": "qwen/qwen-proxy",
    }
    # ...in the form the proxy reads: each model goes to that one provider.
    assert parse_proxy_settings(config).models["qwen3-max"] == "qwen/qwen-proxy"
    assert stat.S_IMODE((home / "provider_metadata.toml").stat().st_mode) == 0o600


def test_nothing_to_migrate_is_an_error(run: Run, tmp_path: Path) -> None:
    done = run("migrate", "--from", str(tmp_path / "missing"))
    assert done.returncode != 0 and "nothing to migrate" in done.stderr


# ------------------------------------------------- claude-code-router and cc-switch

CCR = Path(__file__).resolve().parents[1] / "migrate" / "fixtures" / "ccr-config.json"
SECRETS = ("sk-deepseek-literal-0123456789", "ccr-secret-0123456789", "kimi-literal-token")


def test_ccr_default_path_dry_run_then_apply(run: Run, home: Path, tmp_path: Path) -> None:
    user = tmp_path / "user"
    (user / ".claude-code-router").mkdir(parents=True)
    shutil.copyfile(CCR, user / ".claude-code-router" / "config.json")
    before = (home / "provider_metadata.toml").read_bytes()
    dry = run("migrate", "--claude-code-router", "--dry-run", env={"HOME": str(user)})
    assert dry.returncode == 0, dry.stderr
    assert "+[claude.deepseek]" in dry.stdout and "Router.longContextThreshold" in dry.stdout
    assert all(s not in dry.stdout + dry.stderr for s in SECRETS)
    assert (home / "provider_metadata.toml").read_bytes() == before
    done = run("migrate", "--claude-code-router", "--json", env={"HOME": str(user)})
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["changes"] and len(report["written"]) == 2
    assert all(s not in done.stdout for s in SECRETS)
    names = [p.name for p in load_config(Paths(home, home)).providers_of("claude")]
    # the backend existed: its providers first, then the imported ones, Router.default first
    assert names[names.index("deepseek") - 1 :][:3] == ["anthropic-main", "deepseek", "openrouter"]
    # the user's files were added to, not replaced: their own providers are still there
    assert (home / "provider_metadata.toml").read_bytes().startswith(before.rstrip(b"\n"))


def test_cc_switch_default_database(run: Run, home: Path, tmp_path: Path) -> None:
    from tests.migrate.cc_switch_db import CC_SWITCH_JSON, cc_switch_database

    user = tmp_path / "user"
    (user / ".cc-switch").mkdir(parents=True)
    cc_switch_database(CC_SWITCH_JSON, user / ".cc-switch" / "cc-switch.db")
    shutil.copyfile(CC_SWITCH_JSON, user / ".cc-switch" / "config.json.migrated")
    done = run("migrate", "--cc-switch", env={"HOME": str(user)})
    assert done.returncode == 0, done.stderr
    assert "cc-switch.db" in done.stdout and "Claude Official" in done.stdout
    assert all(s not in done.stdout + done.stderr for s in SECRETS)
    checked = run("config", "validate")
    assert checked.returncode == 0, checked.stderr
    config = load_config(Paths(home, home))
    assert [p.name for p in config.providers_of("codex")] == ["packycode", "team-gateway"]


def test_malformed_sources_are_one_line_with_file_and_line(run: Run, tmp_path: Path) -> None:
    bad = tmp_path / "config.json"
    bad.write_text('{\n  "Providers": [\n    {"name": "a",, }\n  ]\n}\n')
    done = run("migrate", "--claude-code-router", str(bad))
    assert done.returncode == 78 and f"{bad}:3: invalid JSON" in done.stderr
    missing = run("migrate", "--cc-switch", env={"HOME": str(tmp_path / "nobody")})
    assert missing.returncode == 78 and "no such file" in missing.stderr
