from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from auto_router.agents import AGENTS, TABLE, FailFastContext, Setup, Target, agent_for
from auto_router.agents.codex import KEY_VARIABLE, PROVIDER_ID
from auto_router.config import BackendConfig
from auto_router.errors import ConfigValidationError
from auto_router.secrets import Secret

KEY = "sk-test-0123456789abcdef"


def target(**kw: object) -> Target:
    values: dict[str, object] = {
        "backend": "b",
        "provider": "p",
        "base_url": "https://example.test/v1",
        "api_key": Secret(KEY),
        "model": "m-1",
    }
    values.update(kw)
    return Target(**values)  # type: ignore[arg-type]


def test_every_agent_is_registered_once_with_its_variables() -> None:
    assert set(AGENTS) == {"qwen", "codex", "claude", "gemini", "aider", "opencode", "generic"}
    for agent in AGENTS.values():
        assert agent.markers, agent.name
        setup = agent.configure(target(), frozenset())
        assert set(setup.env) <= set(agent.variables) | {"ANTHROPIC_API_KEY"}, agent.name


def test_qwen_reads_openai_variables() -> None:
    setup = AGENTS["qwen"].configure(target(), frozenset())
    assert setup.env == {
        "OPENAI_API_KEY": KEY,
        "OPENAI_BASE_URL": "https://example.test/v1",
        "OPENAI_MODEL": "m-1",
    }
    assert setup.secret_names == {"OPENAI_API_KEY"}


def test_claude_gateway_gets_a_bearer_token_and_a_blank_api_key() -> None:
    setup = AGENTS["claude"].configure(target(protocol="anthropic"), frozenset())
    assert setup.env == {
        "ANTHROPIC_BASE_URL": "https://example.test",  # without /v1, as Claude Code wants
        "ANTHROPIC_AUTH_TOKEN": KEY,
        "ANTHROPIC_API_KEY": "",
        "ANTHROPIC_MODEL": "m-1",
    }


def test_claude_official_api_gets_the_api_key() -> None:
    setup = AGENTS["claude"].configure(
        target(base_url="https://api.anthropic.com", protocol="anthropic"), frozenset()
    )
    assert setup.env["ANTHROPIC_API_KEY"] == KEY
    assert "ANTHROPIC_AUTH_TOKEN" not in setup.env


def test_gemini_reads_gemini_variables() -> None:
    setup = AGENTS["gemini"].configure(
        target(base_url="https://gw.test/v1beta", protocol="gemini"), frozenset()
    )
    assert setup.env == {
        "GEMINI_API_KEY": KEY,
        "GOOGLE_GEMINI_BASE_URL": "https://gw.test",
        "GEMINI_MODEL": "m-1",
    }


def test_codex_gets_a_model_provider_on_the_command_line() -> None:
    setup = AGENTS["codex"].configure(target(), frozenset())
    pairs = dict(arg.split("=", 1) for arg in setup.args[1::2])
    assert set(setup.args[0::2]) == {"-c"}
    prefix = f"model_providers.{PROVIDER_ID}"
    assert pairs["model_provider"] == json.dumps(PROVIDER_ID)
    assert pairs[f"{prefix}.base_url"] == '"https://example.test/v1"'
    assert pairs[f"{prefix}.env_key"] == json.dumps(KEY_VARIABLE)
    assert pairs[f"{prefix}.wire_api"] == '"responses"'
    assert pairs["model"] == '"m-1"'
    assert setup.env == {KEY_VARIABLE: KEY}
    assert KEY not in " ".join(setup.args)  # the key travels in the environment only


def test_aider_prefixes_the_model() -> None:
    setup = AGENTS["aider"].configure(target(), frozenset())
    assert setup.env["AIDER_MODEL"] == "openai/m-1"
    assert setup.env["OPENAI_API_BASE"] == "https://example.test/v1"


def test_provider_exported_variables_are_left_alone() -> None:
    setup = AGENTS["claude"].configure(
        target(protocol="anthropic"), frozenset({"ANTHROPIC_API_KEY", "ANTHROPIC_MODEL"})
    )
    assert "ANTHROPIC_API_KEY" not in setup.env
    assert "ANTHROPIC_AUTH_TOKEN" not in setup.env
    assert "ANTHROPIC_MODEL" not in setup.env


def test_generic_follows_the_protocol() -> None:
    generic = AGENTS["generic"]
    assert "OPENAI_API_KEY" in generic.configure(target(), frozenset()).env
    assert "ANTHROPIC_API_KEY" in generic.configure(target(protocol="anthropic"), frozenset()).env
    assert "GEMINI_API_KEY" in generic.configure(target(protocol="gemini"), frozenset()).env


# ------------------------------------------------------------------ fail fast


def ctx(tmp_path: Path, environ: dict[str, str] | None = None) -> FailFastContext:
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    return FailFastContext(work, environ or {})


def test_claude_fail_fast_is_an_env_variable(tmp_path: Path) -> None:
    setup = AGENTS["claude"].fail_fast(
        ctx(tmp_path), AGENTS["claude"].configure(target(), frozenset())
    )
    assert setup.env == {"CLAUDE_CODE_MAX_RETRIES": "0"}


def test_codex_fail_fast_args(tmp_path: Path) -> None:
    codex = AGENTS["codex"]
    setup = codex.fail_fast(ctx(tmp_path), codex.configure(target(), frozenset()))
    assert setup.args == [
        "-c",
        f"model_providers.{PROVIDER_ID}.request_max_retries=0",
        "-c",
        f"model_providers.{PROVIDER_ID}.stream_max_retries=0",
    ]


@pytest.mark.parametrize(
    ("agent", "variable", "knob"),
    [
        (
            "qwen",
            "QWEN_CODE_SYSTEM_SETTINGS_PATH",
            {"model": {"generationConfig": {"maxRetries": 0}}},
        ),
    ],
)
def test_settings_file_knob_copies_and_never_edits_the_users_file(
    tmp_path: Path, agent: str, variable: str, knob: dict[str, object]
) -> None:
    own = tmp_path / "system-settings.json"
    original = json.dumps({"model": {"name": "keep-me"}, "general": {"vimMode": True}})
    own.write_text(original)
    setup = AGENTS[agent].fail_fast(
        ctx(tmp_path, {variable: str(own)}), AGENTS[agent].configure(target(), frozenset())
    )
    written = Path(setup.env[variable])
    assert written.parent == tmp_path / "work"
    merged = json.loads(written.read_text())
    assert merged["general"].get("vimMode") is True and merged["model"].get("name") == "keep-me"
    section, values = next(iter(knob.items()))
    for key, value in values.items():  # type: ignore[attr-defined]
        assert merged[section][key] == value
    assert own.read_text() == original  # the user's file is untouched


def gemini_prepare(
    tmp_path: Path, *, fail_fast: bool = True, settings: str | None = None, **kw: object
) -> tuple[Path, Setup]:
    """Run Gemini's prepare with a user home holding ``.gemini`` (and ``settings.json``)."""
    user = tmp_path / "user-home"
    (user / ".gemini" / "tmp").mkdir(parents=True)
    (user / ".gemini" / "oauth_creds.json").write_text("{}")
    if settings is not None:
        (user / ".gemini" / "settings.json").write_text(settings)
    gemini = AGENTS["gemini"]
    assert gemini.prepare is not None
    configured = gemini.configure(target(**kw), frozenset())
    return user, gemini.prepare(ctx(tmp_path, {"HOME": str(user)}), configured, fail_fast)


def test_gemini_settings_go_to_a_temporary_home_mirroring_the_users(tmp_path: Path) -> None:
    """Gemini CLI 0.61 skips a system settings file that is not root-owned all the way up,
    and refuses GOOGLE_GEMINI_BASE_URL's "gateway" auth in `gemini -p`."""
    original = json.dumps({"general": {"vimMode": True}, "ui": {"theme": "x"}})
    user, setup = gemini_prepare(tmp_path, settings=original, base_url="https://g.invalid")
    home = Path(setup.env["GEMINI_CLI_HOME"])
    assert home.parent == tmp_path / "work"
    child = home / ".gemini"
    merged = json.loads((child / "settings.json").read_text())
    assert merged == {
        "general": {"vimMode": True, "maxAttempts": 1},
        "ui": {"theme": "x"},
        "security": {"auth": {"selectedType": "gemini-api-key"}},
    }
    # everything else is the user's own, through symlinks
    assert (child / "oauth_creds.json").resolve() == user / ".gemini" / "oauth_creds.json"
    assert (child / "tmp").is_symlink()
    assert (user / ".gemini" / "settings.json").read_text() == original
    assert "GEMINI_CLI_SYSTEM_SETTINGS_PATH" not in setup.env


def test_gemini_without_fail_fast_still_selects_the_api_key_auth(tmp_path: Path) -> None:
    _, setup = gemini_prepare(tmp_path, fail_fast=False)
    merged = json.loads((Path(setup.env["GEMINI_CLI_HOME"]) / ".gemini/settings.json").read_text())
    assert merged == {"security": {"auth": {"selectedType": "gemini-api-key"}}}


def test_gemini_unreadable_user_settings_leave_them_alone(tmp_path: Path) -> None:
    _, setup = gemini_prepare(tmp_path, settings="{ not json")
    assert setup.env == {} and "cannot read" in setup.notes[0]


def test_unreadable_settings_file_turns_the_knob_off(tmp_path: Path) -> None:
    own = tmp_path / "broken.json"
    own.write_text("{ not json")
    setup = AGENTS["qwen"].fail_fast(
        ctx(tmp_path, {"QWEN_CODE_SYSTEM_SETTINGS_PATH": str(own)}),
        AGENTS["qwen"].configure(target(), frozenset()),
    )
    assert setup.env == {} and "fail-fast off" in setup.notes[0]


# ------------------------------------------------------------------ choosing the agent


@pytest.mark.parametrize(
    ("backend", "argv", "expected"),
    [
        (BackendConfig("x", agent="claude"), ["qwen"], "claude"),  # the agent key wins
        (BackendConfig("x"), ["/usr/local/bin/codex", "exec"], "codex"),  # command basename
        (BackendConfig("x"), ["claude.cmd"], "claude"),
        (BackendConfig("gemini"), ["python", "script.py"], "gemini"),  # backend name
        (BackendConfig("qwen-openrouter"), None, "qwen"),
        (BackendConfig("scripts"), ["python"], "generic"),
        (BackendConfig("x"), ["claude-code"], "claude"),  # any executable of the table
        (BackendConfig("gemini-cli"), None, "gemini"),  # a backend named like an executable
        (BackendConfig("codex_work"), ["python"], "codex"),  # the backend name's head
    ],
)
def test_agent_for(backend: BackendConfig, argv: list[str] | None, expected: str) -> None:
    assert agent_for(backend, argv).name == expected


def test_unknown_agent_key_is_a_config_error() -> None:
    with pytest.raises(ConfigValidationError, match="unknown agent 'nope'"):
        agent_for(BackendConfig("x", agent="nope"), None)


def test_the_table_names_each_module_with_its_own_executables() -> None:
    # The table lets `agent_for` match an executable without importing every agent module.
    for name, (module, executables) in TABLE.items():
        agent = importlib.import_module(f"auto_router.agents.{module}").AGENT
        assert (agent.name, agent.executables) == (name, executables)
        assert AGENTS[name] is agent


def test_a_lookup_imports_only_that_agent() -> None:
    probe = (
        "import sys\n"
        "from auto_router.agents import AGENTS, agent_for\n"
        "from auto_router.config import BackendConfig\n"
        "assert 'qwen' in AGENTS and 'nope' not in AGENTS and len(AGENTS) == 7\n"
        "agent_for(BackendConfig('x'), ['claude'])\n"
        "print(sorted(m for m in sys.modules if m.startswith('auto_router.agents.')))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "['auto_router.agents.base', 'auto_router.agents.claude']", (
        done.stderr
    )
