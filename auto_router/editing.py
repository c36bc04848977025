"""Round-trip edits of the two configuration files, the way ``git config`` edits .gitconfig.

Every edit made through this module keeps what it does not touch byte-for-byte: comments,
blank lines, key order, quoting, inline tables and line endings (tomlkit round-trip). And every
write goes through one path, ``_transaction``:

1. lock ``llm_config.toml.lock`` then ``provider_metadata.toml.lock`` (``flock``; released if
   the process dies; always both and always in that order, so two edits never deadlock);
2. read both files *after* taking the locks, so concurrent edits compose instead of
   overwriting each other;
3. build the new texts and validate them together with ``config.parse_config``: an edit that
   would make the configuration invalid raises ``ConfigValidationError`` ("edit refused: ...")
   and no file is touched;
4. write each changed file to a temp file in the same directory, fsync it, ``rename`` it over
   the old one and fsync the directory. A crash at any point leaves the old or the new file,
   never a torn one. A file that holds a literal secret is written 0600 (an existing file keeps
   its mode, minus group/other bits when it now holds a secret).

Public API (all raise ``AutoRouterError`` subclasses; all return an ``EditResult``):

    add_provider(paths, backend, provider, settings=None, env=None, *, description=None,
                 position=None, create_backend=False, template=None)
    edit_provider(paths, backend, provider, *, set=None, unset=(), env=None, unenv=())
    remove_provider(paths, backend, provider)
    set_provider_enabled(paths, backend, provider, enabled)
    rename_provider(paths, backend, old, new, *, store=None)
    set_provider_order(paths, backend, providers)
    replace_provider(paths, backend, provider, values, *, expected=None, keep_masked=False)
    add_backend(paths, backend, settings=None, *, providers=None, make_default=False,
                add_to_order=True)
    edit_backend(paths, backend, *, set=None, unset=())
    remove_backend(paths, backend, *, remove_providers=False)
    set_backend_enabled(paths, backend, enabled)
    set_backend_order(paths, backends)
    set_default_backend(paths, backend)
    replace_texts(paths, llm_text, metadata_text, *, expected=None)   # whole-file writes
    edit_config(paths, change)                                        # any tomlkit change

Positions are 1-based (1 = first in the rotation order).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import stat
import tempfile
import time
import tomllib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

import tomlkit
from tomlkit.container import OutOfOrderTableProxy
from tomlkit.exceptions import TOMLKitError
from tomlkit.items import AoT, Array, InlineTable, Table
from tomlkit.toml_document import TOMLDocument

from .config import _BACKEND_KEYS, _PROVIDER_KEYS, BACKEND_SECTIONS, Config, parse_config
from .errors import (
    BackendExistsError,
    BackendNotFoundError,
    ConfigError,
    ConfigSyntaxError,
    ConfigValidationError,
    EditConflictError,
    NotFoundError,
    ProviderExistsError,
    ProviderNotFoundError,
)
from .identifiers import check_identifier
from .paths import Paths, ensure_private_dir
from .rotation import BackendState
from .secrets import looks_secret
from .state import StateStore
from .templates import get_template
from .tomlsource import parse_toml, split_dotted

#: How long to wait for another process's edit to finish before giving up.
LOCK_TIMEOUT: Final = 30.0
#: Keys a new provider table is written in, first to last; the rest follow in given order.
_PROVIDER_KEY_ORDER: Final = (
    "description",
    "type",
    "enabled",
    "base_url",
    "api_key",
    "model",
    "deployment",
    "api_version",
    "command",
    "args",
)
_ENV_NAME: Final = re.compile(r"^[A-Z_][A-Z0-9_]*$")
_HEADER_LINE: Final = re.compile(r"^(?P<indent>\s*)\[(?P<key>[^\[\]]+)\](?P<rest>\s*(#.*)?)$")

Settings = Mapping[str, Any]


@dataclass(frozen=True)
class EditResult:
    """What an edit did: the validated configuration after it, and the files it rewrote."""

    config: Config
    #: Files rewritten; empty when the edit changed nothing (the files were not touched).
    changed: tuple[Path, ...]

    @property
    def warnings(self) -> tuple[Any, ...]:
        return self.config.warnings


@dataclass
class Documents:
    """Both files as tomlkit documents during one locked edit. Mutate ``llm``/``metadata``
    (or assign new documents) inside ``edit_config``'s ``change`` callback."""

    paths: Paths
    llm: TOMLDocument
    metadata: TOMLDocument

    # ------------------------------------------------------------------ lookups

    def backend_section_name(self) -> str:
        """``message_backend``, or the legacy ``backend`` when only that one is present."""
        for name in BACKEND_SECTIONS:
            if name in self.llm:
                return name
        return BACKEND_SECTIONS[0]

    def declared_backend(self, backend: str) -> Any | None:
        """The ``[backends.<backend>]`` table, if written."""
        backends = _table(self.llm, "backends")
        return None if backends is None else _table(backends, backend)

    def provider_group(self, backend: str) -> Any | None:
        """The ``[<backend>]`` super-table of provider_metadata.toml, if any."""
        return _table(self.metadata, backend)

    def provider_table(self, backend: str, provider: str) -> Any | None:
        group = self.provider_group(backend)
        return None if group is None else _table(group, provider)

    def backend_exists(self, backend: str) -> bool:
        declared = self.declared_backend(backend)
        return declared is not None or self.provider_group(backend) is not None

    def backend_names(self) -> list[str]:
        names: list[str] = []
        backends = _table(self.llm, "backends")
        if backends is not None:
            names.extend(k for k, v in backends.items() if _is_table(v))
        names.extend(k for k, v in self.metadata.items() if _is_table(v) and k not in names)
        return names

    def provider_names(self, backend: str) -> list[str]:
        """Rotation order: the ``providers`` list if written, else the table order."""
        declared = self.declared_backend(backend)
        if declared is not None and isinstance(declared.get("providers"), list):
            return [str(v) for v in declared["providers"]]
        group = self.provider_group(backend)
        return [] if group is None else [k for k, v in group.items() if _is_table(v)]

    # ------------------------------------------------------------------ checked lookups

    def require_backend(self, backend: str) -> None:
        if not self.backend_exists(backend):
            known = ", ".join(self.backend_names()) or "none"
            raise BackendNotFoundError(
                f"no backend named {backend!r} (known: {known})",
                hint="list them with `auto-router backend list`",
            )

    def require_provider(self, backend: str, provider: str) -> Any:
        self.require_backend(backend)
        table = self.provider_table(backend, provider)
        if table is None:
            group = self.provider_group(backend)
            known = ", ".join(k for k, v in (group or {}).items() if _is_table(v)) or "none"
            raise ProviderNotFoundError(
                f"backend {backend!r} has no provider {provider!r} (known: {known})",
                hint=f"list them with `auto-router provider list --backend {backend}`",
            )
        return table

    # ------------------------------------------------------------------ creating

    def ensure_declared_backend(self, backend: str) -> Any:
        """The ``[backends.<backend>]`` table, created (after the last one) when missing."""
        found = self.declared_backend(backend)
        if found is not None:
            return found
        backends = self.llm.get("backends")
        if backends is None:
            backends = tomlkit.table(is_super_table=True)
            _add_table(self.llm, "backends", backends)
            backends = self.llm["backends"]
        table = tomlkit.table()
        _add_table(backends, backend, table)
        return backends[backend]

    def ensure_provider_list(self, backend: str) -> Array:
        """The backend's ``providers`` array, written out from the table order if absent."""
        declared = self.ensure_declared_backend(backend)
        current = declared.get("providers")
        if isinstance(current, Array):
            return current
        array = tomlkit.array()
        array.extend(self.provider_names(backend) if current is None else [])
        set_key(declared, "providers", array)
        result = declared["providers"]
        assert isinstance(result, Array)
        return result

    def backend_section(self) -> Any:
        name = self.backend_section_name()
        section = self.llm.get(name)
        if section is None:
            _add_table(self.llm, name, tomlkit.table())
            section = self.llm[name]
        return section


# --------------------------------------------------------------------------- provider edits


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
    missing backend (and adds it to ``[message_backend].order`` when that list is written).
    """
    check_identifier(backend, "backend name")
    check_identifier(provider, "provider name")
    values: dict[str, Any] = {}
    required: tuple[str, ...] = ()
    if template is not None:
        chosen = get_template(template)
        values.update(chosen.provider_settings())
        required = chosen.required
    lower, upper = _split_settings(settings or {})
    values.update(lower)
    if description is not None:
        values["description"] = description
    variables = {**upper, **(env or {})}
    _check_provider_keys(values)
    _check_env(variables)
    missing = [k for k in required if not values.get(k)]
    if missing:
        raise ConfigValidationError(
            f"template {template!r} needs {', '.join(missing)}",
            hint="give " + " ".join(f"--set {k}=..." for k in missing),
        )
    _check_position(position)

    def change(docs: Documents) -> None:
        if not docs.backend_exists(backend):
            if not create_backend:
                docs.require_backend(backend)
            declared = docs.ensure_declared_backend(backend)
            array = tomlkit.array()
            set_key(declared, "providers", array)
            section = _table(docs.llm, docs.backend_section_name())
            order = None if section is None else section.get("order")
            if isinstance(order, Array) and backend not in order:
                order.append(backend)
        if docs.provider_table(backend, provider) is not None:
            raise ProviderExistsError(
                f"backend {backend!r} already has a provider {provider!r}",
                hint=f"change it with `auto-router provider edit {backend}/{provider}`",
            )
        order = docs.provider_names(backend)
        table = _new_provider_table(values, variables)
        group = docs.provider_group(backend)
        if group is None:
            _add_table(docs.metadata, backend, tomlkit.table(is_super_table=True))
            group = docs.metadata[backend]
        _add_table(group, provider, table)
        declared = docs.declared_backend(backend)
        listed = declared is not None and isinstance(declared.get("providers"), Array)
        if listed or (position is not None and position <= len(order)):
            array = docs.ensure_provider_list(backend)
            if provider in array:
                array.remove(provider)  # listed before its table existed (an invalid file)
            if position is None or position > len(array):
                array.append(provider)
            else:
                _insert(array, position - 1, provider)

    return edit_config(paths, change)


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
    lower, upper = _split_settings(set or {})
    variables = {**upper, **(env or {})}
    _check_provider_keys(lower)
    _check_env(variables)
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
        group = docs.provider_group(backend)
        assert group is not None
        del group[provider]
        if not any(_is_table(v) for v in group.values()) and not group.value.body:
            del docs.metadata[backend]
        declared = docs.declared_backend(backend)
        if declared is not None and isinstance(declared.get("providers"), Array):
            _remove_all(declared["providers"], provider)

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
    """Rename the table header in place, the entry in ``providers`` and (given ``store``) the
    rotation state: current provider, last used, cooldown and counters follow the new name."""
    check_identifier(new, "provider name")

    def change(docs: Documents) -> None:
        docs.require_provider(backend, old)
        if docs.provider_table(backend, new) is not None:
            raise ProviderExistsError(f"backend {backend!r} already has a provider {new!r}")
        renamed = _rename_headers(docs.metadata.as_string(), (backend, old), (backend, new))
        document = _parse_document(renamed, paths.provider_metadata)
        candidate = Documents(paths, docs.llm, document)
        if candidate.provider_table(backend, new) is None or candidate.provider_table(backend, old):
            # Not written as a [backend.old] header (dotted keys, inline table): move it.
            group = docs.provider_group(backend)
            assert group is not None
            item = group[old]
            del group[old]
            _add_table(group, new, item)
        else:
            docs.metadata = document
        declared = docs.declared_backend(backend)
        if declared is not None and isinstance(declared.get("providers"), Array):
            array = declared["providers"]
            for index, value in enumerate(list(array)):
                if value == old:
                    array[index] = new

    result = edit_config(paths, change)
    if store is not None:
        store.update(backend, lambda state: rename_in_state(state, old, new))
    return result


def rename_in_state(state: BackendState, old: str, new: str) -> BackendState:
    """The rotation state with provider ``old`` called ``new`` (pure)."""
    providers = dict(state.providers)
    if old in providers:
        providers[new] = providers.pop(old)

    def renamed(name: str | None) -> str | None:
        return new if name == old else name

    return replace(
        state,
        current=renamed(state.current),
        last_success=renamed(state.last_success),
        providers=MappingProxyType(providers),
    )


def set_provider_order(paths: Paths, backend: str, providers: Sequence[str]) -> EditResult:
    """Write the backend's ``providers`` list: every name must have a table, none twice."""
    names = list(providers)
    _check_unique(names, "provider")

    def change(docs: Documents) -> None:
        docs.require_backend(backend)
        for name in names:
            docs.require_provider(backend, name)
        declared = docs.ensure_declared_backend(backend)
        _replace_array(declared, "providers", names)

    return edit_config(paths, change)


def read_provider_table(paths: Paths, backend: str, provider: str) -> dict[str, Any]:
    """The provider's table exactly as written (``${VAR}`` unexpanded, secrets in clear)."""
    llm_text, meta_text = read_texts(paths)
    docs = Documents(
        paths,
        _parse_document(llm_text or "", paths.llm_config),
        _parse_document(meta_text or "", paths.provider_metadata),
    )
    return _plain(docs.require_provider(backend, provider))


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
    of the current one (``****abcd``, as shown by ``views.masked_value``) keeps the current
    value, so a table read with masked secrets can be written back.
    """
    lower, upper = _split_settings(values)
    _check_provider_keys(lower)
    _check_env(upper)

    def change(docs: Documents) -> None:
        table = docs.require_provider(backend, provider)
        current = _plain(table)
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
                set_key(table, key, _toml_value(value))

    return edit_config(paths, change)


def _plain(table: Any) -> dict[str, Any]:
    value = table.unwrap() if hasattr(table, "unwrap") else dict(table)
    return dict(value)


def _restore_masked(name: str, new: Any, old: Any) -> Any:
    from .views import masked_value

    if isinstance(new, str) and isinstance(old, str) and new != old:
        return old if new == masked_value(name, old) else new
    if isinstance(new, Mapping) and isinstance(old, Mapping):
        return {
            k: _restore_masked(k if looks_secret(k) else name, v, old.get(k))
            for k, v in new.items()
        }
    return new


# --------------------------------------------------------------------------- backend edits


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
    _check_backend_keys(values)

    def change(docs: Documents) -> None:
        if docs.backend_exists(backend):
            raise BackendExistsError(
                f"backend {backend!r} already exists",
                hint=f"change it with `auto-router backend edit {backend}`",
            )
        table = docs.ensure_declared_backend(backend)
        for key, value in values.items():
            set_key(table, key, value)
        section = _table(docs.llm, docs.backend_section_name())
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
    _check_backend_keys(values)
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
        section = _table(docs.llm, docs.backend_section_name())
        if section is not None and section.get("default") == backend:
            raise ConfigValidationError(
                f"backend {backend!r} is the default backend",
                hint="choose another first with `auto-router backend default NAME`",
            )
        group = docs.provider_group(backend)
        if group is not None and any(_is_table(v) for v in group.values()) and not remove_providers:
            raise ConfigValidationError(
                f"backend {backend!r} still has providers in provider_metadata.toml",
                hint="add --with-providers to remove them too",
            )
        if group is not None:
            del docs.metadata[backend]
        backends = _table(docs.llm, "backends")
        if backends is not None and docs.declared_backend(backend) is not None:
            del backends[backend]
        order = None if section is None else section.get("order")
        if isinstance(order, Array):
            _remove_all(order, backend)

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
    _check_unique(names, "backend")

    def change(docs: Documents) -> None:
        for name in names:
            docs.require_backend(name)
        _replace_array(docs.backend_section(), "order", names)

    return edit_config(paths, change)


def set_default_backend(paths: Paths, backend: str) -> EditResult:
    def change(docs: Documents) -> None:
        docs.require_backend(backend)
        set_key(docs.backend_section(), "default", backend)

    return edit_config(paths, change)


# --------------------------------------------------------------------------- transactions


def edit_config(paths: Paths, change: Callable[[Documents], None]) -> EditResult:
    """Apply ``change`` to both files as tomlkit documents, under the locks; validate; write."""

    def produce(llm_text: str | None, meta_text: str | None) -> tuple[str | None, str | None]:
        docs = Documents(
            paths,
            _parse_document(llm_text or "", paths.llm_config),
            _parse_document(meta_text or "", paths.provider_metadata),
        )
        change(docs)
        return (
            _tidy(llm_text, docs.llm.as_string()),
            _tidy(meta_text, docs.metadata.as_string()),
        )

    return _transaction(paths, produce)


def replace_texts(
    paths: Paths,
    llm_text: str | None,
    metadata_text: str | None,
    *,
    expected: tuple[str | None, str | None] | None = None,
) -> EditResult:
    """Write whole files (``None`` leaves that file as it is), validated together.

    With ``expected`` (the texts the caller started from, ``None`` = absent), refuse with
    ``EditConflictError`` if either file changed meanwhile.
    """

    def produce(old_llm: str | None, old_meta: str | None) -> tuple[str | None, str | None]:
        if expected is not None and (old_llm, old_meta) != expected:
            raise EditConflictError(
                "the configuration changed on disk while you were editing it",
                hint="run the command again to start from the current files",
            )
        return (
            old_llm if llm_text is None else llm_text,
            old_meta if metadata_text is None else metadata_text,
        )

    return _transaction(paths, produce)


def read_texts(paths: Paths) -> tuple[str | None, str | None]:
    """Both files' texts exactly as on disk (``None`` when absent)."""
    return _read_text(paths.llm_config), _read_text(paths.provider_metadata)


def validate_texts(paths: Paths, llm_text: str | None, metadata_text: str | None) -> Config:
    """The configuration those texts would give; ``ConfigError`` when they are not valid."""
    return parse_config(paths, llm_text, metadata_text)


def _transaction(
    paths: Paths,
    produce: Callable[[str | None, str | None], tuple[str | None, str | None]],
) -> EditResult:
    targets = (paths.llm_config, paths.provider_metadata)
    try:
        ensure_private_dir(paths.config_dir)  # security: files here may hold keys
    except OSError as exc:
        raise ConfigError(f"cannot create directory: {exc}", path=paths.config_dir) from exc
    with lock_files(*targets):
        for target in targets:
            _remove_stale_temp_files(target)
        old = (_read_text(targets[0]), _read_text(targets[1]))
        new = produce(*old)
        changed = [
            (path, text)
            for path, before, text in zip(targets, old, new, strict=True)
            if text is not None and text != before and not (before is None and text == "")
        ]
        written = dict(changed)
        final = (written.get(targets[0], old[0]), written.get(targets[1], old[1]))
        config = _validate(paths, final, old, refused=bool(changed))
        for path, text in changed:
            atomic_write(path, text, secret=holds_literal_secret(text))
    return EditResult(config=config, changed=tuple(path for path, _ in changed))


def _validate(
    paths: Paths,
    texts: tuple[str | None, str | None],
    old: tuple[str | None, str | None],
    *,
    refused: bool,
) -> Config:
    try:
        return parse_config(paths, *texts)
    except ConfigError as exc:
        if not refused:
            raise
        already = False
        try:
            parse_config(paths, *old)
        except ConfigError:
            already = True
        error = ConfigValidationError(
            f"edit refused: {exc.detail}",
            path=exc.path,
            key_path=exc.key_path,
            hint="the file on disk already has this problem; fix it with `auto-router config edit`"
            if already
            else "nothing was written",
        )
        error.problems = exc.problems
        raise error from None


# --------------------------------------------------------------------------- files and locks


@contextlib.contextmanager
def lock_files(*paths: Path, timeout: float = LOCK_TIMEOUT) -> Iterator[None]:
    """Hold ``<file>.lock`` for each path (sorted, so concurrent holders never deadlock)."""
    with contextlib.ExitStack() as stack:
        for path in sorted(set(paths)):
            stack.enter_context(_lock(path.with_name(path.name + ".lock"), timeout))
        yield


@contextlib.contextmanager
def _lock(lock_path: Path, timeout: float) -> Iterator[None]:
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise ConfigError(f"cannot open lock file: {exc}", path=lock_path) from exc
    try:
        deadline = time.monotonic() + timeout
        delay = 0.005
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise ConfigError(
                        f"another auto-router process has held the lock for {timeout:.0f}s",
                        path=lock_path,
                        hint="wait for it to finish; the lock is released when it exits",
                    ) from None
                time.sleep(delay)
                delay = min(delay * 2, 0.1)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def atomic_write(path: Path, text: str, *, secret: bool = False) -> None:
    """Replace ``path`` with ``text`` all at once (temp file + fsync + rename + dir fsync).

    New files get mode 0600 when ``secret`` else 0644; existing files keep their mode, except
    that ``secret`` removes group and other permissions. A symlink is followed, not replaced.
    """
    target = Path(os.path.realpath(path))
    directory = target.parent
    try:
        mode = stat.S_IMODE(target.stat().st_mode)
    except FileNotFoundError:
        mode = 0o600 if secret else 0o644
    except OSError as exc:
        raise ConfigError(f"cannot write file: {exc}", path=path) from exc
    if secret:
        mode &= 0o700
    temp_name: str | None = None
    try:
        fd, temp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
        with os.fdopen(fd, "wb") as handle:
            handle.write(text.encode("utf-8"))
            handle.flush()
            os.fchmod(handle.fileno(), mode)
            os.fsync(handle.fileno())
        os.replace(temp_name, target)
        temp_name = None
        _fsync_directory(directory)
    except OSError as exc:
        raise ConfigError(f"cannot write file: {exc}", path=path) from exc
    finally:
        if temp_name is not None:
            with contextlib.suppress(OSError):
                os.unlink(temp_name)


def holds_literal_secret(text: str) -> bool:
    """True when a credential-like key (api_key, *_KEY, *TOKEN...) has a literal value."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return True  # cannot tell: be careful

    def walk(value: Any, name: str) -> bool:
        if isinstance(value, dict):
            return any(walk(v, k) for k, v in value.items())
        if isinstance(value, list):
            return any(walk(v, name) for v in value)
        return isinstance(value, str) and bool(value) and looks_secret(name) and "${" not in value

    return walk(data, "")


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove_stale_temp_files(path: Path) -> None:
    """Temp files left by a writer that died (safe: we hold the lock every writer takes)."""
    target = Path(os.path.realpath(path))
    with contextlib.suppress(OSError):
        for leftover in target.parent.glob(f".{target.name}.*.tmp"):
            leftover.unlink()


def _read_text(path: Path) -> str | None:
    """The file's text exactly as on disk (no newline translation); ``None`` when absent."""
    try:
        return path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read file: {exc}", path=path) from exc


def _parse_document(text: str, path: Path) -> TOMLDocument:
    try:
        return tomlkit.parse(text)
    except TOMLKitError as exc:
        parse_toml(text, path)  # raises ConfigSyntaxError with line and column
        raise ConfigSyntaxError(f"invalid TOML: {exc}", path=path) from exc


def _tidy(before: str | None, after: str) -> str:
    """Keep the file's ending as it was: new tables end with a blank line, which at the very
    end of a file is one newline too many."""
    if after == (before or ""):
        return after
    if after.endswith("\n\n") and not (before or "").endswith("\n\n"):
        after = after.rstrip("\n") + "\n"
    return after


# --------------------------------------------------------------------------- tomlkit helpers


def set_key(table: Any, key: str, value: Any) -> None:
    """Set ``key`` in a tomlkit table. An existing key keeps its place and trailing comment.
    A new key goes after the table's last key (a lowercase key after the last lowercase one,
    so settings stay above exported variables), before trailing comments and blank lines."""
    if key in table or not isinstance(table, Table):
        table[key] = value
        return
    body = table.value.body
    keys = [k for k, item in body if k is not None and not isinstance(item, (Table, AoT))]
    if not key.isupper():
        keys = [k for k in keys if not k.key.isupper()] or keys[:0]
    if keys:
        table.value._insert_after(keys[-1], key, value)
        return
    first_other = next(
        (i for i, (k, item) in enumerate(body) if k is None or isinstance(item, (Table, AoT))),
        None,
    )
    if first_other is None or (key.isupper() and first_other > 0):
        table[key] = value
    else:
        table.value._insert_at(first_other, key, value)


def _add_table(parent: Any, key: str, table: Any) -> None:
    """Add a table after the parent's last child table.

    The comments and blank lines that follow the previous table's last key after a blank line
    introduce whatever comes next, so they move below the new table: a section comment such
    as ``# --- claude ---`` stays above the claude tables.
    """
    if isinstance(table, Table) and not table.is_super_table():
        previous = [v for v in parent.values() if isinstance(v, Table)]
        moved = _detach_trailer(previous[-1]) if previous else []
        body = table.value.body
        if not body or not (body[-1][0] is None and "\n" in body[-1][1].as_string()):
            table.add(tomlkit.nl())
        for item in moved:
            table.value.body.append((None, item))
    parent[key] = table


def _detach_trailer(table: Table) -> list[Any]:
    """Remove and return the items after the first blank line that follows the last key."""
    if table.is_super_table():
        children = [v for v in table.values() if isinstance(v, Table)]
        return _detach_trailer(children[-1]) if children else []
    body = table.value.body
    last_key = max((i for i, (k, item) in enumerate(body) if k is not None), default=None)
    if last_key is None:
        return []
    blank = next(
        (
            i
            for i in range(last_key + 1, len(body))
            if body[i][0] is None and body[i][1].as_string().strip() == ""
        ),
        None,
    )
    if blank is None or not any(
        body[i][1].as_string().strip() for i in range(blank + 1, len(body))
    ):
        return []
    moved = [item for _, item in body[blank + 1 :]]
    del body[blank + 1 :]
    return moved


def _table(container: Any, key: str) -> Any:
    """``container[key]`` when it is a table, else ``None``."""
    found = container.get(key)
    return found if _is_table(found) else None


def _is_table(value: Any) -> bool:
    return isinstance(value, (Table, InlineTable, OutOfOrderTableProxy, TOMLDocument))


def _new_provider_table(values: Settings, variables: Mapping[str, str]) -> Table:
    table = tomlkit.table()
    ordered = [k for k in _PROVIDER_KEY_ORDER if k in values]
    ordered += [k for k in values if k not in ordered]
    for key in ordered:
        table.add(key, _toml_value(values[key]))
    for key, value in variables.items():
        table.add(key, value)
    return table


def _toml_value(value: Any) -> Any:
    if isinstance(value, Mapping):
        inline = tomlkit.inline_table()
        inline.update({k: _toml_value(v) for k, v in value.items()})
        return inline
    if isinstance(value, (list, tuple)):
        array = tomlkit.array()
        array.extend(_toml_value(v) for v in value)
        return array
    return value


def _replace_array(table: Any, key: str, values: Sequence[str]) -> None:
    """Set ``table[key]`` to ``values``. A reordering of the same items keeps each item's
    comment with it and the array's layout; anything else writes a fresh array."""
    old = table.get(key)
    if isinstance(old, Array) and sorted(map(str, old)) == sorted(values):
        _reorder(old, values)
        return
    array = tomlkit.array()
    array.extend(values)
    if isinstance(old, Array) and "\n" in old.as_string():
        array.multiline(True)
    set_key(table, key, array)


def _reorder(array: Array, values: Sequence[str]) -> None:
    groups = [g for g in getattr(array, "_value", []) if getattr(g, "value", None) is not None]
    comments = {str(g.value): getattr(g, "comment", None) for g in groups}
    items = {str(g.value): g.value for g in groups}  # keeps each string's quoting
    for index, value in enumerate(values):
        array[index] = items.get(value, value)
    if len(groups) == len(values) and len(comments) == len(values):
        for group, value in zip(groups, values, strict=True):
            group.comment = comments[value]


def _insert(array: Array, index: int, value: str) -> None:
    """``array.insert``, except that tomlkit drops the space after a new first item of a
    one-line array (``["new","old"]``): there the items are written afresh."""
    if index == 0 and len(array) and "\n" not in array.as_string():
        values = [value, *map(str, array)]
        array.clear()
        array.extend(values)
        return
    array.insert(index, value)


def _remove_all(array: Array, value: str) -> None:
    for index in reversed(range(len(array))):
        if array[index] == value:
            del array[index]


def _rename_headers(text: str, old: tuple[str, ...], new: tuple[str, ...]) -> str:
    """Rewrite ``[a.old]`` / ``[a.old.sub]`` header lines to the new name, nothing else."""
    lines = text.splitlines(keepends=True)
    for index, line in enumerate(lines):
        body = line.rstrip("\r\n")
        match = _HEADER_LINE.match(body)
        if match is None:
            continue
        key = split_dotted(match.group("key"))
        if key[: len(old)] != old:
            continue
        header = ".".join(_quote_key(part) for part in (*new, *key[len(old) :]))
        lines[index] = f"{match.group('indent')}[{header}]{match.group('rest')}" + line[len(body) :]
    return "".join(lines)


def _quote_key(part: str) -> str:
    return part if re.fullmatch(r"[A-Za-z0-9_-]+", part) else '"' + part.replace('"', '\\"') + '"'


# --------------------------------------------------------------------------- checks


def _split_settings(settings: Settings) -> tuple[dict[str, Any], dict[str, str]]:
    lower: dict[str, Any] = {}
    upper: dict[str, Any] = {}
    for key, value in settings.items():
        (upper if key.isupper() else lower)[key] = value
    return lower, upper


def _check_provider_keys(values: Settings) -> None:
    unknown = [k for k in values if k not in _PROVIDER_KEYS]
    if unknown:
        raise ConfigValidationError(
            f"unknown provider setting {unknown[0]!r}",
            hint="settings: "
            + ", ".join(_PROVIDER_KEYS)
            + "; UPPERCASE keys are exported variables (--env KEY=VALUE)",
        )


def _check_backend_keys(values: Settings) -> None:
    unknown = [k for k in values if k not in _BACKEND_KEYS]
    if unknown:
        raise ConfigValidationError(
            f"unknown backend setting {unknown[0]!r}",
            hint="settings: " + ", ".join(_BACKEND_KEYS),
        )


def _check_env(variables: Mapping[str, Any]) -> None:
    for key, value in variables.items():
        if not _ENV_NAME.match(key):
            raise ConfigValidationError(
                f"invalid variable name {key!r}",
                hint="exported variables are UPPERCASE: letters, digits and '_' (like API_KEY)",
            )
        if not isinstance(value, str):
            raise ConfigValidationError(f"variable {key} must be a string")


def _check_unique(names: Sequence[str], what: str) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ConfigValidationError(f"{what} {name!r} is listed twice")
        seen.add(name)


def _check_position(position: int | None) -> None:
    if position is not None and position < 1:
        raise ConfigValidationError(
            f"invalid position {position}", hint="positions start at 1 (the first provider)"
        )


# --------------------------------------------------------------------------- whole-file edits


@dataclass(frozen=True)
class EditorOutcome:
    saved: bool
    #: Where the rejected text was kept when the edit was abandoned invalid.
    kept_at: Path | None = None
    result: EditResult | None = None


def edit_with_editor(
    paths: Paths,
    which: str,
    run_editor: Callable[[Path], None],
    retry: Callable[[ConfigError], bool],
) -> EditorOutcome:
    """``config edit``: let the user edit a copy; save it only if both files stay valid.

    ``which`` is ``"llm_config"`` or ``"provider_metadata"``. ``run_editor(path)`` edits the
    copy; when the result is invalid, ``retry(error)`` says whether to re-open it. The file is
    never left invalid: an abandoned edit raises ``ConfigValidationError`` with the rejected
    text kept in a temp file (named in the hint), and the original file is as it was.
    """
    if which not in ("llm_config", "provider_metadata"):
        raise ConfigValidationError(
            f"no configuration file {which!r}", hint="llm_config or provider_metadata"
        )
    start = read_texts(paths)
    index = 0 if which == "llm_config" else 1
    target = (paths.llm_config, paths.provider_metadata)[index]
    original = start[index]
    if original is None:
        from .config_files import starter_text

        original = starter_text(target.name)
    workdir = Path(tempfile.mkdtemp(prefix="auto-router-edit-"))
    copy = workdir / target.name
    copy.write_bytes(original.encode("utf-8"))
    os.chmod(copy, 0o600)
    while True:
        run_editor(copy)
        text = _read_text(copy) or ""
        if text == start[index]:
            _cleanup(workdir)
            return EditorOutcome(saved=False)
        texts = (text, None) if index == 0 else (None, text)
        try:
            result = replace_texts(paths, *texts, expected=start)
        except EditConflictError as exc:
            exc.hint = f"your version is kept at {copy}; run the command again"
            raise
        except ConfigError as exc:
            if retry(exc):
                continue
            error = ConfigValidationError(
                f"not saved, the edited file is invalid: {exc.detail}",
                path=target,
                key_path=exc.key_path,
                hint=f"{target} is unchanged; your version is kept at {copy}",
            )
            error.problems = exc.problems
            raise error from None
        _cleanup(workdir)
        return EditorOutcome(saved=True, result=result)


def _cleanup(workdir: Path) -> None:
    for child in workdir.iterdir():
        with contextlib.suppress(OSError):
            child.unlink()
    with contextlib.suppress(OSError):
        workdir.rmdir()
