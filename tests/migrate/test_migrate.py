"""The migration library, one source layout at a time (``auto-router migrate`` end to end is in
tests/cli/test_migrate_cli.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from auto_router.config import load_config
from auto_router.errors import AlreadyExistsError
from auto_router.migrate import Sources, apply_migration, parse_env, plan_migration
from auto_router.migrate.tables import type_for
from auto_router.paths import Paths


def _home(tmp_path: Path) -> Paths:
    home = tmp_path / "home"
    home.mkdir()
    return Paths(home, home)


def test_parse_env_handles_export_quotes_and_comments() -> None:
    text = "# c\nexport A=1\nB='two # kept'\nC=\"3\"\nD=four # dropped\nnot a line\nE=\n"
    assert parse_env(text) == {"A": "1", "B": "two # kept", "C": "3", "D": "four", "E": ""}


def test_provider_types_from_the_url_then_the_agent() -> None:
    assert type_for("codex", "https://r.openai.azure.com") == "azure-openai"
    assert type_for("qwen", "https://dashscope-intl.aliyuncs.com/v1") == "qwen-direct"
    assert type_for("claude", None) == "anthropic"
    assert type_for("codex", "https://openrouter.ai/api/v1") == "openai"


def test_backend_credentials_move_to_a_provider_and_the_diff_masks_them(tmp_path: Path) -> None:
    legacy = tmp_path / "llm_config.toml"
    legacy.write_text(
        '# mine\n[child]\nbackend_type = "parent"\n\n[parent]\nbackend_type = "codex"\n'
        'options = ["-o", "x"]\nopenai_api_key = "sk-literal-0123456789"\n'
        'openai_base_url = "https://openrouter.ai/api/v1"\n'
    )
    paths = _home(tmp_path)
    plan = plan_migration(paths, Sources(llm_config=legacy))
    assert "sk-literal-0123456789" not in plan.diff(paths)
    apply_migration(paths, plan)
    config = load_config(paths)
    child = config.backend("child")
    assert child.agent == "codex" and child.args == ("-o", "x")  # inherited from [parent]
    assert config.provider("child", "openrouter").api_key == "sk-literal-0123456789"
    assert "# mine" in paths.llm_config.read_text()


def test_qwen_providers_and_env_providers_join_one_backend(tmp_path: Path) -> None:
    qwen = tmp_path / "qwen-providers.toml"
    qwen.write_text('[[qwen.providers]]\nname = "My Studio"\nbase_url = "http://127.0.0.1:9/v1"\n')
    env = tmp_path / ".env"
    env.write_text("DEFAULT_PROVIDER=qwen-proxy\nQWEN_PROXY_BASE_URL=http://127.0.0.1:3000\n")
    paths = _home(tmp_path)
    plan = plan_migration(paths, Sources(qwen_providers=qwen, env_file=env))
    assert plan.imported == (qwen, env)
    apply_migration(paths, plan)
    config = load_config(paths)
    assert [p.name for p in config.providers_of("qwen")] == ["qwen-proxy", "my-studio"]
    assert config.provider("qwen", "qwen-proxy").base_url == "http://127.0.0.1:3000/v1"


def test_existing_files_are_kept_unless_forced(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text("LM_STUDIO_BASE_URL=http://127.0.0.1:1234/v1\n")
    paths = _home(tmp_path)
    paths.llm_config.write_text('[backends.other]\nproviders = ["p"]\n')
    paths.provider_metadata.write_text('[other.p]\nbase_url = "http://127.0.0.1:9/v1"\n')
    plan = plan_migration(paths, Sources(env_file=env))
    with pytest.raises(AlreadyExistsError):
        apply_migration(paths, plan)
    apply_migration(paths, plan, force=True)
    assert (paths.config_dir / "llm_config.toml.bak").read_text().startswith("[backends.other]")
    assert load_config(paths).provider("qwen", "lm-studio").type == "lm-studio"
