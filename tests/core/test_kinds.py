"""Provider kinds and agent variables read as an endpoint (``config.kinds``), through the files."""

from __future__ import annotations

from pathlib import Path

import pytest

from auto_router.config import Config, ProviderConfig, parse_config
from auto_router.errors import MissingVariableError
from auto_router.paths import Paths
from auto_router.providers import protocols


def config(providers: str) -> Config:
    here = Path("/nonexistent")
    return parse_config(Paths(here, here), "", providers)


def one(table: str) -> ProviderConfig:
    return config("[b.p]\n" + table).provider("b", "p")


def test_claude_variables_are_an_anthropic_provider() -> None:
    p = one(
        'ANTHROPIC_BASE_URL = "https://api.z.invalid/api/anthropic"\n'
        'ANTHROPIC_AUTH_TOKEN = "tok"\nANTHROPIC_MODEL = "glm-4.6"\n'
    )
    assert (p.kind, p.type, p.base_url, p.api_key, p.model) == (
        "agent-variables",
        "anthropic",
        "https://api.z.invalid/api/anthropic",
        "tok",
        "glm-4.6",
    )
    assert p.derived["api_key"] == "ANTHROPIC_AUTH_TOKEN"
    # the token is sent as Claude Code sends it: a bearer token, no x-api-key
    headers = protocols.auth_headers(p.resolve({}))
    assert headers["authorization"] == "Bearer tok" and "x-api-key" not in headers
    key = one('ANTHROPIC_BASE_URL = "https://gw.invalid"\nANTHROPIC_API_KEY = "k"\n')
    assert protocols.auth_headers(key.resolve({}))["x-api-key"] == "k"


def test_a_url_without_a_key_or_a_key_without_a_url_names_no_endpoint() -> None:
    assert one('ANTHROPIC_BASE_URL = "https://gw.invalid"\n').kind == "variables"
    assert one('ANTHROPIC_API_KEY = "k"\n').kind == "variables"
    assert one('OPENAI_API_KEY = "k"\n').kind == "variables"
    assert one('OPENAI_BASE_URL = "https://x.invalid/v1"\n').kind == "variables"
    openai = one('OPENAI_BASE_URL = "https://x.invalid/v1"\nOPENAI_API_KEY = "k"\n')
    assert (openai.kind, openai.type) == ("agent-variables", "openai")


def test_gemini_takes_its_default_host_only_for_a_key_without_a_url() -> None:
    key = one('GEMINI_API_KEY = "AIza-k"\nGEMINI_MODEL = "gemini-2.5-pro"\n')
    assert (key.kind, key.type, key.base_url, key.model) == (
        "agent-variables",
        "gemini",
        "https://generativelanguage.googleapis.com",
        "gemini-2.5-pro",
    )
    assert "Gemini CLI's default host" in key.derived["base_url"]
    url = one('GOOGLE_GEMINI_BASE_URL = "https://gw.invalid"\n')
    assert (url.type, url.base_url, url.api_key) == ("gemini", "https://gw.invalid", None)


def test_written_settings_win_and_a_written_type_picks_the_variables() -> None:
    written = one(
        'base_url = "https://mine.invalid/v1"\nOPENAI_BASE_URL = "https://other.invalid/v1"\n'
        'OPENAI_API_KEY = "k"\n'
    )
    assert (written.kind, written.base_url, written.api_key) == (
        "api",
        "https://mine.invalid/v1",
        "k",
    )
    typed = one(
        'type = "gemini"\nANTHROPIC_BASE_URL = "https://a.invalid"\nANTHROPIC_API_KEY = "a"\n'
    )
    assert typed.kind == "variables"  # gemini's variables are not there
    command = one(
        'command = "uvx"\nOPENAI_BASE_URL = "https://x.invalid/v1"\nOPENAI_API_KEY = "k"\n'
    )
    assert (command.kind, command.base_url) == ("command", None)


@pytest.mark.parametrize(
    ("table", "kind"),
    [
        ('base_url = "https://x.invalid/v1"\n', "api"),
        ('type = "anthropic"\napi_key = "k"\n', "api"),
        ('type = "openai"\napi_key = "k"\n', "api"),
        ('type = "lm-studio"\n', "api"),
        ('type = "anthropic"\n', "variables"),
        ('api_key = "k"\n', "variables"),  # a key, and no host anybody wrote
        ('FAKE_BEHAVIOUR = "ok"\n', "variables"),
    ],
)
def test_the_kind_of_each_way_to_write_a_table(table: str, kind: str) -> None:
    p = one(table)
    assert p.kind == kind
    # only an API provider gets a type's default host; the others get none at all
    assert bool(protocols.base_url(p.resolve({}))) == (kind == "api")


def test_variables_are_expanded_and_a_missing_one_names_its_key() -> None:
    p = one('ANTHROPIC_BASE_URL = "${GW_URL}"\nANTHROPIC_AUTH_TOKEN = "${GW_TOKEN}"\n')
    resolved = p.resolve({"GW_URL": "https://gw.invalid", "GW_TOKEN": "t0k"})
    assert resolved.base_url == "https://gw.invalid"
    assert resolved.api_key is not None and resolved.api_key.reveal() == "t0k"
    with pytest.raises(MissingVariableError) as caught:
        p.resolve({"GW_TOKEN": "t0k"})
    assert caught.value.key_path == "[b.p].ANTHROPIC_BASE_URL"


def test_only_variables_that_name_no_endpoint_pass_through_the_proxy() -> None:
    p = one(
        'ANTHROPIC_BASE_URL = "https://gw.invalid"\nANTHROPIC_AUTH_TOKEN = "t"\n'
        'ANTHROPIC_MODEL = "m"\nANTHROPIC_DEFAULT_HAIKU_MODEL = "small"\n'
        'API_TIMEOUT_MS = "600000"\nOPENAI_API_KEY = "other"\n'
        'ANTHROPIC_CUSTOM_HEADERS = "X-Gw: 1"\nGATEWAY_SECRET = "s"\n'
    )
    assert p.resolve({}).passthrough_env() == {"API_TIMEOUT_MS": "600000"}


def test_claude_tier_variables_become_the_providers_model_map() -> None:
    p = one(
        'ANTHROPIC_BASE_URL = "https://api.z.invalid/api/anthropic"\nANTHROPIC_AUTH_TOKEN = "t"\n'
        'ANTHROPIC_DEFAULT_HAIKU_MODEL = "glm-4.5-air"\n'
        'ANTHROPIC_DEFAULT_SONNET_MODEL = "glm-4.6"\n'
    )
    assert dict(p.model_map) == {"claude-*sonnet*": "glm-4.6", "claude-*haiku*": "glm-4.5-air"}
    assert p.derived["model_map"] == "ANTHROPIC_DEFAULT_SONNET_MODEL, ANTHROPIC_DEFAULT_HAIKU_MODEL"
