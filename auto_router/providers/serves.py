"""Which client protocols a provider serves: natively, and through translation.

The single statement of the rule the proxy's routing applies (``proxy/translation.routes``)
and that ``status`` / ``provider show`` report.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from ..config import kinds

if TYPE_CHECKING:
    from ..config import ProviderConfig

#: Client protocols, in the order they are listed.
ALL: Final = ("chat", "responses", "anthropic", "gemini")


def serves(protocol: str, *, responses: bool, translate: bool) -> tuple[list[str], list[str]]:
    """(native, translated) client protocols of a provider speaking ``protocol``.

    ``protocol`` is a provider's wire protocol (``openai``, ``azure-openai``, ``anthropic``,
    ``gemini``). An OpenAI-type provider serves Responses natively when it says so
    (``responses = true``) or when translation is off (requests then pass as they are).
    """
    if protocol in ("anthropic", "gemini"):
        native = [protocol]
    else:
        native = ["chat", "responses"] if responses or not translate else ["chat"]
    translated = [p for p in ALL if p not in native] if translate else []
    return native, translated


def describe(protocol: str, *, responses: bool, translate: bool) -> str:
    """``speaks chat; translated: responses, anthropic, gemini`` (for CLI lines)."""
    native, translated = serves(protocol, responses=responses, translate=translate)
    text = "speaks " + ", ".join(native)
    return text + ("; translated: " + ", ".join(translated) if translated else "; no translation")


def describe_provider(provider: ProviderConfig, *, translate: bool) -> str:
    """``describe``'s line for an API provider, what was read from agent variables, or why
    the proxy never calls it (a command or variables-only provider)."""
    if not provider.has_api:
        return kinds.DESCRIPTION[provider.kind]
    text = describe(provider.protocol, responses=provider.responses, translate=translate)
    if provider.derived:
        text += "; from agent variables: " + ", ".join(kinds.derived_lines(provider.derived))
    return text
