"""Built-in provider templates: the usual type, base URL, auth style and key variable.

``auto-router provider add --template openrouter`` starts the new provider from one of these;
``auto-router provider templates`` lists them. They are plain data: to add one, append a
``Template`` to ``TEMPLATES``, with ``source``: the vendor's own page that documents its
base URL (and default model), and the day it was read. The key is always written as a
``${VAR}`` reference, never a literal, so a template never puts a secret into a file.

Facts that could not be read on a vendor's own page are left out, not guessed (issue 19:
the China Z.ai host, Kimi Code's and Moonshot's Anthropic endpoints, DashScope's Coding
Plan host, and every price so far). ``price_input``/``price_output`` (USD per million
tokens) are there for a vendor that publishes one flat price for the template's model.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final

from ..config import PROTOCOL_OF_TYPE
from ..errors import TemplateNotFoundError
from .protocols import DEFAULT_AZURE_API_VERSION

#: How each wire protocol sends the key (for listings; protocols.py does the sending).
AUTH_STYLES: Final[Mapping[str, str]] = MappingProxyType(
    {
        "openai": "Authorization: Bearer <key>",
        "anthropic": "x-api-key: <key>",
        "azure-openai": "api-key: <key>",
        "gemini": "x-goog-api-key: <key>",
    }
)


def _empty() -> Mapping[str, Any]:
    return MappingProxyType({})


@dataclass(frozen=True)
class Template:
    name: str
    summary: str
    type: str
    base_url: str | None
    #: The variable the key usually lives in; ``None`` for servers that need no key.
    key_env: str | None
    #: Further settings written into the new table (``api_version``...).
    settings: Mapping[str, Any] = field(default_factory=_empty)
    #: Settings the user must give because the template cannot guess them.
    required: tuple[str, ...] = ()
    #: The vendor page the base URL (and model) come from, and when it was read.
    source: str | None = None
    #: The vendor's published price, USD per million input / output tokens: the default
    #: of a provider at this template's ``base_url`` that sets no ``price_*`` itself
    #: (``pricing.prices_of``). Never written into the file, so a newer release's price
    #: reaches existing providers. Each entry cites its page and date in ``price_source``.
    price_input: float | None = None
    price_output: float | None = None
    price_source: str | None = None

    @property
    def auth(self) -> str:
        if self.settings.get("auth") == "passthrough":
            return "the client's own login (passthrough)"
        if self.key_env is None:
            return "none"
        style = AUTH_STYLES[PROTOCOL_OF_TYPE.get(self.type, "openai")]
        if "authorization" in self.settings.get("headers", {}) and "Bearer" not in style:
            style += " and Authorization: Bearer <key>"
        return style

    def provider_settings(self) -> dict[str, Any]:
        """The lowercase settings a new provider made from this template starts with."""
        values: dict[str, Any] = {"type": self.type}
        if self.base_url is not None:
            values["base_url"] = self.base_url
        if self.key_env is not None:
            values["api_key"] = "${" + self.key_env + "}"
        # a table (``headers``) is copied: the caller may edit what it gets
        values.update(
            {k: dict(v) if isinstance(v, Mapping) else v for k, v in self.settings.items()}
        )
        return values


#: The day the sources below were read.
CHECKED: Final = "2026-12-02"


def _seen(url: str) -> str:
    return f"{url} (checked {CHECKED})"


def _bearer(variable: str) -> Mapping[str, Any]:
    """Also send the key as ``Authorization: Bearer``: the vendors below document the key in
    ``ANTHROPIC_AUTH_TOKEN``, which Claude Code sends that way (``x-api-key`` goes too)."""
    return MappingProxyType({"headers": {"authorization": "Bearer ${" + variable + "}"}})


#: A subscription (issue 20): the agent's own login, forwarded by the proxy to this provider
#: alone (``auth = "passthrough"``, docs/providers-subscriptions.md). No key variable.
_PASSTHROUGH: Final[Mapping[str, Any]] = MappingProxyType({"auth": "passthrough"})

TEMPLATES: Final[tuple[Template, ...]] = (
    # OpenAI and Azure serve the Responses API themselves (Codex CLI's protocol).
    Template(
        "openai",
        "OpenAI",
        "openai",
        "https://api.openai.com/v1",
        "OPENAI_API_KEY",
        settings=MappingProxyType({"responses": True}),
    ),
    Template(
        "anthropic",
        "Anthropic (Claude)",
        "anthropic",
        "https://api.anthropic.com",
        "ANTHROPIC_API_KEY",
    ),
    # Claude Code logged in to Claude Pro / Max calls api.anthropic.com itself with
    # ``Authorization: Bearer <OAuth access token>`` and ``anthropic-beta: ...,oauth-2025-04-20``
    # (seen here, issue 20); CLIProxyAPI's Claude executor calls the same base URL with such a
    # token (claude_executor_execute.go line 28, commit a7e3596b of 2026-08-22).
    Template(
        "claude-subscription",
        "Claude Pro / Max: Claude Code's own login, passed through",
        "anthropic",
        "https://api.anthropic.com",
        None,
        settings=_PASSTHROUGH,
        source=_seen(
            "https://github.com/router-for-me/CLIProxyAPI/blob/"
            "a7e3596b7e351d800e58ed29529fbca3d1c18737/internal/runtime/executor/"
            "claude_executor_execute.go#L28"
        ),
    ),
    # Codex logged in with ChatGPT calls https://chatgpt.com/backend-api/codex (its default
    # base URL for AuthMode::ChatGPT, codex-rs/core/src/model_provider_info.rs
    # ``ModelProviderInfo::to_api_provider``, commit 001cb8e2) and appends ``/responses``
    # and ``/models``; it sends ``Authorization: Bearer <access token>`` and
    # ``ChatGPT-Account-ID`` (codex-rs/codex-api/src/auth.rs, commit 11c2b970).
    Template(
        "chatgpt-subscription",
        "ChatGPT Plus / Pro: Codex's own ChatGPT login, passed through (Responses only)",
        "openai",
        "https://chatgpt.com/backend-api/codex",
        None,
        settings=MappingProxyType({"auth": "passthrough", "responses": True}),
        source=_seen(
            "https://github.com/openai/codex/blob/001cb8e233f250c7086c791c51390286c087faea/"
            "codex-rs/core/src/model_provider_info.rs"
        ),
    ),
    # Gemini CLI logged in with Google calls Code Assist: ``CODE_ASSIST_ENDPOINT`` (default
    # https://cloudcode-pa.googleapis.com) + ``/v1internal:<method>``, with ``Authorization:
    # Bearer <Google token>`` (packages/core/src/code_assist/server.ts, ``getBaseUrl``,
    # ``CODE_ASSIST_API_VERSION``); the proxy serves that path (proxy/codeassist.py).
    Template(
        "gemini-subscription",
        "Gemini Code Assist: Gemini CLI's own Google login, passed through",
        "gemini",
        "https://cloudcode-pa.googleapis.com",
        None,
        settings=_PASSTHROUGH,
        source=_seen(
            "https://github.com/google-gemini/gemini-cli/blob/main/"
            "packages/core/src/code_assist/server.ts"
        ),
    ),
    Template(
        "openrouter", "OpenRouter", "openai", "https://openrouter.ai/api/v1", "OPENROUTER_API_KEY"
    ),
    Template(
        "openrouter-anthropic",
        "OpenRouter's Anthropic-compatible endpoint (Claude Code's)",
        "anthropic",
        "https://openrouter.ai/api",
        "OPENROUTER_API_KEY",
        settings=_bearer("OPENROUTER_API_KEY"),
        source=_seen("https://openrouter.ai/docs/guides/coding-agents/claude-code-integration"),
    ),
    Template(
        "together",
        "Together AI",
        "openai",
        "https://api.together.ai/v1",
        "TOGETHER_API_KEY",
        source=_seen("https://docs.together.ai/docs/inference/openai-compatibility"),
    ),
    Template(
        "groq",
        "Groq",
        "openai",
        "https://api.groq.com/openai/v1",
        "GROQ_API_KEY",
        source=_seen("https://console.groq.com/docs/openai"),
    ),
    Template(
        "deepseek",
        "DeepSeek (OpenAI format)",
        "openai",
        "https://api.deepseek.com",
        "DEEPSEEK_API_KEY",
        source=_seen("https://api-docs.deepseek.com/quick_start/pricing"),
        # deepseek-v4-flash (deepseek-chat): cache-miss input, output. The page announces
        # peak / off-peak billing (off-peak half price); set price_* to override.
        price_input=0.14,
        price_output=0.28,
        price_source=_seen("https://api-docs.deepseek.com/quick_start/pricing"),
    ),
    # Claude model names are mapped by DeepSeek itself (claude-opus* to its pro model, the
    # rest to its flash model), so no model is set here.
    Template(
        "deepseek-anthropic",
        "DeepSeek's Anthropic-compatible endpoint",
        "anthropic",
        "https://api.deepseek.com/anthropic",
        "DEEPSEEK_API_KEY",
        source=_seen("https://api-docs.deepseek.com/guides/anthropic_api"),
    ),
    Template("mistral", "Mistral AI", "openai", "https://api.mistral.ai/v1", "MISTRAL_API_KEY"),
    Template(
        "perplexity",
        "Perplexity",
        "openai",
        "https://api.perplexity.ai",
        "PERPLEXITY_API_KEY",
        source=_seen("https://docs.perplexity.ai/docs/sonar/openai-compatibility"),
    ),
    Template(
        "dashscope",
        "Qwen direct (Alibaba DashScope, OpenAI-compatible mode)",
        "qwen-direct",
        "https://dashscope-intl.aliyuncs.com/compatible-mode/v1",
        "DASHSCOPE_API_KEY",
        source=_seen("https://www.alibabacloud.com/help/en/model-studio/base-url"),
    ),
    Template(
        "dashscope-anthropic",
        "Qwen on Alibaba Model Studio's Anthropic-compatible endpoint (Singapore, pay-as-you-go)",
        "anthropic",
        "https://dashscope-intl.aliyuncs.com/apps/anthropic",
        "DASHSCOPE_API_KEY",
        source=_seen("https://www.alibabacloud.com/help/en/model-studio/anthropic-api-messages"),
    ),
    Template(
        "zai",
        "Z.ai GLM Coding Plan, Anthropic-compatible (Claude Code's)",
        "anthropic",
        "https://api.z.ai/api/anthropic",
        "ZAI_API_KEY",
        settings=_bearer("ZAI_API_KEY"),
        source=_seen("https://docs.z.ai/devpack/tool/claude"),
    ),
    Template(
        "zai-coding",
        "Z.ai GLM Coding Plan, OpenAI-compatible coding endpoint",
        "openai",
        "https://api.z.ai/api/coding/paas/v4",
        "ZAI_API_KEY",
        source=_seen("https://docs.z.ai/devpack/quick-start"),
    ),
    # MiniMax wants the whole assistant turn, thinking included, replayed in a tool loop:
    # translate.anthropic.UNSIGNED_THINKING_HOSTS.
    Template(
        "minimax",
        "MiniMax, Anthropic-compatible (international)",
        "anthropic",
        "https://api.minimax.io/anthropic",
        "MINIMAX_API_KEY",
        settings=MappingProxyType({"model": "MiniMax-M3"}),
        source=_seen("https://platform.minimax.io/docs/api-reference/text-anthropic-api"),
    ),
    Template(
        "kimi-code",
        "Kimi Code membership endpoint, OpenAI-compatible",
        "openai",
        "https://api.kimi.com/coding/v1",
        "KIMI_API_KEY",
        source=_seen("https://moonshotai.github.io/kimi-cli/en/configuration/providers.html"),
    ),
    Template(
        "xai",
        "xAI (Grok)",
        "openai",
        "https://api.x.ai/v1",
        "XAI_API_KEY",
        source=_seen("https://docs.x.ai/api/integrations"),
    ),
    Template(
        "fireworks",
        "Fireworks AI",
        "openai",
        "https://api.fireworks.ai/inference/v1",
        "FIREWORKS_API_KEY",
        source=_seen("https://fireworks.ai/docs/tools-sdks/openai-compatibility"),
    ),
    Template(
        "cerebras",
        "Cerebras Inference",
        "openai",
        "https://api.cerebras.ai/v1",
        "CEREBRAS_API_KEY",
        source=_seen("https://inference-docs.cerebras.ai/resources/openai"),
    ),
    Template(
        "azure-openai",
        "Azure OpenAI (give base_url=https://<resource>.openai.azure.com and deployment)",
        "azure-openai",
        None,
        "AZURE_OPENAI_API_KEY",
        settings=MappingProxyType({"api_version": DEFAULT_AZURE_API_VERSION, "responses": True}),
        required=("base_url", "deployment"),
    ),
    Template(
        "gemini",
        "Google Gemini (native API)",
        "gemini",
        "https://generativelanguage.googleapis.com",
        "GEMINI_API_KEY",
        source=_seen("https://ai.google.dev/api"),
    ),
    Template(
        "lm-studio",
        "A local LM Studio server",
        "lm-studio",
        "http://127.0.0.1:1234/v1",
        None,
        source=_seen("https://lmstudio.ai/docs/api/openai-api"),
    ),
    Template(
        "ollama",
        "A local Ollama server",
        "openai",
        "http://127.0.0.1:11434/v1",
        None,
        source=_seen("https://docs.ollama.com/api/openai-compatibility"),
    ),
    Template(
        "qwen-proxy",
        "A qwen-code OpenAI proxy (as the Node provider router used)",
        "qwen-proxy",
        "http://127.0.0.1:3000/v1",
        None,
    ),
    Template(
        "generic",
        "Any OpenAI-compatible API (give base_url; key in api_key)",
        "openai",
        None,
        None,
        required=("base_url",),
    ),
)

_BY_NAME: Final = {t.name: t for t in TEMPLATES}


def _url_key(url: str) -> str:
    return url.rstrip("/").lower()


#: By base URL, for a provider's defaults (prices): a subscription shares its vendor's URL,
#: and the API-key template stays the one found there.
_BY_URL: Final = {
    _url_key(t.base_url): t
    for t in TEMPLATES
    if t.base_url is not None and t.settings.get("auth") != "passthrough"
}


def template_at(base_url: str | None) -> Template | None:
    """The template whose ``base_url`` this is (a provider made from it, or written alike)."""
    return _BY_URL.get(_url_key(base_url)) if base_url else None


def get_template(name: str) -> Template:
    try:
        return _BY_NAME[name]
    except KeyError:
        raise TemplateNotFoundError(
            f"no provider template named {name!r}",
            hint=f"templates: {', '.join(_BY_NAME)} (see `auto-router provider templates`)",
        ) from None
