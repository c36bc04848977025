"""A tool loop's thinking blocks reach an Anthropic-type provider as the client sent them,
signatures included, on real sockets (issue 19: MiniMax wants the whole assistant turn
replayed: https://platform.minimax.io/docs/api-reference/text-anthropic-api, checked
2026-12-02). The same-protocol path re-encodes the body only to change ``model``; this
checks that nothing else of the turn is lost on the way (``tests/translate`` checks the
translated paths)."""

from __future__ import annotations

from typing import Any

import anthropic
import pytest

from auto_router.demo import wire
from auto_router.demo.fake_upstream import Action, FakeUpstream, Reply, Seen
from auto_router.paths import Paths
from tests.helpers import closed_after_test, serve

from .conftest import make_app, write_config

pytestmark = pytest.mark.integration

SIGNED = {"type": "thinking", "thinking": "I should list files.", "signature": "sig-abc"}
REDACTED = {"type": "redacted_thinking", "data": "opaque-xyz"}
CALL = {"type": "tool_use", "id": "toolu_1", "name": "ls", "input": {"path": "."}}
RESULT = {"type": "tool_result", "tool_use_id": "toolu_1", "content": "a.txt"}


def _answer(seen: Seen) -> Action:
    return Reply(
        body=wire.anthropic_message(seen.json()["model"], [{"type": "text", "text": "ok"}])
    )


def test_thinking_blocks_in_a_tool_loop_pass_through_whole(home: Paths) -> None:
    with FakeUpstream(_answer) as fake:
        write_config(
            home,
            '[backends.claude]\nproviders = ["mm"]\n[message_backend]\ndefault = "claude"\n',
            f'[claude.mm]\ntype = "anthropic"\nbase_url = "{fake.root}"\n'
            'api_key = "sk-mm-secret-key-0000001"\nmodel = "MiniMax-M3"\n',
        )
        with serve(make_app(home)) as base:
            client = closed_after_test(
                anthropic.Anthropic(base_url=base, api_key="c", max_retries=0, timeout=20)
            )
            messages: Any = [
                {"role": "user", "content": "what is here?"},
                {"role": "assistant", "content": [SIGNED, REDACTED, CALL]},
                {"role": "user", "content": [RESULT]},
            ]
            done = client.messages.create(
                model="claude-sonnet",
                max_tokens=2048,
                thinking={"type": "enabled", "budget_tokens": 1024},
                tools=[{"name": "ls", "input_schema": {"type": "object"}}],
                messages=messages,
            )
    assert done.content[0].type == "text"
    sent = fake.seen[-1].json()
    assert sent["model"] == "MiniMax-M3"  # rewritten; the rest as the client sent it
    assert sent["messages"][1]["content"] == [SIGNED, REDACTED, CALL]
    assert sent["thinking"] == {"type": "enabled", "budget_tokens": 1024}
