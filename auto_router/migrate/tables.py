"""What every source layout writes the same way: a provider table, and its provider type.

auto-coder's backends, ``qwen-providers.toml`` entries and a provider-router ``.env`` all end
as ``[backend.provider]`` tables of provider_metadata.toml, through ``add_provider_table``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import tomlkit

from ..editing import Documents, add_table, new_provider_table

#: The provider type of an agent's own API, when its URL does not say otherwise.
_TYPE_OF_AGENT: Final = {"gemini": "gemini", "claude": "anthropic"}


def type_for(agent: str, base_url: str | None) -> str:
    """The provider type of credentials found for ``agent`` (Azure and DashScope by URL)."""
    if base_url and ".openai.azure.com" in base_url:
        return "azure-openai"
    if base_url and "dashscope" in base_url:
        return "qwen-direct"
    return _TYPE_OF_AGENT.get(agent, "openai")


def add_provider_table(
    docs: Documents, backend: str, provider: str, settings: Mapping[str, Any]
) -> bool:
    """Add ``[backend.provider]`` (UPPER-case keys as variables); ``False`` if it exists."""
    if docs.provider_table(backend, provider) is not None:
        return False
    lower = {k: v for k, v in settings.items() if not k.isupper()}
    upper = {k: str(v) for k, v in settings.items() if k.isupper()}
    group = docs.provider_group(backend)
    if group is None:
        add_table(docs.metadata, backend, tomlkit.table(is_super_table=True))
        group = docs.metadata[backend]
    add_table(group, provider, new_provider_table(lower, upper))
    return True
