"""One redactor, built from the loaded configuration, for every place text leaves the process.

The configuration knows every credential auto-router holds: each provider's ``api_key`` and
secret-looking headers and UPPERCASE variables (``*_KEY``, ``*TOKEN``...), the proxy's admin
and client tokens, each both as written and with ``${VAR}`` expanded. ``Redactor`` masks
those values, their JSON-escaped forms, and any long fragment of one (an upstream that quotes
"sk-live-abc123def456..." in an error quotes a piece of the key, not always all of it).
Text that spells a key with JSON escapes (``\\u0073k-...``, which a client decodes to the key)
is read with those escapes decoded. Response headers, short and never parsed further, are held
to a stricter rule: any piece of ``MIN_SECRET`` key characters is masked (``key=sk-live-``).

It is applied where text is stored or shown: log lines (both formats), the rotation state's
``last_error``, the request log's columns and bodies, CLI output of stored text, every
management API response and every error body a client receives.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from collections.abc import Iterable, Mapping, Sequence
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
#: In a response header, a run this short is enough (a header quoting ``key=sk-live-`` leaks
#: the key's head; a header carries no prose that the stricter rule could garble).
_HEADER_FRAGMENT: Final = re.compile(r"[A-Za-z0-9_\-]{" + str(MIN_SECRET) + ",}")
#: One JSON escape, read left to right so that ``\\u0073`` stays a backslash and text.
_ESCAPE: Final = re.compile(r"\\(?:u[0-9a-fA-F]{4}|.)", re.DOTALL)
_ADMIN_TOKEN_ENV: Final = "AUTO_ROUTER_ADMIN_TOKEN"


class Redactor:
    """Masks a fixed set of credentials in text, bytes and JSON-like data.

    Every line that leaves the process goes through ``text`` or ``binary``, and almost none
    holds a credential: those pass after one cheap test that never misses a leak (see
    ``_Screen``). Only a line that might hold one takes the exact masking path.
    """

    __slots__ = (
        "_bytes",
        "_header_screen",
        "_header_windows",
        "_screen",
        "_secrets",
        "_text",
        "_windows",
    )

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        found = {s for s in secrets if len(s) >= MIN_SECRET}
        # JSON-escaped forms too: a key with a quote or backslash appears escaped in a body.
        found |= {json.dumps(s)[1:-1] for s in list(found)}
        self._secrets: tuple[str, ...] = tuple(sorted(found, key=len, reverse=True))
        # Every MIN_FRAGMENT-long piece of every credential: a word holding one of them
        # quotes part of a key ("sk-live-abc123def4..." in an error message).
        self._windows = _windows(found, MIN_FRAGMENT)
        # Headers: every MIN_SECRET-long piece made only of key characters.
        self._header_windows = frozenset(
            w for w in _windows(found, MIN_SECRET) if _HEADER_FRAGMENT.fullmatch(w)
        )
        self._text: re.Pattern[str] | None = None
        self._bytes: re.Pattern[bytes] | None = None
        if self._secrets:
            alternation = "|".join(re.escape(s) for s in self._secrets)
            self._text = re.compile(alternation)
            self._bytes = re.compile(alternation.encode())
        self._screen = _Screen(self._secrets, self._windows, MIN_FRAGMENT)
        self._header_screen = _Screen(self._secrets, self._header_windows, MIN_SECRET)

    def __bool__(self) -> bool:
        return bool(self._secrets)

    def text(self, value: str) -> str:
        """``value`` with every credential (or long piece of one) replaced by ``****``."""
        if self._text is None or not value:
            return value
        # One byte search for the usual line (no backslash); escapes only if there is one.
        if self._screen.clean(value) and ("\\" not in value or not _escaped(value)):
            return value
        return self._mask(value)

    def _mask(self, value: str) -> str:
        """The exact masking (slow: a Python call per long word); ``text`` skips it for
        lines that cannot hold a credential."""
        assert self._text is not None
        plain = _unescaped(value)
        masked = _FRAGMENT.sub(self._fragment, self._text.sub(MASK, plain))
        # Escapes are decoded only where that unmasks a key: other text keeps its spelling.
        return value if masked == plain else masked

    def _fragment(self, match: re.Match[str]) -> str:
        word = match.group(0)
        return MASK if _holds_piece(word, self._windows, MIN_FRAGMENT) else word

    def binary(self, value: bytes) -> bytes:
        """``value`` masked as ``text`` masks it (decoded as UTF-8 only when it may leak)."""
        if self._bytes is None or not value:
            return value
        if self._screen.clean_bytes(value) and (b"\\" not in value or not _escaped(value)):
            return value
        text = value.decode("utf-8", "replace")
        masked = self._mask(text)
        # Unchanged text: the bytes as they came (an invalid UTF-8 byte is not rewritten).
        return value if masked == text else masked.encode()

    def found(self, value: bytes) -> bool:
        """Whether ``value`` holds a credential or a long piece of one (what ``binary``
        masks); a cheap test first."""
        return self.binary(value) is not value  # ``binary`` screens first

    def headers(self, headers: Sequence[tuple[bytes, bytes]]) -> Sequence[tuple[bytes, bytes]]:
        """``headers`` with every credential, and every piece of one at least ``MIN_SECRET``
        key characters long, masked in their values; the same object when none is there (the
        hot path: one screen over all the values)."""
        if self._bytes is None or not headers:
            return headers
        if self._header_screen.clean_bytes(b"\n".join([v for _, v in headers])):
            return headers
        return [(name, self._header(value)) for name, value in headers]

    def _header(self, value: bytes) -> bytes:
        assert self._text is not None
        # As ``binary`` reads bytes; surrogateescape keeps any other byte as it came.
        text = value.decode("utf-8", "surrogateescape")
        masked = _HEADER_FRAGMENT.sub(self._header_piece, self._text.sub(MASK, text))
        return value if masked == text else masked.encode("utf-8", "surrogateescape")

    def _header_piece(self, match: re.Match[str]) -> str:
        word = match.group(0)
        return MASK if _holds_piece(word, self._header_windows, MIN_SECRET) else word

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


def _windows(secrets: Iterable[str], size: int) -> frozenset[str]:
    """Every ``size``-long piece of every one of ``secrets``."""
    return frozenset(s[i : i + size] for s in secrets for i in range(len(s) - size + 1))


def _holds_piece(word: str, windows: frozenset[str], size: int) -> bool:
    return any(word[i : i + size] in windows for i in range(len(word) - size + 1))


def _escaped(value: str | bytes) -> bool:
    """Whether ``value`` holds a JSON escape ``_unescaped`` decodes (a client would too)."""
    if isinstance(value, bytes):
        return b"\\u" in value or b"\\/" in value
    return "\\u" in value or "\\/" in value


def _unescaped(text: str) -> str:
    """``text`` with the JSON escapes that can spell a key character decoded (``\\u0073``
    -> ``s``, ``\\/`` -> ``/``); a quote or backslash becomes its short escape (how the
    JSON-escaped form of a key spells it), anything else stays escaped."""
    return _ESCAPE.sub(_canonical, text) if _escaped(text) else text


def _canonical(match: re.Match[str]) -> str:
    escape = match.group(0)
    if escape == "\\/":
        return "/"
    if len(escape) != 6:  # \n, \", \\ ...: already how a key's JSON form spells it
        return escape
    char = chr(int(escape[2:], 16))
    if char in '"\\':
        return "\\" + char
    if char < " " or "\ud800" <= char <= "\udfff":  # control or surrogate: no key character
        return escape
    return char


#: The screen samples ``_GRAM`` characters every ``size - _GRAM + 1`` characters. A piece of
#: a key (``size`` long) placed anywhere covers ``size - _GRAM + 1`` consecutive starting
#: points, so one sample always lands wholly inside it: a line whose samples are all foreign
#: to every key holds no piece of one. The stride must not grow past that.
_GRAM: Final = 4  # the four strided slices zipped in `_Screen.clean`
_KEY_CHARS: Final = re.compile(r"[A-Za-z0-9_\-]+")


class _Screen:
    """A test that a line holds no credential, in one C-level pass (~1 us per log line).

    ``clean`` is never wrong when it says yes (the exact masking would leave the line as it
    is); a no only means "look closer". It checks two things:

    * every piece of a key made of ``size`` key characters (what ``_FRAGMENT``, or for
      headers ``_HEADER_FRAGMENT``, can match) contains one of the line's samples: ``_GRAM``
      characters at every ``size - _GRAM + 1``-th position, looked up among the
      ``_GRAM``-grams of those pieces (tuples of one-character strings or of byte values,
      made by ``zip`` over strided slices, no Python loop);
    * credentials with no such piece (shorter than ``size``, or broken up by other
      characters) are searched for whole, by one regex of just those (usually none).
    """

    __slots__ = ("_byte_grams", "_grams", "_rest", "_rest_bytes", "_stride")

    def __init__(self, secrets: tuple[str, ...], windows: frozenset[str], size: int) -> None:
        pieces = [w for w in windows if len(w) == size and _KEY_CHARS.fullmatch(w)]
        self._stride = size - _GRAM + 1
        grams = {w[i : i + _GRAM] for w in pieces for i in range(self._stride)}
        self._grams = frozenset(tuple(g) for g in grams)
        self._byte_grams = frozenset(tuple(g.encode()) for g in grams)
        # A credential that holds one of those pieces is found by its piece.
        rest = [s for s in secrets if not any(p in s for p in pieces)]
        alternation = "|".join(re.escape(s) for s in rest)
        self._rest = re.compile(alternation) if rest else None
        self._rest_bytes = re.compile(alternation.encode()) if rest else None

    def clean(self, value: str) -> bool:
        # zip stops at the shortest slice, the last whole sample; no strict= (a keyword
        # argument sends zip down a slow path: +0.6 us here)
        step = self._stride
        samples = zip(value[0::step], value[1::step], value[2::step], value[3::step])  # noqa: B905
        if not self._grams.isdisjoint(samples):
            return False
        return self._rest is None or self._rest.search(value) is None

    def clean_bytes(self, value: bytes) -> bool:
        step = self._stride
        samples = zip(value[0::step], value[1::step], value[2::step], value[3::step])  # noqa: B905
        if not self._byte_grams.isdisjoint(samples):
            return False
        return self._rest_bytes is None or self._rest_bytes.search(value) is None


def secrets_of(config: Config, environ: Mapping[str, str] | None = None) -> set[str]:
    """Every credential ``config`` holds, as written and expanded (missing variables skipped)."""
    env = os.environ if environ is None else environ
    raw: list[str] = []
    for providers in config.providers.values():
        for provider in providers.values():
            if provider.api_key:
                raw.append(provider.api_key)
            raw.extend(provider.api_keys)
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
