"""What a malicious (or broken) upstream sends back, on real sockets (issue 18, items 4, 5, 9,
11, 13a, 13c): the proxy refuses it before the first byte (and the next provider answers),
or ends the stream with a clean error in the client's protocol after it; it never relays a
redirect, never gives an empty 200, never a traceback.

Provider ``one`` is the hostile one (the fake's actions in ``auto_router.demo.actions``),
``two`` a normal provider (``FakeProvider``). The caps are set small in the config, so the
answers that pass them stay small too; the memory test (``test_upstream_memory``) runs the
defaults against gigabyte answers.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from typing import Any

import anthropic
import httpx
import openai
import pytest

from auto_router.demo.actions import (
    Action,
    Late,
    Pour,
    Reply,
    Seen,
    Stream,
    deep_json,
    gzip_bomb,
    long_event,
    redirect,
)
from auto_router.demo.fake_upstream import FakeUpstream
from auto_router.demo.provider import FakeProvider
from auto_router.paths import Paths
from auto_router.store.requests import RequestFilter, read_requests
from tests.helpers import closed_after_test, serve

from .conftest import make_app, write_config

pytestmark = pytest.mark.integration

MESSAGES = [{"role": "user", "content": "hi"}]
MiB = 1024 * 1024
CAPS = """
[proxy]
max_response_bytes = 1048576
max_event_bytes = 262144
max_stream_bytes = 1048576
"""
TIMES = "header_timeout = 10\nfirst_token_timeout = 10\nidle_timeout = 10\n"


def _pool(home: Paths, one: FakeUpstream, two: FakeUpstream | None, times: str) -> None:
    names = '["one", "two"]' if two is not None else '["one"]'
    meta = f'[qwen.one]\nbase_url = "{one.url}"\napi_key = "sk-one-secret-key-123456"\n'
    meta += 'model = "one-model"\n'
    if two is not None:
        meta += f'[qwen.two]\nbase_url = "{two.url}"\napi_key = "sk-two-secret-key-654321"\n'
        meta += 'model = "two-model"\n'
    write_config(
        home,
        f'[backends.qwen]\nmodel = "m"\nproviders = {names}\n'
        f'[message_backend]\ndefault = "qwen"\n{CAPS}{times}',
        meta,
    )


@pytest.fixture
def proxy(home: Paths) -> Callable[..., Any]:
    """``proxy(one_script, two=True, times=TIMES)`` -> a context manager for the running
    proxy (``.base``) and its two fakes (``.one``, ``.two``)."""

    def start(script: Callable[[Seen], Action], *, two: bool = True, times: str = TIMES) -> Any:
        return _running(home, script, two, times)

    return start


class _Running:
    def __init__(self, base: str, one: FakeUpstream, two: FakeUpstream | None) -> None:
        self.base, self.one, self.two = base, one, two


def _running(home: Paths, script: Callable[[Seen], Action], two: bool, times: str) -> Any:
    @contextlib.contextmanager
    def run() -> Iterator[_Running]:
        with FakeUpstream(script) as one, FakeUpstream() as second:
            _pool(home, one, second if two else None, times)
            with serve(make_app(home)) as base:
                yield _Running(base, one, second if two else None)

    return run()


def _chat(base: str, *, stream: bool = False) -> str:
    with openai.OpenAI(base_url=f"{base}/v1", api_key="k", max_retries=0, timeout=60) as client:
        if not stream:
            done = client.chat.completions.create(model="m", messages=MESSAGES)  # type: ignore[arg-type]
            return done.choices[0].message.content or ""
        chunks = client.chat.completions.create(model="m", messages=MESSAGES, stream=True)  # type: ignore[arg-type]
        return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


def _two_answer(up: _Running, *, stream: bool = False) -> None:
    """The answer is two's, whole, and nothing of one's reached the client."""
    before = len(up.two.seen) if up.two is not None else 0
    text = _chat(up.base, stream=stream)
    assert up.two is not None and len(up.two.seen) == before + 1
    assert text and "aaaa" not in text and "one-model" not in text, text[:200]


# ------------------------------------------------------------------ 4: caps


def test_a_gzip_bomb_fails_over_before_the_first_byte(proxy: Callable[..., Any]) -> None:
    bomb = gzip_bomb(64 * MiB)  # ~65 KB on the wire, 64 MiB inflated
    assert len(bomb) < MiB
    script = lambda seen: Reply(body=bomb, headers={"content-encoding": "gzip"})  # noqa: E731
    with proxy(script) as up:
        _two_answer(up)
        assert len(up.one.seen) == 1  # refused, not retried on the same provider


def test_a_capped_answer_from_the_only_provider_is_a_clean_502(
    proxy: Callable[..., Any],
) -> None:
    bomb = gzip_bomb(8 * MiB)
    script = lambda seen: Reply(body=bomb, headers={"content-encoding": "gzip"})  # noqa: E731
    with proxy(script, two=False) as up:
        resp = httpx.post(
            f"{up.base}/v1/chat/completions", json={"model": "m", "messages": MESSAGES}, timeout=60
        )
        assert resp.status_code == 502
        error = resp.json()["error"]
        assert "max_response_bytes" in error["message"]
        assert "aaaa" not in resp.text


def test_one_endless_sse_event_fails_over_before_the_first_byte(
    proxy: Callable[..., Any],
) -> None:
    with proxy(lambda seen: long_event(8 * MiB)) as up:
        _two_answer(up, stream=True)


def test_a_stream_past_its_cap_ends_with_an_error_event_after_the_first_byte(
    proxy: Callable[..., Any],
) -> None:
    word = json.dumps({"choices": [{"index": 0, "delta": {"content": "w" * 1000}}]})
    endless = Stream([word] * 4000)  # ~4 MB of whole, small events
    with proxy(lambda seen: endless, two=False) as up:
        with pytest.raises(openai.APIError) as caught:
            _chat(up.base, stream=True)
        assert "max_stream_bytes" in str(caught.value)


def test_a_translated_stream_past_its_cap_ends_with_the_clients_error_event(
    proxy: Callable[..., Any],
) -> None:
    word = json.dumps({"choices": [{"index": 0, "delta": {"content": "w" * 1000}}]})
    endless = Stream([word] * 4000)
    with proxy(lambda seen: endless, two=False) as up:
        client = closed_after_test(
            anthropic.Anthropic(base_url=up.base, api_key="k", max_retries=0, timeout=60)
        )
        stream = client.messages.stream(model="m", max_tokens=10, messages=MESSAGES)  # type: ignore[arg-type]
        with pytest.raises(anthropic.APIStatusError) as caught, stream as events:
            for _ in events:
                pass
        assert "max_stream_bytes" in str(caught.value)


def test_a_first_chunk_that_ends_inside_the_second_event_is_not_malformed(
    proxy: Callable[..., Any],
) -> None:
    """The head is read to its first whole event; what follows it in the same chunk is an
    event still coming, not a malformed one (it failed over as "malformed" before)."""
    first = b'data: {"choices":[{"index":0,"delta":{"role":"assistant","content":"one "}}]}\n\n'
    rest = b'"},"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n'
    cut = Pour(
        head=first + b'data: {"choices":[{"index":0,"delta":{"content":"',
        piece=b"two",
        times=1,
        tail=rest,
        headers={"content-type": "text/event-stream"},
        chunked=True,
        pause=0.3,  # the head arrives alone, cut inside the second event
    )
    with proxy(lambda seen: cut) as up:
        assert _chat(up.base, stream=True) == "one two"
        assert up.two is not None and up.two.seen == []


# ------------------------------------------------------------------ 5: JSON to a stream


def _json_to_streams(seen: Seen) -> Action:
    """A provider that answers every chat request with one JSON body, ``stream`` or not."""
    return Reply(
        body={
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "model": "one-model",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "the whole answer"},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 3, "completion_tokens": 3, "total_tokens": 6},
        }
    )


def test_json_to_a_streamed_anthropic_request_comes_as_a_stream(
    proxy: Callable[..., Any],
) -> None:
    with proxy(_json_to_streams, two=False) as up:
        client = closed_after_test(
            anthropic.Anthropic(base_url=up.base, api_key="k", max_retries=0, timeout=60)
        )
        with client.messages.stream(model="m", max_tokens=10, messages=MESSAGES) as events:  # type: ignore[arg-type]
            text = "".join(events.text_stream)
            final = events.get_final_message()
        assert text == "the whole answer"
        assert final.stop_reason == "end_turn"
        assert up.one.seen[0].json()["stream"] is True


def test_json_to_a_streamed_gemini_request_comes_as_a_stream(proxy: Callable[..., Any]) -> None:
    with proxy(_json_to_streams, two=False) as up:
        url = f"{up.base}/v1beta/models/m:streamGenerateContent?alt=sse"
        body = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
        resp = httpx.post(url, json=body, timeout=60)
        assert resp.status_code == 200
        events = [
            json.loads(line[5:]) for line in resp.text.splitlines() if line.startswith("data:")
        ]
        texts = [
            part.get("text", "")
            for event in events
            for candidate in event.get("candidates", ())
            for part in candidate.get("content", {}).get("parts", ())
        ]
        assert "".join(texts) == "the whole answer"


# ------------------------------------------------------------------ 9: deep JSON


def test_a_request_nested_1000_deep_gets_a_400_in_the_clients_protocol(
    proxy: Callable[..., Any],
) -> None:
    nested = "[" * 1000 + "]" * 1000
    body = '{"model":"m","messages":[{"role":"user","content":' + nested + "}]}"
    with proxy(FakeProvider()) as up:
        resp = httpx.post(
            f"{up.base}/v1/chat/completions",
            content=body,
            headers={"content-type": "application/json"},
            timeout=60,
        )
        assert resp.status_code == 400, resp.text
        assert "nested too deeply" in resp.json()["error"]["message"]
        assert up.one.seen == []


def test_a_tool_schema_500_deep_through_translation_gets_an_anthropic_400(
    proxy: Callable[..., Any],
) -> None:
    schema = '{"type":"object","properties":{"x":' * 500 + '{"type":"string"}' + "}}" * 500
    body = (
        '{"model":"m","max_tokens":10,"messages":[{"role":"user","content":"hi"}],'
        '"tools":[{"name":"t","description":"d","input_schema":' + schema + "}]}"
    )
    with proxy(FakeProvider()) as up:
        resp = httpx.post(
            f"{up.base}/v1/messages",
            content=body,
            headers={"content-type": "application/json", "anthropic-version": "2023-06-01"},
            timeout=60,
        )
        assert resp.status_code == 400, resp.text
        data = resp.json()
        assert data["type"] == "error"
        assert "nested too deeply" in data["error"]["message"]


def test_a_deep_answer_through_translation_fails_over(proxy: Callable[..., Any]) -> None:
    with proxy(lambda seen: Reply(body=deep_json(5000))) as up:
        client = closed_after_test(
            anthropic.Anthropic(base_url=up.base, api_key="k", max_retries=0, timeout=60)
        )
        done = client.messages.create(model="m", max_tokens=10, messages=MESSAGES)  # type: ignore[arg-type]
        assert done.content[0].text  # type: ignore[union-attr]
        assert up.two is not None and len(up.two.seen) == 1


def test_a_deep_error_body_fails_over_without_a_traceback(proxy: Callable[..., Any]) -> None:
    with proxy(lambda seen: Reply(500, deep_json(5000))) as up:
        _two_answer(up)


def test_a_deep_answer_relayed_as_it_came_is_logged_without_a_traceback(
    proxy: Callable[..., Any], home: Paths
) -> None:
    """Untranslated, a deep answer is the client's to read; the request log (bodies on)
    keeps it as text instead of walking it."""
    deep = deep_json(5000)
    logged = TIMES + "[proxy.request_log]\nbodies = true\n"
    with proxy(lambda seen: Reply(body=deep), two=False, times=logged) as up:
        resp = httpx.post(
            f"{up.base}/v1/chat/completions", json={"model": "m", "messages": MESSAGES}, timeout=60
        )
        assert resp.status_code == 200 and resp.content == deep
    rows = read_requests(home, RequestFilter(limit=5))
    assert rows and rows[0].status == 200


# ------------------------------------------------------------------ 11: redirects


def test_a_redirect_fails_over_and_is_never_followed(proxy: Callable[..., Any]) -> None:
    with FakeUpstream() as elsewhere:
        with proxy(lambda seen: redirect(f"{elsewhere.url}/chat/completions?token=x")) as up:
            _two_answer(up)
            _two_answer(up, stream=True)
        assert elsewhere.seen == []  # the prompt went nowhere else


def test_a_redirect_from_the_only_provider_is_a_502_not_a_3xx(
    proxy: Callable[..., Any],
) -> None:
    with proxy(lambda seen: redirect("https://attacker.example/steal?key=sk-x"), two=False) as up:
        resp = httpx.post(
            f"{up.base}/v1/chat/completions",
            json={"model": "m", "messages": MESSAGES},
            timeout=60,
            follow_redirects=False,
        )
        assert resp.status_code == 502
        assert "location" not in resp.headers
        message = resp.json()["error"]["message"]
        assert "redirect to https://attacker.example" in message
        assert "sk-x" not in message  # the query (a token) is not repeated


def test_a_translated_redirect_fails_over(proxy: Callable[..., Any]) -> None:
    with proxy(lambda seen: redirect("http://127.0.0.1:9/x", status=302)) as up:
        client = closed_after_test(
            anthropic.Anthropic(base_url=up.base, api_key="k", max_retries=0, timeout=60)
        )
        done = client.messages.create(model="m", max_tokens=10, messages=MESSAGES)  # type: ignore[arg-type]
        assert done.content[0].text  # type: ignore[union-attr]
        assert up.two is not None and len(up.two.seen) == 1


# ------------------------------------------------------------------ 13c: header_timeout


def test_header_timeout_longer_than_the_stream_limits_is_the_heads_limit(
    proxy: Callable[..., Any],
) -> None:
    """The head comes after 3 s; header_timeout (10 s) allows it, though the first-token
    and idle limits (1 s) are shorter: they count from the head, not before it."""
    provider = FakeProvider()
    times = "header_timeout = 10\nfirst_token_timeout = 1\nidle_timeout = 1\n"
    with proxy(lambda seen: Late(3, provider(seen)), two=False, times=times) as up:  # type: ignore[arg-type]
        assert _chat(up.base, stream=True)
        assert len(up.one.seen) == 1


def test_header_timeout_still_bounds_the_head(proxy: Callable[..., Any]) -> None:
    provider = FakeProvider()
    times = "header_timeout = 0.5\nfirst_token_timeout = 30\nidle_timeout = 30\n"
    with proxy(lambda seen: Late(20, provider(seen)), times=times) as up:  # type: ignore[arg-type]
        _two_answer(up, stream=True)
