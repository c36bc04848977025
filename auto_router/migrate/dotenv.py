"""The Node provider router's ``.env``: its ``lm-studio``, ``qwen-proxy`` and ``qwen-direct``
providers become providers of one backend, ``DEFAULT_PROVIDER`` first; ``REQUEST_TIMEOUT``
(ms) becomes ``timeout`` (s) and ``MODEL_MAPPINGS`` the ``[proxy.models]`` entries
``"model" = "backend/provider"``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import tomlkit

from ..editing import Documents, add_table, set_key
from .tables import add_provider_table


def parse_env(text: str) -> dict[str, str]:
    """A dotenv file's ``KEY=VALUE`` lines (``export``, quotes and ``#`` comments handled)."""
    values: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.removeprefix("export ").partition("=")
        value = value.strip()
        if value[:1] in ("'", '"') and value.endswith(value[0]) and len(value) > 1:
            value = value[1:-1]
        else:
            value = value.split(" #", 1)[0].strip()
        values[key.strip()] = value
    return values


def import_env(docs: Documents, env: Mapping[str, str], backend: str, notes: list[str]) -> None:
    timeout: float | None = None
    if env.get("REQUEST_TIMEOUT", "").isdigit():
        timeout = int(env["REQUEST_TIMEOUT"]) / 1000
    mappings = _model_mappings(env.get("MODEL_MAPPINGS", ""))
    candidates = _candidates(env, {env.get("DEFAULT_PROVIDER", ""), *mappings.values()})
    default = env.get("DEFAULT_PROVIDER")
    added: list[str] = []
    for name in sorted(candidates, key=lambda n: n != default):
        settings = {k: v for k, v in candidates[name].items() if v}
        settings["description"] = "imported from the provider-router .env"
        if timeout is not None:
            settings["timeout"] = timeout
        if add_provider_table(docs, backend, name, settings):
            added.append(name)
        else:
            notes.append(f".env: {backend}/{name} exists already, skipped")
    if added:
        _add_to_backend(docs, backend, added, default)
        notes.append(f".env: providers {', '.join(added)} -> backend {backend}")
    if mappings:
        _pin_models(docs, backend, mappings)
        notes.append(".env: MODEL_MAPPINGS -> [proxy].models")


def _candidates(env: Mapping[str, str], wanted: set[str]) -> dict[str, dict[str, Any]]:
    """The router's providers the file configures (or names), as provider settings."""
    candidates: dict[str, dict[str, Any]] = {}
    if env.get("LM_STUDIO_BASE_URL") or "lm-studio" in wanted:
        candidates["lm-studio"] = {
            "type": "lm-studio",
            "base_url": env.get("LM_STUDIO_BASE_URL") or "http://127.0.0.1:1234/v1",
            "model": env.get("LM_STUDIO_DEFAULT_MODEL"),
        }
    if env.get("QWEN_PROXY_BASE_URL") or "qwen-proxy" in wanted:
        url = (env.get("QWEN_PROXY_BASE_URL") or "http://localhost:3000").rstrip("/")
        candidates["qwen-proxy"] = {
            "type": "qwen-proxy",
            "base_url": url if url.endswith("/v1") else url + "/v1",
        }
    if env.get("QWEN_API_KEY") or env.get("QWEN_BASE_URL") or "qwen-direct" in wanted:
        candidates["qwen-direct"] = {
            "type": "qwen-direct",
            "base_url": env.get("QWEN_BASE_URL")
            or "https://dashscope.aliyuncs.com/compatible-mode/v1",
            "api_key": env.get("QWEN_API_KEY") or "${QWEN_API_KEY}",
        }
    return candidates


def _add_to_backend(docs: Documents, backend: str, added: list[str], default: str | None) -> None:
    """The backend's ``providers`` with ``added`` in: the router's default first."""
    declared = docs.ensure_declared_backend(backend)
    existing = [str(v) for v in declared.get("providers", docs.provider_names(backend))]
    merged = [p for p in existing if p not in added]
    if default in added:
        merged = [default, *[p for p in merged if p != default]]
        merged += [p for p in added if p != default]
    else:
        merged += added
    set_key(declared, "providers", [p for p in dict.fromkeys(merged)])


def _pin_models(docs: Documents, backend: str, mappings: Mapping[str, str]) -> None:
    proxy = docs.llm.get("proxy")
    if proxy is None:
        add_table(docs.llm, "proxy", tomlkit.table())
        proxy = docs.llm["proxy"]
    # The Node router sent a model to one provider: "backend/provider" pins it the same way.
    table = tomlkit.inline_table()
    table.update({model: f"{backend}/{p}" for model, p in mappings.items()})
    set_key(proxy, "models", table)


def _model_mappings(text: str) -> dict[str, str]:
    result: dict[str, str] = {}
    for pair in text.split(","):
        model, sep, provider = pair.strip().partition(":")
        if sep and model and provider:
            result[model.strip()] = provider.strip()
    return result
