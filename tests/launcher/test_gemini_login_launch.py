"""Gemini CLI's "Login with Google" kept on a run through the proxy (issue 20).

Planned exactly as ``run`` plans the first attempt (real TOML files, the real rotator, a
placeholder proxy as ``--dry-run`` uses): ``CODE_ASSIST_ENDPOINT`` names the proxy with the
run's token in its path, no key is set, and the shell's keys are dropped."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from auto_router.launcher.plan import ChildPlan, ProxyTarget
from auto_router.launcher.runner import Launcher, RunOptions
from auto_router.launcher.session import ProxySession
from auto_router.paths import Paths
from auto_router.rotation.service import Rotator
from auto_router.secrets import Secret

TOKEN = "arr_" + "g" * 39 + "G3m1"
PLACEHOLDER = "http://127.0.0.1:9"
INHERITED = {
    "PATH": "/usr/bin",
    "GEMINI_API_KEY": "AIzaSy-inherited-gemini-key-0123456789",
    "GOOGLE_API_KEY": "AIzaSy-inherited-google-key-0123456789",
    "GOOGLE_GEMINI_BASE_URL": "https://gateway.invalid",
    "ANTHROPIC_API_KEY": "sk-ant-api03-inherited-0123456789",
}


def write(paths: Paths, sub_type: str = "gemini", auth: str = 'auth = "passthrough"') -> None:
    paths.llm_config.write_text(
        '[backends.pool]\nproviders = ["sub", "key"]\n[message_backend]\ndefault = "pool"\n'
    )
    paths.provider_metadata.write_text(
        f'[pool.sub]\ntype = "{sub_type}"\nbase_url = "https://cloudcode.invalid"\n{auth}\n'
        + ('api_key = "sk-own-key-0123456789abcdef"\n' if not auth else "")
        + '[pool.key]\ntype = "gemini"\nbase_url = "https://key.invalid"\n'
        'api_key = "key-provider-0123456789abcdef"\nmodel = "gemini-2.5-flash"\n'
    )


@pytest.fixture
def paths(tmp_path: Path) -> Paths:
    return Paths(config_dir=tmp_path, data_dir=tmp_path)


def planned(paths: Paths, options: RunOptions) -> ChildPlan:
    launcher = Launcher(Rotator(paths), environ=INHERITED)
    choice = launcher.first_choice(options)
    mode = launcher.mode(options, choice)
    session = None
    if mode.via_proxy:
        assert mode.family == "gemini"
        session = ProxySession(ProxyTarget(PLACEHOLDER, Secret(TOKEN), mode.family))
    with tempfile.TemporaryDirectory() as workdir:
        return launcher.plan(options, choice, Path(workdir), session)


def test_gemini_keeps_its_google_login_and_names_the_proxy_as_code_assist(paths: Paths) -> None:
    write(paths)
    plan = planned(paths, RunOptions(command=("gemini",), via_proxy=True))
    assert plan.overlay["CODE_ASSIST_ENDPOINT"] == f"{PLACEHOLDER}/r/{TOKEN}"
    assert "CODE_ASSIST_ENDPOINT" in plan.secret_names
    assert not {"GEMINI_API_KEY", "GOOGLE_GEMINI_BASE_URL"} & set(plan.overlay)
    child = plan.child_env(INHERITED)
    # the shell's key would pick Gemini CLI's API-key path, straight to Google
    assert not {"GEMINI_API_KEY", "GOOGLE_API_KEY", "GOOGLE_GEMINI_BASE_URL"} & set(child)
    assert child["ANTHROPIC_API_KEY"] == INHERITED["ANTHROPIC_API_KEY"]  # not Gemini's
    assert TOKEN not in " ".join(plan.argv)


def test_dry_run_masks_the_token_in_the_endpoint(paths: Paths) -> None:
    write(paths)
    launcher = Launcher(Rotator(paths), environ=INHERITED)
    lines = launcher.dry_run(RunOptions(command=("gemini",), via_proxy=True))
    text = "\n".join(lines)
    endpoint = [line for line in lines if line.startswith("  CODE_ASSIST_ENDPOINT=")]
    assert len(endpoint) == 1 and "/r/****" in endpoint[0], text
    assert "arr_xxxxxxxx" not in text  # the placeholder token, never shown whole
    assert (
        "removed from the agent's environment: GEMINI_API_KEY, GOOGLE_API_KEY, "
        "GOOGLE_GEMINI_BASE_URL" in lines
    )
    assert any("Gemini CLI's own Google login" in line for line in lines), text
    for value in INHERITED.values():
        if len(value) > 16:
            assert value not in text


def test_a_subscription_of_another_api_does_not_keep_the_google_login(paths: Paths) -> None:
    """A Claude subscription on the backend is not Gemini CLI's: the token is its key."""
    write(paths, sub_type="anthropic")
    plan = planned(paths, RunOptions(command=("gemini",), via_proxy=True))
    assert plan.overlay["GEMINI_API_KEY"] == TOKEN
    assert "CODE_ASSIST_ENDPOINT" not in plan.overlay
    assert plan.unset == frozenset()


def test_without_a_passthrough_provider_the_token_is_the_key_as_before(paths: Paths) -> None:
    write(paths, auth="")
    plan = planned(paths, RunOptions(command=("gemini",), via_proxy=True))
    assert plan.overlay["GEMINI_API_KEY"] == TOKEN
    assert plan.overlay["GOOGLE_GEMINI_BASE_URL"] == PLACEHOLDER
    assert "CODE_ASSIST_ENDPOINT" not in plan.overlay
