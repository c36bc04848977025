"""auto-coder's ``llm_config.toml``, converted where its layout differs from auto-router's.

Top-level backend tables (``[qwen]``) become ``[backends.qwen]`` (header rewritten in place,
comments kept), ``backend_type`` becomes ``agent`` (following ``backend_type = "<parent>"``
inheritance), ``options`` become ``args``, and credentials in a backend (``openai_api_key`` /
``openai_base_url``, ``api_key`` / ``base_url``) move into a provider table of that backend.
``[backend]`` stays: auto-router reads it like ``[message_backend]``.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlparse

from tomlkit.items import SingleKey, Table

from ..config.identifiers import is_identifier
from ..config.values import http_url
from ..editing import Documents, rename_headers, set_key
from .tables import add_provider_table, type_for

#: Top-level tables of an llm_config.toml that are not backends.
_SECTIONS: Final = frozenset(
    {
        "backends",
        "backend",
        "message_backend",
        "proxy",
        "backend_for_noedit",
        "backend_with_high_score",
    }
)
_CREDENTIALS: Final = (("openai_api_key", "openai_base_url"), ("api_key", "base_url"))


def convert_headers(text: str, path: Path | None) -> str:
    """``[qwen]`` -> ``[backends.qwen]`` in the text itself, so comments stay where they are."""
    for name in _legacy_backends(tomllib.loads(text)):
        text = rename_headers(text, (name,), ("backends", name))
    return text


def convert_backends(docs: Documents, original: str, path: Path | None, notes: list[str]) -> None:
    """Each converted backend's keys, renamed; its credentials moved into provider tables."""
    data = tomllib.loads(original)
    legacy = {name: data[name] for name in _legacy_backends(data)}
    for name, raw in legacy.items():
        table = docs.declared_backend(name)
        if table is None:
            notes.append(f"[{name}]: not converted (not a plain table)")
            continue
        agent, parent = _resolve_agent(name, legacy)
        if "backend_type" in table:
            _rename_key(table, "backend_type", "agent")
            table["agent"] = agent
        if "options" in table:
            _rename_key(table, "options", "args")
        elif parent is not None and "options" in legacy[parent]:
            set_key(table, "args", list(legacy[parent]["options"]))
        creds = _credentials(raw) or (_credentials(legacy[parent]) if parent else [])
        for key_name, url_name in _CREDENTIALS:
            for key in (key_name, url_name):
                if key in table:
                    del table[key]
        providers = _move_credentials(docs, name, agent, raw, creds, notes)
        if providers:
            existing = list(table.get("providers", []))
            set_key(table, "providers", existing + [p for p in providers if p not in existing])
            notes.append(f"[{name}]: credentials moved to provider {name}/{', '.join(providers)}")
        notes.append(f"[{name}] -> [backends.{name}] (agent {agent})")


def _move_credentials(
    docs: Documents,
    name: str,
    agent: str,
    raw: Mapping[str, Any],
    creds: list[tuple[str | None, str | None]],
    notes: list[str],
) -> list[str]:
    """One provider table per (key, URL) pair of backend ``name``; their names."""
    providers: list[str] = []
    for api_key, base_url in creds:
        provider = _unique(_name_from_url(base_url), providers)
        settings: dict[str, Any] = {"type": type_for(agent, base_url)}
        if base_url and _is_url(base_url):
            settings["base_url"] = base_url
        elif base_url:  # a placeholder ("your-api-base-url-here"): no valid base_url
            notes.append(f"[{name}]: base_url {base_url!r} is no http(s) URL, left out")
        if api_key:
            settings["api_key"] = api_key
        if settings["type"] == "azure-openai":
            version = _option(raw.get("options") or [], "api_version")
            if version:
                settings["api_version"] = version
            if raw.get("model"):
                settings["deployment"] = raw["model"]
        settings["description"] = f"imported from auto-coder [{name}]"
        add_provider_table(docs, name, provider, settings)
        providers.append(provider)
    return providers


def _is_url(text: str) -> bool:
    try:
        http_url(text)
    except ValueError:
        return False
    return True


def _legacy_backends(data: Mapping[str, Any]) -> list[str]:
    return [
        k
        for k, v in data.items()
        if isinstance(v, dict) and k not in _SECTIONS and is_identifier(k)
    ]


def _resolve_agent(name: str, legacy: Mapping[str, Any]) -> tuple[str, str | None]:
    """The agent CLI behind ``backend_type`` and the parent backend it inherits from."""
    seen = {name}
    kind = str(legacy[name].get("backend_type") or name)
    parent: str | None = None
    while kind in legacy and kind not in seen and kind != name:
        parent = parent or kind
        seen.add(kind)
        kind = str(legacy[kind].get("backend_type") or kind)
    return kind, parent


def _credentials(raw: Mapping[str, Any]) -> list[tuple[str | None, str | None]]:
    found = []
    for key_name, url_name in _CREDENTIALS:
        key, url = raw.get(key_name), raw.get(url_name)
        if key or url:
            found.append((key, url))
    return found


def _name_from_url(url: str | None) -> str:
    host = urlparse(url or "").hostname or ""
    if host.endswith(".openai.azure.com"):
        return "azure"
    parts = [p for p in host.split(".") if p not in ("api", "www", "com", "ai", "io", "net")]
    name = (parts[-1] if parts and host.count(".") >= 1 else "").lower()
    if name == "googleapis":
        return "google"
    return name if is_identifier(name) else "default"


def _unique(name: str, taken: list[str]) -> str:
    candidate, n = name, 2
    while candidate in taken:
        candidate, n = f"{name}-{n}", n + 1
    return candidate


def _option(options: list[Any], name: str) -> str | None:
    for i in range(len(options) - 2):
        if options[i] == "-o" and options[i + 1] == name:
            return str(options[i + 2])
    return None


def _rename_key(table: Table, old: str, new: str) -> None:
    body = table.value.body
    for index, (key, item) in enumerate(body):
        if key is not None and key.key == old:
            body[index] = (SingleKey(new), item)
    table.value._map[SingleKey(new)] = table.value._map.pop(SingleKey(old))
