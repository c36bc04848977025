"""Round-trip edits of the two configuration files, the way ``git config`` edits .gitconfig.

Every edit made through this package keeps what it does not touch byte-for-byte: comments,
blank lines, key order, quoting, inline tables and line endings (tomlkit round-trip). Every
write is locked, validated as a whole and atomic for the pair (see ``transaction`` and
``auto_router.config.filesafety``).

The package, by responsibility:

* ``auto_router.config.filesafety`` (outside, so that loading needs no tomlkit): locks, atomic
  writes, the pair journal;
* ``tomlhelpers``: tomlkit round-trip helpers;
* ``transaction``: ``Documents``, ``edit_config`` and the locked read-validate-write;
* ``providers``, ``keys`` (key pools) and ``backends``: the edits; ``editor``: ``config edit``.

Public API (all raise ``AutoRouterError`` subclasses; all return an ``EditResult``):

    add_provider(paths, backend, provider, settings=None, env=None, *, description=None,
                 position=None, create_backend=False, template=None)
    edit_provider(paths, backend, provider, *, set=None, unset=(), env=None, unenv=())
    remove_provider(paths, backend, provider)
    set_provider_enabled(paths, backend, provider, enabled)
    rename_provider(paths, backend, old, new, *, store=None)
    set_provider_order(paths, backend, providers)
    replace_provider(paths, backend, provider, values, *, expected=None, keep_masked=False)
    add_key(paths, backend, provider, value)      # key pools: these two return a KeyEdit
    remove_key(paths, backend, provider, wanted)  # wanted: id, mask, ${VAR} text or index
    set_key_enabled(paths, backend, provider, wanted, enabled)  # disabled_keys (issue 21)
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

from ..config.filesafety import LOCK_TIMEOUT, atomic_write, lock_files
from .backends import (
    add_backend,
    edit_backend,
    remove_backend,
    set_backend_enabled,
    set_backend_order,
    set_default_backend,
)
from .editor import EditorOutcome, edit_with_editor
from .keys import KeyEdit, add_key, remove_key, set_key_enabled
from .providers import (
    add_provider,
    edit_provider,
    read_provider_table,
    remove_provider,
    rename_in_state,
    rename_provider,
    replace_provider,
    set_provider_enabled,
    set_provider_order,
    table_digest,
)
from .tomlhelpers import add_table, new_provider_table, rename_headers, set_key
from .transaction import (
    Documents,
    EditResult,
    edit_config,
    holds_literal_secret,
    read_texts,
    replace_texts,
    validate_texts,
)

__all__ = [
    "LOCK_TIMEOUT",
    "Documents",
    "EditResult",
    "EditorOutcome",
    "KeyEdit",
    "add_backend",
    "add_key",
    "add_provider",
    "add_table",
    "atomic_write",
    "edit_backend",
    "edit_config",
    "edit_provider",
    "edit_with_editor",
    "holds_literal_secret",
    "lock_files",
    "new_provider_table",
    "read_provider_table",
    "read_texts",
    "remove_backend",
    "remove_key",
    "remove_provider",
    "rename_headers",
    "rename_in_state",
    "rename_provider",
    "replace_provider",
    "replace_texts",
    "set_backend_enabled",
    "set_backend_order",
    "set_default_backend",
    "set_key",
    "set_key_enabled",
    "set_provider_enabled",
    "set_provider_order",
    "table_digest",
    "validate_texts",
]
