"""Signals, secrets, the parent environment, --dry-run, `env`, and each agent's variables."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from auto_router.launcher.runner import Launcher, RunOptions
from auto_router.paths import resolve_paths
from auto_router.rotation.service import Rotator

from .conftest import Home, digest

pytestmark = pytest.mark.integration

SECRET = "sk-live-SUPERSECRET-0123456789abcdef"
ENV_SECRET = "env-secret-value-9876543210fedcba"

LLM = """
[backends.qwen]
providers = ["first", "second"]
[message_backend]
default = "qwen"
"""
PROVIDERS = f"""
[qwen.first]
base_url = "https://first.invalid/v1"
api_key = "{SECRET}"
model = "qwen3-coder-plus"
FAKE_SECRET = "${{FROM_PARENT}}"
FAKE_BEHAVIOUR = "${{FIRST_BEHAVIOUR:-qwen-429}}"

[qwen.second]
api_key = "${{FROM_PARENT}}"
FAKE_BEHAVIOUR = "ok"
"""


def wait_for(path: Path, proc: subprocess.Popen[str]) -> None:
    """Poll until the fake agent says it is ready (a guard against hangs, not a timing test)."""
    deadline = time.monotonic() + 30
    while not path.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the fake agent never started"
        time.sleep(0.02)


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_to_the_launcher_reaches_the_child(home: Home, signum: int, code: int) -> None:
    home.write(LLM, PROVIDERS)
    ready = home.path / "ready"
    env = {
        **home.env,
        "FROM_PARENT": ENV_SECRET,
        "FIRST_BEHAVIOUR": "wait",
        "FAKE_READY": str(ready),
    }
    proc = subprocess.Popen(
        home.command("run", "--", "qwen"),
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_for(ready, proc)
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == code, err
    assert f"fake-agent got signal {int(signum)}" in out
    assert "hit its usage limit" not in err
    attempts = home.history()
    assert [(a["outcome"], a["exit_code"]) for a in attempts] == [("interrupted", code)]


def test_secrets_never_reach_the_launchers_output_history_or_database(home: Home) -> None:
    home.write(LLM, PROVIDERS)
    env = {**home.env, "FROM_PARENT": ENV_SECRET}
    home.env = env
    outputs = []
    for args in (
        ("run", "--", "qwen", "-p", "go"),
        ("run", "--dry-run", "--", "qwen"),
        ("run", "--dry-run", "--provider", "second", "--", "qwen"),
        ("history",),
        ("history", "--json"),
        ("status", "--json"),
    ):
        result = home.run(*args)
        assert result.returncode == 0, (args, result.stderr)
        outputs.append(result.stdout + result.stderr)
    text = "\n".join(outputs)
    assert "hit its usage limit" in text  # the run did rotate
    for secret in (SECRET, ENV_SECRET, SECRET[-12:]):
        assert secret not in text
    database = (home.path / "auto-router.db").read_bytes()
    assert SECRET.encode() not in database and ENV_SECRET.encode() not in database
    # but the children did get them
    log = home.log()
    assert log[0]["env"]["OPENAI_API_KEY"] == digest(SECRET)  # type: ignore[index]
    assert log[0]["env"]["FAKE_SECRET"] == digest(ENV_SECRET)  # type: ignore[index]
    assert log[1]["env"]["OPENAI_API_KEY"] == digest(ENV_SECRET)  # type: ignore[index]


def test_dry_run_prints_command_and_masked_names(home: Home) -> None:
    home.write(LLM, PROVIDERS)
    home.env["FROM_PARENT"] = ENV_SECRET
    result = home.run("run", "--dry-run", "--", "qwen", "-p", "fix it", "--flag", "-x")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "command: qwen -p 'fix it' --flag -x" in out
    assert "agent: qwen (qwen-code)" in out
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_MODEL", "FAKE_SECRET"):
        assert f"  {name}=" in out
    assert "OPENAI_API_KEY=****cdef" in out  # masked to the last four
    assert "FAKE_SECRET=****" in out
    assert "QWEN_CODE_SYSTEM_SETTINGS_PATH=" in out
    assert home.log() == []  # nothing ran
    assert home.history() == []


def test_options_after_the_double_dash_belong_to_the_command(home: Home) -> None:
    home.write(LLM, PROVIDERS.replace("qwen-429}", "ok}"))
    home.env["FROM_PARENT"] = ENV_SECRET
    result = home.run("run", "--", "qwen", "-p", "fix it", "--backend", "nope", "--dry-run", "--")
    assert result.returncode == 0, result.stderr
    assert home.log()[0]["argv"] == ["-p", "fix it", "--backend", "nope", "--dry-run", "--"]


def test_the_parent_environment_is_never_changed(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "llm_config.toml").write_text(LLM)
    (tmp_path / "provider_metadata.toml").write_text(PROVIDERS)
    from .conftest import child_env

    os.environ["FROM_PARENT"] = ENV_SECRET
    try:
        base = child_env(tmp_path, {"FAKE_LOG": str(tmp_path / "fake.log")})
        for key, value in base.items():
            os.environ.setdefault(key, value)
        os.environ["PATH"] = base["PATH"]
        before = dict(os.environ)
        rotator = Rotator(resolve_paths(tmp_path))
        launcher = Launcher(rotator, environ=os.environ)
        result = launcher.run(RunOptions(command=("qwen",), pty=False))
        assert result.exit_code == 0 and len(result.attempts) == 2
        assert dict(os.environ) == before
        for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "AUTO_ROUTER_PROVIDER", "FAKE_BEHAVIOUR"):
            assert name not in os.environ
        lines = (tmp_path / "fake.log").read_text().splitlines()
        assert json.loads(lines[0])["env"]["OPENAI_API_KEY"] == digest(SECRET)
    finally:
        os.environ.pop("FROM_PARENT", None)
    capfd.readouterr()


# ------------------------------------------------------------------ `auto-router env`


ENV_PROVIDERS = """
[qwen.first]
base_url = "https://first.invalid/v1"
api_key = "it's a 'quoted' $key"
model = "m"
EXTRA_VAR = "x y"
"""


def test_env_bash_output_evals_to_the_providers_values(home: Home) -> None:
    home.write(LLM.replace('["first", "second"]', '["first"]'), ENV_PROVIDERS)
    script = home.run("env", "--shell", "bash").stdout
    probe = subprocess.run(
        [
            "bash",
            "--norc",
            "-c",
            'eval "$1"; printf "%s|%s|%s|%s" "$OPENAI_API_KEY" '
            '"$OPENAI_BASE_URL" "$OPENAI_MODEL" "$EXTRA_VAR"',
            "bash",
            script,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert probe == "it's a 'quoted' $key|https://first.invalid/v1|m|x y"
    assert "CLAUDE_CODE_MAX_RETRIES" not in script and "SETTINGS_PATH" not in script
    unset = home.run("env", "--shell", "zsh", "--unset").stdout
    assert "unset OPENAI_API_KEY" in unset and "unset EXTRA_VAR" in unset


@pytest.mark.parametrize(
    ("shell", "line"),
    [
        ("fish", "set -gx OPENAI_API_KEY 'it\\'s a \\'quoted\\' $key'"),
        ("powershell", "$env:OPENAI_API_KEY = 'it''s a ''quoted'' $key'"),
        ("zsh", "export OPENAI_API_KEY='it'\\''s a '\\''quoted'\\'' $key'"),
    ],
)
def test_env_for_each_shell(home: Home, shell: str, line: str) -> None:
    home.write(LLM.replace('["first", "second"]', '["first"]'), ENV_PROVIDERS)
    result = home.run("env", "--shell", shell)
    assert result.returncode == 0, result.stderr
    assert line in result.stdout.splitlines()


def test_env_for_codex_names_the_arguments_it_needs(home: Home) -> None:
    llm = '[backends.codex]\nproviders = ["p"]\n[message_backend]\ndefault = "codex"\n'
    home.write(
        llm, '[codex.p]\nbase_url = "https://x.invalid/v1"\napi_key = "k-1234567890abcdefgh"\n'
    )
    out = home.run("env", "--shell", "bash").stdout
    assert "# Codex CLI also needs these arguments: -c model_provider=" in out
    assert "wire_api=" in out and "export AUTO_ROUTER_CODEX_API_KEY=" in out
    assert home.run("env", "--shell", "tcsh").returncode == 2


# ------------------------------------------------------------------ the four agents


AGENT_LLM = """
[backends.qwen]
providers = ["p"]
[backends.claude]
providers = ["p"]
[backends.gemini]
providers = ["p"]
[backends.codex]
providers = ["p"]
[backends.claude-slow]
agent = "claude"
fail_fast = false
providers = ["p"]
"""
AGENT_PROVIDERS = """
[qwen.p]
base_url = "https://dashscope.invalid/compatible-mode/v1"
api_key = "qwen-key-0123456789abcdef"
model = "qwen3-coder-plus"
[claude.p]
type = "anthropic"
base_url = "https://gateway.invalid/v1"
api_key = "claude-key-0123456789abcdef"
model = "claude-sonnet-4-5"
[gemini.p]
type = "gemini"
base_url = "https://gemini.invalid"
api_key = "gemini-key-0123456789abcdef"
model = "gemini-2.5-pro"
[codex.p]
base_url = "https://openai.invalid/v1"
api_key = "codex-key-0123456789abcdef"
model = "gpt-5-codex"
["claude-slow".p]
type = "anthropic"
api_key = "slow-key-0123456789abcdef"
"""


def test_each_agent_gets_its_documented_variables_and_fail_fast_knob(home: Home) -> None:
    home.write(AGENT_LLM, AGENT_PROVIDERS)
    for backend in ("qwen", "claude", "gemini", "codex", "claude-slow"):
        # the agent's own default command, straight to the provider
        result = home.run("run", "--direct", "--backend", backend)
        assert result.returncode == 0, (backend, result.stderr)
    qwen, claude, gemini, codex, slow = home.log()

    assert qwen["env"]["OPENAI_API_KEY"] == digest("qwen-key-0123456789abcdef")  # type: ignore[index]
    assert qwen["env"]["OPENAI_BASE_URL"] == digest("https://dashscope.invalid/compatible-mode/v1")  # type: ignore[index]
    assert qwen["env"]["OPENAI_MODEL"] == digest("qwen3-coder-plus")  # type: ignore[index]
    qwen_settings = qwen["settings"]["QWEN_CODE_SYSTEM_SETTINGS_PATH"]  # type: ignore[index]
    assert qwen_settings["content"] == {"model": {"generationConfig": {"maxRetries": 0}}}
    assert not Path(qwen_settings["path"]).exists()  # the temporary copy is gone

    assert claude["env"]["ANTHROPIC_BASE_URL"] == digest("https://gateway.invalid")  # type: ignore[index]
    assert claude["env"]["ANTHROPIC_AUTH_TOKEN"] == digest("claude-key-0123456789abcdef")  # type: ignore[index]
    assert claude["env"]["ANTHROPIC_MODEL"] == digest("claude-sonnet-4-5")  # type: ignore[index]
    assert claude["env"]["CLAUDE_CODE_MAX_RETRIES"] == digest("0")  # type: ignore[index]

    assert gemini["env"]["GEMINI_API_KEY"] == digest("gemini-key-0123456789abcdef")  # type: ignore[index]
    assert gemini["env"]["GOOGLE_GEMINI_BASE_URL"] == digest("https://gemini.invalid")  # type: ignore[index]
    assert gemini["env"]["GEMINI_MODEL"] == digest("gemini-2.5-pro")  # type: ignore[index]
    gemini_settings = gemini["settings"]["GEMINI_CLI_HOME"]  # type: ignore[index]
    assert gemini_settings["content"]["general"]["maxAttempts"] == 1
    assert gemini_settings["content"]["security"]["auth"]["selectedType"] == "gemini-api-key"
    assert not Path(gemini_settings["path"]).exists()  # the temporary home is gone

    argv = codex["argv"]
    assert argv[0::2] == ["-c"] * (len(argv) // 2)  # type: ignore[index]
    assert 'model_providers.auto_router.base_url="https://openai.invalid/v1"' in argv  # type: ignore[operator]
    assert 'model_providers.auto_router.wire_api="responses"' in argv  # type: ignore[operator]
    assert "model_providers.auto_router.request_max_retries=0" in argv  # type: ignore[operator]
    assert "model_providers.auto_router.stream_max_retries=0" in argv  # type: ignore[operator]
    assert codex["env"]["AUTO_ROUTER_CODEX_API_KEY"] == digest("codex-key-0123456789abcdef")  # type: ignore[index]
    assert "OPENAI_API_KEY" not in codex["env"]  # type: ignore[operator]

    assert slow["env"]["ANTHROPIC_API_KEY"] == digest("slow-key-0123456789abcdef")  # type: ignore[index]
    assert "CLAUDE_CODE_MAX_RETRIES" not in slow["env"]  # type: ignore[operator]

    attempts = home.history()
    assert [a["command"] for a in attempts] == ["qwen", "claude", "gemini", "codex", "claude"]


def test_invalid_backend_marker_is_a_config_error(home: Home) -> None:
    home.write('[backends.qwen]\nusage_markers = ["re:(oops"]\n', "")
    result = home.run("run", "--", "qwen")
    assert result.returncode == 78
    assert "usage_markers" in result.stderr and "Traceback" not in result.stderr
    assert sqlite3.connect(home.path / "auto-router.db").execute(
        "SELECT count(*) FROM run_attempts"
    ).fetchone() == (0,)
