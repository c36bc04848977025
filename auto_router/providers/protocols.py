"""How each provider type is addressed: credential headers and endpoint URLs.

One place for this knowledge, used by ``provider test``, health checks and the proxy.
Conventions for ``base_url``: OpenAI-compatible types include the version (``.../v1``);
Anthropic and Gemini take the host root (``https://api.anthropic.com``,
``https://generativelanguage.googleapis.com``), as their SDKs and CLIs do; a trailing
``/v1`` (Anthropic) or ``/v1beta`` (Gemini) is tolerated. Azure takes the resource root.
"""

from __future__ import annotations

from typing import Final

from ..config import ResolvedProvider

ANTHROPIC_VERSION: Final = "2023-06-01"
DEFAULT_AZURE_API_VERSION: Final = "2024-10-21"

#: Base URLs used when a provider of that type sets none.
DEFAULT_BASE_URLS: Final = {
    "openai": "https://api.openai.com/v1",
    "anthropic": "https://api.anthropic.com",
    "gemini": "https://generativelanguage.googleapis.com",
    "lm-studio": "http://127.0.0.1:1234/v1",
    "qwen-direct": "https://dashscope-intl.aliyuncs.com/compatible-mode/v1",
}


def base_url(provider: ResolvedProvider) -> str:
    """The provider's URL; a type's default only for an API provider (``config.kinds``): a
    table of variables alone has no host to call, and none is made up for it (issue 17)."""
    default = DEFAULT_BASE_URLS.get(provider.config.type, "") if provider.config.has_api else ""
    url = provider.base_url or default
    return url.rstrip("/")


def auth_headers(provider: ResolvedProvider) -> dict[str, str]:
    """The credential and configured headers to send upstream (real values: never log them)."""
    headers: dict[str, str] = {}
    key = provider.api_key.reveal() if provider.api_key else None
    protocol = provider.config.protocol
    if protocol == "anthropic":
        headers["anthropic-version"] = ANTHROPIC_VERSION
        if key and provider.config.derived.get("api_key") == "ANTHROPIC_AUTH_TOKEN":
            # sent the way Claude Code sends that variable: "Authorization: Bearer <value>"
            # (https://docs.anthropic.com/en/docs/claude-code/settings, ANTHROPIC_AUTH_TOKEN)
            headers["authorization"] = f"Bearer {key}"
        elif key:
            headers["x-api-key"] = key
    elif protocol == "gemini":
        if key:
            headers["x-goog-api-key"] = key
    elif protocol == "azure-openai":
        if key:
            headers["api-key"] = key
    elif key:
        headers["authorization"] = f"Bearer {key}"
    for name, value in provider.headers.items():
        headers[name.lower()] = value.reveal()
    return headers


def openai_url(provider: ResolvedProvider, path: str) -> str:
    """URL of an OpenAI-style endpoint (``path`` like ``/chat/completions``, without /v1)."""
    root = base_url(provider)
    if provider.config.protocol == "azure-openai":
        version = provider.api_version or DEFAULT_AZURE_API_VERSION
        if root.endswith("/openai/v1"):  # Azure's v1 API: plain OpenAI paths, no deployment
            return f"{root}{path}"
        deployment = provider.deployment or provider.model or ""
        if path == "/models":
            return f"{_azure_root(root)}/openai/models?api-version={version}"
        return f"{_azure_root(root)}/openai/deployments/{deployment}{path}?api-version={version}"
    return f"{root}{path}"


def anthropic_url(provider: ResolvedProvider, path: str) -> str:
    """URL of an Anthropic endpoint (``path`` like ``/v1/messages``)."""
    root = base_url(provider)
    if root.endswith("/v1") and path.startswith("/v1/"):
        root = root[: -len("/v1")]
    return f"{root}{path}"


def gemini_url(provider: ResolvedProvider, path: str) -> str:
    """URL of a Gemini endpoint (``path`` like ``/v1beta/models/x:generateContent``)."""
    root = base_url(provider)
    for suffix in ("/v1beta", "/v1"):
        if root.endswith(suffix) and path.startswith(suffix + "/"):
            root = root[: -len(suffix)]
    return f"{root}{path}"


def models_url(provider: ResolvedProvider) -> str:
    """Where to list the provider's models (used by ``provider test`` and health checks)."""
    protocol = provider.config.protocol
    if protocol == "anthropic":
        return anthropic_url(provider, "/v1/models")
    if protocol == "gemini":
        return gemini_url(provider, "/v1beta/models")
    return openai_url(provider, "/models")


def _azure_root(root: str) -> str:
    return root[: -len("/openai")] if root.endswith("/openai") else root
