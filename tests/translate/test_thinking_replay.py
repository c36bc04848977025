"""A tool loop replays the assistant's whole turn, thinking included (issue 19: MiniMax).

MiniMax's Anthropic API wants ``response.content`` appended whole, thinking blocks
included, in multi-turn tool calls
(https://platform.minimax.io/docs/api-reference/text-anthropic-api, checked 2026-12-02).
Anthropic's own API refuses a thinking block without its signature, so an unsigned one (a
Chat client's ``reasoning_content``) is kept only for the hosts that want it.
"""

from __future__ import annotations

from typing import Any

import pytest

from auto_router.translate import build_request, parse_request
from auto_router.translate.anthropic import wants_unsigned_thinking

TOOL = {"name": "ls", "description": "list", "input_schema": {"type": "object"}}
SIGNED = {"type": "thinking", "thinking": "I should list files.", "signature": "sig-abc"}
REDACTED = {"type": "redacted_thinking", "data": "opaque-xyz"}
CALL = {"type": "tool_use", "id": "toolu_1", "name": "ls", "input": {"path": "."}}
RESULT = {"type": "tool_result", "tool_use_id": "toolu_1", "content": "a.txt"}

ANTHROPIC_LOOP: dict[str, Any] = {
    "model": "claude",
    "max_tokens": 2048,
    "thinking": {"type": "enabled", "budget_tokens": 1024},
    "tools": [TOOL],
    "messages": [
        {"role": "user", "content": "what is here?"},
        {"role": "assistant", "content": [SIGNED, REDACTED, CALL]},
        {"role": "user", "content": [RESULT]},
    ],
}

CHAT_LOOP: dict[str, Any] = {
    "model": "m",
    "messages": [
        {"role": "user", "content": "what is here?"},
        {
            "role": "assistant",
            "reasoning_content": "I should list files.",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "ls", "arguments": '{"path": "."}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "a.txt"},
    ],
    "tools": [{"type": "function", "function": {"name": "ls", "parameters": {"type": "object"}}}],
}


def _assistant(body: dict[str, Any]) -> list[dict[str, Any]]:
    turns = [m for m in body["messages"] if m["role"] == "assistant"]
    assert len(turns) == 1
    content: list[dict[str, Any]] = turns[0]["content"]
    return content


def test_signed_and_redacted_thinking_survive_an_anthropic_round_trip() -> None:
    req = parse_request("anthropic", ANTHROPIC_LOOP)
    assert req.dropped == []
    for unsigned in (False, True):  # signed and redacted blocks go everywhere
        out = build_request("anthropic", req, "m", unsigned_thinking=unsigned)
        assert _assistant(out) == [SIGNED, REDACTED, CALL]


def test_a_chat_clients_reasoning_is_replayed_only_where_it_is_wanted() -> None:
    req = parse_request("chat", CHAT_LOOP)
    kept = _assistant(build_request("anthropic", req, "m", unsigned_thinking=True))
    assert [b["type"] for b in kept] == ["thinking", "tool_use"]
    assert kept[0]["thinking"] == "I should list files."
    dropped = _assistant(build_request("anthropic", req, "m"))
    assert [b["type"] for b in dropped] == ["tool_use"]  # Anthropic would refuse it


@pytest.mark.parametrize(
    ("url", "wanted"),
    [
        ("https://api.minimax.io/anthropic/v1/messages", True),
        ("https://api.minimaxi.com/anthropic/v1/messages", True),
        ("https://api.anthropic.com/v1/messages", False),
        ("https://openrouter.ai/api/v1/messages", False),
        ("http://127.0.0.1:9/v1/messages", False),
    ],
)
def test_the_hosts_that_get_unsigned_thinking(url: str, wanted: bool) -> None:
    assert wants_unsigned_thinking(url) is wanted
