"""Every built-in template (issue 19): it validates, cites the vendor page its base URL comes
from, uses https off loopback, and its base URL joined by its type's rule gives the URL the
vendor documents. ``provider add --template <each>`` then round-trips through the files."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from auto_router.config import ResolvedProvider, load_config
from auto_router.editing import add_provider
from auto_router.editing.checks import check_provider_keys
from auto_router.paths import Paths
from auto_router.providers import protocols
from auto_router.providers.templates import CHECKED, TEMPLATES, Template, get_template
from auto_router.proxy import codeassist

#: The request URL each vendor documents for the template's type: ``ANTHROPIC_BASE_URL`` plus
#: ``/v1/messages`` (what the Anthropic SDK and Claude Code append), an OpenAI SDK
#: ``base_url`` plus ``/chat/completions``, Gemini's ``/v1beta/models/...``.
DOCUMENTED = {
    "openai": "https://api.openai.com/v1/chat/completions",
    "anthropic": "https://api.anthropic.com/v1/messages",
    "openrouter": "https://openrouter.ai/api/v1/chat/completions",
    "openrouter-anthropic": "https://openrouter.ai/api/v1/messages",
    "together": "https://api.together.ai/v1/chat/completions",
    "groq": "https://api.groq.com/openai/v1/chat/completions",
    "deepseek": "https://api.deepseek.com/chat/completions",
    "deepseek-anthropic": "https://api.deepseek.com/anthropic/v1/messages",
    "mistral": "https://api.mistral.ai/v1/chat/completions",
    "perplexity": "https://api.perplexity.ai/chat/completions",
    "dashscope": "https://dashscope-intl.aliyuncs.com/compatible-mode/v1/chat/completions",
    "dashscope-anthropic": "https://dashscope-intl.aliyuncs.com/apps/anthropic/v1/messages",
    "zai": "https://api.z.ai/api/anthropic/v1/messages",
    "zai-coding": "https://api.z.ai/api/coding/paas/v4/chat/completions",
    "minimax": "https://api.minimax.io/anthropic/v1/messages",
    "kimi-code": "https://api.kimi.com/coding/v1/chat/completions",
    "xai": "https://api.x.ai/v1/chat/completions",
    "fireworks": "https://api.fireworks.ai/inference/v1/chat/completions",
    "cerebras": "https://api.cerebras.ai/v1/chat/completions",
    "gemini": "https://generativelanguage.googleapis.com/v1beta/models/gemini-x:generateContent",
    "lm-studio": "http://127.0.0.1:1234/v1/chat/completions",
    "ollama": "http://127.0.0.1:11434/v1/chat/completions",
    "qwen-proxy": "http://127.0.0.1:3000/v1/chat/completions",
    "claude-subscription": "https://api.anthropic.com/v1/messages",
    "chatgpt-subscription": "https://chatgpt.com/backend-api/codex/responses",
    # Code Assist: ``CODE_ASSIST_ENDPOINT`` + ``/v1internal:<method>`` (proxy/codeassist.py).
    "gemini-subscription": "https://cloudcode-pa.googleapis.com/v1internal:generateContent",
}
#: The path asked for where it is not ``/chat/completions`` (the Codex backend serves
#: only the Responses API).
PATHS = {"chatgpt-subscription": "/responses"}
#: Templates older than issue 19 whose vendor page was not in the stored corpus when the
#: sources were checked: their facts stay as they were, uncited (see the issue 19 report).
UNCITED = {"openai", "anthropic", "openrouter", "mistral", "qwen-proxy"}
#: Templates whose base URL the user gives.
NO_URL = {"azure-openai", "generic"}
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
NAMES = [t.name for t in TEMPLATES]
ENV = {t.key_env: "sk-test-secret-value-12345" for t in TEMPLATES if t.key_env}


def test_the_table_covers_every_template() -> None:
    assert set(DOCUMENTED) | NO_URL == set(NAMES)
    assert len(NAMES) == len(set(NAMES))


@pytest.mark.parametrize("name", NAMES)
def test_a_template_validates_and_cites_its_source(name: str) -> None:
    template = get_template(name)
    settings = template.provider_settings()
    check_provider_keys(settings)  # raises on a key a provider table may not hold
    assert "${" + str(template.key_env) + "}" == settings.get("api_key", "${None}")
    if template.base_url is None:
        assert name in NO_URL and "base_url" in template.required
        return
    host = urlsplit(template.base_url).hostname or ""
    assert template.base_url.startswith("https://") or host in LOOPBACK
    if name in UNCITED:
        assert template.source is None
        return
    assert template.source is not None
    match = re.fullmatch(r"(https://\S+) \(checked (\d{4}-\d\d-\d\d)\)", template.source)
    assert match is not None and match.group(2) == CHECKED
    for price in (template.price_input, template.price_output):
        assert price is None or (price > 0 and template.price_source)


def _resolved(template: Template, tmp: Path) -> ResolvedProvider:
    paths = Paths(tmp, tmp)
    add_provider(paths, "b", "p", template=template.name, create_backend=True)
    return load_config(paths).provider("b", "p").resolve(ENV)


@pytest.mark.parametrize("name", sorted(DOCUMENTED))
def test_the_base_url_and_type_make_the_documented_url(name: str, tmp_path: Path) -> None:
    template = get_template(name)
    provider = _resolved(template, tmp_path)  # through the files: the round trip
    protocol = provider.config.protocol
    if name == "gemini-subscription":
        url = f"{provider.base_url}{codeassist.PREFIX}:generateContent"
    elif protocol == "anthropic":
        url = protocols.anthropic_url(provider, "/v1/messages")
    elif protocol == "gemini":
        url = protocols.gemini_url(provider, "/v1beta/models/gemini-x:generateContent")
    else:
        url = protocols.openai_url(provider, PATHS.get(name, "/chat/completions"))
    assert url == DOCUMENTED[name]


@pytest.mark.parametrize("name", sorted(DOCUMENTED))
def test_provider_add_template_round_trips(name: str, tmp_path: Path) -> None:
    template = get_template(name)
    provider = _resolved(template, tmp_path)
    config = provider.config
    assert (config.type, config.base_url) == (template.type, template.base_url)
    if template.key_env:
        assert config.api_key == "${" + template.key_env + "}"  # a reference, never the key
        assert provider.api_key is not None
        assert provider.api_key.reveal() == "sk-test-secret-value-12345"
    assert config.model == template.settings.get("model")
    for header, value in dict(template.settings.get("headers", {})).items():
        assert config.headers[header] == value
        assert provider.headers[header].reveal() == "Bearer sk-test-secret-value-12345"
    text = (tmp_path / "provider_metadata.toml").read_text()
    assert "sk-test-secret-value" not in text


def test_the_managing_guide_lists_every_template() -> None:
    guide = (Path(__file__).resolve().parents[2] / "docs" / "managing.md").read_text()
    for template in TEMPLATES:
        row = f"| {template.name} | {template.type} | {template.base_url or '(give'}"
        assert row in guide, f"docs/managing.md lacks the row of {template.name!r}"
        if template.key_env:
            assert f"| {template.key_env} |" in guide
