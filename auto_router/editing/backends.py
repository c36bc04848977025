"""Backend edits: add, edit, remove, enable/disable, order, default."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from tomlkit.items import Array

from ..config.identifiers import check_identifier
from ..errors import BackendExistsError, ConfigValidationError, NotFoundError
from ..paths import Paths
from .checks import Settings, check_backend_keys, check_unique
from .tomlhelpers import child_table, is_table, remove_all, replace_array, set_key
from .transaction import Documents, EditResult, edit_config


def add_backend(
    paths: Paths,
    backend: str,
    settings: Settings | None = None,
    *,
    providers: Sequence[str] | None = None,
    make_default: bool = False,
    add_to_order: bool = True,
) -> EditResult:
    """Create ``[backends.<backend>]``; add it to ``order`` (when written) and maybe default."""
    check_identifier(backend, "backend name")
    values = dict(settings or {})
    if providers is not None:
        values["providers"] = list(providers)
    check_backend_keys(values)

    def change(docs: Documents) -> None:
        if docs.backend_exists(backend):
            raise BackendExistsError(
                f"backend {backend!r} already exists",
                hint=f"change it with `auto-router backend edit {backend}`",
            )
        table = docs.ensure_declared_backend(backend)
        for key, value in values.items():
            set_key(table, key, value)
        section = child_table(docs.llm, docs.backend_section_name())
        order = None if section is None else section.get("order")
        if add_to_order and isinstance(order, Array):
            order.append(backend)
        if make_default:
            set_key(docs.backend_section(), "default", backend)

    return edit_config(paths, change)


def edit_backend(
    paths: Paths,
    backend: str,
    *,
    set: Settings | None = None,
    unset: Iterable[str] = (),
) -> EditResult:
    values = dict(set or {})
    check_backend_keys(values)
    unset_keys = list(unset)

    def change(docs: Documents) -> None:
        docs.require_backend(backend)
        table = docs.ensure_declared_backend(backend)
        for key in unset_keys:
            if key not in table:
                raise NotFoundError(f"backend {backend!r} has no key {key!r}")
            del table[key]
        for key, value in values.items():
            set_key(table, key, value)

    return edit_config(paths, change)


def remove_backend(paths: Paths, backend: str, *, remove_providers: bool = False) -> EditResult:
    """Delete ``[backends.<backend>]`` and its place in ``order``; its provider tables too
    when ``remove_providers`` (refused otherwise, since they would keep the backend alive)."""

    def change(docs: Documents) -> None:
        docs.require_backend(backend)
        section = child_table(docs.llm, docs.backend_section_name())
        if section is not None and section.get("default") == backend:
            raise ConfigValidationError(
                f"backend {backend!r} is the default backend",
                hint="choose another first with `auto-router backend default NAME`",
            )
        proxy = child_table(docs.llm, "proxy")
        routed = docs.models_routed_to(backend)
        if routed or (proxy is not None and proxy.get("default_backend") == backend):
            what = "[proxy.models] " + ", ".join(map(repr, routed)) if routed else "[proxy]"
            raise ConfigValidationError(
                f"backend {backend!r} is used by {what}",
                hint="change those settings first (`auto-router config edit`)",
            )
        group = docs.provider_group(backend)
        if group is not None and any(is_table(v) for v in group.values()) and not remove_providers:
            raise ConfigValidationError(
                f"backend {backend!r} still has providers in provider_metadata.toml",
                hint="add --with-providers to remove them too",
            )
        if group is not None:
            del docs.metadata[backend]
        backends = child_table(docs.llm, "backends")
        if backends is not None and docs.declared_backend(backend) is not None:
            del backends[backend]
        order = None if section is None else section.get("order")
        if isinstance(order, Array):
            remove_all(order, backend)

    return edit_config(paths, change)


def set_backend_enabled(paths: Paths, backend: str, enabled: bool) -> EditResult:
    def change(docs: Documents) -> None:
        docs.require_backend(backend)
        declared = docs.declared_backend(backend)
        if enabled and (declared is None or "enabled" not in declared):
            return
        set_key(docs.ensure_declared_backend(backend), "enabled", enabled)

    return edit_config(paths, change)


def set_backend_order(paths: Paths, backends: Sequence[str]) -> EditResult:
    """Rewrite ``[message_backend].order`` (or the legacy ``[backend].order``)."""
    names = list(backends)
    check_unique(names, "backend")

    def change(docs: Documents) -> None:
        for name in names:
            docs.require_backend(name)
        replace_array(docs.backend_section(), "order", names)

    return edit_config(paths, change)


def set_default_backend(paths: Paths, backend: str) -> EditResult:
    def change(docs: Documents) -> None:
        docs.require_backend(backend)
        set_key(docs.backend_section(), "default", backend)

    return edit_config(paths, change)
