"""aider: litellm-style variables per protocol and ``AIDER_MODEL`` with the provider prefix."""

from __future__ import annotations

from ..limits.markers import Marker, shape
from .base import Agent, Setup, Target, credential_given

VARIABLES = (
    "OPENAI_API_KEY",
    "OPENAI_API_BASE",
    "ANTHROPIC_API_KEY",
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
    proxy_protocols=("openai",),  # only OPENAI_API_BASE is set; the others have no base URL
    fail_fast_doc="none (aider's own backoff gives up after about a minute)",
)
