"""Issue 18, item 12: no 503 while a healthy provider is left untried.

Seen beside real traffic: p1 answered 429, p2 answered 500, p2's same-provider retry was the
third of ``max_attempts = 3`` attempts, and the client got a 503 while p3 and p4 were
healthy. Now ``max_attempts`` counts providers and ``max_retries`` (a budget of its own)
counts same-provider retries, so a retry never pushes a provider out of the request.

Four fake providers on real sockets, the proxy on uvicorn, plain HTTP requests.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import httpx
import pytest

from auto_router.demo.fake_upstream import FakeUpstream, Reply, Seen
from auto_router.demo.wire import chat_completion
from auto_router.paths import Paths
from tests.helpers import serve

from .conftest import make_app, write_config

pytestmark = pytest.mark.integration

NAMES = ("p1", "p2", "p3", "p4")
LIMITED = Reply(429, {"error": {"message": "Rate limit reached", "type": "requests"}})
BROKEN = Reply(500, {"error": {"message": "internal error"}})
CHAT = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}


def healthy(name: str) -> Callable[[Seen], Reply]:
    return lambda seen: Reply(body=chat_completion("m", f"answer from {name}"))


@contextlib.contextmanager
def four(
    home: Paths, scripts: list[Callable[[Seen], Reply]], proxy: str = ""
) -> Iterator[tuple[str, list[FakeUpstream]]]:
    """Backend ``b`` with providers p1..p4 answering by ``scripts``; yields the proxy URL."""
    with contextlib.ExitStack() as stack:
        fakes = [stack.enter_context(FakeUpstream(script)) for script in scripts]
        meta = "".join(
            f'[b.{name}]\nbase_url = "{fake.url}"\napi_key = "sk-{name}-0123456789"\nmodel = "m"\n'
            for name, fake in zip(NAMES, fakes, strict=True)
        )
        llm = f'[backends.b]\nproviders = {list(NAMES)!r}\n[message_backend]\ndefault = "b"\n'
        write_config(
            home, llm.replace("'", '"') + f"[proxy]\nfailure_threshold = 100\n{proxy}", meta
        )
        base = stack.enter_context(serve(make_app(home)))
        yield base, fakes


def test_a_retry_does_not_push_a_healthy_provider_out(home: Paths) -> None:
    """The run of the report, with its ``max_attempts = 3``: p3 now answers."""
    scripts = [lambda s: LIMITED, lambda s: BROKEN, healthy("p3"), healthy("p4")]
    with four(home, scripts, "max_attempts = 3\n") as (base, fakes):
        resp = httpx.post(f"{base}/v1/chat/completions", json=CHAT, timeout=30)
    assert resp.status_code == 200, resp.text
    assert resp.json()["choices"][0]["message"]["content"] == "answer from p3"
    assert [len(f.seen) for f in fakes] == [1, 2, 1, 0]  # p2 was retried once, as before


def test_every_healthy_provider_is_tried_before_a_503(home: Paths) -> None:
    """Three providers failing first, by default settings: the fourth still gets its turn."""
    scripts = [lambda s: BROKEN, lambda s: LIMITED, lambda s: BROKEN, healthy("p4")]
    with four(home, scripts) as (base, fakes):
        resp = httpx.post(f"{base}/v1/chat/completions", json=CHAT, timeout=30)
    assert resp.status_code == 200, resp.text
    assert resp.json()["choices"][0]["message"]["content"] == "answer from p4"
    # max_retries = 2: p1's retry and p3's retry; p2's 429 asked no short wait
    assert [len(f.seen) for f in fakes] == [2, 1, 2, 1]


def test_the_503_lists_every_attempt_and_the_retry_budget_holds(home: Paths) -> None:
    with four(home, [lambda s: BROKEN] * 4, "max_retries = 1\n") as (base, fakes):
        resp = httpx.post(f"{base}/v1/chat/completions", json=CHAT, timeout=30)
    assert resp.status_code == 503
    tried = [(a["provider"], a["status"]) for a in resp.json()["error"]["attempts"]]
    assert tried == [("p1", 500), ("p1", 500), ("p2", 500), ("p3", 500), ("p4", 500)]
    assert [len(f.seen) for f in fakes] == [2, 1, 1, 1]
    assert "5 attempts failed" in resp.json()["error"]["message"]
