"""``qwen-providers.toml``: each entry (``[[qwen.providers]]`` or a top-level table) becomes one
``[qwen.<name>]`` provider table, appended to the qwen backend's ``providers``."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from ..config import PROVIDER_SETTING_KEYS
from ..editing import Documents
from .tables import add_provider_table, type_for


def import_qwen_providers(docs: Documents, text: str, path: Path, notes: list[str]) -> None:
    for name, entry in _entries(tomllib.loads(text)):
        entry.pop("name", None)
        provider = re.sub(r"[^a-z0-9._-]+", "-", name.lower()).strip("-._") or "provider"
        settings = {k: v for k, v in entry.items() if k.isupper() or k in PROVIDER_SETTING_KEYS}
        skipped = sorted(set(entry) - set(settings))
        settings.setdefault("type", type_for("qwen", entry.get("base_url")))
        settings.setdefault("description", f"imported from {path.name}")
        if add_provider_table(docs, "qwen", provider, settings):
            _append_to_order(docs, "qwen", provider)
            notes.append(f"{path.name}: [{name}] -> [qwen.{provider}]")
        else:
            notes.append(f"{path.name}: [{name}] skipped, qwen/{provider} exists already")
        if skipped:
            notes.append(f"{path.name}: [{name}]: unknown keys not imported: {', '.join(skipped)}")


def _entries(data: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(name, settings) of each provider the file lists, in file order."""
    entries: list[tuple[str, dict[str, Any]]] = []
    listed = data.get("qwen", {}).get("providers") if isinstance(data.get("qwen"), dict) else None
    if isinstance(listed, list):
        for index, entry in enumerate(listed, start=1):
            if isinstance(entry, dict):
                entries.append((str(entry.get("name") or f"provider-{index}"), dict(entry)))
    for key, value in data.items():
        if isinstance(value, dict) and key != "qwen":
            entries.append((key, dict(value)))
    return entries


def _append_to_order(docs: Documents, backend: str, provider: str) -> None:
    declared = docs.declared_backend(backend)
    providers = None if declared is None else declared.get("providers")
    if isinstance(providers, list) and provider not in providers:
        providers.append(provider)
