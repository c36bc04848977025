"""What kind of provider a table is, and the endpoint its agent variables name.

One pure place (strings in, names out) read by the config checks, the launcher, the proxy's
URL rules (``providers.protocols``) and the CLI. The kinds:

- ``api``: the table names an API: a ``base_url``, or an explicit ``type`` with an
  ``api_key`` (the type's documented default host), or ``type = "lm-studio"`` (a local
  server on this machine, no key). Templates always write one of these.
- ``agent-variables``: the endpoint comes from the UPPERCASE variables an agent reads
  (``ANTHROPIC_BASE_URL`` with ``ANTHROPIC_AUTH_TOKEN``, ...; see ``FAMILIES``). Such a
  provider is an API provider too: the proxy can call it, fail over and translate.
- ``command``: a ``command`` (auto-coder's ``uvx qwen-openai-proxy``): run, never called.
- ``variables``: anything else (UPPERCASE variables only, or a key without a type): the
  launcher exports its variables to a direct run; the proxy never calls it, because the only
  host it could call would be one the user never wrote (``api.openai.com`` by default).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final

from ..secrets import looks_secret

API: Final = "api"
AGENT_VARIABLES: Final = "agent-variables"
COMMAND: Final = "command"
VARIABLES: Final = "variables"
#: Kinds whose endpoint the proxy may call.
CALLABLE: Final = frozenset({API, AGENT_VARIABLES})

#: One line per kind, for ``config validate`` and ``provider show``.
DESCRIPTION: Final[Mapping[str, str]] = {
    API: "API provider",
    AGENT_VARIABLES: "API provider (endpoint from agent variables)",
    COMMAND: "command provider (direct runs only)",
    VARIABLES: "variables-only provider (direct runs only; the proxy never calls it)",
}


@dataclass(frozen=True)
class Family:
    """The variables one family of agents reads for its endpoint, credential and model."""

    type: str
    url: str
    #: Credential variables, preferred first.
    keys: tuple[str, ...]
    model: str
    #: The base URL used when only the key is given (``None``: the URL is required).
    default_url: str | None = None


#: Claude Code: ANTHROPIC_BASE_URL and ANTHROPIC_AUTH_TOKEN (a bearer token) or
#: ANTHROPIC_API_KEY (x-api-key), https://docs.anthropic.com/en/docs/claude-code/settings;
#: the OpenAI SDKs (qwen-code, Codex): OPENAI_BASE_URL and OPENAI_API_KEY; Gemini CLI:
#: GEMINI_API_KEY, GOOGLE_GEMINI_BASE_URL, and with a key alone the host it calls anyway
#: (google-gemini/gemini-cli docs/get-started/authentication.md).
FAMILIES: Final = (
    Family(
        "anthropic",
        "ANTHROPIC_BASE_URL",
        ("ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_API_KEY"),
        "ANTHROPIC_MODEL",
    ),
    Family("openai", "OPENAI_BASE_URL", ("OPENAI_API_KEY",), "OPENAI_MODEL"),
    Family(
        "gemini",
        "GOOGLE_GEMINI_BASE_URL",
        ("GEMINI_API_KEY",),
        "GEMINI_MODEL",
        default_url="https://generativelanguage.googleapis.com",
    ),
)
_BY_TYPE: Final = {f.type: f for f in FAMILIES}
#: Every variable naming an endpoint, a credential or a model of some agent: an agent pointed at
#: the proxy never gets a provider's value for one (its own point at the proxy).
ENDPOINT_NAMES: Final = frozenset(
    {n for f in FAMILIES for n in (f.url, *f.keys, f.model)}
    | {"OPENAI_API_BASE", "ANTHROPIC_API_BASE", "GOOGLE_API_KEY", "GEMINI_BASE_URL"}
    | {"AZURE_OPENAI_API_KEY", "AZURE_OPENAI_ENDPOINT", "OPENAI_API_VERSION"}
    # headers Claude Code adds to every request: one provider's (a gateway's key, often)
    | {"ANTHROPIC_CUSTOM_HEADERS"}
    # Claude Code's per-tier model names: one provider's names; through the proxy they are
    # that provider's ``model_map`` (``CLAUDE_TIERS``).
    | {
        "ANTHROPIC_DEFAULT_OPUS_MODEL",
        "ANTHROPIC_DEFAULT_SONNET_MODEL",
        "ANTHROPIC_DEFAULT_HAIKU_MODEL",
        "ANTHROPIC_SMALL_FAST_MODEL",
    }
)


def passes_through(name: str) -> bool:
    """May a provider's variable ``name`` reach an agent pointed at the proxy? Not an endpoint,
    key or model variable, and nothing that looks like a credential: whatever the agent sends
    may be forwarded to another provider after a failover."""
    return name not in ENDPOINT_NAMES and not looks_secret(name)


@dataclass(frozen=True)
class Endpoint:
    """What a table's agent variables supply, each value as written (``${VAR}`` unexpanded)."""

    type: str
    base_url: str | None
    api_key: str | None
    model: str | None
    #: setting -> the variable it came from (``type``: the variable that decided it).
    sources: Mapping[str, str]


def with_agent_endpoint(settings: Mapping[str, Any], env: Mapping[str, str]) -> dict[str, Any]:
    """A provider table's checked settings, with what its agent variables name filled in
    where not written (``ANTHROPIC_BASE_URL`` + ``ANTHROPIC_AUTH_TOKEN``: ``anthropic``)."""
    result = {**settings, "explicit_type": "type" in settings}
    if settings.get("command"):
        return result  # a command provider is run, never called: its variables stay its own
    found = endpoint_from(
        env,
        type_=settings.get("type"),
        base_url=settings.get("base_url"),
        api_key=settings.get("api_key"),
        model=settings.get("model"),
    )
    if found is None:
        return result
    sources = dict(found.sources)
    result.update(type=found.type, base_url=found.base_url, api_key=found.api_key)
    tiers = tier_model_map(env) if found.type == "anthropic" else {}
    if tiers and "model_map" not in settings:
        result["model_map"] = MappingProxyType(tiers)
        sources["model_map"] = ", ".join(n for n, _ in CLAUDE_TIERS if n in env)
    result.update(model=found.model, derived=MappingProxyType(sources))
    return result


#: Claude Code's per-tier model variables and the client model names each one replaces
#: (https://code.claude.com/docs/en/env-vars; cc-switch's presets set them per provider).
#: Through the proxy they become the provider's ``model_map``, so each provider is asked for
#: its own tier models whichever provider the agent started on.
CLAUDE_TIERS: Final = (
    ("ANTHROPIC_DEFAULT_OPUS_MODEL", "claude-*opus*"),
    ("ANTHROPIC_DEFAULT_SONNET_MODEL", "claude-*sonnet*"),
    ("ANTHROPIC_DEFAULT_HAIKU_MODEL", "claude-*haiku*"),
    ("ANTHROPIC_SMALL_FAST_MODEL", "claude-*haiku*"),
)


def tier_model_map(env: Mapping[str, str]) -> dict[str, str]:
    """``{"claude-*haiku*": "glm-4.5-air", ...}`` from the tier variables written literally
    (a ``model_map`` is not ``${VAR}``-expanded)."""
    found: dict[str, str] = {}
    for name, pattern in CLAUDE_TIERS:
        value = env.get(name)
        if value and "$" not in value:
            found.setdefault(pattern, value)
    return found


def endpoint_from(
    env: Mapping[str, str],
    *,
    type_: str | None,
    base_url: str | None,
    api_key: str | None,
    model: str | None,
) -> Endpoint | None:
    """The endpoint the variables ``env`` name, filling only the settings not written.

    ``type_`` is the explicit ``type`` (``None`` when absent): with one, only that family's
    variables count. Without one and without a ``base_url``, the first family whose variables
    name a whole endpoint decides (a URL and a key; for Gemini either). ``None``: nothing."""
    candidates: tuple[Family, ...]
    if type_ is not None:
        family = _BY_TYPE.get(type_)
        candidates = (family,) if family is not None else ()
    elif base_url is not None:
        candidates = (_BY_TYPE["openai"],)  # the default type
    else:
        candidates = tuple(f for f in FAMILIES if _names_endpoint(f, env))[:1]
    for family in candidates:
        found = _fill(family, env, base_url=base_url, api_key=api_key, model=model)
        if found is not None and type_ is None and "base_url" in found.sources:
            sources = {"type": found.sources["base_url"], **found.sources}
            return Endpoint(found.type, found.base_url, found.api_key, found.model, sources)
        if found is not None:
            return found
    return None


def _names_endpoint(family: Family, env: Mapping[str, str]) -> bool:
    key = any(k in env for k in family.keys)
    if family.default_url is not None:
        return family.url in env or key
    return family.url in env and key


def _fill(
    family: Family,
    env: Mapping[str, str],
    *,
    base_url: str | None,
    api_key: str | None,
    model: str | None,
) -> Endpoint | None:
    sources: dict[str, str] = {}
    if base_url is None and family.url in env:
        base_url = env[family.url]
        sources["base_url"] = family.url
    elif base_url is None and family.default_url is not None and _names_endpoint(family, env):
        base_url = family.default_url
        sources["base_url"] = f"{family.keys[0]} (the Gemini CLI's default host)"
    if api_key is None:
        name = next((k for k in family.keys if k in env), None)
        if name is not None:
            api_key = env[name]
            sources["api_key"] = name
    if model is None and family.model in env:
        model = env[family.model]
        sources["model"] = family.model
    if not sources:
        return None
    return Endpoint(family.type, base_url, api_key, model, sources)


#: Types whose default host is this machine (a local server taking no key): the type alone
#: names it.
LOCAL_TYPES: Final = frozenset({"lm-studio"})


def kind_of(
    *,
    command: str | None,
    base_url: str | None,
    api_key: str | None,
    type_: str | None,
    derived: Mapping[str, str],
) -> str:
    """The kind of a provider from its settings (after ``endpoint_from`` filled them);
    ``type_`` is the written type (``None``: the default)."""
    if command:
        return COMMAND
    if "base_url" in derived:
        return AGENT_VARIABLES
    if base_url or (type_ is not None and (api_key or type_ in LOCAL_TYPES)):
        return API
    return VARIABLES


def derived_lines(derived: Mapping[str, str]) -> list[str]:
    """``base_url from ANTHROPIC_BASE_URL`` ... (names only, never a value)."""
    return [f"{setting} from {name}" for setting, name in derived.items() if setting != "type"]
