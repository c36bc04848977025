"""Direct or through the proxy: which providers an agent can reach, and how a run decides."""

from __future__ import annotations

from pathlib import Path

import pytest

from auto_router.agents import AGENTS
from auto_router.config import Config, ProviderConfig, parse_config
from auto_router.errors import ConfigValidationError, ProtocolMismatchError
from auto_router.launcher.reach import Mode, check_direct, decide, reach
from auto_router.paths import Paths


def config(llm: str, providers: str) -> Config:
    here = Path("/nonexistent")
    return parse_config(Paths(here, here), llm, providers)


PROVIDERS = """
[b.anth]
type = "anthropic"
api_key = "sk-ant-0123456789"
[b.oai]
type = "openai"
base_url = "https://api.deepseek.invalid"
[b.gem]
type = "gemini"
api_key = "AIza0123456789"
[b.cmd]
command = "uvx"
args = ["qwen-openai-proxy"]
[b.envy]
type = "anthropic"
CLAUDE_CODE_USE_BEDROCK = "1"
[b.zai]
ANTHROPIC_BASE_URL = "https://api.z.invalid/api/anthropic"
ANTHROPIC_AUTH_TOKEN = "zai-token-0123456789"
API_TIMEOUT_MS = "3000000"
[b.keyonly]
api_key = "sk-0123456789"
"""


def provider(name: str) -> ProviderConfig:
    return config("", PROVIDERS).provider("b", name)


def test_an_agent_reaches_providers_of_its_own_api_both_ways() -> None:
    found = reach(AGENTS["claude"], provider("anth"))
    assert (found.direct, found.proxy, found.family) == (True, True, "anthropic")
    found = reach(AGENTS["qwen"], provider("oai"))
    assert (found.direct, found.proxy, found.family) == (True, True, "openai")
    found = reach(AGENTS["generic"], provider("gem"))
    assert (found.direct, found.proxy, found.family) == (True, True, "gemini")


def test_another_api_is_reachable_through_translation_only() -> None:
    found = reach(AGENTS["claude"], provider("oai"))
    assert (found.direct, found.proxy, found.family) == (False, True, "anthropic")
    assert found.how == "through translation"
    found = reach(AGENTS["qwen"], provider("anth"))
    assert (found.direct, found.proxy, found.family) == (False, True, "openai")
    found = reach(AGENTS["gemini"], provider("oai"))
    assert (found.direct, found.proxy, found.family) == (False, True, "gemini")
    with pytest.raises(ProtocolMismatchError) as caught:
        check_direct(AGENTS["claude"], provider("oai"))
    assert "cannot run Claude Code directly on b/oai" in caught.value.message
    assert "reachable only through translation" in caught.value.message
    assert "--via-proxy" in (caught.value.hint or "")
    assert caught.value.exit_code == 64
    check_direct(AGENTS["claude"], provider("anth"))  # no error


def test_translation_off_makes_another_api_unreachable() -> None:
    found = reach(AGENTS["claude"], provider("oai"), translate=False)
    assert (found.direct, found.proxy) == (False, False)
    assert "translate = false" in found.how
    with pytest.raises(ProtocolMismatchError) as caught:
        check_direct(AGENTS["claude"], provider("oai"), translate=False)
    assert "cannot run Claude Code on b/oai" in caught.value.message
    off = config(
        "",
        PROVIDERS.replace(
            'base_url = "https://api.deepseek.invalid"',
            'base_url = "https://api.deepseek.invalid"\ntranslate = false',
        ),
    )
    assert not reach(AGENTS["claude"], off.provider("b", "oai")).proxy  # the provider's own


def test_a_command_provider_and_aiders_other_apis_are_direct_only() -> None:
    found = reach(AGENTS["qwen"], provider("cmd"))
    assert (found.direct, found.proxy) == (True, False)
    assert "is a command" in found.how
    # aider is pointed at the proxy in the OpenAI and Anthropic APIs (litellm reads
    # ANTHROPIC_API_BASE): an Anthropic provider is reached in its own API, no translation
    found = reach(AGENTS["aider"], provider("anth"))
    assert (found.direct, found.proxy, found.family, found.how) == (
        True,
        True,
        "anthropic",
        "same API",
    )
    assert mode("anth", agent="aider").family == "anthropic"
    assert reach(AGENTS["aider"], provider("oai")).proxy


LLM = """
[backends.b]
providers = [{names}]
{backend_extra}
{launcher}
"""


def mode(names: str, agent: str = "claude", explicit: bool | None = None, **extra: str) -> Mode:
    quoted = ", ".join(f'"{n}"' for n in names.split())
    text = LLM.format(
        names=quoted,
        backend_extra=extra.get("backend", ""),
        launcher=extra.get("launcher", ""),
    )
    cfg = config(text, PROVIDERS)
    backend = cfg.backend("b")
    return decide(cfg, backend, AGENTS[agent], cfg.enabled_providers_of("b"), explicit)


def test_auto_uses_the_proxy_when_every_provider_is_reachable() -> None:
    found = mode("anth")
    assert (found.via_proxy, found.family) == (True, "anthropic")
    assert mode("anth", explicit=False).via_proxy is False  # --direct


def test_auto_stays_direct_for_commands_variables_only_and_mixed_apis() -> None:
    assert "is a command" in mode("anth cmd", agent="generic").reason
    envy = mode("anth envy")  # a type without a key: variables for the agent, no endpoint
    assert not envy.via_proxy
    assert "b/envy names no API endpoint" in envy.reason
    assert "names no API endpoint" in mode("keyonly", agent="qwen").reason
    mixed = mode("oai gem", agent="generic")
    assert not mixed.via_proxy and "different APIs" in mixed.reason
    # --via-proxy refuses: the proxy could only call a host the user never wrote
    with pytest.raises(ProtocolMismatchError) as caught:
        mode("anth envy", explicit=True)
    assert "names no API endpoint" in caught.value.message


def test_agent_variables_are_an_endpoint_the_proxy_serves() -> None:
    zai = provider("zai")
    assert (zai.kind, zai.type, zai.base_url) == (
        "agent-variables",
        "anthropic",
        "https://api.z.invalid/api/anthropic",
    )
    assert dict(zai.derived) == {
        "type": "ANTHROPIC_BASE_URL",
        "base_url": "ANTHROPIC_BASE_URL",
        "api_key": "ANTHROPIC_AUTH_TOKEN",
    }
    found = mode("zai")  # its other variable (a timeout) reaches the agent through the proxy
    assert (found.via_proxy, found.family) == (True, "anthropic")
    # ... but one provider's variables are not another's: "auto" stays direct
    mixed = mode("anth zai")
    assert not mixed.via_proxy and "different variables for the agent (API_TIMEOUT_MS)" in (
        mixed.reason
    )
    assert mode("zai", agent="qwen").via_proxy  # translated
    assert reach(AGENTS["claude"], zai).direct


def test_auto_uses_the_proxy_for_a_pool_of_another_api() -> None:
    found = mode("oai")
    assert (found.via_proxy, found.family) == (True, "anthropic")
    assert "1 through translation" in found.reason
    mixed = mode("anth oai gem")  # Claude Code talks Anthropic; the proxy translates the rest
    assert (mixed.via_proxy, mixed.family) == (True, "anthropic")
    assert mode("oai", agent="qwen").family == "openai"
    assert mode("anth", agent="codex").family == "openai"
    assert mode("oai", agent="gemini").family == "gemini"
    off = mode("oai", backend="translate = false")
    assert not off.via_proxy and "translate = false" in off.reason
    with pytest.raises(ProtocolMismatchError):
        mode("oai", backend="translate = false", explicit=True)


def test_via_proxy_true_refuses_what_the_proxy_cannot_reach() -> None:
    with pytest.raises(ProtocolMismatchError) as caught:
        mode("anth cmd", agent="qwen", explicit=True)
    assert "through the proxy" in caught.value.message


def test_the_backend_setting_wins_over_launcher() -> None:
    launcher_off = mode("anth", launcher="[launcher]\nvia_proxy = false")
    assert not launcher_off.via_proxy
    backend_on = mode("anth", backend="via_proxy = true", launcher="[launcher]\nvia_proxy = false")
    assert backend_on.via_proxy
    backend_auto = mode(
        "anth", backend='via_proxy = "auto"', launcher="[launcher]\nvia_proxy = false"
    )
    assert backend_auto.via_proxy


def test_bad_launcher_values_name_file_line_and_key() -> None:
    with pytest.raises(ConfigValidationError) as caught:
        config('[launcher]\nvia_proxy = "sometimes"\n', "")
    assert "llm_config.toml:2: [launcher].via_proxy" in str(caught.value)
    with pytest.raises(ConfigValidationError) as caught:
        config('[launcher]\nproxy_url = "localhost:3001"\n', "")
    assert "[launcher].proxy_url: expected an http(s):// URL" in str(caught.value)
