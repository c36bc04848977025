"""The two configuration files, parsed into frozen dataclasses.

``llm_config.toml`` names the backends and their order; ``provider_metadata.toml`` defines the
providers, one table ``[<backend>.<provider>]`` each. Lowercase keys of a provider are settings
auto-router uses itself; UPPERCASE keys are exported to launched commands. ``${VAR}`` references
are checked for syntax on load and expanded only when a provider is used (``resolve``), so a
variable missing for one provider never stops the others, nor ``auto-router status``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

from .errors import (
    BackendNotFoundError,
    ConfigValidationError,
    MissingVariableError,
    ProviderNotFoundError,
)
from .expand import ExpansionError, expand, references
from .identifiers import IDENTIFIER_RULE, is_identifier
from .paths import Paths
from .secrets import Secret
from .tomlsource import TomlSource, parse_toml, read_toml
from .values import as_bool, as_str, describe, positive_seconds, str_list, str_table

#: Provider types. The Node router's names are OpenAI-compatible presets.
PROVIDER_TYPES: Final = (
    "openai",
    "anthropic",
    "gemini",
    "azure-openai",
    "lm-studio",
    "qwen-proxy",
    "qwen-direct",
)
#: The wire protocol each provider type speaks.
PROTOCOL_OF_TYPE: Final[Mapping[str, str]] = MappingProxyType(
    {
        "openai": "openai",
        "lm-studio": "openai",
        "qwen-proxy": "openai",
        "qwen-direct": "openai",
        "azure-openai": "azure-openai",
        "anthropic": "anthropic",
        "gemini": "gemini",
    }
)
#: Default cooldown when a provider hits a limit and names no reset time.
DEFAULT_COOLDOWN_SECONDS: Final = 3600.0
BACKEND_SECTIONS: Final = ("message_backend", "backend")

_EMPTY: Final[Mapping[str, Any]] = MappingProxyType({})
_BARE_KEY: Final = re.compile(r"^[A-Za-z0-9_-]+$")


def _empty() -> Mapping[str, Any]:
    return _EMPTY


@dataclass(frozen=True)
class Problem:
    """One validation finding, with where it is."""

    message: str
    path: Path
    key_path: str
    line: int | None = None

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else str(self.path)
        return (
            f"{where}: {self.key_path}: {self.message}"
            if self.key_path
            else f"{where}: {self.message}"
        )


@dataclass(frozen=True)
class ProviderConfig:
    """A provider as written in provider_metadata.toml (values not yet expanded)."""

    backend: str
    name: str
    type: str = "openai"
    enabled: bool = True
    description: str = ""
    command: str | None = None
    args: tuple[str, ...] = ()
    base_url: str | None = None
    api_key: str | None = field(default=None, repr=False)
    model: str | None = None
    headers: Mapping[str, str] = field(default_factory=_empty, repr=False)
    timeout: float | None = None
    cooldown: float | None = None
    api_version: str | None = None
    deployment: str | None = None
    #: Client model name (exact, or a glob like ``claude-*haiku*``) -> the model sent upstream.
    model_map: Mapping[str, str] = field(default_factory=_empty)
    #: An OpenAI-type provider that serves the Responses API itself (else: via Chat).
    responses: bool = False
    #: Reach this provider through protocol translation; ``None``: as its backend says.
    translate: bool | None = None
    env: Mapping[str, str] = field(default_factory=_empty, repr=False)
    extra: Mapping[str, Any] = field(default_factory=_empty, repr=False)
    source: Path | None = None
    line: int | None = None

    @property
    def key(self) -> str:
        return f"{self.backend}/{self.name}"

    @property
    def protocol(self) -> str:
        return PROTOCOL_OF_TYPE.get(self.type, "openai")

    def resolve(self, environ: Mapping[str, str] | None = None) -> ResolvedProvider:
        """Expand every ``${VAR}``; a missing variable names the file, provider and key."""
        env = os.environ if environ is None else environ

        def value(key: str, raw: str) -> str:
            try:
                return expand(raw, env)
            except ExpansionError as exc:
                raise MissingVariableError(
                    str(exc),
                    path=self.source,
                    line=self.line,
                    key_path=f"[{self.backend}.{self.name}].{key}",
                    hint=f"export {exc.variable} or write ${{{exc.variable}:-default}}"
                    if exc.variable
                    else None,
                ) from exc

        def optional(key: str, raw: str | None) -> str | None:
            return None if raw is None else value(key, raw)

        api_key = optional("api_key", self.api_key)
        return ResolvedProvider(
            config=self,
            base_url=optional("base_url", self.base_url),
            api_key=Secret(api_key) if api_key else None,
            model=optional("model", self.model),
            command=optional("command", self.command),
            args=tuple(value("args", a) for a in self.args),
            headers=MappingProxyType(
                {k: Secret(value(f"headers.{k}", v)) for k, v in self.headers.items()}
            ),
            env=MappingProxyType({k: Secret(value(k, v)) for k, v in self.env.items()}),
            api_version=optional("api_version", self.api_version),
            deployment=optional("deployment", self.deployment),
        )


@dataclass(frozen=True)
class ResolvedProvider:
    """A provider with every value expanded, ready to use. Credentials stay ``Secret``."""

    config: ProviderConfig
    base_url: str | None
    api_key: Secret | None
    model: str | None
    command: str | None
    args: tuple[str, ...]
    headers: Mapping[str, Secret]
    env: Mapping[str, Secret]
    api_version: str | None = None
    deployment: str | None = None

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def backend(self) -> str:
        return self.config.backend

    def exported_env(self) -> dict[str, str]:
        """The UPPERCASE variables with their real values, for a child process only."""
        return {k: v.reveal() for k, v in self.env.items()}


@dataclass(frozen=True)
class BackendConfig:
    """A backend as written in ``[backends.<name>]`` (or implied by provider tables)."""

    name: str
    enabled: bool = True
    model: str | None = None
    #: Rotation order; ``None`` when the key was absent (table order of provider_metadata).
    provider_names: tuple[str, ...] = ()
    description: str = ""
    command: str | None = None
    args: tuple[str, ...] = ()
    agent: str | None = None
    usage_markers: tuple[str, ...] = ()
    usage_markers_replace: bool = False
    cooldown: float = DEFAULT_COOLDOWN_SECONDS
    fail_fast: bool = True
    #: ``auto-router run --timeout``: treat a timed-out child like a usage limit and rotate.
    rotate_on_timeout: bool = False
    #: The proxy may reach this backend's providers of another protocol by translating.
    translate: bool = True
    extra: Mapping[str, Any] = field(default_factory=_empty, repr=False)
    declared: bool = True
    line: int | None = None


@dataclass(frozen=True)
class Config:
    """Both files, validated. The single source every part of auto-router reads."""

    paths: Paths
    backends: Mapping[str, BackendConfig]
    providers: Mapping[str, Mapping[str, ProviderConfig]]
    default_backend: str | None
    order: tuple[str, ...]
    proxy: Mapping[str, Any] = field(default_factory=_empty)
    warnings: tuple[Problem, ...] = ()
    files_found: tuple[Path, ...] = ()

    def backend(self, name: str) -> BackendConfig:
        try:
            return self.backends[name]
        except KeyError:
            known = ", ".join(self.backends) or "none"
            raise BackendNotFoundError(
                f"no backend named {name!r} (known: {known})",
                hint="list them with `auto-router status`",
            ) from None

    def providers_of(self, backend: str) -> tuple[ProviderConfig, ...]:
        """The backend's providers in rotation order, disabled ones included."""
        b = self.backend(backend)
        table = self.providers.get(backend, _EMPTY)
        return tuple(table[name] for name in b.provider_names)

    def enabled_providers_of(self, backend: str) -> tuple[ProviderConfig, ...]:
        return tuple(p for p in self.providers_of(backend) if p.enabled)

    def provider(self, backend: str, name: str) -> ProviderConfig:
        self.backend(backend)
        found: ProviderConfig | None = self.providers.get(backend, _EMPTY).get(name)
        if found is None:
            known = ", ".join(self.providers.get(backend, _EMPTY)) or "none"
            raise ProviderNotFoundError(
                f"backend {backend!r} has no provider {name!r} (known: {known})"
            )
        return found

    def backend_order(self, start: str | None = None) -> tuple[str, ...]:
        """Backends to try, starting with ``start``, then the rest of ``order`` after it."""
        order = [b for b in self.order if b in self.backends]
        first = start or self.default_backend
        if first is None:
            return tuple(order)
        if first not in order:
            return (first, *order)
        i = order.index(first)
        return tuple(order[i:] + order[:i])


# --------------------------------------------------------------------------- loading


def load_config(paths: Paths) -> Config:
    """Read both files from ``paths``. Missing files mean an empty configuration."""
    llm = read_toml(paths.llm_config)
    meta = read_toml(paths.provider_metadata)
    return build_config(paths, llm, meta)


def parse_config(paths: Paths, llm_text: str | None, metadata_text: str | None) -> Config:
    """Validate texts as if they were the files at ``paths`` (used before every edit)."""
    llm = None if llm_text is None else parse_toml(llm_text, paths.llm_config)
    meta = None if metadata_text is None else parse_toml(metadata_text, paths.provider_metadata)
    return build_config(paths, llm, meta)


def build_config(paths: Paths, llm: TomlSource | None, meta: TomlSource | None) -> Config:
    checker = _Checker()
    llm_data = llm.data if llm else {}
    meta_data = meta.data if meta else {}
    llm_path = paths.llm_config
    meta_path = paths.provider_metadata

    providers = _parse_providers(meta, meta_data, meta_path, checker)
    backends = _parse_backends(llm, llm_data, llm_path, providers, checker)
    default, order = _parse_backend_section(llm, llm_data, llm_path, backends, checker)
    proxy = llm_data.get("proxy", {})
    if not isinstance(proxy, dict):
        checker.error(llm, llm_path, ("proxy",), None, "expected a table [proxy]")
        proxy = {}
    for key in llm_data:
        if key not in ("backends", "proxy", *BACKEND_SECTIONS):
            hint = (
                " (auto-coder layout? `auto-router migrate` converts it)"
                if isinstance(llm_data[key], dict)
                else ""
            )
            checker.warn(llm, llm_path, (key,), None, f"unknown key, ignored{hint}")
    checker.raise_if_errors()
    found = tuple(s.path for s in (llm, meta) if s is not None)
    return Config(
        paths=paths,
        backends=MappingProxyType(backends),
        providers=MappingProxyType({b: MappingProxyType(p) for b, p in providers.items()}),
        default_backend=default,
        order=order,
        proxy=MappingProxyType(proxy),
        warnings=tuple(checker.warnings),
        files_found=found,
    )


class _Checker:
    """Collects problems so one run of `config validate` can report all of them."""

    def __init__(self) -> None:
        self.errors: list[Problem] = []
        self.warnings: list[Problem] = []

    def _problem(
        self,
        source: TomlSource | None,
        path: Path,
        table: tuple[str, ...],
        key: str | None,
        message: str,
    ) -> Problem:
        line = source.line_of(table, key) if source else None
        dotted = ".".join(_quote(p) for p in table)
        key_path = f"[{dotted}]" + (f".{_quote(key)}" if key else "") if table else (key or "")
        return Problem(message=message, path=path, key_path=key_path, line=line)

    def error(
        self,
        source: TomlSource | None,
        path: Path,
        table: tuple[str, ...],
        key: str | None,
        message: str,
    ) -> None:
        self.errors.append(self._problem(source, path, table, key, message))

    def warn(
        self,
        source: TomlSource | None,
        path: Path,
        table: tuple[str, ...],
        key: str | None,
        message: str,
    ) -> None:
        self.warnings.append(self._problem(source, path, table, key, message))

    def raise_if_errors(self) -> None:
        if not self.errors:
            return
        first = self.errors[0]
        more = len(self.errors) - 1
        error = ConfigValidationError(
            first.message + (f" (and {more} more problem{'s' * (more > 1)})" if more else ""),
            path=first.path,
            line=first.line,
            key_path=first.key_path,
            hint="run `auto-router config validate` to list every problem",
        )
        error.problems = list(self.errors)
        raise error


def _quote(part: str) -> str:
    return part if _BARE_KEY.match(part) else f'"{part}"'


# A value checker returns the converted value or raises ValueError with what was expected.
_Convert = Callable[[Any], Any]


def _provider_type(value: Any) -> str:
    text = as_str(value)
    if text not in PROVIDER_TYPES:
        raise ValueError(f"expected one of {', '.join(PROVIDER_TYPES)}, got {text!r}")
    return text


_PROVIDER_KEYS: Final[Mapping[str, _Convert]] = {
    "type": _provider_type,
    "enabled": as_bool,
    "description": as_str,
    "command": as_str,
    "args": str_list,
    "base_url": as_str,
    "api_key": as_str,
    "model": as_str,
    "headers": str_table,
    "timeout": positive_seconds,
    "cooldown": positive_seconds,
    "api_version": as_str,
    "deployment": as_str,
    "model_map": str_table,
    "responses": as_bool,
    "translate": as_bool,
}
#: The lowercase settings a provider table may hold.
PROVIDER_SETTING_KEYS: Final = frozenset(_PROVIDER_KEYS)
#: Provider settings whose strings may hold ${VAR} references.
_EXPANDED_PROVIDER_KEYS: Final = (
    "command",
    "args",
    "base_url",
    "api_key",
    "model",
    "headers",
    "api_version",
    "deployment",
)

_BACKEND_KEYS: Final[Mapping[str, _Convert]] = {
    "enabled": as_bool,
    "model": as_str,
    "providers": str_list,
    "description": as_str,
    "command": as_str,
    "args": str_list,
    "agent": as_str,
    "usage_markers": str_list,
    "usage_markers_replace": as_bool,
    "cooldown": positive_seconds,
    "fail_fast": as_bool,
    "rotate_on_timeout": as_bool,
    "translate": as_bool,
}
_BACKEND_FIELD: Final = {"providers": "provider_names"}


def _convert_table(
    raw: Mapping[str, Any],
    known: Mapping[str, _Convert],
    source: TomlSource | None,
    path: Path,
    table: tuple[str, ...],
    checker: _Checker,
    *,
    uppercase_is_env: bool = False,
) -> tuple[dict[str, Any], dict[str, str], dict[str, Any]]:
    """Split a table into (known settings, exported variables, unknown keys)."""
    settings: dict[str, Any] = {}
    env: dict[str, str] = {}
    extra: dict[str, Any] = {}
    for key, value in raw.items():
        if uppercase_is_env and key.isupper():
            if isinstance(value, bool) or not isinstance(value, (str, int, float)):
                checker.error(
                    source,
                    path,
                    table,
                    key,
                    f"exported variables must be strings or numbers, got {describe(value)}",
                )
                continue
            env[key] = value if isinstance(value, str) else str(value)
            continue
        convert = known.get(key)
        if convert is None:
            checker.warn(source, path, table, key, "unknown key, ignored")
            extra[key] = value
            continue
        try:
            settings[key] = convert(value)
        except ValueError as exc:
            checker.error(source, path, table, key, str(exc))
    return settings, env, extra


def _check_references(
    values: Iterable[tuple[str, str]],
    source: TomlSource | None,
    path: Path,
    table: tuple[str, ...],
    checker: _Checker,
) -> None:
    for key, value in values:
        try:
            references(value)
        except ExpansionError as exc:
            checker.error(source, path, table, key, str(exc))


def _parse_providers(
    source: TomlSource | None,
    data: Mapping[str, Any],
    path: Path,
    checker: _Checker,
) -> dict[str, dict[str, ProviderConfig]]:
    result: dict[str, dict[str, ProviderConfig]] = {}
    for backend, table in data.items():
        if not isinstance(table, dict):
            checker.error(
                source,
                path,
                (),
                backend,
                "expected a table of providers like [" + backend + ".<provider>]",
            )
            continue
        if not is_identifier(backend):
            checker.error(
                source, path, (backend,), None, f"invalid backend name: {IDENTIFIER_RULE}"
            )
            continue
        providers: dict[str, ProviderConfig] = {}
        for name, raw in table.items():
            where = (backend, name)
            if not isinstance(raw, dict):
                checker.warn(
                    source,
                    path,
                    (backend,),
                    name,
                    f"not a provider table (expected [{backend}.{name}]), ignored",
                )
                continue
            if not is_identifier(name):
                checker.error(
                    source, path, where, None, f"invalid provider name: {IDENTIFIER_RULE}"
                )
                continue
            settings, env, extra = _convert_table(
                raw, _PROVIDER_KEYS, source, path, where, checker, uppercase_is_env=True
            )
            expandable = [(k, v) for k, v in env.items()]
            for key in _EXPANDED_PROVIDER_KEYS:
                value = settings.get(key)
                if isinstance(value, str):
                    expandable.append((key, value))
                elif isinstance(value, tuple):
                    expandable.extend((key, v) for v in value)
                elif isinstance(value, Mapping):
                    expandable.extend((f"headers.{k}", v) for k, v in value.items())
            _check_references(expandable, source, path, where, checker)
            providers[name] = ProviderConfig(
                backend=backend,
                name=name,
                env=MappingProxyType(env),
                extra=MappingProxyType(extra),
                source=path,
                line=source.line_of(where) if source else None,
                **settings,
            )
        result[backend] = providers
    return result


def _parse_backends(
    source: TomlSource | None,
    data: Mapping[str, Any],
    path: Path,
    providers: Mapping[str, Mapping[str, ProviderConfig]],
    checker: _Checker,
) -> dict[str, BackendConfig]:
    raw_backends = data.get("backends", {})
    if not isinstance(raw_backends, dict):
        checker.error(source, path, (), "backends", "expected tables like [backends.<name>]")
        raw_backends = {}
    result: dict[str, BackendConfig] = {}
    for name, raw in raw_backends.items():
        where = ("backends", name)
        if not isinstance(raw, dict):
            checker.error(source, path, ("backends",), name, f"expected a table [backends.{name}]")
            continue
        if not is_identifier(name):
            checker.error(source, path, where, None, f"invalid backend name: {IDENTIFIER_RULE}")
            continue
        settings, _, extra = _convert_table(raw, _BACKEND_KEYS, source, path, where, checker)
        defined = providers.get(name, {})
        names = settings.pop("providers", None)
        if names is None:
            names = tuple(defined)
        else:
            seen: set[str] = set()
            for provider in names:
                if provider not in defined:
                    checker.error(
                        source,
                        path,
                        where,
                        "providers",
                        f"provider {provider!r} has no table [{name}.{provider}] in "
                        f"{PROVIDER_METADATA_FILE_HINT}",
                    )
                if provider in seen:
                    checker.error(source, path, where, "providers", f"{provider!r} is listed twice")
                seen.add(provider)
        result[name] = BackendConfig(
            name=name,
            provider_names=tuple(names),
            extra=MappingProxyType(extra),
            line=source.line_of(where) if source else None,
            **{_BACKEND_FIELD.get(k, k): v for k, v in settings.items()},
        )
    # A backend with provider tables but no [backends.X] table still exists (table order).
    for name, defined in providers.items():
        if name not in result:
            result[name] = BackendConfig(name=name, provider_names=tuple(defined), declared=False)
    return result


PROVIDER_METADATA_FILE_HINT: Final = "provider_metadata.toml"


def _parse_backend_section(
    source: TomlSource | None,
    data: Mapping[str, Any],
    path: Path,
    backends: Mapping[str, BackendConfig],
    checker: _Checker,
) -> tuple[str | None, tuple[str, ...]]:
    present = [s for s in BACKEND_SECTIONS if s in data]
    if len(present) > 1:
        checker.warn(
            source,
            path,
            ("backend",),
            None,
            "both [message_backend] and [backend]; [message_backend] wins",
        )
    section_name = present[0] if present else "message_backend"
    section = data.get(section_name, {})
    if not isinstance(section, dict):
        checker.error(source, path, (), section_name, f"expected a table [{section_name}]")
        section = {}
    settings, _, _ = _convert_table(
        section, {"default": as_str, "order": str_list}, source, path, (section_name,), checker
    )
    default: str | None = settings.get("default")
    order: tuple[str, ...] | None = settings.get("order")
    if default is not None and default not in backends:
        checker.error(
            source,
            path,
            (section_name,),
            "default",
            f"backend {default!r} is not defined "
            f"(expected one of: {', '.join(backends) or 'none'})",
        )
    if order is None:
        order = tuple(backends)
    for name in order:
        if name not in backends:
            checker.warn(
                source,
                path,
                (section_name,),
                "order",
                f"backend {name!r} is not defined; skipped",
            )
    if default is None:
        enabled = [b for b in order if b in backends and backends[b].enabled]
        default = enabled[0] if enabled else next(iter(backends), None)
    return default, tuple(order)
