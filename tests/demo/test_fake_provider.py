"""The one fake provider speaks each vendor's wire format, as the official SDKs read it.

``scripts/fake_provider.py`` runs in a subprocess on a real socket, set up as
``scripts/verify_real_agents.py`` uses it: a key containing ``limited`` is out of quota, any
other gets ``REPLY_TEXT``, a shell tool offered is called, its result comes back as ``DONE``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import httpx
import openai
import pytest

from auto_router.demo.provider import SHELL_TOOLS, TOOL_MARKER
from tests.helpers import closed_after_test

pytestmark = pytest.mark.integration

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "fake_provider.py"
REPLY = "PONG-FROM-THE-SECOND-PROVIDER"
OK, LIMITED = "sk-ok-0000000000000002", "sk-limited-0000000000000001"
HI = [{"role": "user", "content": "hi"}]
SHELL = {"type": "function", "function": {"name": "shell", "parameters": {"type": "object"}}}


@pytest.fixture
def fake(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """The script's server (root URL) and its request log."""
    log = tmp_path / "requests.jsonl"
    argv = [sys.executable, str(SCRIPT), "--log", str(log), "--tools", "--retry-after", "7"]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        assert line.startswith("fake provider on http://127.0.0.1:"), line
        yield line.split(" on ")[1].strip(), log
    finally:
        proc.terminate()
        proc.wait(30)
        if proc.stdout:
            proc.stdout.close()


def logged(log: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in log.read_text().splitlines()]


def test_chat_answers_streams_and_runs_out_of_quota(fake: tuple[str, Path]) -> None:
    root, log = fake
    client = closed_after_test(openai.OpenAI(base_url=f"{root}/v1", api_key=OK, max_retries=0))
    answer = client.chat.completions.create(model="m-ok", messages=HI)
    assert answer.choices[0].message.content == REPLY
    stream = client.chat.completions.create(model="m-ok", messages=HI, stream=True)
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices) == REPLY
    limited = closed_after_test(
        openai.OpenAI(base_url=f"{root}/v1", api_key=LIMITED, max_retries=0)
    )
    with pytest.raises(openai.RateLimitError) as caught:
        limited.chat.completions.create(model="m-limited", messages=HI)
    assert caught.value.response.headers["retry-after"] == "7"
    assert "Please try again in 7s" in caught.value.message
    entries = logged(log)
    assert [(e["key"], e["model"], e["status"]) for e in entries] == [
        (OK, "m-ok", 200),
        (OK, "m-ok", 200),
        (LIMITED, "m-limited", 429),
    ]
    assert entries[1]["stream"] and entries[0]["auth_header"] == "authorization"


def test_chat_tool_round_trip_streamed(fake: tuple[str, Path]) -> None:
    root, _ = fake
    client = closed_after_test(openai.OpenAI(base_url=f"{root}/v1", api_key=OK, max_retries=0))
    stream = client.chat.completions.create(
        model="m",
        messages=HI,
        tools=[SHELL],
        stream=True,
    )
    calls = [c.choices[0].delta.tool_calls for c in stream if c.choices]
    arguments = "".join((d[0].function.arguments or "") for d in calls if d and d[0].function)
    assert json.loads(arguments) == SHELL_TOOLS["shell"]
    result = [
        *HI,
        {"role": "assistant", "tool_calls": [{"id": "c1", "type": "function",
                                              "function": {"name": "shell", "arguments": arguments}}]},
        {"role": "tool", "tool_call_id": "c1", "content": TOOL_MARKER},
    ]  # fmt: skip
    done = client.chat.completions.create(model="m", messages=result, tools=[SHELL])
    assert done.choices[0].message.content == f"DONE: {TOOL_MARKER}"


def test_responses_stream_as_codex_reads_it(fake: tuple[str, Path]) -> None:
    root, _ = fake
    client = closed_after_test(openai.OpenAI(base_url=f"{root}/v1", api_key=OK, max_retries=0))
    events = list(client.responses.create(model="m", input="hi", stream=True))
    assert events[-1].type == "response.completed"
    assert events[-1].response.output_text == REPLY


def test_anthropic_messages_and_their_429(fake: tuple[str, Path]) -> None:
    root, log = fake
    client = closed_after_test(anthropic.Anthropic(base_url=root, api_key=OK, max_retries=0))
    with client.messages.stream(model="c", max_tokens=10, messages=HI) as stream:
        assert stream.get_final_text() == REPLY
    bash = {"name": "Bash", "input_schema": {"type": "object"}}
    message = client.messages.create(model="c", max_tokens=10, messages=HI, tools=[bash])
    assert [b.type for b in message.content] == ["text", "tool_use"]
    assert message.content[1].input == SHELL_TOOLS["Bash"]
    limited = closed_after_test(anthropic.Anthropic(base_url=root, api_key=LIMITED, max_retries=0))
    with pytest.raises(anthropic.RateLimitError) as caught:
        limited.messages.create(model="c", max_tokens=10, messages=HI)
    assert caught.value.body["error"]["type"] == "rate_limit_error"
    assert [(e["key"], e["status"]) for e in logged(log)] == [(OK, 200), (OK, 200), (LIMITED, 429)]


def test_gemini_native_endpoints(fake: tuple[str, Path]) -> None:
    root, log = fake
    url = f"{root}/v1beta/models/gemini-x"
    body = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
    answer = httpx.post(f"{url}:generateContent", json=body, headers={"x-goog-api-key": OK})
    assert answer.json()["candidates"][0]["content"]["parts"] == [{"text": REPLY}]
    sse = httpx.post(f"{url}:streamGenerateContent?alt=sse&key={OK}", json=body)
    assert sse.headers["content-type"] == "text/event-stream"
    assert json.loads(sse.text.removeprefix("data: "))["candidates"][0]["index"] == 0
    tokens = httpx.post(f"{url}:countTokens", json=body, headers={"x-goog-api-key": LIMITED})
    assert tokens.json() == {"totalTokens": 10}
    limited = httpx.post(f"{url}:generateContent", json=body, headers={"x-goog-api-key": LIMITED})
    assert limited.status_code == 429 and limited.headers["retry-after"] == "7"
    assert limited.json()["error"]["status"] == "RESOURCE_EXHAUSTED"
    entries = logged(log)
    assert [(e["auth_header"], e["model"], e["status"]) for e in entries] == [
        ("x-goog-api-key", "gemini-x", 200),
        ("?key", "gemini-x", 200),
        ("x-goog-api-key", "gemini-x", 200),
        ("x-goog-api-key", "gemini-x", 429),
    ]


def test_the_fake_stops_quietly_with_a_keep_alive_connection_open() -> None:
    """Stopping with an idle keep-alive connection prints nothing (Python 3.11 logged a
    traceback for each cancelled connection, in the demo's and the real agents' output)."""
    script = (
        "import http.client\n"
        "from auto_router.demo.fake_upstream import FakeUpstream\n"
        "from auto_router.demo.provider import FakeProvider\n"
        "with FakeUpstream(FakeProvider()) as up:\n"
        "    c = http.client.HTTPConnection('127.0.0.1', up.port)\n"
        "    c.request('GET', '/v1/models')\n"
        "    assert c.getresponse().read()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
