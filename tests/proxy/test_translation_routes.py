"""The proxy's routes agree with what ``status`` reports (providers/serves.py)."""

from __future__ import annotations

import pytest

from auto_router.providers.serves import serves
from auto_router.proxy.endpoints import ANTHROPIC, GEMINI, OPENAI
from auto_router.proxy.translation import CLIENT_PROTOCOL, routes

URLS = {
    OPENAI: {"chat": "u/chat", "responses": "u/responses", "models": "u/models"},
    ANTHROPIC: {"messages": "u/messages", "anthropic_models": "u/models"},
    GEMINI: {},
}
PROTOCOL = {OPENAI: "openai", ANTHROPIC: "anthropic", GEMINI: "gemini"}


@pytest.mark.parametrize("family", [OPENAI, ANTHROPIC, GEMINI])
@pytest.mark.parametrize("responses", [True, False])
@pytest.mark.parametrize("translate", [True, False])
def test_routes_match_what_status_reports(family: str, responses: bool, translate: bool) -> None:
    found = routes(
        family,
        URLS[family],
        "g/models/" if family == GEMINI else "",
        responses=responses,
        enabled=translate,
    )
    translated = {
        CLIENT_PROTOCOL[e] for e, r in found.items() if r.upstream not in ("models", "estimate")
    }
    native, expected = serves(PROTOCOL[family], responses=responses, translate=translate)
    assert translated == set(expected)
    assert not translated & set(native)
