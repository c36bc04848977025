"""End to end through translation: official SDKs -> the proxy on a real socket -> fakes of
another protocol. The fakes speak each vendor's documented wire format; the first provider
of each pool answers 429, so every test also fails over before the first byte."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import openai
import pytest

from auto_router.demo.fake_upstream import FakeUpstream, Reply, Seen, Stream
from auto_router.paths import Paths
from tests.helpers import closed_after_test, serve

from .conftest import make_app, write_config

LIMITED = Reply(429, {"error": {"message": "Rate limit reached", "type": "rate_limit_error"}})
WEATHER_SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "unit": {"type": ["string", "null"]}},
    "required": ["city"],
    "additionalProperties": False,
}


def pool(home: Paths, first: str, second: str, kind: str, extra: str = "") -> None:
    """Backend ``pool`` (the default) with two providers of type ``kind``."""
    if kind != "openai":  # Anthropic and Gemini take the host root
        first, second = first.removesuffix("/v1"), second.removesuffix("/v1")
    write_config(
        home,
        '[backends.pool]\nproviders = ["one", "two"]\n\n[message_backend]\ndefault = "pool"\n',
        f"""
[pool.one]
type = "{kind}"
base_url = "{first}"
api_key = "sk-one-secret-key-123456"
model = "up-model"
[pool.two]
type = "{kind}"
base_url = "{second}"
api_key = "sk-two-secret-key-654321"
model = "up-model"
{extra}
""",
    )


@pytest.fixture
def limited_and(request: pytest.FixtureRequest) -> Iterator[tuple[FakeUpstream, FakeUpstream]]:
    with FakeUpstream(lambda seen: LIMITED) as one, FakeUpstream() as two:
        yield one, two


# ------------------------------------------------------------ chat upstream fakes


def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
    return json.dumps(
        {
            "id": "chatcmpl-1",
            "object": "chat.completion.chunk",
            "created": 1700000000,
            "model": "up-model",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            **extra,
        }
    )


def usage_chunk() -> str:
    usage = {
        "prompt_tokens": 20,
        "completion_tokens": 9,
        "total_tokens": 29,
        "prompt_tokens_details": {"cached_tokens": 8},
    }
    return json.dumps(
        {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "up-model",
         "choices": [], "usage": usage}
    )  # fmt: skip


def chat_tool_stream() -> Stream:
    """Text, then a call to get_weather whose arguments arrive in three pieces."""
    call = {"index": 0, "id": "call_abc", "type": "function",
            "function": {"name": "get_weather", "arguments": ""}}  # fmt: skip
    return Stream(
        [
            chunk({"role": "assistant", "content": ""}),
            chunk({"content": "Let me "}),
            chunk({"content": "check."}),
            chunk({"tool_calls": [call]}),
            chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"ci'}}]}),
            chunk({"tool_calls": [{"index": 0, "function": {"arguments": 'ty": "Par'}}]}),
            chunk({"tool_calls": [{"index": 0, "function": {"arguments": 'is"}'}}]}),
            chunk({}, "tool_calls"),
            usage_chunk(),
            "[DONE]",
        ]
    )


def chat_text_stream(words: list[str]) -> Stream:
    return Stream(
        [
            chunk({"role": "assistant", "content": ""}),
            *(chunk({"content": w}) for w in words),
            chunk({}, "stop"),
            usage_chunk(),
            "[DONE]",
        ]
    )


def chat_tool_reply() -> dict[str, Any]:
    return {
        "id": "chatcmpl-2",
        "object": "chat.completion",
        "created": 1700000000,
        "model": "up-model",
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "call_1",
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                        },
                        {
                            "id": "call_2",
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'},
                        },
                    ],
                },
                "finish_reason": "tool_calls",
            }
        ],
        "usage": {"prompt_tokens": 30, "completion_tokens": 12, "total_tokens": 42},
    }


def chat_script(seen: Seen) -> Reply | Stream:
    """Answers with a tool call unless the conversation already holds a tool result."""
    data = seen.json()
    answered = any(m.get("role") == "tool" for m in data["messages"])
    if data.get("stream"):
        return chat_text_stream(["It is ", "sunny."]) if answered else chat_tool_stream()
    if answered:
        reply = chat_tool_reply()
        reply["choices"][0]["message"] = {"role": "assistant", "content": "Sunny in both."}
        reply["choices"][0]["finish_reason"] = "stop"
        return Reply(body=reply)
    return Reply(body=chat_tool_reply())


# ------------------------------------------------------- anthropic SDK -> chat


def test_anthropic_sdk_tools_streaming_and_tool_result_through_chat(
    home: Paths, limited_and: tuple[FakeUpstream, FakeUpstream]
) -> None:
    one, two = limited_and
    two.script = chat_script
    pool(home, one.url, two.url, "openai", '[pool.two.model_map]\n"claude-*haiku*" = "small"\n')
    tools: Any = [{"name": "get_weather", "description": "Weather", "input_schema": WEATHER_SCHEMA}]
    with serve(make_app(home)) as base:
        client = closed_after_test(
            anthropic.Anthropic(base_url=base, api_key="unused", max_retries=0)
        )
        reply = client.messages.create(
            model="claude-test-sonnet",
            max_tokens=200,
            system="Be brief.",
            tools=tools,
            messages=[{"role": "user", "content": "Weather in Paris and Oslo?"}],
        )
        with client.messages.stream(
            model="claude-test-haiku",
            max_tokens=200,
            tools=tools,
            messages=[{"role": "user", "content": "Weather in Paris?"}],
        ) as stream:
            kinds = [event.type for event in stream]
            final = stream.get_final_message()
        follow = client.messages.create(
            model="claude-test-sonnet",
            max_tokens=200,
            tools=tools,
            messages=[
                {"role": "user", "content": "Weather in Paris?"},
                {
                    "role": "assistant",
                    "content": [
                        {"type": "text", "text": "Checking."},
                        {
                            "type": "tool_use",
                            "id": "toolu_1",
                            "name": "get_weather",
                            "input": {"city": "Paris"},
                        },
                    ],
                },
                {
                    "role": "user",
                    "content": [
                        {"type": "tool_result", "tool_use_id": "toolu_1", "content": "sunny, 21C"}
                    ],
                },
            ],
        )
    # non-streamed: two parallel calls became two tool_use blocks
    assert reply.stop_reason == "tool_use"
    calls = [b for b in reply.content if b.type == "tool_use"]
    assert [(c.name, c.input, c.id) for c in calls] == [
        ("get_weather", {"city": "Paris"}, "call_1"),
        ("get_weather", {"city": "Oslo"}, "call_2"),
    ]
    assert (reply.usage.input_tokens, reply.usage.output_tokens) == (30, 12)
    # streamed: Anthropic's event sequence, text then the tool's input assembled from deltas
    assert kinds[0] == "message_start" and kinds[-1] == "message_stop"
    assert "input_json" in kinds and "message_delta" in kinds
    assert [b.type for b in final.content] == ["text", "tool_use"]
    assert final.content[0].text == "Let me check."  # type: ignore[union-attr]
    assert final.content[1].input == {"city": "Paris"}  # type: ignore[union-attr]
    assert final.stop_reason == "tool_use"
    assert final.usage.output_tokens == 9
    assert final.usage.cache_read_input_tokens == 8 and final.usage.input_tokens == 12
    # the tool_result follow-up reached the chat upstream as a tool message
    assert follow.content[0].text == "Sunny in both."  # type: ignore[union-attr]
    sent = [s.json() for s in two.seen]
    assert sent[0]["messages"][0] == {"role": "system", "content": "Be brief."}
    assert sent[0]["tools"][0]["function"]["parameters"] == WEATHER_SCHEMA
    assert sent[0]["model"] == "up-model" and sent[1]["model"] == "small"  # model_map glob
    assert sent[1]["stream"] is True and sent[1]["stream_options"] == {"include_usage": True}
    assert sent[2]["messages"] == [
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": "Checking.", "tool_calls": [
            {"id": "toolu_1", "type": "function",
             "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}]},
        {"role": "tool", "tool_call_id": "toolu_1", "content": "sunny, 21C"},
    ]  # fmt: skip
    assert len(one.seen) == 1  # 429: failed over, then left to cool down
    assert not any("anthropic-version" in s.headers for s in two.seen)
    assert all(s.headers["authorization"] == "Bearer sk-two-secret-key-654321" for s in two.seen)


def test_anthropic_sdk_gets_an_upstream_400_as_an_anthropic_error(home: Paths) -> None:
    bad = Reply(
        400, {"error": {"message": "model not found: up-model", "type": "invalid_request_error"}}
    )
    with FakeUpstream(lambda seen: bad) as one, FakeUpstream() as two:
        pool(home, one.url, two.url, "openai")
        with serve(make_app(home)) as base:
            client = closed_after_test(
                anthropic.Anthropic(base_url=base, api_key="unused", max_retries=0)
            )
            with pytest.raises(anthropic.BadRequestError) as caught:
                client.messages.create(
                    model="claude-test-sonnet",
                    max_tokens=10,
                    messages=[{"role": "user", "content": "hi"}],
                )
    assert caught.value.status_code == 400
    body: Any = caught.value.body
    assert body["type"] == "error" and body["error"]["message"] == "model not found: up-model"


# ------------------------------------------------------ Responses SDK -> chat


def test_openai_responses_client_streams_function_calls_through_chat(
    home: Paths, limited_and: tuple[FakeUpstream, FakeUpstream]
) -> None:
    one, two = limited_and
    two.script = chat_script
    pool(home, one.url, two.url, "openai")
    tools: Any = [{"type": "function", "name": "get_weather", "description": "Weather",
                   "parameters": WEATHER_SCHEMA, "strict": False}]  # fmt: skip
    with serve(make_app(home)) as base:
        client = closed_after_test(
            openai.OpenAI(base_url=f"{base}/v1", api_key="unused", max_retries=0)
        )
        events = list(
            client.responses.create(
                model="gpt-5-codex",
                instructions="You are Codex.",
                input=[{"role": "user", "content": [{"type": "input_text", "text": "Paris?"}]}],
                tools=tools,
                stream=True,
            )
        )
        done = client.responses.create(
            model="gpt-5-codex",
            input=[
                {"role": "user", "content": "Paris?"},
                {
                    "type": "function_call",
                    "call_id": "call_abc",
                    "name": "get_weather",
                    "arguments": '{"city":"Paris"}',
                },
                {"type": "function_call_output", "call_id": "call_abc", "output": "sunny"},
            ],
            tools=tools,
        )
    kinds = [e.type for e in events]
    assert kinds[:2] == ["response.created", "response.in_progress"]
    assert kinds[-1] == "response.completed"
    assert kinds.count("response.function_call_arguments.delta") == 3
    assert [e.sequence_number for e in events] == list(range(len(events)))
    deltas = "".join(e.delta for e in events if e.type == "response.output_text.delta")  # type: ignore[union-attr]
    assert deltas == "Let me check."
    final = events[-1].response  # type: ignore[union-attr]
    assert [o.type for o in final.output] == ["message", "function_call"]
    call = final.output[1]
    assert (call.name, call.call_id, json.loads(call.arguments)) == (  # type: ignore[union-attr]
        "get_weather", "call_abc", {"city": "Paris"},
    )  # fmt: skip
    assert final.usage is not None and final.usage.input_tokens_details.cached_tokens == 8
    assert done.output_text == "Sunny in both."
    sent = [s.json() for s in two.seen]
    assert sent[0]["messages"][0] == {"role": "system", "content": "You are Codex."}
    assert sent[0]["tools"][0]["function"]["name"] == "get_weather"
    assert sent[1]["messages"][-1] == {
        "role": "tool",
        "tool_call_id": "call_abc",
        "content": "sunny",
    }
    assert two.seen[0].path == "/v1/chat/completions"


# ------------------------------------------------------ chat SDK -> Anthropic


def anthropic_stream() -> Stream:
    """Anthropic's documented streaming sequence with a text block and a tool_use block."""
    events: list[tuple[str, dict[str, Any]]] = [
        ("message_start", {"type": "message_start", "message": {
            "id": "msg_1", "type": "message", "role": "assistant", "model": "up-model",
            "content": [], "stop_reason": None, "stop_sequence": None,
            "usage": {"input_tokens": 25, "cache_read_input_tokens": 5, "output_tokens": 1}}}),
        ("content_block_start", {"type": "content_block_start", "index": 0,
                                 "content_block": {"type": "text", "text": ""}}),
        ("ping", {"type": "ping"}),
        ("content_block_delta", {"type": "content_block_delta", "index": 0,
                                 "delta": {"type": "text_delta", "text": "Hello"}}),
        ("content_block_delta", {"type": "content_block_delta", "index": 0,
                                 "delta": {"type": "text_delta", "text": " there"}}),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        ("content_block_start", {"type": "content_block_start", "index": 1, "content_block": {
            "type": "tool_use", "id": "toolu_9", "name": "get_weather", "input": {}}}),
        ("content_block_delta", {"type": "content_block_delta", "index": 1,
                                 "delta": {"type": "input_json_delta", "partial_json": ""}}),
        ("content_block_delta", {"type": "content_block_delta", "index": 1,
                                 "delta": {"type": "input_json_delta", "partial_json": '{"city": '}}),
        ("content_block_delta", {"type": "content_block_delta", "index": 1,
                                 "delta": {"type": "input_json_delta", "partial_json": '"Rome"}'}}),
        ("content_block_stop", {"type": "content_block_stop", "index": 1}),
        ("message_delta", {"type": "message_delta",
                           "delta": {"stop_reason": "tool_use", "stop_sequence": None},
                           "usage": {"output_tokens": 15}}),
        ("message_stop", {"type": "message_stop"}),
    ]  # fmt: skip
    return Stream([json.dumps(e) for _, e in events], event_names=[n for n, _ in events])


def anthropic_script(seen: Seen) -> Reply | Stream:
    data = seen.json()
    if data.get("stream"):
        return anthropic_stream()
    return Reply(
        body={
            "id": "msg_2",
            "type": "message",
            "role": "assistant",
            "model": "up-model",
            "content": [{"type": "text", "text": "Bonjour"}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": {"input_tokens": 11, "output_tokens": 2},
        }
    )


def test_openai_chat_client_through_an_anthropic_upstream(
    home: Paths, limited_and: tuple[FakeUpstream, FakeUpstream]
) -> None:
    one, two = limited_and
    two.script = anthropic_script
    pool(home, one.url, two.url, "anthropic")
    tools: Any = [
        {"type": "function", "function": {"name": "get_weather", "parameters": WEATHER_SCHEMA}}
    ]
    with serve(make_app(home)) as base:
        client = closed_after_test(
            openai.OpenAI(base_url=f"{base}/v1", api_key="unused", max_retries=0)
        )
        reply = client.chat.completions.create(
            model="gpt-4o",
            messages=[{"role": "system", "content": "Be kind."},
                      {"role": "user", "content": "Say hello in French"}],
            max_tokens=50,
            temperature=0.2,
            stop=["END"],
        )  # fmt: skip
        chunks = list(
            client.chat.completions.create(
                model="gpt-4o",
                messages=[{"role": "user", "content": "hi"}],
                tools=tools,
                tool_choice="required",
                stream=True,
                stream_options={"include_usage": True},
            )
        )
    assert reply.choices[0].message.content == "Bonjour"
    assert reply.choices[0].finish_reason == "stop"
    assert reply.usage is not None and reply.usage.prompt_tokens == 11
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Hello there"
    args = "".join(
        tc.function.arguments or ""
        for c in chunks if c.choices
        for tc in c.choices[0].delta.tool_calls or [] if tc.function
    )  # fmt: skip
    assert json.loads(args) == {"city": "Rome"}
    finishes = [
        c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason
    ]
    assert finishes == ["tool_calls"]
    usage = chunks[-1].usage
    assert usage is not None and (usage.prompt_tokens, usage.completion_tokens) == (30, 15)
    assert (
        usage.prompt_tokens_details is not None and usage.prompt_tokens_details.cached_tokens == 5
    )
    sent = [s.json() for s in two.seen]
    assert two.seen[0].path == "/v1/messages"
    assert two.seen[0].headers["x-api-key"] == "sk-two-secret-key-654321"
    assert two.seen[0].headers["anthropic-version"] == "2023-06-01"
    assert sent[0] == {
        "model": "up-model",
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "Say hello in French"}]}
        ],
        "max_tokens": 50,
        "system": "Be kind.",
        "temperature": 0.2,
        "stop_sequences": ["END"],
    }
    assert sent[1]["tool_choice"] == {"type": "any"}
    assert sent[1]["tools"][0]["input_schema"] == WEATHER_SCHEMA


# -------------------------------------------------- Gemini client -> chat


def test_gemini_client_streams_and_calls_functions_through_chat(
    home: Paths, limited_and: tuple[FakeUpstream, FakeUpstream]
) -> None:
    one, two = limited_and
    two.script = chat_script
    pool(home, one.url, two.url, "openai")
    body = {
        "systemInstruction": {"parts": [{"text": "Be brief."}]},
        "contents": [{"role": "user", "parts": [{"text": "Weather in Paris?"}]}],
        "tools": [{"functionDeclarations": [{"name": "get_weather", "description": "Weather",
                   "parameters": {"type": "OBJECT", "properties": {"city": {"type": "STRING"}},
                                  "required": ["city"]}}]}],
        "generationConfig": {"maxOutputTokens": 100, "temperature": 0.5},
    }  # fmt: skip
    with serve(make_app(home)) as base:
        headers = {"x-goog-api-key": "unused"}
        with httpx.Client(base_url=base, headers=headers, timeout=10) as client:
            url = "/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse"
            with client.stream("POST", url, json=body) as resp:
                status, ctype = resp.status_code, resp.headers["content-type"]
                events = [
                    json.loads(line[6:]) for line in resp.iter_lines() if line.startswith("data: ")
                ]
            follow = {**body, "contents": [
                *body["contents"],
                {"role": "model", "parts": [{"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}}]},
                {"role": "user", "parts": [{"functionResponse": {"name": "get_weather",
                                                                 "response": {"content": "sunny"}}}]},
            ]}  # fmt: skip
            answer = client.post("/v1beta/models/gemini-2.5-pro:generateContent", json=follow)
    assert status == 200 and ctype.startswith("text/event-stream")
    texts = [
        p["text"] for e in events for p in e["candidates"][0]["content"]["parts"] if p.get("text")
    ]
    assert "".join(texts) == "Let me check."
    calls = [
        p["functionCall"]
        for e in events
        for p in e["candidates"][0]["content"]["parts"]
        if "functionCall" in p
    ]
    assert calls == [{"name": "get_weather", "args": {"city": "Paris"}}]
    assert events[-1]["candidates"][0]["finishReason"] == "STOP"
    assert events[-1]["usageMetadata"]["promptTokenCount"] == 20
    assert events[-1]["usageMetadata"]["cachedContentTokenCount"] == 8
    assert answer.status_code == 200
    parts = answer.json()["candidates"][0]["content"]["parts"]
    assert parts == [{"text": "Sunny in both."}]
    sent = [s.json() for s in two.seen]
    assert sent[0]["model"] == "up-model" and sent[0]["max_tokens"] == 100
    assert sent[0]["tools"][0]["function"]["parameters"]["properties"]["city"] == {"type": "string"}
    assert sent[1]["messages"][-2]["tool_calls"][0]["id"] == sent[1]["messages"][-1]["tool_call_id"]
    assert sent[1]["messages"][-1]["content"] == "sunny"
    assert not any(k.startswith("x-goog") for s in two.seen for k in s.headers)


# ------------------------------------------------------------------ model lists


def test_model_lists_answer_in_the_clients_protocol(home: Paths) -> None:
    def anthropic_models(seen: Seen) -> Reply:
        assert seen.path == "/v1/models" and seen.headers["x-api-key"] == "sk-one-secret-key-123456"
        return Reply(body={"data": [{"type": "model", "id": "claude-opus-4-1", "display_name": "Opus",
                                     "created_at": "2025-08-05T00:00:00Z"}],
                           "has_more": False, "first_id": "claude-opus-4-1", "last_id": "claude-opus-4-1"})  # fmt: skip

    with FakeUpstream(anthropic_models) as one, FakeUpstream() as two:
        pool(home, one.url, two.url, "anthropic")
        with serve(make_app(home)) as base:
            listed = closed_after_test(
                openai.OpenAI(base_url=f"{base}/v1", api_key="x", max_retries=0)
            ).models.list()
        assert [m.id for m in listed.data] == ["claude-opus-4-1"]
        assert listed.data[0].object == "model"
    with FakeUpstream() as one, FakeUpstream() as two:  # the default script lists "fake-model"
        pool(home, one.url, two.url, "openai")
        with serve(make_app(home)) as base:
            page = closed_after_test(
                anthropic.Anthropic(base_url=base, api_key="x", max_retries=0)
            ).models.list()
        assert [m.id for m in page.data] == ["fake-model"]
        assert page.data[0].type == "model"


# ------------------------------------------------------------------ token counts


def test_token_counts_for_a_foreign_pool_are_estimated_without_an_upstream_call(
    home: Paths,
) -> None:
    with FakeUpstream() as one, FakeUpstream() as two:
        pool(home, one.url, two.url, "openai")
        with serve(make_app(home)) as base:
            client = closed_after_test(
                anthropic.Anthropic(base_url=base, api_key="x", max_retries=0)
            )
            counted = client.messages.count_tokens(
                model="claude-test-sonnet",
                system="You are a helpful assistant." * 10,
                messages=[{"role": "user", "content": "Hello, world " * 40}],
            )
            gemini = httpx.post(
                f"{base}/v1beta/models/gemini-2.5-pro:countTokens",
                json={"contents": [{"role": "user", "parts": [{"text": "abcd" * 100}]}]},
                timeout=10,
            )
        assert one.seen == [] and two.seen == []
    assert 150 <= counted.input_tokens <= 300  # ~4 characters a token
    assert gemini.status_code == 200 and gemini.json() == {"totalTokens": 100}
