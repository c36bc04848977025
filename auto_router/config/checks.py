"""Checking the two parsed files into a ``Config``: every problem with file, line and key path.

Everything is checked, ``[proxy]`` included (``proxy.check_proxy``), and problems are
collected so that one ``config validate`` lists all of them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from functools import partial
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

from ..errors import ConfigValidationError
from ..paths import Paths
from . import values
from .expand import ExpansionError, references
from .identifiers import IDENTIFIER_RULE, is_identifier
from .kinds import with_agent_endpoint
from .model import (
    BACKEND_SECTIONS,
    STRATEGIES,
    BackendConfig,
    Config,
    LauncherConfig,
    Problem,
    ProviderConfig,
    auth_conflicts,
    provider_type,
)
from .notify import parse_notify
from .pools import POOL_KEYS, check_disabled
from .proxy import check_proxy, token_lines
from .shared import TABLES, parse_shared
from .source import TomlSource
from .values import (
    as_bool,
    as_str,
    describe,
    one_of,
    positive_seconds,
    str_list,
    str_table,
    true_false_or_auto,
    whole_number,
)

_BARE_KEY: Final = re.compile(r"^[A-Za-z0-9_-]+$")
#: What an UPPERCASE key must look like to be exported as an environment variable.
ENV_NAME: Final = re.compile(r"[A-Z_][A-Z0-9_]*")


def build_config(paths: Paths, llm: TomlSource | None, meta: TomlSource | None) -> Config:
    """Check everything, ``[proxy]`` included; ``ConfigValidationError`` lists every problem."""
    checker = _Checker()
    llm_data = llm.data if llm else {}
    llm_path = paths.llm_config
    providers = _parse_providers(meta, paths.provider_metadata, checker)
    check_disabled(providers, paths, partial(checker.error, meta, paths.provider_metadata))
    backends = _parse_backends(llm, llm_data, llm_path, providers, checker)
    default, order = _parse_backend_section(llm, llm_data, llm_path, backends, checker)
    proxy = llm_data.get("proxy", {})
    if not isinstance(proxy, dict):
        checker.error(llm, llm_path, (), "proxy", "expected a table [proxy]")
        proxy = {}

    def report(problems: list[Problem]) -> Callable[[tuple[str, ...], str], None]:
        def add(key: tuple[str, ...], message: str) -> None:
            where = ("proxy", *key[:-1])
            problems.append(checker.problem(llm, llm_path, where, key[-1], message))

        return add

    proxy_settings = check_proxy(
        proxy, providers, backends, report(checker.errors), report(checker.warnings)
    )
    launcher = _parse_launcher(llm, llm_data, llm_path, checker)
    notify = parse_notify(
        llm_data.get("notify"),
        lambda key, text: checker.error(llm, llm_path, ("notify",), key, text),
        lambda key, text: checker.warn(llm, llm_path, ("notify",), key, text),
    )
    shared = parse_shared(
        llm_data,
        lambda table, key, text: checker.error(llm, llm_path, (table,), key, text),
        lambda table, key, text: checker.warn(llm, llm_path, (table,), key, text),
    )
    for key in llm_data:
        if key not in ("backends", "proxy", "launcher", "notify", *TABLES, *BACKEND_SECTIONS):
            hint = (
                " (auto-coder layout? `auto-router migrate` converts it)"
                if isinstance(llm_data[key], dict)
                else ""
            )
            checker.warn(llm, llm_path, (key,), None, f"unknown key, ignored{hint}")
    checker.raise_if_errors()
    return Config(
        paths=paths,
        backends=MappingProxyType(backends),
        providers=MappingProxyType({b: MappingProxyType(p) for b, p in providers.items()}),
        default_backend=default,
        order=order,
        proxy=MappingProxyType(proxy),
        launcher=launcher,
        notify=notify,
        warnings=tuple(checker.warnings),
        files_found=tuple(s.path for s in (llm, meta) if s is not None),
        proxy_settings=proxy_settings,
        proxy_lines=MappingProxyType(token_lines(llm, proxy)),
        shared=shared,
    )


class _Checker:
    """Collects problems so one run of `config validate` can report all of them."""

    def __init__(self) -> None:
        self.errors: list[Problem] = []
        self.warnings: list[Problem] = []

    def problem(
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
        self.errors.append(self.problem(source, path, table, key, message))

    def warn(
        self,
        source: TomlSource | None,
        path: Path,
        table: tuple[str, ...],
        key: str | None,
        message: str,
    ) -> None:
        self.warnings.append(self.problem(source, path, table, key, message))

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


PROVIDER_KEYS: Final[Mapping[str, _Convert]] = {
    "type": provider_type,
    "enabled": as_bool,
    "description": as_str,
    "command": as_str,
    "args": str_list,
    "base_url": values.http_url,
    "api_key": as_str,
    **POOL_KEYS,
    "model": as_str,
    "headers": str_table,
    "timeout": positive_seconds,
    "cooldown": positive_seconds,
    "first_token_timeout": positive_seconds,
    "context_window": whole_number,
    "prefill": as_bool,
    "model_map": str_table,
    "responses": as_bool,
    "translate": as_bool,
    "api_version": as_str,
    "deployment": as_str,
    **values.PRICE_KEYS,
    **values.ROTATE_BELOW_KEYS,
    "auth": values.auth_mode,
}
#: The lowercase settings a provider table may hold.
PROVIDER_SETTING_KEYS: Final = frozenset(PROVIDER_KEYS)
#: Provider settings whose strings may hold ${VAR} references.
_EXPANDED_PROVIDER_KEYS: Final = (
    *("command", "args", "base_url", "api_key", "api_keys", "model", "headers"),
    *("api_version", "deployment"),
)


BACKEND_KEYS: Final[Mapping[str, _Convert]] = {
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
    "via_proxy": true_false_or_auto,
    "translate": as_bool,
    "strategy": one_of(STRATEGIES),
    **values.ROTATE_BELOW_KEYS,
}
_BACKEND_FIELD: Final = {"providers": "provider_names"}
_LAUNCHER_KEYS: Final[Mapping[str, _Convert]] = {
    "via_proxy": true_false_or_auto,
    "proxy_url": as_str,
    "proxy_token": as_str,
}


def _parse_launcher(
    source: TomlSource | None, data: Mapping[str, Any], path: Path, checker: _Checker
) -> LauncherConfig:
    raw = data.get("launcher", {})
    if not isinstance(raw, dict):
        checker.error(source, path, (), "launcher", "expected a table [launcher]")
        return LauncherConfig()
    settings, _, _ = _convert_table(raw, _LAUNCHER_KEYS, source, path, ("launcher",), checker)
    url = settings.get("proxy_url")
    if url is not None and not url.startswith(("http://", "https://")):
        checker.error(source, path, ("launcher",), "proxy_url", "expected an http(s):// URL")
        settings.pop("proxy_url")
    return LauncherConfig(**settings)


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
            # security: the name is printed by `auto-router env` for `eval`; only a plain
            # variable name may get there ("A=x;rm -rf ~;B" is upper case too).
            if not ENV_NAME.fullmatch(key):
                checker.error(
                    source,
                    path,
                    table,
                    key,
                    "not a valid environment variable name (use A-Z, 0-9 and _, "
                    "not starting with a digit)",
                )
                continue
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
        if "$" not in value:  # the common case, and the check is per value of every provider
            continue
        try:
            references(value)
        except ExpansionError as exc:
            checker.error(source, path, table, key, str(exc))


def _parse_providers(
    source: TomlSource | None, path: Path, checker: _Checker
) -> dict[str, dict[str, ProviderConfig]]:
    result: dict[str, dict[str, ProviderConfig]] = {}
    for backend, table in (source.data if source else {}).items():
        if not isinstance(table, dict):
            message = "expected a table of providers like [" + backend + ".<provider>]"
            checker.error(source, path, (), backend, message)
            continue
        if not is_identifier(backend):
            message = f"invalid backend name: {IDENTIFIER_RULE}"
            checker.error(source, path, (backend,), None, message)
            continue
        providers: dict[str, ProviderConfig] = {}
        for name, raw in table.items():
            provider = _parse_provider(source, path, backend, name, raw, checker)
            if provider is not None:
                providers[name] = provider
        result[backend] = providers
    return result


def _parse_provider(
    source: TomlSource | None,
    path: Path,
    backend: str,
    name: str,
    raw: Any,
    checker: _Checker,
) -> ProviderConfig | None:
    where = (backend, name)
    if not isinstance(raw, dict):
        message = f"not a provider table (expected [{backend}.{name}]), ignored"
        checker.warn(source, path, (backend,), name, message)
        return None
    if not is_identifier(name):
        checker.error(source, path, where, None, f"invalid provider name: {IDENTIFIER_RULE}")
        return None
    settings, env, extra = _convert_table(
        raw, PROVIDER_KEYS, source, path, where, checker, uppercase_is_env=True
    )
    _check_references(_expandable(settings, env), source, path, where, checker)
    if "api_key" in settings and settings.pop("api_keys", None) is not None:
        checker.error(source, path, where, "api_keys", "write api_key or api_keys, not both")
    fields = with_agent_endpoint(settings, env)
    for key, message in auth_conflicts(fields):
        checker.error(source, path, (*where, *key[:-1]), key[-1], message)
    return ProviderConfig(
        backend=backend,
        name=name,
        env=MappingProxyType(env),
        extra=MappingProxyType(extra),
        source=path,
        line=source.line_of(where) if source else None,
        **fields,
    )


def _expandable(settings: Mapping[str, Any], env: Mapping[str, str]) -> list[tuple[str, str]]:
    """(key, text) of every value of a provider that may hold ``${VAR}`` references."""
    found = list(env.items())
    for key in _EXPANDED_PROVIDER_KEYS:
        value = settings.get(key)
        if isinstance(value, str):
            found.append((key, value))
        elif isinstance(value, tuple):
            found.extend((key, v) for v in value)
        elif isinstance(value, Mapping):
            found.extend((f"headers.{k}", v) for k, v in value.items())
    return found


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
        settings, _, extra = _convert_table(raw, BACKEND_KEYS, source, path, where, checker)
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
