"""auto-router: keep coding agents and scripts running across LLM providers.

The public Python API. Everything it changes is the persisted rotation state that the
``auto-router`` CLI, launcher and proxy read too.
"""

from __future__ import annotations

from .config import BackendConfig, Config, ProviderConfig, ResolvedProvider, load_config
from .errors import (
    AllProvidersExhaustedError,
    AutoRouterError,
    BackendNotFoundError,
    ConfigError,
    ConfigSyntaxError,
    ConfigValidationError,
    InvalidIdentifierError,
    MissingVariableError,
    NotFoundError,
    ProviderNotFoundError,
    StateError,
    UsageLimitError,
)
from .manager import (
    LLMBackendManager,
    ProviderManager,
    applied_environment,
    get_llm_backend_manager,
    reset_llm_backend_manager,
)
from .paths import Paths, resolve_paths
from .rotator import BackendStatus, Choice, ConfigSource, ProviderStatus, Rotator
from .secrets import Secret

__version__ = "0.1.0"

__all__ = [
    "AllProvidersExhaustedError",
    "AutoRouterError",
    "BackendConfig",
    "BackendNotFoundError",
    "BackendStatus",
    "Choice",
    "Config",
    "ConfigError",
    "ConfigSource",
    "ConfigSyntaxError",
    "ConfigValidationError",
    "InvalidIdentifierError",
    "LLMBackendManager",
    "MissingVariableError",
    "NotFoundError",
    "Paths",
    "ProviderConfig",
    "ProviderManager",
    "ProviderNotFoundError",
    "ProviderStatus",
    "ResolvedProvider",
    "Rotator",
    "Secret",
    "StateError",
    "UsageLimitError",
    "__version__",
    "applied_environment",
    "get_llm_backend_manager",
    "load_config",
    "reset_llm_backend_manager",
    "resolve_paths",
]
