"""auto-router: keep coding agents and scripts running across LLM providers.

The public Python API (docs/python-api.md). Everything it changes is the persisted rotation
state that the ``auto-router`` CLI, launcher and proxy read too.

``_PUBLIC`` is the one list of the public names: ``__all__`` and the lazy imports are derived
from it. The ``TYPE_CHECKING`` imports repeat it for type checkers, which cannot follow a lazy
import; ``tests/core/test_exports.py`` checks that they agree, and that the documentation names
exactly ``__all__``.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from .api import LLMBackendManager as LLMBackendManager
    from .api import ProviderManager as ProviderManager
    from .api import applied_environment as applied_environment
    from .api import get_llm_backend_manager as get_llm_backend_manager
    from .api import reset_llm_backend_manager as reset_llm_backend_manager
    from .config import BackendConfig as BackendConfig
    from .config import Config as Config
    from .config import ProviderConfig as ProviderConfig
    from .config import ResolvedProvider as ResolvedProvider
    from .config import load_config as load_config
    from .errors import AllProvidersExhaustedError as AllProvidersExhaustedError
    from .errors import AutoRouterError as AutoRouterError
    from .errors import BackendNotFoundError as BackendNotFoundError
    from .errors import ConfigError as ConfigError
    from .errors import ConfigSyntaxError as ConfigSyntaxError
    from .errors import ConfigValidationError as ConfigValidationError
    from .errors import InvalidIdentifierError as InvalidIdentifierError
    from .errors import MissingVariableError as MissingVariableError
    from .errors import NotFoundError as NotFoundError
    from .errors import ProviderNotFoundError as ProviderNotFoundError
    from .errors import StateError as StateError
    from .errors import UsageLimitError as UsageLimitError
    from .paths import Paths as Paths
    from .paths import resolve_paths as resolve_paths
    from .rotation.configsource import ConfigSource as ConfigSource
    from .rotation.service import BackendStatus as BackendStatus
    from .rotation.service import Choice as Choice
    from .rotation.service import ProviderStatus as ProviderStatus
    from .rotation.service import Rotator as Rotator
    from .secrets import Secret as Secret

__version__ = "0.1.0"

#: Each public name and the module it lives in. They are imported on first use, so that
#: ``import auto_router.cli`` (which every command pays for) loads only what a command needs.
_PUBLIC: Final = {
    "api": (
        "LLMBackendManager",
        "ProviderManager",
        "applied_environment",
        "get_llm_backend_manager",
        "reset_llm_backend_manager",
    ),
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
    "paths": ("Paths", "resolve_paths"),
    "rotation.configsource": ("ConfigSource",),
    "rotation.service": ("BackendStatus", "Choice", "ProviderStatus", "Rotator"),
    "secrets": ("Secret",),
}
_MODULE_OF: Final = {name: module for module, names in _PUBLIC.items() for name in names}

__all__ = sorted([*_MODULE_OF, "__version__"])


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'auto_router' has no attribute {name!r}")
    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
