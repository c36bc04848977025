"""Any other command: the variables the official SDKs read for the provider's API, generic markers.

What each SDK reads (checked in their sources):

- OpenAI (openai/openai-python ``src/openai/_client.py``; openai-node the same):
  ``OPENAI_API_KEY``, ``OPENAI_BASE_URL`` whose default ``https://api.openai.com/v1`` carries
  the version, so the base URL is given with its ``/v1``; ``OPENAI_API_BASE`` is the older
  name (openai<1, litellm, langchain).
- Anthropic (anthropics/anthropic-sdk-python ``src/anthropic/_client.py``):
  ``ANTHROPIC_API_KEY`` (``X-Api-Key``), ``ANTHROPIC_BASE_URL`` whose default
  ``https://api.anthropic.com`` has no version (the SDK adds ``/v1/messages``), so a
  provider's ``/v1`` is taken off.
- Gemini (googleapis/python-genai ``google/genai/_base_url.py`` and ``_api_client.py``):
  ``GOOGLE_GEMINI_BASE_URL`` without the version (the SDK adds ``/v1beta``); the key from
  ``GOOGLE_API_KEY``, which wins over ``GEMINI_API_KEY`` when both are set, so both are set.

The model goes in ``OPENAI_MODEL`` / ``ANTHROPIC_MODEL`` / ``GEMINI_MODEL``, the names the
common CLIs read (qwen-code, Claude Code, Gemini CLI); the SDKs themselves take no model
from the environment.
"""

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
    "GOOGLE_API_KEY",
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
    gemini = target.protocol == "gemini"
    if key and gemini and not credential_given(provided, "GEMINI_API_KEY", "GOOGLE_API_KEY"):
        setup.env["GOOGLE_API_KEY"] = key
        setup.secret_names.add("GOOGLE_API_KEY")
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
