"""Parsing what management commands take: ``B/P`` references and ``key=value`` options."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from ..errors import ConfigValidationError, ProviderNotFoundError

if TYPE_CHECKING:
    from ..config import Config

#: Settings that are always strings, whatever they look like (``model=123``).
_STRING_KEYS: Final = frozenset(
    {
        "type",
        "description",
        "command",
        "base_url",
        "api_key",
        "model",
        "api_version",
        "deployment",
        "agent",
    }
)


def split_ref(ref: str, backend: str | None = None) -> tuple[str | None, str]:
    """``B/P`` -> (B, P); ``P`` with ``--backend B`` -> (B, P); a bare ``P`` -> (None, P)."""
    if "/" in ref:
        head, _, tail = ref.partition("/")
        if backend is not None and backend != head:
            raise ConfigValidationError(
                f"{ref!r} names backend {head!r} but --backend says {backend!r}"
            )
        return head, tail
    return backend, ref


def resolve_ref(config: Config, ref: str, backend: str | None = None) -> tuple[str, str]:
    """The (backend, provider) a reference means; a bare name must be unique."""
    b, p = split_ref(ref, backend)
    if b is not None:
        config.provider(b, p)
        return b, p
    owners = [name for name, providers in config.providers.items() if p in providers]
    if len(owners) == 1:
        return owners[0], p
    if not owners:
        raise ProviderNotFoundError(
            f"no provider named {p!r}", hint="list them with `auto-router provider list`"
        )
    raise ProviderNotFoundError(
        f"provider {p!r} exists in several backends ({', '.join(owners)})",
        hint=f"say which: {owners[0]}/{p}",
    )


def parse_assignments(items: list[str], what: str = "--set") -> dict[str, str]:
    result: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigValidationError(
                f"{what} expects KEY=VALUE, got {item!r}", hint=f"for example {what} model=gpt-4o"
            )
        result[key.strip()] = value
    return result


def parse_value(key: str, text: str) -> Any:
    """A ``--set`` value: strings stay strings for string settings and UPPERCASE variables;
    otherwise TOML syntax is understood (``30``, ``true``, ``["a", "b"]``, ``{ X = "y" }``)."""
    if key in _STRING_KEYS or key.isupper():
        return text
    import tomllib

    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def parse_settings(items: list[str]) -> dict[str, Any]:
    return {k: parse_value(k, v) for k, v in parse_assignments(items).items()}
