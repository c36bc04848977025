"""The Python API, with the names auto-coder's provider manager users know.

    manager = get_llm_backend_manager(default_backend="qwen", default_client=client,
                                      factories={"qwen": lambda: client})
    manager.run_prompt("...")                 # rotates on UsageLimitError
    manager.provider_manager.advance_to_next_provider("qwen")

Everything here reads and changes the same persisted state as the CLI, launcher and proxy.
docs/python-api.md documents it, with examples the tests run.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from .config import ResolvedProvider
from .errors import AllProvidersExhaustedError, BackendNotFoundError, UsageLimitError
from .paths import resolve_paths
from .rotation.policy import DIRECT
from .rotation.service import Choice, Rotator

# os.environ is process-global, so the lock that serialises changes to it is too.
_ENV_LOCK = threading.RLock()


@contextmanager
def applied_environment(variables: Mapping[str, str]) -> Iterator[None]:
    """Set ``variables`` in ``os.environ`` for the block; restore exactly, even on error.

    Holds a lock for the whole block, so two threads never see each other's providers.
    Child processes should not use this: pass ``env=`` to them instead (the launcher does).
    """
    with _ENV_LOCK:
        saved = {key: os.environ.get(key) for key in variables}
        try:
            os.environ.update(variables)
            yield
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


class ProviderManager:
    """Per-backend provider rotation: auto-coder's ``BackendProviderManager`` names."""

    def __init__(self, rotator: Rotator) -> None:
        self.rotator = rotator

    def get_current_provider_name(self, backend: str) -> str | None:
        return self.rotator.current_provider_name(backend)

    def advance_to_next_provider(self, backend: str) -> bool:
        """Rotate ``backend`` to its next usable provider. ``False`` when there is none."""
        return self.rotator.advance(backend)

    def reset_provider_rotation(self, backend: str) -> None:
        self.rotator.reset(backend)

    def set_current_provider(self, backend: str, provider: str) -> None:
        self.rotator.set_current(backend, provider)

    def has_providers(self, backend: str) -> bool:
        return self.get_provider_count(backend) > 0

    def get_all_provider_names(self, backend: str) -> list[str]:
        return [p.name for p in self._providers(backend)]

    def get_provider_count(self, backend: str) -> int:
        return len(self._providers(backend))

    def get_last_used_provider_name(self, backend: str) -> str | None:
        if backend not in self.rotator.config.backends:
            return None
        last = self.rotator.state(backend).last_success
        return None if last in (None, DIRECT) else last

    def get_current_provider(self, backend: str) -> ResolvedProvider | None:
        """The current provider with its ``${VAR}`` values expanded (credentials stay masked)."""
        name = self.rotator.current_slot(backend)  # a key pool: narrowed to its current key
        if name is None:
            return None
        return self.rotator.config.provider(backend, name).resolve()

    def _providers(self, backend: str) -> tuple[Any, ...]:
        config = self.rotator.config
        if backend not in config.backends:
            return ()
        return config.providers_of(backend)


ClientFactory = Callable[[], Any]


class LLMBackendManager:
    """Runs prompts through per-backend clients, rotating providers, then backends."""

    def __init__(
        self,
        rotator: Rotator,
        *,
        default_backend: str | None = None,
        default_client: Any = None,
        factories: Mapping[str, ClientFactory] | None = None,
    ) -> None:
        self.rotator = rotator
        self.provider_manager = ProviderManager(rotator)
        self.default_backend = default_backend or rotator.config.default_backend
        self._factories = dict(factories or {})
        self._clients: dict[str, Any] = {}
        if default_client is not None and self.default_backend is not None:
            self._clients[self.default_backend] = default_client
        self._last: tuple[str | None, str | None, str | None] | None = None
        self._lock = threading.Lock()

    def run_prompt(self, prompt: str, **kwargs: Any) -> Any:
        """Call the current backend's client with the current provider's variables applied.

        A ``UsageLimitError`` from the client cools the provider down and the call is retried
        on the next provider, then the next backend with a client. When nothing is left the
        last ``UsageLimitError`` is raised again.
        """
        last_error: UsageLimitError | None = None
        tried: set[tuple[str, str | None]] = set()
        while True:
            try:
                choice = self.rotator.choose(
                    self.default_backend, among=self._backends_with_clients()
                )
            except AllProvidersExhaustedError:
                if last_error is not None:
                    raise last_error from None
                raise
            key = (choice.backend.name, choice.provider_name)
            if key in tried or choice.backend.name not in self._backends_with_clients():
                if last_error is not None:
                    raise last_error
                raise BackendNotFoundError(
                    f"no client for backend {choice.backend.name!r}",
                    hint="pass default_client= or factories={name: ...}",
                )
            tried.add(key)
            try:
                result = self._call(choice, prompt, **kwargs)
            except UsageLimitError as exc:
                last_error = exc
                self.rotator.record_usage_limit(
                    choice.backend.name,
                    choice.provider_name,
                    reset_at=exc.reset_timestamp,
                    reason=str(exc),
                )
                continue
            self.rotator.record_success(choice.backend.name, choice.provider_name)
            with self._lock:
                self._last = (choice.backend.name, choice.provider_name, choice.model)
            return result

    # auto-coder's name for the same call
    _run_llm_cli = run_prompt

    def get_last_backend_provider_and_model(self) -> tuple[str | None, str | None, str | None]:
        """(backend, provider, model) of the last successful call; persisted state before one."""
        with self._lock:
            if self._last is not None:
                return self._last
        backend = self.default_backend
        if backend is None:
            return (None, None, None)
        provider = self.provider_manager.get_last_used_provider_name(backend)
        config = self.rotator.config
        model = config.backends[backend].model if backend in config.backends else None
        if provider is not None:
            model = config.provider(backend, provider).model or model
        return (backend, provider, model)

    def get_client(self, backend: str) -> Any:
        with self._lock:
            if backend not in self._clients:
                factory = self._factories.get(backend)
                if factory is None:
                    raise BackendNotFoundError(f"no client factory for backend {backend!r}")
                self._clients[backend] = factory()
            return self._clients[backend]

    def _backends_with_clients(self) -> set[str]:
        return set(self._clients) | set(self._factories)

    def _call(self, choice: Choice, prompt: str, **kwargs: Any) -> Any:
        client = self.get_client(choice.backend.name)
        variables = choice.provider.resolve().exported_env() if choice.provider else {}
        with applied_environment(variables):
            for method in ("_run_llm_cli", "run_prompt"):
                call = getattr(client, method, None)
                if callable(call):
                    return call(prompt, **kwargs)
            if callable(client):
                return client(prompt, **kwargs)
        raise TypeError(f"client {client!r} has no _run_llm_cli/run_prompt and is not callable")


_manager: LLMBackendManager | None = None
_manager_lock = threading.Lock()


def get_llm_backend_manager(
    default_backend: str | None = None,
    default_client: Any = None,
    factories: Mapping[str, ClientFactory] | None = None,
    *,
    config_dir: str | os.PathLike[str] | None = None,
    force_reinitialize: bool = False,
) -> LLMBackendManager:
    """The process-wide manager, created on the first call (or when ``force_reinitialize``)."""
    global _manager
    with _manager_lock:
        if _manager is None or force_reinitialize:
            rotator = Rotator(resolve_paths(config_dir))
            _manager = LLMBackendManager(
                rotator,
                default_backend=default_backend,
                default_client=default_client,
                factories=factories,
            )
        return _manager


def reset_llm_backend_manager() -> None:
    """Forget the process-wide manager (tests, or after changing AUTO_ROUTER_HOME)."""
    global _manager
    with _manager_lock:
        _manager = None
