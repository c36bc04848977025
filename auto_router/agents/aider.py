"""aider: litellm-style variables per protocol and ``AIDER_MODEL`` with the provider prefix.

aider calls its models through litellm, which reads the base URL of each API from the
environment (BerriAI/litellm ``litellm/main.py``, the ``anthropic`` branch of ``completion``,
and ``litellm/llms/anthropic/common_utils.py`` ``AnthropicModelInfo.get_api_base``):

- OpenAI: ``OPENAI_API_BASE`` (the base URL with its ``/v1``);
- Anthropic: ``ANTHROPIC_API_BASE``, else ``ANTHROPIC_BASE_URL``, then ``/v1/messages`` is
  appended unless the URL already ends with it, so the base URL goes without ``/v1``; the key
  is ``ANTHROPIC_API_KEY`` (sent as ``x-api-key``).

Gemini's base URL variable (``GEMINI_API_BASE``) is read by litellm's Gemini embedding and
image paths, but not checked here for chat, so aider is pointed at the proxy only in the
OpenAI and Anthropic APIs.
"""

from __future__ import annotations

from ..limits.markers import Marker, shape
from .base import Agent, Setup, Target, credential_given, strip_suffix

VARIABLES = (
    "OPENAI_API_KEY",
    "OPENAI_API_BASE",
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_API_BASE",
    "GEMINI_API_KEY",
    "AIDER_MODEL",
)
_PREFIX = {
    "openai": "openai",
    "azure-openai": "azure",
    "anthropic": "anthropic",
    "gemini": "gemini",
}
_KEY = {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY", "gemini": "GEMINI_API_KEY"}


def configure(target: Target, provided: frozenset[str]) -> Setup:
    setup = Setup()
    protocol = target.protocol if target.protocol in _KEY else "openai"
    key_name = _KEY[protocol]
    if target.api_key and not credential_given(provided, key_name):
        setup.env[key_name] = target.api_key.reveal()
        setup.secret_names.add(key_name)
    if target.base_url and protocol == "openai" and "OPENAI_API_BASE" not in provided:
        setup.env["OPENAI_API_BASE"] = target.base_url.rstrip("/")
    anthropic_url = {"ANTHROPIC_API_BASE", "ANTHROPIC_BASE_URL"} & provided
    if target.base_url and protocol == "anthropic" and not anthropic_url:
        # litellm appends /v1/messages itself.
        setup.env["ANTHROPIC_API_BASE"] = strip_suffix(target.base_url, "/v1")
    if target.model and "AIDER_MODEL" not in provided:
        prefix = _PREFIX.get(target.protocol, "openai")
        model = target.model
        setup.env["AIDER_MODEL"] = model if model.startswith(prefix + "/") else f"{prefix}/{model}"
    return setup


AGENT = Agent(
    name="aider",
    title="aider",
    executables=("aider",),
    default_command=("aider",),
    markers=(
        shape(r"litellm\.RateLimitError"),
        Marker("The API provider has rate limited you"),
        Marker("RateLimitError"),
        Marker("insufficient_quota"),
    ),
    variables=VARIABLES,
    configure=configure,
    protocols=("openai", "anthropic", "gemini"),
    # Gemini has no base URL variable for litellm's chat path (see above): direct only.
    proxy_protocols=("openai", "anthropic"),
    fail_fast_doc="none (aider's own backoff gives up after about a minute)",
)
