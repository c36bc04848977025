"""The less common endpoints on real sockets (uvicorn in front of fake providers), driven by
the official ``openai`` and ``anthropic`` SDKs; Gemini's native API with httpx, speaking what
Gemini CLI sends (there is no Gemini SDK among the test dependencies)."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable

import anthropic
import httpx
import openai
import pytest

from auto_router.demo.fake_upstream import Action, FakeUpstream, Hang, Reply, Seen, Stream
from auto_router.paths import Paths
from auto_router.rotation.service import Rotator
from auto_router.store.requests import RequestFilter, RequestRecord, read_requests
from tests.helpers import closed_after_test, serve

from . import wire
from .conftest import Clock, make_app, two_providers, write_config

pytestmark = pytest.mark.integration

Pair = tuple[FakeUpstream, FakeUpstream]
MESSAGES = [{"role": "user", "content": "hi"}]


def sdk(base: str) -> openai.OpenAI:
    return closed_after_test(
        openai.OpenAI(base_url=f"{base}/v1", api_key="client-key", max_retries=0, timeout=20)
    )


def logged(home: Paths) -> list[RequestRecord]:
    return list(reversed(read_requests(home, RequestFilter(limit=100))))


def openai_script(
    *, hold_at: int | None = None, release: threading.Event | None = None
) -> Callable[[Seen], Action]:
    """Responses, embeddings, completions and models like OpenAI answers them."""

    def script(seen: Seen) -> Action:
        if seen.method == "GET" and seen.path.endswith("/models"):
            return Reply(body={"object": "list", "data": [{"id": "up-1", "object": "model",
                                                           "created": 0, "owned_by": "x"}]})  # fmt: skip
        data = seen.json()
        model = data["model"]
        if seen.path.endswith("/responses"):
            if data.get("stream"):
                events, names = wire.responses_events(model, ["Hel", "lo", "!"])
                return Stream(events, event_names=names, hold_at=hold_at, release=release)
            return Reply(body=wire.response_object(model, "Hello", usage=wire.RESPONSES_USAGE))
        if seen.path.endswith("/embeddings"):
            inputs = data["input"] if isinstance(data["input"], list) else [data["input"]]
            return Reply(
                body=wire.embedding_response(model, data.get("encoding_format"), len(inputs))
            )
        if seen.path.endswith("/completions") and data.get("stream"):
            chunks = [
                json.dumps({**wire.completion_response(model, word), "usage": None})
                for word in (" wor", "ld")
            ]
            return Stream([*chunks, "[DONE]"])
        if seen.path.endswith("/completions"):
            return Reply(body=wire.completion_response(model))
        return Reply(404, {"error": {"message": f"no route {seen.path}"}})

    return script


# ------------------------------------------------------------------ Responses API


def test_responses_through_the_openai_sdk(home: Paths, upstreams: Pair) -> None:
    one, two = upstreams
    release = threading.Event()
    # the upstream holds back everything after the first delta until the client has seen it
    one.script = openai_script(hold_at=4, release=release)
    two_providers(home, one.url, two.url)
    app = make_app(home)
    with serve(app) as base:
        client = sdk(base)
        reply = client.responses.create(model="qwen3-coder", input="hi")
        assert reply.output_text == "Hello"
        assert reply.model == "one-model"  # the model that answered
        assert reply.usage is not None and reply.usage.total_tokens == 17

        kinds: list[str] = []
        deltas: list[str] = []
        for event in client.responses.create(model="qwen3-coder", input="hi", stream=True):
            kinds.append(event.type)
            if event.type == "response.output_text.delta":
                deltas.append(event.delta)
                release.set()  # only now does the upstream send the rest: relayed, not buffered
            if event.type == "response.completed":
                assert event.response.usage is not None
                assert event.response.usage.output_tokens == 5
        assert deltas == ["Hel", "lo", "!"]
        assert kinds[0] == "response.created" and kinds[-1] == "response.completed"

        with client.responses.stream(model="qwen3-coder", input="hi") as stream:
            final = stream.get_final_response()
        assert final.output_text == "Hello!"
        assert app.services.request_log is not None and app.services.request_log.flush()
    assert [s.json()["model"] for s in one.seen] == ["one-model"] * 3
    assert one.seen[0].path == "/v1/responses"
    assert one.seen[0].headers["authorization"] == "Bearer sk-one-secret-key-123456"
    assert two.seen == []
    rows = logged(home)
    assert [(r.endpoint, r.stream) for r in rows] == [("responses", False), ("responses", True),
                                                      ("responses", True)]  # fmt: skip
    assert [(r.prompt_tokens, r.completion_tokens, r.total_tokens) for r in rows] == [
        (12, 5, 17)
    ] * 3


def test_responses_stream_fails_over_on_429_before_the_first_byte(
    home: Paths, clock: Clock
) -> None:
    limited = Reply(429, {"error": {"message": "Rate limit reached"}}, {"retry-after": "120"})
    with FakeUpstream(lambda seen: limited) as one, FakeUpstream(openai_script()) as two:
        two_providers(home, one.url, two.url)
        with serve(make_app(home, clock)) as base:
            events = list(sdk(base).responses.create(model="m", input="hi", stream=True))
        assert len(one.seen) == 1 and len(two.seen) == 1
    assert events[-1].type == "response.completed"
    assert two.seen[0].json()["model"] == "two-model"
    cooldown = Rotator(home, clock=clock).state("qwen").provider("one").cooldown_until
    assert cooldown == clock.now + 120


def test_responses_stream_dying_midway_ends_with_an_error_event(home: Paths) -> None:
    def script(seen: Seen) -> Stream:
        events, names = wire.responses_events("m", ["a", "b", "c"])
        return Stream(events, event_names=names, die_after=4)

    with FakeUpstream(script) as one, FakeUpstream(openai_script()) as two:
        two_providers(home, one.url, two.url)
        app = make_app(home)
        with serve(app) as base:
            events = list(sdk(base).responses.create(model="m", input="hi", stream=True))
            assert app.services.request_log is not None and app.services.request_log.flush()
        assert two.seen == []  # no failover after the first byte
    assert [e.type for e in events] == [
        "response.created",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "error",
    ]
    error = events[-1]
    assert error.type == "error"
    assert "upstream stream broke" in error.message
    assert error.sequence_number == 4
    (row,) = logged(home)
    assert row.status == 200 and row.error is not None and "stream broke" in row.error


# --------------------------------------------------- embeddings, completions, models


def test_embeddings_and_completions_through_the_openai_sdk(home: Paths, upstreams: Pair) -> None:
    one, two = upstreams
    one.script = openai_script()
    two_providers(home, one.url, two.url)
    app = make_app(home)
    with serve(app) as base:
        client = sdk(base)
        # the SDK asks for base64 and decodes it: the bytes must come through unchanged
        embedded = client.embeddings.create(model="qwen3-coder", input=["a", "b"])
        assert [e.embedding for e in embedded.data] == [[0.25, -0.5, 1.0]] * 2
        assert embedded.model == "one-model"
        assert embedded.usage.prompt_tokens == 8
        floats = client.embeddings.create(model="qwen3-coder", input="a", encoding_format="float")
        assert floats.data[0].embedding == [0.25, -0.5, 1.0]
        completion = client.completions.create(model="qwen3-coder", prompt="hello")
        assert completion.choices[0].text == " world"
        assert completion.model == "one-model"
        streamed = client.completions.create(model="qwen3-coder", prompt="hello", stream=True)
        assert "".join(c.choices[0].text for c in streamed) == " world"
        assert app.services.request_log is not None and app.services.request_log.flush()
    sent = [(s.path, s.json()["model"]) for s in one.seen]
    assert sent == [("/v1/embeddings", "one-model")] * 2 + [("/v1/completions", "one-model")] * 2
    assert one.seen[0].json()["encoding_format"] == "base64"
    rows = logged(home)
    assert [r.endpoint for r in rows] == ["embeddings", "embeddings", "completions", "completions"]
    assert [r.total_tokens for r in rows[:3]] == [8, 8, 6]
    assert {r.upstream_model for r in rows} == {"one-model"}


def test_models_list_through_the_openai_sdk_fails_over(home: Paths) -> None:
    down = Reply(503, {"error": {"message": "overloaded"}})
    with FakeUpstream(lambda seen: down) as one, FakeUpstream(openai_script()) as two:
        two_providers(home, one.url, two.url)
        with serve(make_app(home)) as base:
            models = sdk(base).models.list()
        assert [m.id for m in models] == ["up-1"]
        assert one.seen[0].method == "GET" and one.seen[0].path == "/v1/models"
        assert two.seen[0].headers["authorization"] == "Bearer sk-two-secret-key-654321"
        assert "client-key" not in json.dumps(two.seen[0].headers)


# ----------------------------------------------------------------- Gemini native


def gemini_config(home: Paths, first: FakeUpstream, second: FakeUpstream) -> None:
    write_config(
        home,
        '[backends.gem]\nproviders = ["g1", "g2"]\n[message_backend]\ndefault = "gem"\n',
        f'[gem.g1]\ntype = "gemini"\nbase_url = "{first.root}"\n'
        'api_key = "AIzaFirstGoogleKey123456789012"\nmodel = "gemini-2.5-pro"\n'
        f'[gem.g2]\ntype = "gemini"\nbase_url = "{second.root}"\n'
        'api_key = "AIzaSecondGoogleKey12345678901"\nmodel = "gemini-2.5-flash"\n',
    )


def gemini_script(
    *, hold_at: int | None = None, release: threading.Event | None = None
) -> Callable[[Seen], Action]:
    def script(seen: Seen) -> Action:
        if ":countTokens" in seen.path:
            return Reply(body={"totalTokens": 9})
        if ":streamGenerateContent" in seen.path and "alt=sse" in seen.path:
            chunks = [json.dumps(c) for c in wire.gemini_chunks(["Hel", "lo", "!"])]
            return Stream(chunks, hold_at=hold_at, release=release)
        if ":streamGenerateContent" in seen.path:
            return Reply(body=wire.gemini_chunks(["Hel", "lo"]))
        return Reply(body=wire.gemini_chunk("Hello", 1))

    return script


GEMINI_BODY = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
GEMINI_HEADERS = {"x-goog-api-key": "gemini-cli-key", "user-agent": "GeminiCLI/0.1"}


def test_gemini_native_stream_count_and_key_handling(home: Paths) -> None:
    release = threading.Event()
    script = gemini_script(hold_at=1, release=release)
    with FakeUpstream(script) as g1, FakeUpstream(script) as g2:
        gemini_config(home, g1, g2)
        app = make_app(home)
        with serve(app) as base, httpx.Client(base_url=base, timeout=20) as client:
            texts: list[str] = []
            with client.stream(
                "POST",
                "/v1beta/models/gemini-flash-latest:streamGenerateContent?alt=sse&key=query-key",
                json=GEMINI_BODY,
                headers=GEMINI_HEADERS,
            ) as resp:
                assert resp.status_code == 200
                assert resp.headers["content-type"] == "text/event-stream"
                for line in resp.iter_lines():
                    if line.startswith("data: "):
                        chunk = json.loads(line[6:])
                        texts.append(chunk["candidates"][0]["content"]["parts"][0]["text"])
                        release.set()  # the rest only comes once the first chunk got here
            assert texts == ["Hel", "lo", "!"]
            array = client.post(
                "/v1beta/models/gemini-flash-latest:streamGenerateContent",
                json=GEMINI_BODY,
                headers=GEMINI_HEADERS,
            )
            assert len(array.json()) == 2
            counted = client.post(
                "/v1beta/models/gemini-flash-latest:countTokens",
                json=GEMINI_BODY,
                headers=GEMINI_HEADERS,
            )
            assert counted.json() == {"totalTokens": 9}
            assert app.services.request_log is not None and app.services.request_log.flush()
    assert [s.path for s in g1.seen] == [
        "/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse",
        "/v1beta/models/gemini-2.5-pro:streamGenerateContent",
        "/v1beta/models/gemini-2.5-pro:countTokens",
    ]
    assert {s.headers["x-goog-api-key"] for s in g1.seen} == {"AIzaFirstGoogleKey123456789012"}
    assert "query-key" not in repr(g1.seen)
    rows = logged(home)
    assert [(r.endpoint, r.stream) for r in rows] == [
        ("streamGenerateContent", True),
        ("streamGenerateContent", True),
        ("countTokens", False),
    ]
    assert rows[0].total_tokens == 7  # the last chunk's usageMetadata
    assert "query-key" not in repr([r.to_json() for r in rows])


def test_gemini_429_resource_exhausted_fails_over_then_503_in_gemini_format(
    home: Paths, clock: Clock
) -> None:
    exhausted = Reply(429, wire.gemini_exhausted("38s"))
    served: list[str] = []

    def second(seen: Seen) -> Action:
        served.append(seen.path)
        return exhausted if len(served) > 1 else gemini_script()(seen)

    with FakeUpstream(lambda seen: exhausted) as g1, FakeUpstream(second) as g2:
        gemini_config(home, g1, g2)
        with serve(make_app(home, clock)) as base, httpx.Client(base_url=base) as client:
            path = "/v1beta/models/gemini-pro:streamGenerateContent?alt=sse"
            ok = client.post(path, json=GEMINI_BODY, headers=GEMINI_HEADERS)
            assert ok.status_code == 200 and ok.text.startswith("data: ")
            # g1 is cooling down: straight to g2, which is now exhausted too
            gone = client.post(path, json=GEMINI_BODY, headers=GEMINI_HEADERS)
            nothing = client.post(path, json=GEMINI_BODY, headers=GEMINI_HEADERS)
        assert len(g1.seen) == 1 and len(g2.seen) == 2
    assert gone.status_code == 429  # one attempt on one provider: its own answer
    assert gone.json()["error"]["status"] == "RESOURCE_EXHAUSTED"
    assert nothing.status_code == 503
    error = nothing.json()["error"]
    assert error["status"] == "UNAVAILABLE" and error["code"] == 503
    assert error["retry_after"] == 38
    assert nothing.headers["retry-after"] == "38"
    state = Rotator(home, clock=clock).state("gem")
    assert state.provider("g1").cooldown_until == clock.now + 38
    assert state.provider("g2").cooldown_until == clock.now + 38


# ------------------------------------------------------------------- Anthropic


def anthropic_config(home: Paths, first: FakeUpstream, second: FakeUpstream) -> None:
    write_config(
        home,
        '[backends.claude]\nproviders = ["first", "second"]\n'
        '[message_backend]\ndefault = "claude"\n',
        f'[claude.first]\ntype = "anthropic"\nbase_url = "{first.root}"\n'
        'api_key = "sk-ant-first-key-0000001"\nmodel = "claude-x"\n'
        f'[claude.second]\ntype = "anthropic"\nbase_url = "{second.root}"\n'
        'api_key = "sk-ant-second-key-000002"\nmodel = "claude-y"\n',
    )


def anthropic_script(die_after: int | None = None) -> Callable[[Seen], Action]:
    def script(seen: Seen) -> Action:
        data = seen.json()
        if data.get("stream"):
            events, names = wire.anthropic_events(data["model"], ["Hi", " there"])
            return Stream(events, event_names=names, die_after=die_after)
        return Reply(body=wire.anthropic_message(data["model"]))

    return script


def claude(base: str) -> anthropic.Anthropic:
    return closed_after_test(
        anthropic.Anthropic(base_url=base, api_key="client", max_retries=0, timeout=20)
    )


def test_anthropic_sdk_stream_and_a_stream_dying_midway(home: Paths) -> None:
    with FakeUpstream(anthropic_script()) as first, FakeUpstream(anthropic_script()) as second:
        anthropic_config(home, first, second)
        with home.llm_config.open("a") as llm:  # continuation is off: the break is final
            llm.write("[proxy]\ncontinue_streams = false\n")
        app = make_app(home)
        with serve(app) as base:
            client = claude(base)
            with client.messages.stream(
                model="claude-sonnet",
                max_tokens=10,
                messages=MESSAGES,  # type: ignore[arg-type]
            ) as stream:
                assert "".join(stream.text_stream) == "Hi there"
                final = stream.get_final_message()
            assert final.usage.output_tokens == 6
            first.script = anthropic_script(die_after=3)
            got: list[str] = []
            with (
                pytest.raises(anthropic.APIStatusError, match="upstream stream broke") as caught,
                client.messages.stream(
                    model="claude-sonnet",
                    max_tokens=10,
                    messages=MESSAGES,  # type: ignore[arg-type]
                ) as stream,
            ):
                got.extend(stream.text_stream)
            assert got == ["Hi"]
            assert caught.value.body["error"]["type"] == "api_error"  # type: ignore[index]
            assert app.services.request_log is not None and app.services.request_log.flush()
        assert second.seen == []  # no failover once the first byte went out
    rows = logged(home)
    assert (rows[0].prompt_tokens, rows[0].completion_tokens) == (11, 6)
    assert rows[1].error is not None and "stream broke" in rows[1].error


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"retry-after": "25", "anthropic-ratelimit-requests-remaining": "0",
          "anthropic-ratelimit-requests-reset": "2027-01-15T08:01:00Z"}, 25),
        ({"anthropic-ratelimit-requests-remaining": "0",
          "anthropic-ratelimit-requests-reset": "2027-01-15T08:01:00Z",
          "anthropic-ratelimit-tokens-remaining": "100",
          "anthropic-ratelimit-tokens-reset": "2027-01-15T08:00:03Z"}, 60),
    ],
)  # fmt: skip
def test_anthropic_429_rate_limit_headers_cool_down(
    home: Paths, headers: dict[str, str], seconds: int
) -> None:
    clock = Clock(1_800_000_000.0)  # 2027-01-15T08:00:00Z
    limited = Reply(429, wire.anthropic_rate_limited(), headers)
    with FakeUpstream(lambda seen: limited) as first, FakeUpstream(anthropic_script()) as second:
        anthropic_config(home, first, second)
        with serve(make_app(home, clock)) as base:
            client = claude(base)
            with client.messages.stream(
                model="claude-sonnet",
                max_tokens=10,
                messages=MESSAGES,  # type: ignore[arg-type]
            ) as stream:
                assert "".join(stream.text_stream) == "Hi there"
            # the pinned provider answers with its own 429 and its headers
            pinned = client.with_options(default_headers={"x-auto-router-provider": "first"})
            with pytest.raises(anthropic.RateLimitError) as caught:
                pinned.messages.create(
                    model="claude-sonnet",
                    max_tokens=10,
                    messages=MESSAGES,  # type: ignore[arg-type]
                )
        assert len(first.seen) == 2 and len(second.seen) == 1
    assert second.seen[0].json()["model"] == "claude-y"
    assert caught.value.response.headers["anthropic-ratelimit-requests-remaining"] == "0"
    status = {b.name: b for b in Rotator(home, clock=clock).status()}["claude"]
    cooling = {p.name: p.cooldown_until for p in status.providers}
    assert cooling == {"first": clock.now + seconds, "second": None}
    assert status.current == "second"


# ------------------------------------------- client gone while the upstream thinks


@pytest.mark.parametrize("stream", [False, True])
def test_client_gone_before_the_answer_closes_the_upstream_request(
    home: Paths, stream: bool
) -> None:
    asked = threading.Event()

    def thinking(seen: Seen) -> Hang:
        asked.set()
        return Hang()  # never answers; records when the proxy closes the connection

    with FakeUpstream(thinking) as one, FakeUpstream() as two:
        # a long timeout: only the client leaving can end the upstream request in time
        two_providers(home, one.url, two.url, timeout_one=300)
        with serve(make_app(home)) as base:
            port = int(base.rsplit(":", 1)[1])
            body = json.dumps({"model": "m", "messages": MESSAGES, "stream": stream}).encode()
            head = (
                f"POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\n"
                f"content-type: application/json\r\ncontent-length: {len(body)}\r\n\r\n"
            ).encode()
            with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
                sock.sendall(head + body)
                assert asked.wait(10), "the request never reached the upstream"
            assert one.closed_by_peer.wait(10), "the proxy kept the upstream request open"
        assert two.seen == []  # a client that left is not a reason to try another provider
    assert Rotator(home).state("qwen").provider("one").failures == 0
