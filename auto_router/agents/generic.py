"""Any other command: the usual variables of the provider's protocol, generic markers."""

from __future__ import annotations

from ..limits.markers import Marker
from .base import Agent, Setup, Target, credential_given, strip_suffix

VARIABLES = (
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "OPENAI_API_BASE",
    "OPENAI_MODEL",
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_BASE_URL",
    "ANTHROPIC_MODEL",
    "GEMINI_API_KEY",
    "GOOGLE_GEMINI_BASE_URL",
    "GEMINI_MODEL",
    "AZURE_OPENAI_API_KEY",
    "AZURE_OPENAI_ENDPOINT",
    "OPENAI_API_VERSION",
)


def _set(setup: Setup, provided: frozenset[str], name: str, value: str | None) -> None:
    if value and name not in provided:
        setup.env[name] = value


def configure(target: Target, provided: frozenset[str]) -> Setup:
    setup = Setup()
    key = target.api_key.reveal() if target.api_key else None
    if target.protocol == "anthropic":
        names = ("ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", "ANTHROPIC_MODEL")
        url = strip_suffix(target.base_url, "/v1") if target.base_url else None
    elif target.protocol == "gemini":
        names = ("GEMINI_API_KEY", "GOOGLE_GEMINI_BASE_URL", "GEMINI_MODEL")
        url = strip_suffix(target.base_url, "/v1beta", "/v1") if target.base_url else None
    elif target.protocol == "azure-openai":
        names = ("AZURE_OPENAI_API_KEY", "AZURE_OPENAI_ENDPOINT", "OPENAI_MODEL")
        url = target.base_url
        _set(setup, provided, "OPENAI_API_VERSION", target.api_version)
    else:
        names = ("OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_MODEL")
        url = target.base_url.rstrip("/") if target.base_url else None
        _set(setup, provided, "OPENAI_API_BASE", url)
    key_name, url_name, model_name = names
    if key and not credential_given(provided, key_name):
        setup.env[key_name] = key
        setup.secret_names.add(key_name)
    _set(setup, provided, url_name, url)
    _set(setup, provided, model_name, target.model)
    return setup


AGENT = Agent(
    name="generic",
    title="any command",
    executables=(),
    default_command=None,
    markers=(
        Marker(r"re:\b429\b.{0,60}(?:too many requests|rate.?limit|quota|usage limit)"),
        Marker(r"re:(?:too many requests|rate.?limit|quota|usage limit).{0,60}\b429\b"),
        Marker(r"re:rate.?limit(?:ed| exceeded| reached)"),
        Marker("quota exceeded"),
        Marker("insufficient_quota"),
        Marker("usage limit reached"),
        Marker("RESOURCE_EXHAUSTED"),
    ),
    variables=VARIABLES,
    configure=configure,
)
