"""Usage and cost from real proxied requests: every protocol, streamed and not.

The proxy on a real socket in front of fake providers on real sockets, one per wire format
(Chat Completions, Responses, Anthropic Messages, Gemini); the request log is a real SQLite
file, read by ``auto-router stats --cost`` in a subprocess.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest

from auto_router.demo.fake_upstream import FakeUpstream
from auto_router.paths import Paths
from auto_router.store.db import connect
from tests.helpers import serve

from .conftest import make_app, write_config

pytestmark = pytest.mark.integration

LLM = """
[backends.mix]
providers = ["chat", "anth", "gem"]
translate = false
[backends.rsp]
providers = ["resp"]
[message_backend]
default = "mix"
[proxy.models]
"r" = "rsp"
"""


def metadata(chat: FakeUpstream, resp: FakeUpstream, anth: FakeUpstream, gem: FakeUpstream) -> str:
    return f"""
[mix.chat]
base_url = "{chat.url}"
api_key = "sk-chat-0123456789abcdef"
model = "c"
price_input = 2.0
price_output = 8.0
[rsp.resp]
base_url = "{resp.url}"
api_key = "sk-resp-0123456789abcdef"
model = "r"
responses = true
price_input = 1.0
price_output = 4.0
[mix.anth]
type = "anthropic"
base_url = "{anth.root}"
api_key = "sk-ant-0123456789abcdef"
model = "a"
price_input = 3
price_output = 15
[mix.gem]
type = "gemini"
base_url = "{gem.root}"
api_key = "gem-key-0123456789abcdef"
model = "g"
"""


@pytest.fixture
def four() -> Iterator[tuple[FakeUpstream, ...]]:
    with FakeUpstream() as a, FakeUpstream() as b, FakeUpstream() as c, FakeUpstream() as d:
        yield a, b, c, d


def send_each_protocol(base: str) -> None:
    """Each wire format once whole and once streamed (the stream read to its end)."""
    hi = [{"role": "user", "content": "hi"}]
    calls: list[tuple[str, dict[str, object]]] = []
    for stream in (False, True):
        chat: dict[str, object] = {"model": "m", "messages": hi, "stream": stream}
        if stream:
            chat["stream_options"] = {"include_usage": True}
        calls += [
            ("/v1/chat/completions", chat),
            # a backend of its own: an OpenAI provider of "mix" would answer Responses via Chat
            ("/v1/responses", {"model": "r", "input": "hi", "stream": stream}),
            ("/v1/messages", {"model": "m", "max_tokens": 9, "messages": hi, "stream": stream}),
        ]
        method = "streamGenerateContent?alt=sse" if stream else "generateContent"
        calls.append((f"/v1beta/models/m:{method}", {"contents": [{"parts": [{"text": "hi"}]}]}))
    with httpx.Client(base_url=base, timeout=20) as client:
        for path, body in calls:
            with client.stream("POST", path, json=body) as response:
                response.read()
                assert response.status_code == 200, (path, response.text)


def test_usage_is_recorded_from_the_answer_in_every_protocol_and_costed(
    home: Paths, four: tuple[FakeUpstream, ...]
) -> None:
    write_config(home, LLM, metadata(*four))
    app = make_app(home)
    with serve(app) as base:
        send_each_protocol(base)
        assert app.services.request_log is not None
        assert app.services.request_log.flush()
    db = connect(home.database)
    rows = db.execute(
        "SELECT provider, stream, prompt_tokens, completion_tokens FROM proxy_requests ORDER BY id"
    ).fetchall()
    db.close()
    # the fake's usage per format (demo/wire.py): chat 7/3 whole and 5/4 streamed; the
    # others 10/5; Anthropic's stream says output 1 at its start and 5 at its end
    assert rows == [
        ("chat", 0, 7, 3),
        ("resp", 0, 10, 5),
        ("anth", 0, 10, 5),
        ("gem", 0, 10, 5),
        ("chat", 1, 5, 4),
        ("resp", 1, 10, 5),
        ("anth", 1, 10, 5),
        ("gem", 1, 10, 5),
    ]
    cli = [sys.executable, "-m", "auto_router", "--config-dir", str(home.config_dir)]
    shown = subprocess.run([*cli, "stats", "--cost", "--json"], capture_output=True, text=True)
    assert shown.returncode == 0, shown.stderr
    data = json.loads(shown.stdout)
    by = {u["provider"]: u for u in data["cost"]}
    assert {p: (u["prompt_tokens"], u["completion_tokens"]) for p, u in by.items()} == {
        "chat": (12, 7),
        "resp": (20, 10),
        "anth": (20, 10),
        "gem": (20, 10),
    }
    assert by["chat"]["cost_usd"] == pytest.approx((12 * 2 + 7 * 8) / 1e6)
    assert by["resp"]["cost_usd"] == pytest.approx((20 * 1 + 10 * 4) / 1e6)
    assert by["anth"]["cost_usd"] == pytest.approx((20 * 3 + 10 * 15) / 1e6)
    assert by["gem"]["cost_usd"] is None  # no price: unknown, not 0
    [day] = {u["day"] for u in data["days"]}
    assert sum(u["requests"] for u in data["days"]) == 8 and len(day) == 10
    text = subprocess.run([*cli, "stats", "--cost"], capture_output=True, text=True).stdout
    gem_line = next(line for line in text.splitlines() if "mix/gem" in line and "?" in line)
    assert gem_line.split()[-1] == "?"
    assert "per day:" in text and day in text
    later = subprocess.run(
        [*cli, "stats", "--cost", "--since", "2099-01-01", "--json"], text=True, capture_output=True
    )
    assert json.loads(later.stdout)["cost"] == []
