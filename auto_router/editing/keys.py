"""Key pool edits (issue 19): ``provider key add|remove``; ``disable|enable`` (issue 21).

A second key turns ``api_key`` into ``api_keys`` in its place, with its line's comment; a
removed key leaves the others, and their comments, as written. Like every edit, it runs under
the lock, is validated with the rest of the pair and written atomically (a duplicate key or
an emptied pool writes nothing).

A disabled key stays in ``api_keys`` and is named in ``disabled_keys`` by its ``${VAR}`` text
(stable while the variable's value changes) or, for a key written as it is, its id (the key
itself is never written twice). The last enabled key is not disabled.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

import tomlkit
from tomlkit.items import Array, Item

from ..config.pools import ID_LENGTH, KeyRing, PoolKey, expand_pool, find_key
from ..errors import ConfigValidationError, NotFoundError
from ..paths import Paths
from .transaction import Documents, EditResult, edit_config


@dataclass(frozen=True)
class KeyEdit:
    """What a pool edit did: the pool's keys after it (by mask and id, never the key)."""

    result: EditResult
    keys: tuple[PoolKey, ...]
    #: The entry removed (``remove_key``), as it was.
    removed: PoolKey | None = None


def add_key(
    paths: Paths, backend: str, provider: str, value: str, environ: Mapping[str, str] | None = None
) -> KeyEdit:
    """Append ``value`` (``${VAR}`` or a literal key) to the provider's pool; a provider with
    ``api_key`` gets ``api_keys = [its key, value]`` where ``api_key`` was."""
    if not value:
        raise ConfigValidationError("the key is empty", key_path=f"[{backend}.{provider}].api_keys")

    def change(docs: Documents) -> None:
        table = _table(docs, backend, provider)
        pool = table.get("api_keys")
        if isinstance(pool, Array):
            pool.append(value)
            return
        single = table.item("api_key") if "api_key" in table else None
        assert single is None or isinstance(single, Item)
        array = tomlkit.array()
        if single is not None:
            array.append(str(single))
        array.append(value)
        if single is None:
            table["api_keys"] = array
            return
        array.trivia.comment_ws = single.trivia.comment_ws
        array.trivia.comment = single.trivia.comment
        # in api_key's place (tomlkit has no public insert-at-key)
        table.value._insert_after("api_key", "api_keys", array)
        del table["api_key"]

    result = edit_config(paths, change)
    return KeyEdit(result, _keys(result, backend, provider, environ))


def remove_key(
    paths: Paths,
    backend: str,
    provider: str,
    wanted: str,
    environ: Mapping[str, str] | None = None,
) -> KeyEdit:
    """Remove the entry ``wanted`` names: its id, its mask, its ``${VAR}`` text or its index
    (from 1). The last key is not removed: a provider with no key is ``provider remove``'s."""
    found: list[PoolKey] = []

    def change(docs: Documents) -> None:
        table = _table(docs, backend, provider)
        key = _find(_pool_of(paths, table, backend, provider, environ), wanted, backend, provider)
        pool = table["api_keys"]
        if len(pool) == 1:
            raise ConfigValidationError(
                f"{backend}/{provider} has only this key: a pool cannot be empty",
                path=paths.provider_metadata,
                key_path=f"[{backend}.{provider}].api_keys",
                hint=f"remove the provider with `auto-router provider remove {backend}/{provider}`",
            )
        del pool[key.index - 1]
        _undisable(table, key)  # else disabled_keys would name a key no longer there
        found.append(key)

    result = edit_config(paths, change)
    return KeyEdit(result, _keys(result, backend, provider, environ), found[-1])


def set_key_enabled(
    paths: Paths,
    backend: str,
    provider: str,
    wanted: str,
    enabled: bool,
    environ: Mapping[str, str] | None = None,
) -> KeyEdit:
    """Take the key ``wanted`` names (as ``remove_key`` takes it) out of ``disabled_keys``
    or put it in. Already so: nothing is written (``result.changed`` is empty)."""

    def change(docs: Documents) -> None:
        table = _table(docs, backend, provider)
        keys = _pool_of(paths, table, backend, provider, environ)
        key = _find(keys, wanted, backend, provider)
        if enabled:
            _undisable(table, key)
            return
        if key.disabled:
            return
        # a key whose variable is unset serves nothing: it does not count as enabled
        if not any(k.id is not None and not k.disabled for k in keys if k is not key):
            raise ConfigValidationError(
                f"{backend}/{provider} has no other enabled key: a pool cannot serve with none",
                path=paths.provider_metadata,
                key_path=f"[{backend}.{provider}].disabled_keys",
                hint=f"disable the provider: `auto-router provider disable {backend}/{provider}`",
            )
        name = key.written if "${" in key.written else key.id
        assert name is not None  # a key written as it is always has an id
        text = tomlkit.string(name, literal=False)  # as api_keys writes it: "${VAR}"
        current = table.get("disabled_keys")
        if isinstance(current, Array):
            current.append(text)
            return
        array = tomlkit.array()
        array.append(text)
        # under api_keys, where a reader looks (tomlkit has no public insert-at-key)
        table.value._insert_after("api_keys", "disabled_keys", array)

    result = edit_config(paths, change)
    return KeyEdit(result, _keys(result, backend, provider, environ))


def _pool_of(
    paths: Paths,
    table: tomlkit.items.Table,
    backend: str,
    provider: str,
    environ: Mapping[str, str] | None,
) -> tuple[PoolKey, ...]:
    pool = table.get("api_keys")
    if not isinstance(pool, Array):
        raise NotFoundError(
            f"provider {backend}/{provider} has no key pool (api_keys)",
            hint="add a second key with `auto-router provider key add`",
        )
    off = table.get("disabled_keys")
    disabled = tuple(str(v) for v in off) if isinstance(off, Array) else ()
    where = f"{paths.provider_metadata}: [{backend}.{provider}]"
    env = os.environ if environ is None else environ
    entries = tuple(str(v) for v in pool)
    return expand_pool(entries, KeyRing(paths.data_dir), env, where, disabled)


def _find(keys: tuple[PoolKey, ...], wanted: str, backend: str, provider: str) -> PoolKey:
    key = find_key(keys, wanted)
    if key is None:
        # what was asked is quoted only when it cannot be a key itself
        shown = repr(wanted) if _named(wanted) else "like that"
        raise NotFoundError(
            f"provider {backend}/{provider} has no key {shown} (or more than one matches)",
            hint="name it by its id, mask or index as `auto-router status` shows them",
        )
    return key


def _undisable(table: tomlkit.items.Table, key: PoolKey) -> None:
    """Drop every ``disabled_keys`` entry naming ``key``; the setting too once empty."""
    off = table.get("disabled_keys")
    if not isinstance(off, Array):
        return
    names = {key.written, key.id} if "${" in key.written else {key.id}
    for i in reversed(range(len(off))):
        if str(off[i]) in names:
            del off[i]
    if not len(off):
        del table["disabled_keys"]


def _table(docs: Documents, backend: str, provider: str) -> tomlkit.items.Table:
    table = docs.provider_table(backend, provider)
    if table is None:
        raise NotFoundError(f"backend {backend!r} has no provider {provider!r}")
    return table  # type: ignore[no-any-return]


def _keys(
    result: EditResult, backend: str, provider: str, environ: Mapping[str, str] | None
) -> tuple[PoolKey, ...]:
    config = result.config
    found = config.provider(backend, provider)
    env = os.environ if environ is None else environ
    where = f"{found.source}: [{backend}.{provider}]"
    return expand_pool(found.api_keys, config.key_ring, env, where)


def _named(wanted: str) -> bool:
    """An index, an id, a mask or a ``${VAR}``: a name of a key, not a key."""
    is_id = len(wanted) == ID_LENGTH and all(c in "0123456789abcdef" for c in wanted)
    return wanted.isdigit() or is_id or "…" in wanted or wanted.startswith("${")
