"""DeepSeek's ``: keep-alive`` comments while a request is queued, on real sockets (issue 19).

DeepSeek keeps a queued streaming request open with SSE comments
(https://api-docs.deepseek.com/quick_start/rate_limit, checked 2026-12-02). A comment is not
a first token (``streams.first_event_in`` counts only a ``data:`` event), but it is bytes on
the socket, so it keeps the connection from counting as idle. What was decided:

- comments for longer than ``idle_timeout`` but less than ``first_token_timeout``, then the
  answer: the answer comes from that provider, with no failover;
- comments only, for longer than ``first_token_timeout``: that *is* a stall (no token came
  in time), and the next provider answers.

No assertion depends on timing: the limits are far apart (0.3 s idle against 20 s first
token; or 1 s first token against comments for 6 s).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import openai
import pytest

from auto_router.demo.actions import Action, Seen, keep_alive
from auto_router.demo.fake_upstream import FakeUpstream
from auto_router.demo.wire import chat_chunks
from auto_router.paths import Paths
from tests.helpers import serve

from .conftest import make_app, write_config

pytestmark = pytest.mark.integration

MESSAGES = [{"role": "user", "content": "hi"}]


@contextlib.contextmanager
def _pool(home: Paths, one: Action, times: str) -> Iterator[tuple[str, FakeUpstream, FakeUpstream]]:
    """A proxy over provider ``one`` (acting as ``one``) and a plain provider ``two``."""

    def script(seen: Seen) -> Action:
        return one

    with FakeUpstream(script) as first, FakeUpstream() as second:
        meta = f'[qwen.one]\nbase_url = "{first.url}"\napi_key = "sk-one-secret-key-123456"\n'
        meta += f'[qwen.two]\nbase_url = "{second.url}"\napi_key = "sk-two-secret-key-654321"\n'
        write_config(
            home,
            '[backends.qwen]\nmodel = "m"\nproviders = ["one", "two"]\n'
            f'[message_backend]\ndefault = "qwen"\n[proxy]\n{times}',
            meta,
        )
        with serve(make_app(home)) as base:
            yield base, first, second


def _streamed(base: str) -> str:
    with openai.OpenAI(base_url=f"{base}/v1", api_key="k", max_retries=0, timeout=60) as client:
        chunks = client.chat.completions.create(model="m", messages=MESSAGES, stream=True)  # type: ignore[arg-type]
        return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


def test_keep_alive_comments_past_the_idle_limit_are_no_stall(home: Paths) -> None:
    # comments for ~1.5 s, one every 0.1 s: five idle limits long, well inside first-token
    one = keep_alive(1.5, 0.1, chat_chunks("deepseek", ["queued", " answer"]))
    times = "header_timeout = 20\nfirst_token_timeout = 20\nidle_timeout = 0.3\n"
    with _pool(home, one, times) as (base, first, second):
        assert _streamed(base) == "queued answer"
    assert len(first.seen) == 1
    assert second.seen == []  # no failover


def test_comments_alone_past_the_first_token_limit_are_a_stall(home: Paths) -> None:
    one = keep_alive(6, 0.1, chat_chunks("deepseek", ["too late"]))
    times = "header_timeout = 20\nfirst_token_timeout = 1\nidle_timeout = 0.5\n"
    with _pool(home, one, times) as (base, first, second):
        text = _streamed(base)
    assert "too late" not in text and text  # two's answer
    assert len(first.seen) == 1 and len(second.seen) == 1
