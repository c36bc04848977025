"""The two configuration files, parsed into frozen dataclasses.

``llm_config.toml`` names the backends and their order; ``provider_metadata.toml`` defines the
providers, one table ``[<backend>.<provider>]`` each. Lowercase keys of a provider are settings
auto-router uses itself; UPPERCASE keys are exported to launched commands. ``${VAR}`` references
are checked for syntax on load and expanded only when a provider is used (``resolve``), so a
variable missing for one provider never stops the others, nor ``auto-router status``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import replace

from ..errors import ConfigValidationError
from ..paths import Paths
from ..secrets import Secret
from .checks import (
    BACKEND_KEYS,
    PROVIDER_KEYS,
    PROVIDER_METADATA_FILE_HINT,
    PROVIDER_SETTING_KEYS,
    build_config,
)
from .expand import ExpansionError, expand
from .filesafety import read_pair
from .model import (
    BACKEND_SECTIONS,
    DEFAULT_COOLDOWN_SECONDS,
    PROTOCOL_OF_TYPE,
    PROVIDER_TYPES,
    BackendConfig,
    Config,
    LauncherConfig,
    Problem,
    ProviderConfig,
    ResolvedProvider,
)
from .proxy import ADMIN_TOKEN_ENV, ProxySettings, token_values
from .source import parse_toml

__all__ = [
    "BACKEND_KEYS",
    "BACKEND_SECTIONS",
    "DEFAULT_COOLDOWN_SECONDS",
    "PROTOCOL_OF_TYPE",
    "PROVIDER_KEYS",
    "PROVIDER_METADATA_FILE_HINT",
    "PROVIDER_SETTING_KEYS",
    "PROVIDER_TYPES",
    "BackendConfig",
    "Config",
    "LauncherConfig",
    "Problem",
    "ProviderConfig",
    "ResolvedProvider",
    "build_config",
    "load_config",
    "parse_config",
    "parse_proxy_settings",
]


def load_config(paths: Paths) -> Config:
    """Read both files from ``paths`` as one consistent pair (never half of an edit, see
    ``filesafety``). Missing files mean an empty configuration."""
    llm_text, meta_text = read_pair(paths.config_dir, (paths.llm_config, paths.provider_metadata))
    return parse_config(paths, llm_text, meta_text)


def parse_config(paths: Paths, llm_text: str | None, metadata_text: str | None) -> Config:
    """Validate texts as if they were the files at ``paths`` (used before every edit)."""
    llm = None if llm_text is None else parse_toml(llm_text, paths.llm_config)
    meta = None if metadata_text is None else parse_toml(metadata_text, paths.provider_metadata)
    return build_config(paths, llm, meta)


def parse_proxy_settings(config: Config, environ: Mapping[str, str] | None = None) -> ProxySettings:
    """The checked ``[proxy]`` settings with their tokens expanded from ``environ`` (what the
    proxy runs with; ``config validate`` calls it too, so both refuse the same files).

    A missing variable is a ``ConfigValidationError`` naming the file, line and key.
    ``AUTO_ROUTER_ADMIN_TOKEN``, when set, is the admin token whatever the file says.
    """
    env = os.environ if environ is None else environ
    admin: Secret | None = None
    clients: list[Secret] = []
    for key, text in token_values(config.proxy):
        try:
            value = expand(text, env)
        except ExpansionError as exc:
            raise ConfigValidationError(
                str(exc),
                path=config.paths.llm_config,
                line=config.proxy_lines.get(key),
                key_path=f"[proxy].{key}",
                hint=f"export {exc.variable}" if exc.variable else None,
            ) from None
        if key == "admin_token":
            admin = Secret(value) if value else None
        elif value:
            clients.append(Secret(value))
    if env.get(ADMIN_TOKEN_ENV):
        admin = Secret(env[ADMIN_TOKEN_ENV])
    return replace(config.proxy_settings, admin_token=admin, client_tokens=tuple(clients))
