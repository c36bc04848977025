"""Which providers an agent can use, and how: directly, or through the local proxy.

Directly, an agent can only use a provider whose API it speaks (Claude Code cannot talk to an
OpenAI-type provider). A command or variables-only provider (``config.kinds``) is direct only.
Through the proxy, a provider is reachable when the proxy can call it (an API provider: a
``base_url``, a typed key, or agent endpoint variables) and either the agent's API family is
the provider's, or the proxy serves the agent's API for it through translation
(``serves.serves``: on unless ``translate = false`` for the provider or its backend); ``how``
says which.

``decide`` picks the mode of a run: ``--via-proxy`` / ``--direct``, else the backend's
``via_proxy``, else ``[launcher].via_proxy``; ``"auto"`` means the proxy when every enabled
provider of the backend is reachable through it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final, NamedTuple

from ..agents import Agent
from ..config import BackendConfig, Config, ProviderConfig, kinds
from ..errors import ProtocolMismatchError
from ..providers.serves import serves

#: Provider protocol -> the API family the proxy serves it on.
FAMILY: Final = {
    "openai": "openai",
    "azure-openai": "openai",
    "anthropic": "anthropic",
    "gemini": "gemini",
}
_API_NAMES: Final = {"openai": "OpenAI", "anthropic": "Anthropic", "gemini": "Gemini"}
#: The client protocol an agent of each family speaks to the proxy (``serves``' names); an
#: OpenAI-family agent speaking Responses (Codex CLI) is served wherever Chat is.
_CLIENT: Final = {"openai": "chat", "anthropic": "anthropic", "gemini": "gemini"}
THROUGH_TRANSLATION: Final = "through translation"


def family_of(provider: ProviderConfig) -> str:
    return FAMILY.get(provider.protocol, "openai")


class Reach(NamedTuple):
    """How ``agent`` can reach one provider."""

    direct: bool
    proxy: bool
    #: The family the agent talks to the proxy in (``None`` when not through the proxy).
    family: str | None
    #: Why not (or "same API"; later "through translation").
    how: str
    #: Why ``"auto"`` should still run direct although the proxy could serve it.
    prefer_direct: str | None = None


def reach(agent: Agent, provider: ProviderConfig, *, translate: bool = True) -> Reach:
    """``translate``: the backend's setting (the provider's own ``translate`` wins)."""
    family = family_of(provider)
    speaks = not agent.protocols or family in agent.protocols
    if not provider.has_api:
        # Before any proxy branch: the proxy could only call a host the user never wrote.
        return Reach(True, False, None, _not_an_api(provider))
    through = agent.protocols if agent.proxy_protocols is None else agent.proxy_protocols
    if through and family not in through:
        translated = _translated(agent, provider, through, translate)
        if translated is not None:
            # An agent that speaks the provider's API but has no base URL for it (aider and
            # Anthropic) still runs direct in auto mode: natively rather than translated.
            native = (
                f"{agent.title} speaks {provider.key}'s API directly; the proxy would translate"
                if speaks
                else None
            )
            return Reach(speaks, True, translated, THROUGH_TRANSLATION, prefer_direct=native)
    if speaks and through and family not in through:
        why = f"{agent.title} can only be pointed at the proxy in the {_apis(through)} API"
        return Reach(True, False, None, why)
    if not speaks:
        why = (
            f"{agent.title} speaks the {_apis(agent.protocols)} API and {provider.key} is a "
            f"provider of type {provider.type} (translation is off for it: translate = false)"
        )
        return Reach(False, False, None, why)
    return Reach(True, True, family, "same API")


def _not_an_api(provider: ProviderConfig) -> str:
    if provider.kind == kinds.COMMAND:
        return f"{provider.key} is a command, not an API"
    return (
        f"{provider.key} names no API endpoint (no base_url, no type with an api_key, no agent "
        "endpoint variables), so only a direct run can use its variables"
    )


def _translated(
    agent: Agent, provider: ProviderConfig, through: Sequence[str], translate: bool
) -> str | None:
    """The family ``agent`` can talk to the proxy in for ``provider`` through translation."""
    enabled = provider.translate if provider.translate is not None else translate
    _, served = serves(provider.protocol, responses=provider.responses, translate=enabled)
    return next((f for f in through if _CLIENT.get(f) in served), None)


def check_direct(agent: Agent, provider: ProviderConfig, *, translate: bool = True) -> None:
    """Refuse to point ``agent`` straight at a provider it cannot talk to."""
    found = reach(agent, provider, translate=translate)
    if found.direct:
        return
    if found.proxy:  # only through translation: say so, and how to get it
        raise ProtocolMismatchError(
            f"cannot run {agent.title} directly on {provider.key}: {agent.title} speaks the "
            f"{_apis(agent.protocols)} API and {provider.key} is a provider of type "
            f"{provider.type}, reachable only through translation in the local proxy",
            hint="run it through the proxy (--via-proxy, or leave out --direct)",
        )
    raise ProtocolMismatchError(
        f"cannot run {agent.title} on {provider.key}: {found.how}",
        hint=f"choose a provider of the {_apis(agent.protocols)} API (--provider), "
        f"or another backend (--backend)",
    )


class Mode(NamedTuple):
    via_proxy: bool
    #: The API family the agent speaks to the proxy.
    family: str | None
    reason: str


def decide(
    config: Config,
    backend: BackendConfig,
    agent: Agent,
    providers: Sequence[ProviderConfig],
    explicit: bool | None,
) -> Mode:
    """Direct or through the proxy, for a run starting on ``backend``."""
    setting: bool | str | None = explicit
    if setting is None:
        setting = backend.via_proxy if backend.via_proxy is not None else config.launcher.via_proxy
    if setting is False:
        return Mode(False, None, "direct (--direct or via_proxy = false)")
    reaches = [reach(agent, p, translate=backend.translate) for p in providers]
    families = {r.family for r in reaches if r.proxy}
    usable = bool(reaches) and all(r.proxy for r in reaches) and len(families) == 1
    soft = next((r.prefer_direct for r in reaches if r.prefer_direct), None) or _own_variables(
        providers
    )
    if usable and soft is not None and setting == "auto":
        return Mode(False, None, f"direct: {soft}")
    if usable:
        translated = sum(r.how == THROUGH_TRANSLATION for r in reaches)
        note = f" ({translated} through translation)" if translated else ""
        return Mode(True, families.pop(), "every provider is reachable through the proxy" + note)
    why = _why_not(reaches, families)
    if setting is True:
        raise ProtocolMismatchError(
            f"cannot run {agent.title} on backend {backend.name!r} through the proxy: {why}",
            hint="run it with --direct, or change the backend's providers",
        )
    return Mode(False, None, f"direct: {why}")


def _own_variables(providers: Sequence[ProviderConfig]) -> str | None:
    """Why ``"auto"`` stays direct when providers set different agent variables (other than
    their endpoints): through the proxy the agent gets only the current provider's, and the
    proxy changes providers per request; a direct run gives each attempt its own."""
    written = [{k: v for k, v in p.env.items() if kinds.passes_through(k)} for p in providers]
    names = sorted({k for env in written for k in env if any(e.get(k) != env[k] for e in written)})
    if not names:
        return None
    return (
        f"its providers set different variables for the agent ({', '.join(names)}), "
        "which only a direct run gives each provider"
    )


def _why_not(reaches: Sequence[Reach], families: set[str | None]) -> str:
    if not reaches:
        return "the backend has no enabled provider"
    blocked = [r.how for r in reaches if not r.proxy]
    if blocked:
        return blocked[0]
    return "its providers speak different APIs (" + ", ".join(sorted(map(str, families))) + ")"


def _apis(protocols: Sequence[str]) -> str:
    return " or ".join(_API_NAMES.get(p, p) for p in protocols) or "any"
