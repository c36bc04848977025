"""auto-router: keep coding agents and scripts running across LLM providers.

The public Python API. Everything it changes is the persisted rotation state that the
``auto-router`` CLI, launcher and proxy read too.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .api import (
        LLMBackendManager,
        ProviderManager,
        applied_environment,
        get_llm_backend_manager,
        reset_llm_backend_manager,
    )
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
    from .paths import Paths, resolve_paths
    from .rotation.service import BackendStatus, Choice, ConfigSource, ProviderStatus, Rotator
    from .secrets import Secret

#: Where each public name lives. They are imported on first use, so that ``import
#: auto_router.cli`` (which every command pays for) loads only the modules a command needs.
_HOMES = {
    "config": ("BackendConfig", "Config", "ProviderConfig", "ResolvedProvider", "load_config"),
    "errors": (
        "AllProvidersExhaustedError",
        "AutoRouterError",
        "BackendNotFoundError",
        "ConfigError",
        "ConfigSyntaxError",
        "ConfigValidationError",
        "InvalidIdentifierError",
        "MissingVariableError",
        "NotFoundError",
        "ProviderNotFoundError",
        "StateError",
        "UsageLimitError",
    ),
    "api": (
        "LLMBackendManager",
        "ProviderManager",
        "applied_environment",
        "get_llm_backend_manager",
        "reset_llm_backend_manager",
    ),
    "paths": ("Paths", "resolve_paths"),
    "rotation.service": ("BackendStatus", "Choice", "ConfigSource", "ProviderStatus", "Rotator"),
    "secrets": ("Secret",),
}
_MODULE_OF = {name: module for module, names in _HOMES.items() for name in names}


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'auto_router' has no attribute {name!r}")
    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_MODULE_OF})


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
