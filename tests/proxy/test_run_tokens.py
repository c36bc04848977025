"""The proxy's hooks for ``auto-router run --via-proxy``: run tokens (required, routing to the
run's backend, recording failovers) and the 429 in the agent's own API when all are cooling."""

from __future__ import annotations

import os
import time

import anthropic
import httpx
import pytest

from auto_router.demo.fake_upstream import FakeUpstream, Reply, Seen
from auto_router.paths import Paths
from auto_router.runs import RunEntry, RuntimeDir, RunTokens, new_token
from tests.helpers import closed_after_test, serve

from .conftest import make_app, write_config

pytestmark = pytest.mark.integration

ANTHROPIC_429 = Reply(
    429,
    {"type": "error", "error": {"type": "rate_limit_error", "message": "slow down"}},
    headers={"retry-after": "120"},
)


def message(text: str) -> Reply:
    return Reply(
        body={
            "id": "m1",
            "type": "message",
            "role": "assistant",
            "model": "claude-x",
            "content": [{"type": "text", "text": text}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": {"input_tokens": 3, "output_tokens": 1},
        }
    )


def config(home: Paths, anth: str, other: str) -> None:
    write_config(
        home,
        '[backends.other]\nproviders = ["o"]\n[backends.claude]\nproviders = ["anth"]\n'
        '[message_backend]\ndefault = "other"\n[proxy]\nfallback = false\n',
        f'[other.o]\ntype = "anthropic"\nbase_url = "{other}"\napi_key = "sk-other-0000"\n'
        f'[claude.anth]\ntype = "anthropic"\nbase_url = "{anth}"\napi_key = "sk-anth-0000"\n',
    )


def register(home: Paths, backend: str) -> tuple[str, RunTokens]:
    runtime = RuntimeDir(home)
    token = new_token()
    runtime.register(token, RunEntry("run-1", backend, os.getpid(), time.time()))
    return token, RunTokens(runtime)


def test_a_run_token_is_required_and_routes_to_its_backend(home: Paths) -> None:
    with (
        FakeUpstream(lambda s: message("anth")) as anth,
        FakeUpstream(lambda s: message("other")) as other,
    ):
        config(home, anth.root, other.root)
        token, tokens = register(home, "claude")
        with serve(make_app(home, run_tokens=tokens)) as base:
            client = closed_after_test(
                anthropic.Anthropic(base_url=base, api_key=token, max_retries=0)
            )
            reply = client.messages.create(model="c", max_tokens=5, messages=[])
            assert reply.content[0].text == "anth"  # type: ignore[union-attr]
            for headers in ({}, {"x-api-key": "arr_" + "y" * 43}, {"x-api-key": "sk-anth-0000"}):
                refused = httpx.post(f"{base}/v1/messages", json={"model": "c"}, headers=headers)
                assert refused.status_code == 401
                assert refused.json()["error"]["type"] == "authentication_error"
    assert len(anth.seen) == 1 and not other.seen
    assert anth.seen[0].headers["x-api-key"] == "sk-anth-0000"  # the run token stayed here


def test_all_cooling_gives_the_agent_a_429_in_its_api_with_retry_after(home: Paths) -> None:
    def script(seen: Seen) -> Reply:
        return ANTHROPIC_429

    with FakeUpstream(script) as anth, FakeUpstream(lambda s: message("other")) as other:
        config(home, anth.root, other.root)
        token, tokens = register(home, "claude")
        with serve(make_app(home, run_tokens=tokens)) as base:
            client = closed_after_test(
                anthropic.Anthropic(base_url=base, api_key=token, max_retries=0)
            )
            for _ in range(2):  # the provider's own 429, then straight from the cooldown
                with pytest.raises(anthropic.RateLimitError) as caught:
                    client.messages.create(model="c", max_tokens=5, messages=[])
                error = caught.value
                assert error.status_code == 429
                assert 110 <= int(error.response.headers["retry-after"]) <= 120
                body = error.response.json()
                assert body["type"] == "error"
                assert body["error"]["type"] == "rate_limit_error"
                assert body["error"]["message"].startswith(
                    "all providers of claude are cooling down; anth is available again at "
                )
    assert len(anth.seen) == 1  # the second request never reached the cooling provider
    # the run's record holds both requests, each the cooling answer (the launcher reads it)
    events = RuntimeDir(home).events(token)
    assert [e["failed"] for e in events] == [[["anth", 429]], []]
    assert [(e["provider"], e["status"], e["cooling"]) for e in events] == [(None, 429, True)] * 2
