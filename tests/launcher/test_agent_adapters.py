"""What aider, opencode and the generic adapter give a child, per API (issue 17)."""

from __future__ import annotations

import json

import pytest

from auto_router.agents import AGENTS, Target, agent_for
from auto_router.agents.opencode import CONFIG_VARIABLE, KEY_VARIABLE
from auto_router.config import BackendConfig
from auto_router.secrets import Secret

KEY = "sk-test-0123456789abcdef"


def target(protocol: str, base_url: str | None, model: str | None = "m-1") -> Target:
    return Target("b", "p", protocol, protocol, base_url, Secret(KEY), model)


def test_aider_on_anthropic_gets_litellms_base_url_without_v1() -> None:
    setup = AGENTS["aider"].configure(target("anthropic", "https://gw.test/v1"), frozenset())
    assert setup.env == {
        "ANTHROPIC_API_KEY": KEY,
        "ANTHROPIC_API_BASE": "https://gw.test",  # litellm appends /v1/messages
        "AIDER_MODEL": "anthropic/m-1",
    }
    # the provider's own variable wins
    own = AGENTS["aider"].configure(
        target("anthropic", "https://gw.test"), frozenset({"ANTHROPIC_BASE_URL"})
    )
    assert "ANTHROPIC_API_BASE" not in own.env


@pytest.mark.parametrize(
    ("protocol", "url", "npm", "base"),
    [
        ("openai", "https://up.test/v1/", "@ai-sdk/openai-compatible", "https://up.test/v1"),
        ("anthropic", "https://up.test", "@ai-sdk/anthropic", "https://up.test/v1"),
        ("anthropic", "https://up.test/v1", "@ai-sdk/anthropic", "https://up.test/v1"),
        ("gemini", "https://up.test", "@ai-sdk/google", "https://up.test/v1beta"),
        ("gemini", "https://up.test/v1beta", "@ai-sdk/google", "https://up.test/v1beta"),
    ],
)
def test_opencode_gets_one_provider_with_its_sdk_base_url_and_model(
    protocol: str, url: str, npm: str, base: str
) -> None:
    setup = AGENTS["opencode"].configure(target(protocol, url), frozenset())
    config = json.loads(setup.env[CONFIG_VARIABLE])
    provider = config["provider"]["auto-router"]
    assert provider["npm"] == npm
    assert provider["options"] == {"baseURL": base, "apiKey": "{env:" + KEY_VARIABLE + "}"}
    assert provider["models"] == {"m-1": {"name": "m-1"}}
    assert config["model"] == config["small_model"] == "auto-router/m-1"
    # the key is only in its own variable, masked like any credential
    assert KEY not in setup.env[CONFIG_VARIABLE]
    assert setup.env[KEY_VARIABLE] == KEY and setup.secret_names == {KEY_VARIABLE}


def test_opencode_leaves_its_own_config_alone_in_fallback_mode_or_when_given() -> None:
    opencode = AGENTS["opencode"]
    fallback = Target("b", None, model="m")
    assert opencode.configure(fallback, frozenset()).env == {}
    given = opencode.configure(target("openai", "https://x.test/v1"), frozenset({CONFIG_VARIABLE}))
    assert given.env == {}
    no_model = opencode.configure(target("openai", "https://x.test/v1", None), frozenset())
    assert "model" not in json.loads(no_model.env[CONFIG_VARIABLE]) and no_model.notes


def test_opencode_is_found_by_its_executable_and_speaks_every_api() -> None:
    agent = agent_for(BackendConfig("work"), ["/usr/local/bin/opencode", "run", "hi"])
    assert agent.name == "opencode"
    assert agent.protocols == ("openai", "anthropic", "gemini")


def test_opencodes_429_line_is_a_limit_marker() -> None:
    from auto_router.limits.scanner import OutputScanner

    scanner = OutputScanner(AGENTS["opencode"].markers)
    scanner.feed(
        b"\x1b[91m\x1b[1mError: \x1b[0mThis request would exceed the rate limit for your "
        b"organization (fake-org) of 50 input tokens per minute.\n",
        "stderr",
    )
    assert scanner.verdict(1).limit


@pytest.mark.parametrize(
    ("protocol", "url", "expected"),
    [
        (
            "openai",
            "https://up.test/v1",
            {"OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": "https://up.test/v1", "OPENAI_MODEL": "m-1"},
        ),
        (
            "anthropic",
            "https://up.test/v1",
            {
                "ANTHROPIC_API_KEY": KEY,
                "ANTHROPIC_BASE_URL": "https://up.test",
                "ANTHROPIC_MODEL": "m-1",
            },
        ),
        (
            "gemini",
            "https://up.test/v1beta",
            {
                "GEMINI_API_KEY": KEY,
                "GOOGLE_API_KEY": KEY,
                "GOOGLE_GEMINI_BASE_URL": "https://up.test",
                "GEMINI_MODEL": "m-1",
            },
        ),
    ],
)
def test_generic_sets_what_the_official_sdks_read(
    protocol: str, url: str, expected: dict[str, str]
) -> None:
    setup = AGENTS["generic"].configure(target(protocol, url), frozenset())
    got = {k: v for k, v in setup.env.items() if k != "OPENAI_API_BASE"}
    assert got == expected
    assert {k for k in expected if k.endswith("_KEY")} == setup.secret_names


def test_generic_on_gemini_keeps_a_key_the_provider_exports() -> None:
    setup = AGENTS["generic"].configure(target("gemini", None), frozenset({"GEMINI_API_KEY"}))
    assert "GOOGLE_API_KEY" not in setup.env and "GEMINI_API_KEY" not in setup.env
