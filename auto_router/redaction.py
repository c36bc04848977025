"""One redactor, built from the loaded configuration, for every place text leaves the process.

The configuration knows every credential auto-router holds: each provider's ``api_key`` and
secret-looking headers and UPPERCASE variables (``*_KEY``, ``*TOKEN``...), the proxy's admin
and client tokens, each both as written and with ``${VAR}`` expanded. ``Redactor`` masks
those values, their JSON-escaped forms, and any long fragment of one (an upstream that quotes
"sk-live-abc123def456..." in an error quotes a piece of the key, not always all of it).

It is applied where text is stored or shown: log lines (both formats), the rotation state's
``last_error``, the request log's columns and bodies, CLI output of stored text, every
management API response and every error body a client receives.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Final

from .config.expand import ExpansionError, expand
from .secrets import looks_secret

if TYPE_CHECKING:
    from .config import Config
    from .store.requests import RequestRecord

#: What a masked credential becomes.
MASK: Final = "****"
#: Shorter values are not masked: "test" or "none" would garble every line that uses the word.
MIN_SECRET: Final = 6
#: A run of key characters this long that is part of a credential counts as a leak of it.
MIN_FRAGMENT: Final = 10
_FRAGMENT: Final = re.compile(r"[A-Za-z0-9_\-]{" + str(MIN_FRAGMENT) + ",}")
_ADMIN_TOKEN_ENV: Final = "AUTO_ROUTER_ADMIN_TOKEN"


class Redactor:
    """Masks a fixed set of credentials in text, bytes and JSON-like data."""

    __slots__ = ("_bytes", "_secrets", "_text", "_windows")

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        found = {s for s in secrets if len(s) >= MIN_SECRET}
        # JSON-escaped forms too: a key with a quote or backslash appears escaped in a body.
        found |= {json.dumps(s)[1:-1] for s in list(found)}
        self._secrets: tuple[str, ...] = tuple(sorted(found, key=len, reverse=True))
        # Every MIN_FRAGMENT-long piece of every credential: a word holding one of them
        # quotes part of a key ("sk-live-abc123def4..." in an error message).
        self._windows = frozenset(
            s[i : i + MIN_FRAGMENT] for s in found for i in range(len(s) - MIN_FRAGMENT + 1)
        )
        self._text: re.Pattern[str] | None = None
        self._bytes: re.Pattern[bytes] | None = None
        if self._secrets:
            alternation = "|".join(re.escape(s) for s in self._secrets)
            self._text = re.compile(alternation)
            self._bytes = re.compile(alternation.encode())

    def __bool__(self) -> bool:
        return bool(self._secrets)

    def text(self, value: str) -> str:
        """``value`` with every credential (or long piece of one) replaced by ``****``."""
        if self._text is None or not value:
            return value
        value = self._text.sub(MASK, value)
        return _FRAGMENT.sub(self._fragment, value)

    def _fragment(self, match: re.Match[str]) -> str:
        word = match.group(0)
        return MASK if self._quotes_a_piece(word) else word

    def _quotes_a_piece(self, word: str) -> bool:
        windows = self._windows
        return any(
            word[i : i + MIN_FRAGMENT] in windows for i in range(len(word) - MIN_FRAGMENT + 1)
        )

    def binary(self, value: bytes) -> bytes:
        if self._bytes is None or not value:
            return value
        if self._bytes.search(value) is None and not self._has_fragment(value):
            return value
        return self.text(value.decode("utf-8", "replace")).encode()

    def _has_fragment(self, value: bytes) -> bool:
        text = value.decode("utf-8", "replace")
        return any(any(m.group(0) in s for s in self._secrets) for m in _FRAGMENT.finditer(text))

    def found(self, value: bytes) -> bool:
        """Whether a whole credential occurs in ``value`` (one regex scan: the hot path's)."""
        return self._bytes is not None and self._bytes.search(value) is not None

    def leaks(self, value: str) -> bool:
        return self.text(value) != value

    def data(self, value: Any) -> Any:
        """Every string inside dicts, lists and tuples redacted (keys included)."""
        if self._text is None:
            return value
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.data(k): self.data(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return type(value)(self.data(v) for v in value)
        return value


def secrets_of(config: Config, environ: Mapping[str, str] | None = None) -> set[str]:
    """Every credential ``config`` holds, as written and expanded (missing variables skipped)."""
    env = os.environ if environ is None else environ
    raw: list[str] = []
    for providers in config.providers.values():
        for provider in providers.values():
            if provider.api_key:
                raw.append(provider.api_key)
            raw.extend(v for k, v in provider.headers.items() if looks_secret(k))
            raw.extend(v for k, v in provider.env.items() if looks_secret(k))
    proxy = config.proxy
    for key in ("admin_token",):
        if isinstance(proxy.get(key), str):
            raw.append(proxy[key])
    tokens = proxy.get("client_tokens")
    if isinstance(tokens, list):
        raw.extend(t for t in tokens if isinstance(t, str))
    found = {v for v in raw if "${" not in v}
    for value in raw:
        try:
            found.add(expand(value, env))
        except ExpansionError:
            continue
    if env.get(_ADMIN_TOKEN_ENV):
        found.add(env[_ADMIN_TOKEN_ENV])
    return found


def redactor_for(
    config: Config | None, environ: Mapping[str, str] | None = None, extra: Iterable[str] = ()
) -> Redactor:
    """The redactor for ``config`` (plus ``extra`` credentials, e.g. ``--upstream``'s key)."""
    found = set(extra)
    if config is not None:
        found |= secrets_of(config, environ)
    return Redactor(found)


class RedactorCache:
    """The redactor of the configuration in force, rebuilt only when the config object changes."""

    __slots__ = ("_config", "_extra", "_redactor")

    def __init__(self, extra: Iterable[str] = ()) -> None:
        self._extra = tuple(extra)
        self._config: object = None
        self._redactor = Redactor(self._extra)

    @property
    def current(self) -> Redactor:
        """The last one built (for other threads: they never trigger a config reload)."""
        return self._redactor

    def get(self, config: Config | None) -> Redactor:
        if config is not self._config:
            self._redactor = redactor_for(config, extra=self._extra)
            self._config = config
        return self._redactor


def redact_record(record: RequestRecord, redactor: Redactor) -> RequestRecord:
    """``record`` with every stored text passed through ``redactor``."""

    def text(value: str | None) -> str | None:
        return None if value is None else redactor.text(value)

    return dataclasses.replace(
        record,
        error=text(record.error),
        failed=tuple(dataclasses.replace(f, reason=redactor.text(f.reason)) for f in record.failed),
        request_body=text(record.request_body),
        response_body=text(record.response_body),
        client_model=text(record.client_model),
        upstream_model=text(record.upstream_model),
    )
