"""Issue 18, items 13b and 13d: which providers continue a cut stream, and the error text.

13b. A cut stream was continued only by a provider that declared ``prefill = true``, and an
Anthropic provider could not be told not to (``prefill = false`` was ignored). Now
``prefill`` defaults to the type's: on for the Anthropic protocol, whose Messages API
continues a trailing assistant message, off for the OpenAI-compatible ones; an explicit value
wins either way.

13d. The in-band error of a broken stream read ``upstream stream broke: upstream stream
broke: ...``; it says it once.

Fake providers on real sockets, the proxy on uvicorn, plain HTTP clients reading the SSE.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from auto_router.demo.fake_upstream import FakeUpstream, Seen, Stream
from auto_router.demo.wire import chat_chunks
from auto_router.paths import Paths
from tests.helpers import serve

from . import wire
from .conftest import make_app, write_config
from .faults import ANSWER, WORDS, Faults

pytestmark = pytest.mark.integration

CHAT = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "stream": True}
MESSAGES = {**CHAT, "max_tokens": 50}


def anthropic_continuing(seen: Seen) -> Stream:
    """An Anthropic provider: the whole ``ANSWER``, or the rest of a prefilled one."""
    data = seen.json()
    last = data["messages"][-1]
    done = ""
    if last["role"] == "assistant":
        content = last["content"]
        done = content if isinstance(content, str) else content[0]["text"]
    assert ANSWER.startswith(done), done
    rest = ANSWER[len(done) :]
    events, names = wire.anthropic_events("m", [rest[:5], rest[5:]] if done else WORDS)
    return Stream(events, event_names=names)


def anthropic_cut(seen: Seen) -> Stream:
    """An Anthropic provider whose stream dies after the first two words."""
    events, names = wire.anthropic_events("m", WORDS)
    return Stream(events, event_names=names, die_after=4)


def configure(
    home: Paths, one: FakeUpstream, one_type: str, two: FakeUpstream, two_meta: str
) -> None:
    one_url = one.root if one_type == "anthropic" else one.url
    write_config(
        home,
        '[backends.q]\nproviders = ["one", "two"]\n[message_backend]\ndefault = "q"\n',
        f'[q.one]\ntype = "{one_type}"\nbase_url = "{one_url}"\n'
        'api_key = "sk-one-secret-key-123456"\nmodel = "m"\n'
        f'[q.two]\ntype = "anthropic"\nbase_url = "{two.root}"\n'
        f'api_key = "sk-two-secret-key-654321"\nmodel = "m"\n{two_meta}',
    )


def chat_text(body: str) -> tuple[str, list[str]]:
    """The text an OpenAI chat stream carried, and its in-band error messages."""
    text, errors = "", []
    for line in body.splitlines():
        if not line.startswith("data: {"):
            continue
        event: dict[str, Any] = json.loads(line[6:])
        if "error" in event:
            errors.append(event["error"]["message"])
        for choice in event.get("choices", []):
            text += (choice.get("delta") or {}).get("content") or ""
    return text, errors


def messages_text(body: str) -> tuple[str, list[str]]:
    """The text an Anthropic Messages stream carried, and its error events' messages."""
    text, errors = "", []
    for line in body.splitlines():
        if not line.startswith("data: {"):
            continue
        event = json.loads(line[6:])
        if event.get("type") == "error":
            errors.append(event["error"]["message"])
        elif event.get("type") == "content_block_delta":
            text += event["delta"].get("text", "")
    return text, errors


def error_message(line: str) -> str | None:
    """The message of an in-band error event (OpenAI chat or Responses), else ``None``."""
    if not line.startswith("data: {"):
        return None
    event = json.loads(line[6:])
    if event.get("type") == "error":
        return str(event["message"])
    error = event.get("error")
    return str(error["message"]) if isinstance(error, dict) else None


def prefilled(fake: FakeUpstream) -> list[Seen]:
    return [s for s in fake.seen if s.json()["messages"][-1]["role"] == "assistant"]


def test_an_anthropic_provider_continues_a_cut_stream_without_declaring_it(home: Paths) -> None:
    with FakeUpstream(Faults()) as one, FakeUpstream(anthropic_continuing) as two:
        configure(home, one, "openai", two, "")
        with serve(make_app(home)) as base:
            resp = httpx.post(
                f"{base}/v1/chat/completions", json=CHAT, headers={"x-fault": "cut-after-2"}
            )
    assert chat_text(resp.text) == (ANSWER, [])
    assert len(prefilled(two)) == 1  # continued with the partial answer as a prefill


def test_prefill_false_on_an_anthropic_provider_wins(home: Paths) -> None:
    with FakeUpstream(anthropic_cut) as one, FakeUpstream(anthropic_continuing) as two:
        configure(home, one, "anthropic", two, "prefill = false\n")
        with serve(make_app(home)) as base:
            resp = httpx.post(f"{base}/v1/messages", json=MESSAGES, timeout=20)
    text, errors = messages_text(resp.text)
    assert text == "Hello world," and len(errors) == 1
    assert prefilled(two) == []  # never asked to continue


def test_prefill_true_still_lets_an_openai_compatible_provider_continue(home: Paths) -> None:
    """The explicit setting, for an OpenAI-compatible server that does continue."""

    def continuing(seen: Seen) -> Stream:
        last = seen.json()["messages"][-1]
        rest = ANSWER[len(last["content"]) :] if last["role"] == "assistant" else ANSWER
        return Stream(chat_chunks("m", [rest]))

    with FakeUpstream(Faults()) as one, FakeUpstream(continuing) as two:
        write_config(
            home,
            '[backends.q]\nproviders = ["one", "two"]\n[message_backend]\ndefault = "q"\n',
            f'[q.one]\nbase_url = "{one.url}"\napi_key = "sk-one-secret-key-123456"\n'
            f'[q.two]\nbase_url = "{two.url}"\napi_key = "sk-two-secret-key-654321"\n'
            "prefill = true\n",
        )
        with serve(make_app(home)) as base:
            resp = httpx.post(
                f"{base}/v1/chat/completions", json=CHAT, headers={"x-fault": "cut-after-2"}
            )
    assert chat_text(resp.text) == (ANSWER, [])


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/chat/completions", CHAT),  # the continuable relay (no one could continue)
        ("/v1/responses", {"model": "m", "input": "hi", "stream": True}),  # the plain relay
    ],
)
def test_the_broken_stream_error_says_it_once(home: Paths, path: str, body: dict[str, Any]) -> None:
    def cut(seen: Seen) -> Stream:
        if seen.route.endswith("/responses"):
            events, names = wire.responses_events("m", WORDS)
            return Stream(events, event_names=names, die_after=4)
        return Stream(chat_chunks("m", WORDS), die_after=2)

    with FakeUpstream(cut) as one:
        write_config(
            home,
            '[backends.q]\nproviders = ["one"]\n[message_backend]\ndefault = "q"\n',
            f'[q.one]\nbase_url = "{one.url}"\napi_key = "sk-one-secret-key-123456"\n'
            "responses = true\n",
        )
        with serve(make_app(home)) as base:
            resp = httpx.post(f"{base}{path}", json=body, timeout=20)
    messages = [m for m in map(error_message, resp.text.splitlines()) if m is not None]
    assert len(messages) == 1, resp.text
    assert messages[0].startswith("upstream stream broke: ")
    assert messages[0].count("stream broke") == 1, messages[0]
