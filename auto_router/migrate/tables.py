"""What every source layout writes the same way: a provider table, and its provider type.

auto-coder's backends, ``qwen-providers.toml`` entries, a provider-router ``.env``,
claude-code-router's and cc-switch's providers all end as ``[backend.provider]`` tables of
provider_metadata.toml, through ``add_provider_table`` (``import_providers`` for a list of them
in rotation order; ``pin_model`` for a ``[proxy.models]`` entry).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Final

import tomlkit
from tomlkit.items import Array

from ..config.identifiers import is_identifier
from ..editing import Documents, add_table, new_provider_table, set_key
from ..editing.tomlhelpers import child_table

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


def slug(name: str, fallback: str = "provider") -> str:
    """A provider name from a display name (``"Zhipu GLM"`` -> ``zhipu-glm``)."""
    found = re.sub(r"[^a-z0-9._-]+", "-", name.lower()).strip("-._")
    return found if is_identifier(found) else fallback


def import_providers(
    docs: Documents,
    backend: str,
    agent: str,
    entries: Sequence[tuple[str, Mapping[str, Any]]],
    label: str,
    notes: list[str],
) -> list[str]:
    """Add ``entries`` (name, settings) as providers of ``backend``, in that order, at the end
    of its rotation order; the backend is created (for ``agent``) when missing. A name that is
    taken already is skipped with a note, so a second run changes nothing."""
    if not entries:
        return []
    created = not docs.backend_exists(backend)
    order = docs.ensure_provider_list(backend)
    if created:
        declared = docs.ensure_declared_backend(backend)
        if backend != agent:
            set_key(declared, "agent", agent)
        _add_to_backend_order(docs, backend)
        notes.append(f"{label}: backend {backend} created (agent {agent})")
    added: list[str] = []
    for name, settings in entries:
        if not add_provider_table(docs, backend, name, settings):
            notes.append(f"{label}: {backend}/{name} exists already, skipped")
            continue
        if name not in order:
            order.append(name)
        added.append(name)
    if added:
        notes.append(f"{label}: providers {', '.join(added)} -> backend {backend}")
    return added


def pin_model(docs: Documents, model: str, target: str, label: str, notes: list[str]) -> bool:
    """``[proxy.models] "model" = "backend/provider"``, unless that model is routed already."""
    proxy = child_table(docs.llm, "proxy")
    if proxy is None:
        add_table(docs.llm, "proxy", tomlkit.table())
        proxy = docs.llm["proxy"]
    models = child_table(proxy, "models")
    if models is None:
        set_key(proxy, "models", tomlkit.table())
        models = proxy["models"]
    if model in models:
        if str(models[model]) != target:
            notes.append(f"{label}: [proxy.models] {model!r} is set already, kept")
        return False
    models[model] = target
    return True


def _add_to_backend_order(docs: Documents, backend: str) -> None:
    section = child_table(docs.llm, docs.backend_section_name())
    order = None if section is None else section.get("order")
    if isinstance(order, Array) and backend not in order:
        order.append(backend)
