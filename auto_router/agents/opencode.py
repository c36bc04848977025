"""opencode (``opencode``, npm ``opencode-ai``): a generated config in ``OPENCODE_CONFIG_CONTENT``.

opencode reads no ``OPENAI_MODEL``, and its built-in Anthropic and Google providers want their
own variables (``GOOGLE_GENERATIVE_AI_API_KEY``) and base URLs with the API version in them.
So the adapter does not guess variables: it defines one provider, ``auto-router``, in an
inline config and names its model, the way opencode's docs describe a custom provider
(https://opencode.ai/docs/providers/#custom-provider, https://opencode.ai/docs/config/):

- ``OPENCODE_CONFIG_CONTENT`` is merged over the user's global and project configs ("inline
  config ... runtime overrides"), so the user's other settings stay; the user's files are never
  written. Checked in opencode 1.18.33's program text: it reads
  ``process.env.OPENCODE_CONFIG_CONTENT`` and logs "loaded custom config from
  OPENCODE_CONFIG_CONTENT".
- ``provider.auto-router.npm`` is the AI SDK package of the provider's API (bundled with
  opencode, nothing is installed): ``@ai-sdk/openai-compatible`` (base URL with ``/v1``; it
  adds ``/chat/completions``), ``@ai-sdk/anthropic`` (base URL with ``/v1``; it adds
  ``/messages``), ``@ai-sdk/google`` (base URL with ``/v1beta``; it adds
  ``/models/{model}:streamGenerateContent``).
- ``options.apiKey`` is ``{env:AUTO_ROUTER_OPENCODE_API_KEY}`` (opencode's variable
  substitution), so the key is in a variable masked like every other, not in the JSON.
- ``model`` and ``small_model`` are ``auto-router/<model>``: opencode would otherwise pick a
  default model of another provider for titles and summaries.

Verified against opencode 1.18.33 and ``scripts/fake_provider.py`` on all three APIs, with a
tool round trip (its shell tool is ``bash``). A 429 ends ``opencode run`` with exit 1 and
``Error: <the provider's message>`` after opencode's own retries (which wait out
``Retry-After``; no setting turns them off, hence no fail-fast knob).
"""

from __future__ import annotations

import json
from typing import Any, Final

from ..limits.markers import Marker
from .base import Agent, Setup, Target, strip_suffix

PROVIDER_ID: Final = "auto-router"
CONFIG_VARIABLE: Final = "OPENCODE_CONFIG_CONTENT"
KEY_VARIABLE: Final = "AUTO_ROUTER_OPENCODE_API_KEY"
VARIABLES = (CONFIG_VARIABLE, KEY_VARIABLE)

#: Provider protocol -> (AI SDK package, the API version the package wants in its base URL).
_SDK: Final = {
    "openai": ("@ai-sdk/openai-compatible", "/v1"),
    "azure-openai": ("@ai-sdk/openai-compatible", ""),
    "anthropic": ("@ai-sdk/anthropic", "/v1"),
    "gemini": ("@ai-sdk/google", "/v1beta"),
}


def base_url(protocol: str, url: str) -> str:
    """The provider's base URL as the AI SDK package of ``protocol`` wants it."""
    _, version = _SDK.get(protocol, _SDK["openai"])
    if protocol in ("openai", "azure-openai"):
        return url.rstrip("/")  # the project's OpenAI base URLs carry their version already
    return strip_suffix(url, "/v1beta", "/v1") + version


def provider_config(target: Target, with_key: bool) -> dict[str, Any]:
    """The ``auto-router`` entry of opencode's ``provider`` table for ``target``."""
    protocol = target.protocol if target.protocol in _SDK else "openai"
    npm, _ = _SDK[protocol]
    options: dict[str, Any] = {}
    if target.base_url:
        options["baseURL"] = base_url(protocol, target.base_url)
    if with_key:
        options["apiKey"] = "{env:" + KEY_VARIABLE + "}"
    entry: dict[str, Any] = {
        "npm": npm,
        "name": f"auto-router {target.backend}",
        "options": options,
    }
    if target.model:
        entry["models"] = {target.model: {"name": target.model}}
    return entry


def configure(target: Target, provided: frozenset[str]) -> Setup:
    setup = Setup()
    if target.provider is None or CONFIG_VARIABLE in provided:
        return setup  # fallback mode, or the provider brings its own config: opencode's own
    with_key = target.api_key is not None
    config: dict[str, Any] = {
        "$schema": "https://opencode.ai/config.json",
        "provider": {PROVIDER_ID: provider_config(target, with_key)},
    }
    if target.model:
        config["model"] = config["small_model"] = f"{PROVIDER_ID}/{target.model}"
    else:
        setup.notes.append("no model configured: opencode chooses one (set `model`)")
    setup.env[CONFIG_VARIABLE] = json.dumps(config, separators=(",", ":"))
    if target.api_key is not None:
        setup.env[KEY_VARIABLE] = target.api_key.reveal()
        setup.secret_names.add(KEY_VARIABLE)
    return setup


AGENT = Agent(
    name="opencode",
    title="opencode",
    executables=("opencode",),
    default_command=("opencode",),
    markers=(
        # `opencode run` after its retries, on stderr, exit 1 (verbatim, fake server):
        #   Error: Rate limit reached for fake-model-ok in organization org-fake on requests ...
        #   Error: This request would exceed the rate limit for your organization (fake-org) ...
        Marker(r"re:^Error: .*\brate.?limit", name="Error: ... rate limit"),
        Marker(r"re:^Error: .*\b(?:quota|RESOURCE_EXHAUSTED)", name="Error: ... quota"),
        Marker("insufficient_quota"),
        Marker("RESOURCE_EXHAUSTED"),
    ),
    variables=VARIABLES,
    configure=configure,
    protocols=("openai", "anthropic", "gemini"),
    fail_fast_doc="none known (opencode retries a 429 itself, waiting Retry-After)",
)
