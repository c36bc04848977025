"""claude-code-router's ``~/.claude-code-router/config.json``: its providers and routes.

What the file holds, as claude-code-router 1.x reads it (musistudio/claude-code-router at
v1.0.49: ``README.md`` "Configuration", ``src/utils/index.ts`` ``readConfigFile``,
``src/utils/router.ts`` ``getUseModel``; the 2.x app still reads this file as its legacy
source, ``packages/core/src/config/config.ts`` ``readLegacyJsonConfig``):

- ``Providers``: ``name``, ``api_base_url`` (the full endpoint, ``.../chat/completions``),
  ``api_key``, ``models`` and ``transformer`` (``{"use": [...], "<model>": {"use": [...]}}``).
  Each becomes a provider of one backend (``claude`` unless told otherwise): the base URL is
  the endpoint without its path, the type comes from the transformer (``anthropic``,
  ``gemini``; ``openrouter``, ``deepseek``, ``groq`` and none speak OpenAI Chat), ``model``
  is the model the routes give that provider (else its first), and its other models go
  upstream under their own name (``model_map``), as claude-code-router's ``/model`` did.
- ``Router``: ``"provider,model"`` per route. ``default`` goes first in the rotation order;
  ``background``, ``think``, ``longContext``, ``webSearch`` and ``image`` become
  ``[proxy.models]`` entries: a client asking for that model gets that provider. The
  conditions claude-code-router chose them by (a haiku model, thinking, a token count, a web
  search tool, an image) have no equivalent and are reported.
- Every string may say ``$VAR`` or ``${VAR}`` (the same regular expression as
  ``interpolateEnvVars``), written here as ``${VAR}``; any other ``$`` is written ``$$``.
- ``API_TIMEOUT_MS`` becomes each provider's ``timeout``. Everything else is reported.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from ..editing import Documents
from ..errors import ConfigError
from .jsonish import load_json
from .tables import import_providers, pin_model, slug

DEFAULT_PATH: Final = Path("~/.claude-code-router/config.json")
ROUTES: Final = ("default", "background", "think", "longContext", "webSearch", "image")
_WHEN: Final = {
    "background": "a claude-3-5-haiku model (Claude Code's background requests)",
    "think": "requests with thinking on",
    "longContext": "requests over longContextThreshold tokens",
    "webSearch": "requests with a web_search tool",
    "image": "requests with an image",
}
#: Transformers that say which wire protocol the provider speaks.
_TYPE_OF: Final = {
    "anthropic": "anthropic",
    "gemini": "gemini",
    "openrouter": "openai",
    "deepseek": "openai",
    "groq": "openai",
    "openai": "openai",
}
#: Transformers for APIs auto-router cannot call (Vertex OAuth, another CLI's login).
_UNREACHABLE: Final = frozenset({"vertex-gemini", "vertex-claude", "gemini-cli", "qwen-cli"})
_MAPPED_KEYS: Final = frozenset({"Providers", "Router", "API_TIMEOUT_MS"})
#: Endpoint paths claude-code-router's api_base_url ends in, per type (longest first).
_ENDPOINTS: Final = {
    "openai": (r"/chat/completions/?$", r"/responses/?$", r"/completions/?$"),
    "anthropic": (r"/v1/messages/?$", r"/messages/?$", r"/v1/?$"),
    "gemini": (r"/v1beta/models(/.*)?$", r"/v1/models(/.*)?$", r"/v1beta/?$", r"/v1/?$"),
}
# interpolateEnvVars: /\$\{([^}]+)\}|\$([A-Z_][A-Z0-9_]*)/g
_VARIABLE: Final = re.compile(r"\$\{([^}]+)\}|\$([A-Z_][A-Z0-9_]*)|\$")
_NAME: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def import_claude_code_router(
    docs: Documents, text: str, path: Path, backend: str, notes: list[str]
) -> None:
    data = load_json(text, path, json5=True)
    if not isinstance(data, dict):
        raise ConfigError("expected a JSON object at the top", path=path)
    label = path.name
    raw_providers = data.get("Providers", data.get("providers", []))
    if not isinstance(raw_providers, list):
        raise ConfigError("expected a list", path=path, key_path="Providers")
    router = data.get("Router") or {}
    if not isinstance(router, dict):
        raise ConfigError("expected an object", path=path, key_path="Router")
    routes = _routes(router, label, notes)
    timeout = _timeout(data.get("API_TIMEOUT_MS"), label, notes)
    entries: list[tuple[str, dict[str, Any]]] = []
    names: dict[str, str] = {}  # claude-code-router's name (lowercase) -> provider name
    for index, raw in enumerate(raw_providers):
        entry = _provider(raw, index, routes, label, notes)
        if entry is None:
            continue
        name, settings, original = entry
        while name in names.values():
            name += "-2"
        if timeout is not None:
            settings["timeout"] = timeout
        names[original.lower()] = name
        entries.append((name, settings))
    default = routes.get("default")
    first = names.get(default[0].lower()) if default else None
    entries.sort(key=lambda e: e[0] != first)
    added = import_providers(docs, backend, "claude", entries, label, notes)
    kept = {k: v for k, v in names.items() if v in added}
    _pin_routes(docs, backend, routes, kept, label, notes)
    skipped = sorted(k for k in data if k not in _MAPPED_KEYS and k != "providers")
    if skipped:
        notes.append(f"{label}: not imported (no equivalent here): {', '.join(skipped)}")


def _routes(router: Mapping[str, Any], label: str, notes: list[str]) -> dict[str, tuple[str, str]]:
    """``Router``'s routes as (provider, model); what cannot be read is reported."""
    routes: dict[str, tuple[str, str]] = {}
    for key, value in router.items():
        if key not in ROUTES:
            notes.append(f"{label}: Router.{key} not imported (no equivalent here)")
            continue
        provider, sep, model = str(value).partition(",")
        if not isinstance(value, str) or not sep or not provider.strip() or not model.strip():
            notes.append(f'{label}: Router.{key} not imported: expected "provider,model"')
            continue
        routes[key] = (provider.strip(), model.strip())
    return routes


def _timeout(value: Any, label: str, notes: list[str]) -> int | float | None:
    if value is None:
        return None
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
        seconds = value / 1000
        return int(seconds) if seconds == int(seconds) else seconds
    notes.append(f"{label}: API_TIMEOUT_MS not imported: expected milliseconds")
    return None


def _provider(
    raw: Any,
    index: int,
    routes: Mapping[str, tuple[str, str]],
    label: str,
    notes: list[str],
) -> tuple[str, dict[str, Any], str] | None:
    """(provider name, settings, claude-code-router's name), or ``None`` when not usable."""
    where = f"{label}: Providers[{index}]"
    if not isinstance(raw, dict) or not isinstance(raw.get("name"), str) or not raw["name"]:
        notes.append(f"{where} not imported: expected an object with a name")
        return None
    original = raw["name"]
    where = f'{where} "{original}"'
    url = raw.get("api_base_url") or raw.get("baseUrl")
    if not isinstance(url, str) or not url.strip():
        notes.append(f"{where} not imported: it has no api_base_url")
        return None
    kind, enabled = _kind(raw.get("transformer"), where, notes)
    listed = raw.get("models")
    models = [m for m in listed if isinstance(m, str) and m] if isinstance(listed, list) else []
    chosen = [m for p, m in routes.values() if p.lower() == original.lower()]
    settings: dict[str, Any] = {
        "description": f"imported from claude-code-router ({original})",
        "type": kind,
        "base_url": _interpolate(_base_url(url.strip(), kind)),
    }
    if not enabled:
        settings["enabled"] = False
    key = raw.get("api_key") or raw.get("apiKey")
    if isinstance(key, str) and key:
        settings["api_key"] = _interpolate(key)
    model = next(iter(chosen or models), None)
    if model:
        settings["model"] = model.replace("$", "$$")  # model is ${VAR}-expanded here
    others = [m for m in dict.fromkeys([*models, *chosen]) if m != model]
    if others:
        settings["model_map"] = {m: m for m in others}
    skipped = sorted(k for k in raw if k not in _PROVIDER_KEYS)
    if skipped:
        notes.append(f"{where}: not imported: {', '.join(skipped)}")
    return slug(original, f"provider-{index + 1}"), settings, original


_PROVIDER_KEYS: Final = frozenset(
    {"name", "api_base_url", "baseUrl", "api_key", "apiKey", "models", "transformer"}
)


def _kind(transformer: Any, where: str, notes: list[str]) -> tuple[str, bool]:
    """The provider type its transformers imply, and whether auto-router can call it."""
    kind, enabled = "openai", True
    if transformer is None:
        return kind, enabled
    if not isinstance(transformer, dict):
        notes.append(f"{where}: transformer not imported: expected an object")
        return kind, enabled
    for scope, value in transformer.items():
        uses = value if scope == "use" else value.get("use") if isinstance(value, dict) else None
        for use in uses if isinstance(uses, list) else []:
            name = str(use[0] if isinstance(use, list) and use else use)
            options = isinstance(use, list) and len(use) > 1
            whose = "" if scope == "use" else f" (model {scope})"
            if scope == "use" and name.lower() in _TYPE_OF:
                kind = _TYPE_OF[name.lower()]
                if options:
                    notes.append(f"{where}: transformer {name!r} options not imported")
            elif name.lower() in _UNREACHABLE:
                enabled = False
                notes.append(
                    f"{where}: transformer {name!r}{whose} has no equivalent here: "
                    "imported disabled"
                )
            else:
                notes.append(
                    f"{where}: transformer {name!r}{whose} not imported "
                    "(requests go upstream as the agent wrote them, translated if needed)"
                )
    return kind, enabled


def _base_url(url: str, kind: str) -> str:
    """``https://api.deepseek.com/chat/completions`` -> ``https://api.deepseek.com``."""
    for pattern in _ENDPOINTS[kind]:
        stripped = re.sub(pattern, "", url)
        if stripped != url:
            return stripped.rstrip("/")
    return url.rstrip("/")


def _interpolate(text: str) -> str:
    """claude-code-router's ``$VAR`` / ``${VAR}`` as ``${VAR}``; another ``$`` as ``$$``."""

    def one(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        return (
            "${" + name + "}"
            if name and _NAME.fullmatch(name)
            else match.group(0).replace("$", "$$")
        )

    return _VARIABLE.sub(one, text)


def _pin_routes(
    docs: Documents,
    backend: str,
    routes: Mapping[str, tuple[str, str]],
    names: Mapping[str, str],
    label: str,
    notes: list[str],
) -> None:
    for route, (provider, model) in routes.items():
        name = names.get(provider.lower())
        if name is None:
            notes.append(f"{label}: Router.{route} not imported: provider {provider!r} was not")
            continue
        if route == "default":
            notes.append(f"{label}: Router.default -> {backend}/{name} first, model {model}")
            continue
        if pin_model(docs, model, f"{backend}/{name}", label, notes):
            notes.append(
                f'{label}: Router.{route} -> [proxy.models] {model!r} = "{backend}/{name}" '
                f"(chosen by model name here, not for {_WHEN[route]})"
            )
