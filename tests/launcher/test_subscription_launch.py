"""Subscription runs (issue 20), the launcher's side: the agent keeps its own login.

What the agent is given is planned exactly as ``run`` plans the first attempt (real TOML
files, the real rotator, a placeholder proxy as ``--dry-run`` uses). Then real processes: the
launcher and a stand-in for Claude Code and Codex (``tests/fake_agents/login_agent.py``)
that sends its own login as the real CLIs do, against a loopback fake standing in for the
proxy the user runs (``[launcher] proxy_url``), which records every header it got.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from auto_router.demo.fake_upstream import FakeProvider, FakeUpstream
from auto_router.launcher.plan import ChildPlan, ProxyTarget
from auto_router.launcher.runner import Launcher, RunOptions
from auto_router.launcher.session import ProxySession
from auto_router.paths import Paths
from auto_router.rotation.service import Rotator
from auto_router.secrets import Secret

from .conftest import Home

TOKEN = "arr_" + "t" * 39 + "T0k3"
PLACEHOLDER = "http://127.0.0.1:9"
OAUTH = "sk-ant-oat01-" + "o" * 40
CHATGPT = "eyJhbGciOi.chatgpt-access-token." + "c" * 20
ACCOUNT = "acct-0123-4567"
INHERITED = {
    "PATH": "/usr/bin",
    "ANTHROPIC_API_KEY": "sk-ant-api03-inherited-0123456789",
    "ANTHROPIC_AUTH_TOKEN": "zai-token-from-cc-switch-0123456789",
    "OPENAI_API_KEY": "sk-proj-inherited-0123456789abcdef",
    "CODEX_API_KEY": "sk-codex-inherited-0123456789abcdef",
    "CLAUDE_CODE_OAUTH_TOKEN": OAUTH,
}


def tables(kind: str, *, sub: str = "", key: str = "", enabled: bool = True) -> str:
    """A subscription provider ``sub`` (passthrough) and an API-key one ``key``."""
    return f"""
[pool.sub]
type = "{kind}"
base_url = "https://sub.invalid"
auth = "passthrough"
enabled = {"true" if enabled else "false"}
{sub}

[pool.key]
type = "{kind}"
base_url = "https://key.invalid"
api_key = "sk-key-provider-0123456789abcdef"
model = "glm-4.6"
{key}
"""


def write(paths: Paths, providers: str, backend: str = "") -> None:
    paths.llm_config.write_text(
        f'[backends.pool]\nproviders = ["sub", "key"]\n{backend}\n'
        '[message_backend]\ndefault = "pool"\n'
    )
    paths.provider_metadata.write_text(providers)


@pytest.fixture
def paths(tmp_path: Path) -> Paths:
    return Paths(config_dir=tmp_path, data_dir=tmp_path)


def planned(
    paths: Paths, command: str, environ: dict[str, str] | None = None, *, direct: bool = False
) -> ChildPlan:
    """The first attempt's plan as ``run`` makes it, through a placeholder proxy."""
    launcher = Launcher(Rotator(paths), environ=environ or INHERITED)
    options = RunOptions(command=(command,), via_proxy=not direct)
    choice = launcher.first_choice(options)
    mode = launcher.mode(options, choice)
    session = None
    if mode.via_proxy:
        assert mode.family is not None
        session = ProxySession(ProxyTarget(PLACEHOLDER, Secret(TOKEN), mode.family))
    with tempfile.TemporaryDirectory() as workdir:
        return launcher.plan(options, choice, Path(workdir), session)


# ------------------------------------------------------------------ what the agent is given


def test_claude_keeps_its_login_and_sends_the_token_in_a_header(paths: Paths) -> None:
    write(paths, tables("anthropic"))
    plan = planned(paths, "claude")
    assert plan.overlay["ANTHROPIC_BASE_URL"] == PLACEHOLDER
    assert plan.overlay["ANTHROPIC_CUSTOM_HEADERS"] == f"X-Auto-Router-Token: {TOKEN}"
    assert "ANTHROPIC_AUTH_TOKEN" not in plan.overlay
    assert "ANTHROPIC_API_KEY" not in plan.overlay
    child = plan.child_env(INHERITED)
    # the shell's keys would replace the login (and go to the subscription's host)
    assert "ANTHROPIC_API_KEY" not in child and "ANTHROPIC_AUTH_TOKEN" not in child
    assert child["CLAUDE_CODE_OAUTH_TOKEN"] == OAUTH  # the agent's own login stays
    assert TOKEN not in " ".join(plan.argv)
    assert "ANTHROPIC_CUSTOM_HEADERS" in plan.secret_names


def test_codex_keeps_its_chatgpt_login_and_names_the_header_variable(paths: Paths) -> None:
    write(paths, tables("openai", sub="responses = true", key="responses = true"))
    plan = planned(paths, "codex")
    args = " ".join(plan.argv)
    assert "model_providers.auto_router.requires_openai_auth=true" in plan.argv
    assert (
        'model_providers.auto_router.env_http_headers={"X-Auto-Router-Token" = '
        '"AUTO_ROUTER_CODEX_TOKEN"}' in plan.argv
    )
    assert 'model_providers.auto_router.wire_api="responses"' in plan.argv
    assert f'model_providers.auto_router.base_url="{PLACEHOLDER}/v1"' in plan.argv
    assert "env_key" not in args
    assert TOKEN not in args  # on the command line other users could read it
    assert plan.overlay["AUTO_ROUTER_CODEX_TOKEN"] == TOKEN
    assert "AUTO_ROUTER_CODEX_API_KEY" not in plan.overlay
    child = plan.child_env(INHERITED)
    assert "OPENAI_API_KEY" not in child and "CODEX_API_KEY" not in child


def test_without_a_subscription_provider_the_token_is_the_key_as_before(paths: Paths) -> None:
    write(paths, tables("anthropic").replace('auth = "passthrough"\n', ""))
    plan = planned(paths, "claude")
    assert plan.overlay["ANTHROPIC_AUTH_TOKEN"] == TOKEN
    assert "ANTHROPIC_CUSTOM_HEADERS" not in plan.overlay
    assert plan.unset == frozenset()
    assert plan.child_env(INHERITED)["OPENAI_API_KEY"] == INHERITED["OPENAI_API_KEY"]
    assert "note: authentication: the run's token as the agent's API key" in plan.describe()


def test_a_disabled_subscription_provider_does_not_count(paths: Paths) -> None:
    write(paths, tables("anthropic", enabled=False))
    plan = planned(paths, "claude")
    assert plan.overlay["ANTHROPIC_AUTH_TOKEN"] == TOKEN
    assert "ANTHROPIC_CUSTOM_HEADERS" not in plan.overlay


def test_an_agent_without_a_login_sends_the_token_as_its_key(paths: Paths) -> None:
    """qwen-code has no ChatGPT login: the proxy skips the subscription for it."""
    write(paths, tables("openai"))
    plan = planned(paths, "qwen")
    assert plan.overlay["OPENAI_API_KEY"] == TOKEN
    assert plan.unset == frozenset()
    assert plan.child_env(INHERITED)["ANTHROPIC_API_KEY"] == INHERITED["ANTHROPIC_API_KEY"]


def test_dry_run_says_how_the_run_is_authenticated_with_the_token_masked(paths: Paths) -> None:
    write(paths, tables("anthropic"))
    launcher = Launcher(Rotator(paths), environ=INHERITED)
    lines = launcher.dry_run(RunOptions(command=("claude",)))
    text = "\n".join(lines)
    assert "  ANTHROPIC_CUSTOM_HEADERS=X-Auto-Router-Token: ****xxxx" in lines
    assert "arr_xxxxxxxx" not in text  # the placeholder token, never shown whole
    assert "removed from the agent's environment: ANTHROPIC_API_KEY, ANTHROPIC_AUTH_TOKEN" in lines
    assert any(
        line.startswith("note: authentication: Claude Code's own login") for line in lines
    ), text
    for value in INHERITED.values():
        if len(value) > 16:
            assert value not in text


# ------------------------------------------------------------------ the context window


def test_claude_is_told_the_smallest_window_that_may_answer(paths: Paths) -> None:
    write(paths, tables("anthropic", sub="context_window = 200000", key="context_window = 128000"))
    plan = planned(paths, "claude")
    assert plan.overlay["CLAUDE_CODE_AUTO_COMPACT_WINDOW"] == "128000"
    assert "CLAUDE_AUTOCOMPACT_PCT_OVERRIDE" not in plan.overlay


def test_a_window_under_claude_codes_floor_is_said_as_a_share_of_it(paths: Paths) -> None:
    write(paths, tables("anthropic", key="context_window = 64000"))
    plan = planned(paths, "claude")
    # Claude Code raises a window under 100k to 100k: compact at 64% of it instead
    assert plan.overlay["CLAUDE_CODE_AUTO_COMPACT_WINDOW"] == "100000"
    assert plan.overlay["CLAUDE_AUTOCOMPACT_PCT_OVERRIDE"] == "64"


def test_the_users_own_window_setting_wins(paths: Paths) -> None:
    write(paths, tables("anthropic", key="context_window = 128000"))
    environ = {**INHERITED, "CLAUDE_CODE_AUTO_COMPACT_WINDOW": "150000"}
    plan = planned(paths, "claude", environ)
    assert "CLAUDE_CODE_AUTO_COMPACT_WINDOW" not in plan.overlay
    assert plan.child_env(environ)["CLAUDE_CODE_AUTO_COMPACT_WINDOW"] == "150000"


def test_no_window_is_said_when_no_provider_declares_one(paths: Paths) -> None:
    write(paths, tables("anthropic"))
    plan = planned(paths, "claude")
    assert "CLAUDE_CODE_AUTO_COMPACT_WINDOW" not in plan.overlay


def test_codex_and_a_direct_run_get_the_window_too(paths: Paths) -> None:
    write(paths, tables("openai", sub="responses = true", key="context_window = 400000"))
    assert "model_context_window=400000" in planned(paths, "codex").argv
    write(
        paths, tables("anthropic", key="context_window = 128000").replace("[pool.sub]", "[x.sub]")
    )
    paths.llm_config.write_text('[backends.pool]\nproviders = ["key"]\n')
    plan = planned(paths, "claude", direct=True)
    assert plan.provider == "key"
    assert plan.overlay["CLAUDE_CODE_AUTO_COMPACT_WINDOW"] == "128000"
    assert plan.overlay["ANTHROPIC_AUTH_TOKEN"] == "sk-key-provider-0123456789abcdef"


# ------------------------------------------------------------------ the real processes


@pytest.fixture
def proxy() -> Iterator[FakeUpstream]:
    """Stands in for the proxy the user runs: answers every API, records every header."""
    with FakeUpstream(FakeProvider("proxy", text="answered", pieces=None)) as fake:
        yield fake


def logged_in(home: Home) -> dict[str, str]:
    """A private HOME with fake Claude Code and Codex logins, and keys in the shell."""
    user = home.path.parent / "user-home"
    (user / ".claude").mkdir(parents=True)
    (user / ".claude" / ".credentials.json").write_text(
        json.dumps({"claudeAiOauth": {"accessToken": OAUTH, "refreshToken": "r", "expiresAt": 0}})
    )
    (user / ".codex").mkdir()
    (user / ".codex" / "auth.json").write_text(
        json.dumps(
            {"auth_mode": "chatgpt", "tokens": {"access_token": CHATGPT, "account_id": ACCOUNT}}
        )
    )
    env = {k: v for k, v in INHERITED.items() if k != "PATH" and k != "CLAUDE_CODE_OAUTH_TOKEN"}
    return {**env, "HOME": str(user), "USER_PROXY_TOKEN": TOKEN}


def user_proxy(home: Home, fake: FakeUpstream, agent: str, kind: str) -> None:
    home.write(
        f'[launcher]\nproxy_url = "{fake.root}"\nproxy_token = "${{USER_PROXY_TOKEN}}"\n'
        f'[backends.pool]\nagent = "{agent}"\nproviders = ["sub", "key"]\n'
        '[message_backend]\ndefault = "pool"\n',
        tables(kind, sub="responses = true" if kind == "openai" else ""),
    )


@pytest.mark.integration
def test_the_claude_stand_in_sends_its_oauth_login_and_the_token_header(
    home: Home, proxy: FakeUpstream
) -> None:
    user_proxy(home, proxy, "claude", "anthropic")
    home.env.update(logged_in(home))
    result = home.run("run", "--", "login-agent", "anthropic", "2")
    assert result.returncode == 0, result.stderr
    assert "login-agent answer 2: answered" in result.stdout
    assert [s.route for s in proxy.seen] == ["/v1/messages", "/v1/messages"]
    for seen in proxy.seen:
        assert seen.headers["authorization"] == f"Bearer {OAUTH}"
        assert "oauth-2025-04-20" in seen.headers["anthropic-beta"]
        assert seen.headers["x-auto-router-token"] == TOKEN
        assert "x-api-key" not in seen.headers
    given = json.loads(result.stdout.split("login-agent env ", 1)[1])
    assert "ANTHROPIC_API_KEY" not in given and "ANTHROPIC_AUTH_TOKEN" not in given
    assert given.get("OPENAI_API_KEY") == "set"  # only Claude Code's own keys are dropped


@pytest.mark.integration
def test_the_codex_stand_in_sends_its_chatgpt_login_and_the_token_header(
    home: Home, proxy: FakeUpstream
) -> None:
    user_proxy(home, proxy, "codex", "openai")
    home.env.update(logged_in(home))
    result = home.run("run", "--", "login-agent", "openai")
    assert result.returncode == 0, result.stderr
    assert "login-agent answer 1: answered" in result.stdout
    (seen,) = proxy.seen
    assert seen.route == "/v1/responses"
    assert seen.headers["authorization"] == f"Bearer {CHATGPT}"
    assert seen.headers["chatgpt-account-id"] == ACCOUNT
    assert seen.headers["x-auto-router-token"] == TOKEN
    given = json.loads(result.stdout.split("login-agent env ", 1)[1])
    assert "OPENAI_API_KEY" not in given and "CODEX_API_KEY" not in given


@pytest.mark.integration
def test_without_a_subscription_the_stand_in_sends_the_token_as_its_bearer(
    home: Home, proxy: FakeUpstream
) -> None:
    """The control: the same files less ``auth = "passthrough"``; the login is replaced."""
    user_proxy(home, proxy, "claude", "anthropic")
    text = (home.path / "provider_metadata.toml").read_text()
    (home.path / "provider_metadata.toml").write_text(text.replace('auth = "passthrough"', ""))
    home.env.update(logged_in(home))
    result = home.run("run", "--", "login-agent", "anthropic")
    assert result.returncode == 0, result.stderr
    (seen,) = proxy.seen
    assert seen.headers["authorization"] == f"Bearer {TOKEN}"
    assert "x-auto-router-token" not in seen.headers


def test_direct_on_the_subscription_provider_the_login_goes_straight_there(
    paths: Paths,
) -> None:
    """``--provider sub --direct``: no proxy, no token; the inherited keys still go."""
    write(paths, tables("anthropic"))
    launcher = Launcher(Rotator(paths), environ=INHERITED)
    options = RunOptions(provider="sub", command=("claude",), via_proxy=False)
    with tempfile.TemporaryDirectory() as workdir:
        plan = launcher.plan(options, launcher.first_choice(options), Path(workdir))
    assert plan.provider == "sub"
    assert plan.overlay["ANTHROPIC_BASE_URL"] == "https://sub.invalid"
    assert not {"ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_CUSTOM_HEADERS"} & set(
        plan.overlay
    )
    assert "ANTHROPIC_API_KEY" not in plan.child_env(INHERITED)

    write(paths, tables("openai", sub="responses = true"))
    launcher = Launcher(Rotator(paths), environ=INHERITED)
    options = RunOptions(provider="sub", command=("codex",), via_proxy=False)
    with tempfile.TemporaryDirectory() as workdir:
        plan = launcher.plan(options, launcher.first_choice(options), Path(workdir))
    assert "model_providers.auto_router.requires_openai_auth=true" in plan.argv
    assert not any("env_key" in a or "env_http_headers" in a for a in plan.argv)
    assert "OPENAI_API_KEY" not in plan.child_env(INHERITED)


def test_env_for_a_subscription_provider_unsets_the_keys_that_would_replace_the_login(
    home: Home,
) -> None:
    home.write(
        '[backends.pool]\nagent = "claude"\nproviders = ["sub", "key"]\n', tables("anthropic")
    )
    home.env.update({"ANTHROPIC_API_KEY": INHERITED["ANTHROPIC_API_KEY"]})
    shown = home.run("env", "--backend", "pool", "--provider", "sub", "--shell", "bash")
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert "export ANTHROPIC_BASE_URL='https://sub.invalid'" in lines
    assert lines[-2:] == ["unset ANTHROPIC_API_KEY", "unset ANTHROPIC_AUTH_TOKEN"]
    as_json = home.run("env", "--backend", "pool", "--provider", "key", "--json")
    assert json.loads(as_json.stdout)["unset"] == []  # an API-key provider: nothing to drop
