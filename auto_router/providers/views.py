"""JSON shapes of the configuration, shared by ``--json`` CLI output and the management API.

Secrets are masked here, once: literal credentials become ``****abcd``; ``${VAR}`` references
are shown as written, except that a default inside one (``${KEY:-sk-...}``) is masked too
when the setting's name looks like a credential.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..config import BackendConfig, Config, ProviderConfig
from ..secrets import looks_secret, masked_value
from .templates import Template


def masked_table(table: Mapping[str, Any], name: str = "") -> dict[str, Any]:
    """A raw TOML table (as parsed) with every credential-looking string masked, recursively."""
    return {k: _masked(k if looks_secret(k) else name, v) for k, v in table.items()}


def _masked(name: str, value: Any) -> Any:
    if isinstance(value, str):
        return masked_value(name, value) if name else value
    if isinstance(value, Mapping):
        return masked_table(value, name)
    if isinstance(value, list):
        return [_masked(name, v) for v in value]
    return value


def provider_as_json(provider: ProviderConfig) -> dict[str, Any]:
    settings: dict[str, Any] = {}
    for key in ("model", "command", "timeout", "cooldown", "api_version", "deployment"):
        value = getattr(provider, key)
        if value is not None:
            settings[key] = value
    if provider.args:
        settings["args"] = list(provider.args)
    if provider.model_map:
        settings["model_map"] = dict(provider.model_map)
    if provider.responses:
        settings["responses"] = True
    if provider.translate is not None:
        settings["translate"] = provider.translate
    if provider.api_key is not None:
        settings["api_key"] = masked_value("api_key", provider.api_key)
    if provider.api_keys:  # as written: ${VAR} references, literal keys masked
        settings["api_keys"] = [masked_value("api_key", k) for k in provider.api_keys]
    if provider.headers:
        settings["headers"] = {k: masked_value(k, v) for k, v in provider.headers.items()}
    return {
        "name": provider.name,
        "backend": provider.backend,
        "type": provider.type,
        "enabled": provider.enabled,
        "description": provider.description,
        "base_url": provider.base_url,
        "kind": provider.kind,
        #: settings read from agent variables: setting -> the variable's name (never a value)
        "derived": dict(provider.derived),
        "settings": settings,
        "env": {k: masked_value(k, v) for k, v in provider.env.items()},
    }


def backend_as_json(config: Config, backend: BackendConfig) -> dict[str, Any]:
    return {
        "name": backend.name,
        "enabled": backend.enabled,
        "default": backend.name == config.default_backend,
        "in_order": backend.name in config.order,
        "declared": backend.declared,
        "model": backend.model,
        "description": backend.description,
        "agent": backend.agent,
        "cooldown": backend.cooldown,
        "providers": list(backend.provider_names),
    }


def config_as_json(config: Config) -> dict[str, Any]:
    return {
        "default_backend": config.default_backend,
        "order": list(config.order),
        "backends": [
            {
                "name": name,
                "enabled": backend.enabled,
                "model": backend.model,
                "providers": [provider_as_json(p) for p in config.providers_of(name)],
            }
            for name, backend in config.backends.items()
        ],
        "warnings": [str(w) for w in config.warnings],
    }


def template_as_json(template: Template) -> dict[str, Any]:
    return {
        "name": template.name,
        "type": template.type,
        "base_url": template.base_url,
        "auth": template.auth,
        "key_env": template.key_env,
        "required": list(template.required),
        "summary": template.summary,
        "source": template.source,
    }
