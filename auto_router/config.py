"""The two configuration files, parsed into frozen dataclasses.

``llm_config.toml`` names the backends and their order; ``provider_metadata.toml`` defines the
providers, one table ``[<backend>.<provider>]`` each. Lowercase keys of a provider are settings
auto-router uses itself; UPPERCASE keys are exported to launched commands. ``${VAR}`` references
are checked for syntax on load and expanded only when a provider is used (``resolve``), so a
variable missing for one provider never stops the others, nor ``auto-router status``.
"""

from __future__ import annotations

from .configcheck import (
    BACKEND_KEYS,
    PROVIDER_KEYS,
    PROVIDER_METADATA_FILE_HINT,
    PROVIDER_SETTING_KEYS,
    build_config,
)
from .configmodel import (
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
from .filesafety import read_pair
from .paths import Paths
from .tomlsource import parse_toml

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
