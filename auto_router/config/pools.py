"""Key pools (issue 19): a provider's ``api_keys``, each key a routing slot of its own.

A key is never named by itself outside the request it authenticates. Shared state, counters,
logs, the request log and the ``x-auto-router-key`` header name it by its *id*: an
HMAC-SHA256 of the key under a random salt made once per install and kept in the data
directory (0600), cut to ``ID_LENGTH`` hex characters. The id is stable while the key is
(removing one key does not shift another's cooldown, as an index would) and tells nothing of
the key without the salt. People see the *mask* (``sk-…A1b2``), computed from the live key
when it is shown.

A pool key's slot in rotation is ``provider#id`` (``slot_name``): the policy rotates over
slots as it does over providers, so a pool rotates inside its provider before the backend
moves on, under every strategy, with no rule of its own.

A provider's ``disabled_keys`` (issue 21) lists keys kept in the file but out of rotation,
each by its ``${VAR}`` text or its id (never the key, and not an index: a hand edit of the
pool would shift it onto another key). A disabled key has no slot: no traffic, no cooldown.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Final

from ..paths import PRIVATE_FILE, Paths, ensure_private_dir
from ..secrets import Secret
from .expand import ExpansionError, expand
from .values import describe

#: Between a provider's name and a key's id in a rotation slot (never in a provider name).
SLOT_SEP: Final = "#"
#: Hex characters of a key id: 40 bits, no collision in any real pool.
ID_LENGTH: Final = 10
#: The per-install salt of key ids, in the data directory.
SALT_NAME: Final = "key-salt"
_SALT_BYTES: Final = 32


def key_pool(value: Any) -> tuple[str, ...]:
    """``api_keys``: a non-empty list of distinct strings. Errors name the entry (from 1),
    never its text: an entry may be a literal secret."""
    if isinstance(value, str):  # its text is not quoted: it may be a key
        raise ValueError('expected a list of keys like ["${KEY_A}"], got a string')
    if not isinstance(value, list):
        raise ValueError(f'expected a list of keys like ["${{KEY_A}}"], got {describe(value)}')
    if not value:
        raise ValueError("expected at least one key (an empty pool cannot serve)")
    for i, entry in enumerate(value, 1):
        if not isinstance(entry, str):
            raise ValueError(f"entry {i}: expected a string, got {describe(entry)}")
        if not entry:
            raise ValueError(f"entry {i}: expected a key, got an empty string")
        if entry in value[: i - 1]:
            raise ValueError(f"entry {i} repeats entry {value.index(entry) + 1}")
    return tuple(value)


def key_names(value: Any) -> tuple[str, ...]:
    """``disabled_keys``: a list of distinct ids or ``${VAR}`` texts (checked against the
    pool by ``disabled_problems``). Errors name the entry, never its text."""
    if not isinstance(value, list):
        raise ValueError(f'expected a list like ["${{KEY_A}}"], got {describe(value)}')
    for i, entry in enumerate(value, 1):
        if not isinstance(entry, str) or not entry:
            raise ValueError(f"entry {i}: expected a key's id or ${{VAR}}, got {describe(entry)}")
        if entry in value[: i - 1]:
            raise ValueError(f"entry {i} repeats entry {value.index(entry) + 1}")
    return tuple(value)


def disabled_problems(
    entries: tuple[str, ...], disabled: tuple[str, ...], ring: KeyRing, environ: Mapping[str, str]
) -> list[str]:
    """What is wrong with ``disabled_keys`` against its pool: an entry naming no key (quoted
    only when it is an id or a ``${VAR}``: else it may be a pasted key), or every key off."""
    if disabled and not entries:
        return ["there is no key pool (api_keys) to disable keys of"]
    keys = expand_pool(entries, ring, environ, "", disabled)
    problems = []
    for i, name in enumerate(disabled, 1):
        if not any((k.written == name and "${" in name) or k.id == name for k in keys):
            shown = repr(name) if is_key_name(name) else "(not an id or ${VAR})"
            problems.append(f"entry {i} {shown} names no key of api_keys (give its id or ${{VAR}})")
    if keys and all(k.disabled for k in keys):
        problems.append("every key is disabled: disable the provider instead (enabled = false)")
    return problems


def is_key_name(text: str) -> bool:
    """An id or a ``${VAR}``: a name of a key, safe to quote, never a key itself."""
    is_id = len(text) == ID_LENGTH and all(c in "0123456789abcdef" for c in text)
    return is_id or (text.startswith("${") and text.endswith("}"))


def check_disabled(
    providers: Mapping[str, MutableMapping[str, Any]],
    paths: Paths,
    error: Callable[[tuple[str, ...], str, str], None],
) -> None:
    """Every provider's ``disabled_keys`` against its pool, ids matched with the live keys
    (``error(where, key, message)``: the checker adds file and line). Each provider gets the
    places of its disabled entries (``disabled_entries``): the whole pool's ``resolve`` (a
    health check) then never picks a disabled key, and has no key ring to match ids with."""
    ring = KeyRing(paths.data_dir)
    for backend, table in providers.items():
        for name, provider in table.items():
            if not provider.disabled_keys:
                continue
            for text in disabled_problems(
                provider.api_keys, provider.disabled_keys, ring, os.environ
            ):
                error((backend, name), "disabled_keys", text)
            pool = expand_pool(provider.api_keys, ring, os.environ, "", provider.disabled_keys)
            off = frozenset(k.index for k in pool if k.disabled)
            table[name] = replace(provider, disabled_entries=off)


#: The checkers of a provider's pool settings (config/checks.py's ``PROVIDER_KEYS``).
POOL_KEYS: Final[Mapping[str, Callable[[Any], tuple[str, ...]]]] = {
    "api_keys": key_pool,
    "disabled_keys": key_names,
}


def slot_name(provider: str, key_id: str | None) -> str:
    return provider if key_id is None else f"{provider}{SLOT_SEP}{key_id}"


def split_slot(slot: str) -> tuple[str, str | None]:
    """``(provider, key id)`` of a rotation slot (``None``: a provider with one key)."""
    provider, sep, key_id = slot.partition(SLOT_SEP)
    return provider, key_id if sep else None


def mask(key: str) -> str:
    """``sk-…A1b2``: a short prefix up to its first ``-``/``_``, then the last 4 characters.
    A short key shows less (its last 4 would be most of it)."""
    if len(key) < 12:
        return "…"
    cut = min((i for i in (key.find("-"), key.find("_")) if i >= 0), default=-1)
    prefix = key[: cut + 1] if 0 < cut < 6 else ""
    return f"{prefix}…{key[-4:]}"


class KeyRing:
    """Key ids of one install: the salt read (or made) on first use, each id computed once."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / SALT_NAME
        self._salt: bytes | None = None
        self._ids: dict[str, str] = {}

    def id_of(self, key: str) -> str:
        found = self._ids.get(key)
        if found is None:
            digest = hmac.new(self._key(), key.encode(), hashlib.sha256).hexdigest()
            found = self._ids[key] = digest[:ID_LENGTH]
        return found

    def _key(self) -> bytes:
        if self._salt is None:
            self._salt = _load_salt(self.path)
        return self._salt


def _load_salt(path: Path) -> bytes:
    """The salt file's bytes; made (0600, exclusively: two processes agree) when absent. A
    data directory that cannot be written gets a salt for this process only: ids then differ
    between processes, which costs shared cooldowns, never a key."""
    try:
        return bytes.fromhex(path.read_text(encoding="ascii").strip())
    except FileNotFoundError:
        pass
    except (OSError, ValueError):
        return secrets.token_bytes(_SALT_BYTES)
    salt = secrets.token_bytes(_SALT_BYTES)
    try:
        ensure_private_dir(path.parent)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
    except FileExistsError:
        return _load_salt(path)  # another process made it first: use theirs
    except OSError:
        return salt
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(salt.hex())
    return salt


@dataclass(frozen=True)
class PoolKey:
    """One entry of a pool, expanded. ``secret`` is ``None`` when its variable is unset;
    ``problem`` then says which entry and which variable (the other keys stay usable)."""

    index: int  # from 1, as written
    written: str = field(repr=False)  # ``${KEY_A}`` or a literal secret: never shown
    id: str | None
    secret: Secret | None = field(repr=False)
    problem: str | None = None
    #: Listed in the provider's ``disabled_keys``: kept in the file, out of rotation.
    disabled: bool = False

    @property
    def masked(self) -> str:
        """The mask of the live key; an unusable entry shows what it refers to."""
        if self.secret is not None:
            return mask(self.secret.reveal())
        return self.written if "${" in self.written else "…"


def expand_pool(
    entries: tuple[str, ...],
    ring: KeyRing,
    environ: Mapping[str, str],
    where: str,
    disabled: tuple[str, ...] = (),
) -> tuple[PoolKey, ...]:
    """Every entry of a pool expanded and named; ``where`` (``file:line: [b.p]``) prefixes
    the problem of an entry whose variable is unset. ``disabled``: ``disabled_keys``."""
    found = []
    for i, written in enumerate(entries, 1):
        off = "${" in written and written in disabled
        try:
            value = expand(written, environ)
        except ExpansionError as exc:
            problem = f"{where}.api_keys[{i}]: {exc}"
            found.append(PoolKey(i, written, None, None, problem, off))
            continue
        if not value:
            problem = f"{where}.api_keys[{i}]: the key is empty"
            found.append(PoolKey(i, written, None, None, problem, off))
            continue
        key_id = ring.id_of(value)
        found.append(PoolKey(i, written, key_id, Secret(value), None, off or key_id in disabled))
    return tuple(found)


def find_key(keys: tuple[PoolKey, ...], wanted: str) -> PoolKey | None:
    """The entry ``wanted`` names: its id, its mask, its ``${VAR}`` text or its index (from
    1). A mask two keys share names neither. An id is looked for first: about one id in a
    hundred is all digits (10 hex characters), and must not be read as an index."""
    by_id = [k for k in keys if k.id == wanted]
    if len(by_id) == 1:
        return by_id[0]
    if wanted.isdigit():
        return next((k for k in keys if k.index == int(wanted)), None)
    for match in (
        [k for k in keys if "${" in k.written and k.written == wanted],
        [k for k in keys if k.secret is not None and k.masked == wanted],
    ):
        if len(match) == 1:
            return match[0]
    return None
