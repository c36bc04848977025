"""Provider edits: add, edit, remove, enable/disable, rename, order, replace."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from types import MappingProxyType
from typing import Any

import tomlkit
from tomlkit.items import Array

from ..config.identifiers import check_identifier
from ..config.pools import slot_name, split_slot
from ..errors import (
    BackendNotFoundError,
    ConfigValidationError,
    EditConflictError,
    NotFoundError,
    ProviderExistsError,
)
from ..paths import Paths
from ..providers.templates import get_template
from ..rotation.policy import BackendState
from ..rotation.state import StateStore
from ..secrets import looks_secret, masked_value
from .checks import (
    Settings,
    check_env,
    check_position,
    check_provider_keys,
    check_unique,
    split_settings,
)
from .tomlhelpers import (
    add_table,
    child_table,
    insert_item,
    is_table,
    new_provider_table,
    parse_document,
    plain,
    remove_all,
    rename_headers,
    replace_array,
    set_key,
    toml_value,
)
from .transaction import Documents, EditResult, edit_config, read_texts


def add_provider(
    paths: Paths,
    backend: str,
    provider: str,
    settings: Settings | None = None,
    env: Mapping[str, str] | None = None,
    *,
    description: str | None = None,
    position: int | None = None,
    create_backend: bool = False,
    template: str | None = None,
) -> EditResult:
    """Create ``[<backend>.<provider>]`` and put it in the backend's rotation order.

    ``settings`` are lowercase keys (UPPERCASE ones are taken as ``env``); ``template`` fills
    ``type``, ``base_url`` and ``api_key = "${KEY_VAR}"`` first. ``position`` (1-based) inserts
    the provider at that place in the order (default: last). ``create_backend`` creates a
    missing backend (and adds it to ``[message_backend].order`` when that list is written);
    so does ``template``.
    """
    check_identifier(backend, "backend name")
    check_identifier(provider, "provider name")
    values, variables = _new_provider_values(settings or {}, env or {}, description, template)
    check_position(position)

    def change(docs: Documents) -> None:
        if not docs.backend_exists(backend):
            # A template names a whole API provider: its backend is made for it (issue 17).
            if not create_backend and template is None:
                _missing_backend(docs, backend, provider)
            _create_backend(docs, backend)
        if docs.provider_table(backend, provider) is not None:
            raise ProviderExistsError(
                f"backend {backend!r} already has a provider {provider!r}",
                hint=f"change it with `auto-router provider edit {backend}/{provider}`",
            )
        order = docs.provider_names(backend)
        group = docs.provider_group(backend)
        if group is None:
            add_table(docs.metadata, backend, tomlkit.table(is_super_table=True))
            group = docs.metadata[backend]
        add_table(group, provider, new_provider_table(values, variables))
        declared = docs.declared_backend(backend)
        listed = declared is not None and isinstance(declared.get("providers"), Array)
        if listed or (position is not None and position <= len(order)):
            _place_in_order(docs, backend, provider, position)

    return edit_config(paths, change)


def _missing_backend(docs: Documents, backend: str, provider: str) -> None:
    known = ", ".join(docs.backend_names()) or "none"
    raise BackendNotFoundError(
        f"no backend named {backend!r} (known: {known})",
        hint=f"create it with this provider: auto-router provider add {backend}/{provider} "
        "--create-backend ... (or start from a template: --template NAME)",
    )


def _new_provider_values(
    settings: Settings,
    env: Mapping[str, str],
    description: str | None,
    template: str | None,
) -> tuple[dict[str, Any], dict[str, str]]:
    """(settings, exported variables) of a new provider, checked."""
    values: dict[str, Any] = {}
    required: tuple[str, ...] = ()
    if template is not None:
        chosen = get_template(template)
        values.update(chosen.provider_settings())
        required = chosen.required
    lower, upper = split_settings(settings)
    values.update(lower)
    if description is not None:
        values["description"] = description
    variables = {**upper, **env}
    check_provider_keys(values)
    check_env(variables)
    missing = [k for k in required if not values.get(k)]
    if missing:
        raise ConfigValidationError(
            f"template {template!r} needs {', '.join(missing)}",
            hint="give " + " ".join(f"--set {k}=..." for k in missing),
        )
    return values, variables


def _create_backend(docs: Documents, backend: str) -> None:
    """``[backends.<backend>]`` with an empty ``providers`` list, added to ``order`` if written."""
    declared = docs.ensure_declared_backend(backend)
    set_key(declared, "providers", tomlkit.array())
    section = child_table(docs.llm, docs.backend_section_name())
    order = None if section is None else section.get("order")
    if isinstance(order, Array) and backend not in order:
        order.append(backend)


def _place_in_order(docs: Documents, backend: str, provider: str, position: int | None) -> None:
    array = docs.ensure_provider_list(backend)
    if provider in array:
        array.remove(provider)  # listed before its table existed (an invalid file)
    if position is None or position > len(array):
        array.append(provider)
    else:
        insert_item(array, position - 1, provider)


def edit_provider(
    paths: Paths,
    backend: str,
    provider: str,
    *,
    set: Settings | None = None,
    unset: Iterable[str] = (),
    env: Mapping[str, str] | None = None,
    unenv: Iterable[str] = (),
) -> EditResult:
    """Change settings (``set``/``unset``) and exported variables (``env``/``unenv``)."""
    lower, upper = split_settings(set or {})
    variables = {**upper, **(env or {})}
    check_provider_keys(lower)
    check_env(variables)
    unset_keys = list(unset)
    unenv_keys = list(unenv)

    def change(docs: Documents) -> None:
        table = docs.require_provider(backend, provider)
        for key in [*unset_keys, *unenv_keys]:
            if key not in table:
                raise NotFoundError(
                    f"provider {backend}/{provider} has no key {key!r}",
                    hint=f"see it with `auto-router provider show {backend}/{provider}`",
                )
            del table[key]
        for key, value in {**lower, **variables}.items():
            set_key(table, key, value)

    return edit_config(paths, change)


def remove_provider(paths: Paths, backend: str, provider: str) -> EditResult:
    """Delete the provider's table and its entry in the backend's ``providers`` list."""

    def change(docs: Documents) -> None:
        docs.require_provider(backend, provider)
        models = docs.models_routed_to(backend, provider)
        if models:
            raise ConfigValidationError(
                f"provider {backend}/{provider} is the target of [proxy.models] "
                + ", ".join(repr(m) for m in models),
                hint="change or remove those entries first (`auto-router config edit`)",
            )
        group = docs.provider_group(backend)
        assert group is not None
        del group[provider]
        if not any(is_table(v) for v in group.values()) and not group.value.body:
            del docs.metadata[backend]
        declared = docs.declared_backend(backend)
        if declared is not None and isinstance(declared.get("providers"), Array):
            remove_all(declared["providers"], provider)

    return edit_config(paths, change)


def set_provider_enabled(paths: Paths, backend: str, provider: str, enabled: bool) -> EditResult:
    """``enabled = false`` to disable; enabling sets ``true`` only where the key is written."""

    def change(docs: Documents) -> None:
        table = docs.require_provider(backend, provider)
        if enabled and "enabled" not in table:
            return
        set_key(table, "enabled", enabled)

    return edit_config(paths, change)


def rename_provider(
    paths: Paths,
    backend: str,
    old: str,
    new: str,
    *,
    store: StateStore | None = None,
) -> EditResult:
    """Rename the table header in place, the entry in ``providers``, the ``[proxy.models]``
    entries pinned to it and (given ``store``) the rotation state: current provider, last
    used, cooldown and counters follow the new name."""
    check_identifier(new, "provider name")

    def change(docs: Documents) -> None:
        docs.require_provider(backend, old)
        if docs.provider_table(backend, new) is not None:
            raise ProviderExistsError(f"backend {backend!r} already has a provider {new!r}")
        renamed = rename_headers(docs.metadata.as_string(), (backend, old), (backend, new))
        document = parse_document(renamed, paths.provider_metadata)
        candidate = Documents(paths, docs.llm, document)
        if candidate.provider_table(backend, new) is None or candidate.provider_table(backend, old):
            # Not written as a [backend.old] header (dotted keys, inline table): move it.
            group = docs.provider_group(backend)
            assert group is not None
            item = group[old]
            del group[old]
            add_table(group, new, item)
        else:
            docs.metadata = document
        declared = docs.declared_backend(backend)
        if declared is not None and isinstance(declared.get("providers"), Array):
            array = declared["providers"]
            for index, value in enumerate(list(array)):
                if value == old:
                    array[index] = new
        models = docs.proxy_models()
        for model in docs.models_routed_to(backend, old):
            set_key(models, model, f"{backend}/{new}")

    result = edit_config(paths, change)
    if store is not None:
        store.update(backend, lambda state: rename_in_state(state, old, new))
    return result


def rename_in_state(state: BackendState, old: str, new: str) -> BackendState:
    """The rotation state with provider ``old`` called ``new`` (pure), its pool keys' slots
    (``old#key-id``) too."""

    def renamed(name: str | None) -> str | None:
        if name is None:
            return None
        provider, key_id = split_slot(name)
        return slot_name(new, key_id) if provider == old else name

    providers = {renamed(n) or n: p for n, p in state.providers.items()}

    return replace(
        state,
        current=renamed(state.current),
        last_success=renamed(state.last_success),
        providers=MappingProxyType(providers),
    )


def set_provider_order(paths: Paths, backend: str, providers: Sequence[str]) -> EditResult:
    """Write the backend's ``providers`` list: every name must have a table, none twice."""
    names = list(providers)
    check_unique(names, "provider")

    def change(docs: Documents) -> None:
        docs.require_backend(backend)
        for name in names:
            docs.require_provider(backend, name)
        declared = docs.ensure_declared_backend(backend)
        replace_array(declared, "providers", names)

    return edit_config(paths, change)


def read_provider_table(paths: Paths, backend: str, provider: str) -> dict[str, Any]:
    """The provider's table exactly as written (``${VAR}`` unexpanded, secrets in clear)."""
    llm_text, meta_text = read_texts(paths)
    docs = Documents(
        paths,
        parse_document(llm_text or "", paths.llm_config),
        parse_document(meta_text or "", paths.provider_metadata),
    )
    return plain(docs.require_provider(backend, provider))


def table_digest(table: Mapping[str, Any]) -> str:
    """A short fingerprint of a table's values (an ETag for read-modify-write clients)."""
    text = json.dumps(table, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def replace_provider(
    paths: Paths,
    backend: str,
    provider: str,
    values: Settings,
    *,
    expected: str | None = None,
    keep_masked: bool = False,
) -> EditResult:
    """Make the provider's table hold exactly ``values``: keys not given are removed, changed
    ones rewritten in place, unchanged ones (and their comments) left alone.

    ``expected`` is the ``table_digest`` the caller started from: if the table changed
    meanwhile, ``EditConflictError``. With ``keep_masked``, a value equal to the masked form
    of the current one (``****abcd``, as shown by ``secrets.masked_value``) keeps the current
    value, so a table read with masked secrets can be written back.
    """
    lower, upper = split_settings(values)
    check_provider_keys(lower)
    check_env(upper)

    def change(docs: Documents) -> None:
        table = docs.require_provider(backend, provider)
        current = plain(table)
        if expected is not None and table_digest(current) != expected:
            raise EditConflictError(
                f"provider {backend}/{provider} changed since it was read",
                hint="read it again and re-apply the change",
            )
        wanted = dict(values)
        if keep_masked:
            wanted = {k: _restore_masked(k, v, current.get(k)) for k, v in wanted.items()}
        for key in [k for k in current if k not in wanted]:
            del table[key]
        for key, value in wanted.items():
            if key not in current or current[key] != value:
                set_key(table, key, toml_value(value))

    return edit_config(paths, change)


def _restore_masked(name: str, new: Any, old: Any) -> Any:

    if isinstance(new, str) and isinstance(old, str) and new != old:
        return old if new == masked_value(name, old) else new
    if isinstance(new, Mapping) and isinstance(old, Mapping):
        return {
            k: _restore_masked(k if looks_secret(k) else name, v, old.get(k))
            for k, v in new.items()
        }
    if isinstance(new, list) and isinstance(old, list):  # a key pool: each entry by its mask
        shown = {masked_value(name, o): o for o in old if isinstance(o, str)}
        return [v if v in old else shown.get(v, v) for v in new]
    return new
