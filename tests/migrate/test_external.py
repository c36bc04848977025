"""Imports from claude-code-router and cc-switch, on files written in their real formats.

- ``fixtures/ccr-config.json``: claude-code-router's config.json, JSON5 as it reads it.
- ``fixtures/cc-switch-config.json``: cc-switch's older config.json (``MultiAppConfig`` v2).
- cc-switch's newer database is built here: the schema DDL copied from its source
  (``fixtures/cc-switch-schema.sql``), filled from the JSON file the way cc-switch moves it
  into the database (``src-tauri/src/database/migration.rs`` ``migrate_providers``).
"""

from __future__ import annotations

import json
import sqlite3
import stat
from pathlib import Path

import pytest

from auto_router.config import load_config, parse_proxy_settings
from auto_router.config.starter import init_config
from auto_router.errors import ConfigError
from auto_router.migrate import Sources, apply_migration, plan_migration
from auto_router.paths import Paths
from tests.migrate.cc_switch_db import CC_SWITCH_JSON, FIXTURES, cc_switch_database

CCR = FIXTURES / "ccr-config.json"
LITERALS = (
    "sk-deepseek-literal-0123456789",
    "zai-literal-token-0123456789",
    "kimi-literal-token-0123456789",
    "sk-or-literal-0123456789",
    "sk-packy-literal-0123456789",
    "nebula-literal-key-0123456789",
    "ccr-secret-0123456789",
)


def _starter(tmp_path: Path) -> Paths:
    home = tmp_path / "home"
    paths = Paths(home, home)
    init_config(paths)
    return paths


# ------------------------------------------------------------------ claude-code-router


def test_ccr_providers_routes_and_what_is_reported(tmp_path: Path) -> None:
    paths = _starter(tmp_path)
    before = paths.llm_config.read_text()
    plan = plan_migration(paths, Sources(claude_code_router=CCR))
    assert plan.merged and plan.imported == (CCR,)
    diff = plan.diff(paths)
    for literal in LITERALS:
        assert literal not in diff and all(literal not in n for n in plan.notes)
    apply_migration(paths, plan)  # adds to the starter files: no --force needed
    config = load_config(paths)
    names = [p.name for p in config.providers_of("claude")]
    # Router.default's provider first, then the file's order
    assert names == [
        "deepseek", "openrouter", "ollama", "gemini", "anthropic", "modelscope", "vertex"
    ]  # fmt: skip
    deepseek = config.provider("claude", "deepseek")
    assert (deepseek.type, deepseek.base_url) == ("openai", "https://api.deepseek.com")
    assert deepseek.model == "deepseek-chat" and deepseek.timeout == 600
    assert deepseek.api_key == "sk-deepseek-literal-0123456789"
    assert dict(deepseek.model_map) == {"deepseek-reasoner": "deepseek-reasoner"}
    openrouter = config.provider("claude", "openrouter")
    assert openrouter.base_url == "https://openrouter.ai/api/v1"
    assert openrouter.api_key == "${OPENROUTER_API_KEY}"  # $VAR, as claude-code-router reads it
    gemini = config.provider("claude", "gemini")
    assert (gemini.type, gemini.base_url) == ("gemini", "https://generativelanguage.googleapis.com")
    anthropic = config.provider("claude", "anthropic")
    assert (anthropic.type, anthropic.base_url) == ("anthropic", "https://api.anthropic.com")
    assert config.provider("claude", "modelscope").api_key is None  # "" is no key
    assert config.provider("claude", "vertex").enabled is False  # Vertex's OAuth: not here
    assert parse_proxy_settings(config).models == {
        "qwen2.5-coder:latest": "claude/ollama",
        "deepseek-reasoner": "claude/deepseek",
        "google/gemini-2.5-pro-preview": "claude/openrouter",
        "gemini-2.5-flash": "claude/gemini",
    }
    notes = "\n".join(plan.notes)
    for reported in (
        "APIKEY",
        "CUSTOM_ROUTER_PATH",
        "PROXY_URL",
        "Router.longContextThreshold",
        "'tooluse' (model deepseek-chat)",
        "'maxtoken'",
        "'enhancetool'",
        "'vertex-gemini'",
        "Router.image not imported",
        "not for requests with thinking on",
    ):
        assert reported in notes, reported
    text = paths.llm_config.read_text()
    assert text.startswith(before.split("[backends.qwen]")[0])  # the starter's comments kept
    assert stat.S_IMODE(paths.provider_metadata.stat().st_mode) == 0o600
    # a second run finds everything in place
    again = plan_migration(paths, Sources(claude_code_router=CCR))
    assert not again.changes
    assert "ccr-config.json: claude/deepseek exists already, skipped" in again.notes


def test_ccr_into_another_backend_keeps_its_providers_first(tmp_path: Path) -> None:
    paths = _starter(tmp_path)
    apply_migration(
        paths, plan_migration(paths, Sources(claude_code_router=CCR, ccr_backend="qwen"))
    )
    config = load_config(paths)
    names = [p.name for p in config.providers_of("qwen")]
    assert names[:3] == ["qwen-openrouter", "qwen-dashscope", "qwen-local"]
    assert names[3] == "deepseek"
    assert config.backend("qwen").agent is None  # the backend is the user's, untouched


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ('{\n  "Providers": [\n    {"name": "a"\n    "api_base_url": "x"}\n  ]\n}', 4),
        ("{\n  // fine\n  'Router': {default: 'a,b',},\n  oops\n}", 4),
    ],
)
def test_malformed_ccr_names_file_and_line(tmp_path: Path, text: str, line: int) -> None:
    source = tmp_path / "config.json"
    source.write_text(text)
    with pytest.raises(ConfigError) as caught:
        plan_migration(_starter(tmp_path), Sources(claude_code_router=source))
    assert caught.value.path == source and caught.value.line == line


def test_ccr_wrong_shapes_are_reported_not_crashed(tmp_path: Path) -> None:
    source = tmp_path / "config.json"
    source.write_text(
        '{"Providers": [1, {"name": "x"}, {"name": "ok", "api_base_url": '
        '"https://h.example/v1/chat/completions", "api_key": "a$b", "transformer": 3}],'
        ' "Router": {"default": "ok", "think": 7}, "API_TIMEOUT_MS": "soon"}'
    )
    paths = _starter(tmp_path)
    plan = plan_migration(paths, Sources(claude_code_router=source))
    notes = "\n".join(plan.notes)
    assert "Providers[0] not imported" in notes and '"x" not imported' in notes
    assert 'Router.default not imported: expected "provider,model"' in notes
    assert "API_TIMEOUT_MS not imported" in notes and "transformer not imported" in notes
    apply_migration(paths, plan)
    ok = load_config(paths).provider("claude", "ok")
    assert ok.base_url == "https://h.example/v1" and ok.api_key == "a$$b"  # a literal $


def test_ccr_top_level_must_be_an_object(tmp_path: Path) -> None:
    source = tmp_path / "config.json"
    source.write_text("[]")
    with pytest.raises(ConfigError, match="JSON object"):
        plan_migration(_starter(tmp_path), Sources(claude_code_router=source))


# ------------------------------------------------------------------ cc-switch


def _check_cc_switch(paths: Paths, notes: tuple[str, ...]) -> None:
    config = load_config(paths)
    claude = [p.name for p in config.providers_of("claude")]
    assert claude == ["kimi", "zhipu-glm", "openrouter-chat"]  # current first
    zai = config.provider("claude", "zhipu-glm")
    assert dict(zai.env) == {
        "ANTHROPIC_BASE_URL": "https://api.z.ai/api/anthropic",
        "ANTHROPIC_AUTH_TOKEN": "zai-literal-token-0123456789",
        "ANTHROPIC_MODEL": "glm-4.6",
        "API_TIMEOUT_MS": "3000000",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
    }
    # Written as cc-switch writes it (no base_url/api_key keys), understood as an endpoint.
    assert (
        "base_url"
        not in paths.provider_metadata.read_text().split("[claude.zhipu-glm]")[1].split("[")[0]
    )
    assert (zai.kind, zai.type, zai.base_url) == (
        "agent-variables",
        "anthropic",
        "https://api.z.ai/api/anthropic",
    )
    assert dict(zai.derived)["base_url"] == "ANTHROPIC_BASE_URL"
    assert "ANTHROPIC_API_KEY" not in config.provider("claude", "kimi").env  # was empty
    chat = config.provider("claude", "openrouter-chat")  # apiFormat openai_chat
    assert (chat.type, chat.base_url, chat.model) == (
        "openai",
        "https://openrouter.ai/api/v1",
        "qwen/qwen3-coder",
    )
    assert chat.api_key == "sk-or-literal-0123456789" and not chat.env
    codex = [p.name for p in config.providers_of("codex")]
    assert codex == ["packycode", "team-gateway"]
    packy = config.provider("codex", "packycode")
    assert (packy.base_url, packy.model, packy.responses) == (
        "https://www.packyapi.ai/v1",
        "gpt-5-codex",
        True,
    )
    assert packy.api_key == "sk-packy-literal-0123456789"
    team = config.provider("codex", "team-gateway")
    assert team.api_key == "${TEAM_KEY}" and team.responses is False  # env_key, wire_api chat
    nebula = config.provider("gemini", "nebula")
    assert nebula.env["GOOGLE_GEMINI_BASE_URL"] == "https://apinebula.ai"
    text = "\n".join(notes)
    assert '"Claude Official": not imported' in text and '"Google Official"' in text
    assert '"OpenAI Official": not imported' in text
    assert "includeCoAuthoredBy" in text and "model_reasoning_effort" in text


def test_cc_switch_database(tmp_path: Path) -> None:
    database = cc_switch_database(CC_SWITCH_JSON, tmp_path / "cc-switch.db")
    before = database.read_bytes()
    paths = _starter(tmp_path)
    plan = plan_migration(paths, Sources(cc_switch=database))
    for literal in LITERALS:
        assert literal not in plan.diff(paths)
    apply_migration(paths, plan)
    _check_cc_switch(paths, plan.notes)
    assert database.read_bytes() == before  # opened read-only


def test_cc_switch_older_json_gives_the_same_providers(tmp_path: Path) -> None:
    paths = _starter(tmp_path)
    plan = plan_migration(paths, Sources(cc_switch=CC_SWITCH_JSON))
    apply_migration(paths, plan)
    _check_cc_switch(paths, plan.notes)


def test_cc_switch_settings_json_names_the_current_provider(tmp_path: Path) -> None:
    folder = tmp_path / ".cc-switch"
    folder.mkdir()
    database = cc_switch_database(CC_SWITCH_JSON, folder / "cc-switch.db")
    (folder / "settings.json").write_text('{"currentProviderClaude": "8f7e2c1a-zai"}')
    paths = _starter(tmp_path)
    apply_migration(paths, plan_migration(paths, Sources(cc_switch=database)))
    assert load_config(paths).providers_of("claude")[0].name == "zhipu-glm"


def test_cc_switch_v1_json_is_claude_only(tmp_path: Path) -> None:
    data = json.loads(CC_SWITCH_JSON.read_text())["claude"]
    source = tmp_path / "config.json"
    source.write_text(json.dumps(data))
    paths = _starter(tmp_path)
    apply_migration(paths, plan_migration(paths, Sources(cc_switch=source)))
    config = load_config(paths)
    assert config.providers_of("claude")[0].name == "kimi"
    assert "codex" not in config.backends


def test_cc_switch_bad_rows_name_the_row(tmp_path: Path) -> None:
    database = cc_switch_database(CC_SWITCH_JSON, tmp_path / "cc-switch.db")
    with sqlite3.connect(database) as db:
        db.execute("UPDATE providers SET settings_config = '{\"env\": ' WHERE id = '3b9d-kimi'")
    with pytest.raises(ConfigError) as caught:
        plan_migration(_starter(tmp_path), Sources(cc_switch=database))
    assert caught.value.path == database
    assert caught.value.key_path == "providers row claude/3b9d-kimi: settings_config"


def test_cc_switch_codex_config_that_is_not_toml(tmp_path: Path) -> None:
    data = json.loads(CC_SWITCH_JSON.read_text())
    data["codex"]["providers"]["aa11-packy"]["settingsConfig"]["config"] = "model = \n"
    source = tmp_path / "config.json"
    source.write_text(json.dumps(data))
    with pytest.raises(ConfigError) as caught:
        plan_migration(_starter(tmp_path), Sources(cc_switch=source))
    assert "not valid TOML" in str(caught.value) and "aa11-packy" in str(caught.value.key_path)


@pytest.mark.parametrize(
    "content", [b"SQLite format 3\x00" + b"\x00" * 200, b"\xff\xfe binary", b'{"claude": 1}']
)
def test_cc_switch_unreadable_files_are_one_error(tmp_path: Path, content: bytes) -> None:
    source = tmp_path / "cc-switch.db"
    source.write_bytes(content)
    with pytest.raises(ConfigError) as caught:
        plan_migration(_starter(tmp_path), Sources(cc_switch=source))
    assert caught.value.path == source


def test_cc_switch_database_without_providers_table(tmp_path: Path) -> None:
    source = tmp_path / "other.db"
    with sqlite3.connect(source) as db:
        db.execute("CREATE TABLE t (x)")
    with pytest.raises(ConfigError, match="no providers table"):
        plan_migration(_starter(tmp_path), Sources(cc_switch=source))


def test_a_named_source_that_is_missing(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        plan_migration(_starter(tmp_path), Sources(cc_switch=tmp_path / "none.db"))


# ------------------------------------------------------------------ hostile shapes

_CCR_SHAPES = [
    '{"Providers": {"a": 1}}',
    '{"Router": []}',
    '{"Providers": [{"name": 5}], "Router": {"default": 5}}',
    '{"Providers": [{"name": "x", "api_base_url": "https://h/v1", "models": "abc"}]}',
    '{"Providers": [{"name": "x", "api_base_url": 7, "api_key": ["k"]}]}',
    '{"Providers": [{"name": "x", "api_base_url": "u", "transformer": {"use": "gemini"}}]}',
    '{"Providers": [{"name": "x", "api_base_url": "u", "transformer": {"m": 5, "use": [[]]}}]}',
    '{"Providers": [{"name": "\\u0000", "api_base_url": "https://h/v1"}]}',
    '{"Providers": [{"name": "a", "api_base_url": "https://h"},'
    ' {"name": "A", "api_base_url": "https://h"}], "Router": {"default": "a,m", "think": "A,m"}}',
    "[" * 100000,
    '{"API_TIMEOUT_MS": true, "Router": {"longContext": ","}}',
    "",
]


@pytest.mark.parametrize("text", _CCR_SHAPES)
def test_ccr_hostile_shapes_end_in_a_plan_or_one_error(tmp_path: Path, text: str) -> None:
    source = tmp_path / "config.json"
    source.write_text(text)
    paths = _starter(tmp_path)
    try:
        apply_migration(paths, plan_migration(paths, Sources(claude_code_router=source)))
    except ConfigError as exc:
        assert exc.path in (source, None) or str(source) in str(exc)
    else:
        load_config(paths)


def _cc_switch_variant(tmp_path: Path, change: str) -> Path:
    data = json.loads(CC_SWITCH_JSON.read_text())
    zai = data["claude"]["providers"]["8f7e2c1a-zai"]
    packy = data["codex"]["providers"]["aa11-packy"]
    if change == "settings is a string":
        zai["settingsConfig"] = "env"
    elif change == "env values of every kind":
        zai["settingsConfig"]["env"] = {"A_LIST": [1], "A_DICT": {}, "NULL": None, "lower": "x"}
    elif change == "auth and config of the wrong type":
        packy["settingsConfig"] = {"auth": "k", "config": 5}
    elif change == "model_providers of the wrong type":
        packy["settingsConfig"]["config"] = 'model_provider = "x"\nmodel_providers = 3\n'
    elif change == "meta is a list":
        zai["meta"] = ["apiFormat"]
    elif change == "providers is a list":
        data["gemini"]["providers"] = []
    elif change == "createdAt is text":
        zai["createdAt"] = "yesterday"
    source = tmp_path / "config.json"
    source.write_text(json.dumps(data))
    return source


@pytest.mark.parametrize(
    "change",
    [
        "settings is a string",
        "env values of every kind",
        "auth and config of the wrong type",
        "model_providers of the wrong type",
        "meta is a list",
        "providers is a list",
        "createdAt is text",
    ],
)
def test_cc_switch_hostile_shapes_end_in_a_plan_or_one_error(tmp_path: Path, change: str) -> None:
    source = _cc_switch_variant(tmp_path, change)
    paths = _starter(tmp_path)
    try:
        plan = plan_migration(paths, Sources(cc_switch=source))
    except ConfigError as exc:
        assert exc.path == source
        return
    apply_migration(paths, plan)
    load_config(paths)
