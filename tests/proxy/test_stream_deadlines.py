"""The stream path's limits without a context object per read: ``upstream.Deadline`` (one
timer, pushed and held), the first-token and idle limits it holds, and the stream's
disconnect watcher that a timer arms (``relay.Disconnect``).

The limits are the loop's own timers set at zero or a millisecond: nothing here sleeps, and
no assertion depends on how long anything took."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from auto_router.paths import Paths
from auto_router.proxy import relay
from auto_router.proxy.upstream import Deadline

from .conftest import Clock, write_config
from .test_endpoints import AsgiClient, logged, thinking_app

pytestmark = pytest.mark.anyio

EVENT = b'data: {"choices":[{"index":0,"delta":{"content":"a"},"finish_reason":null}]}\n\n'


async def _cancelled() -> None:
    """Wait for the deadline's cancellation (a missing one fails after 10 s, not never)."""
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(asyncio.Event().wait(), 10)


async def _turns(n: int = 5) -> None:
    for _ in range(n):
        await asyncio.sleep(0)


# ------------------------------------------------------------------ Deadline


async def test_a_deadline_that_passes_cancels_and_is_taken_back() -> None:
    deadline = Deadline(asyncio.get_running_loop().time())
    await _cancelled()
    assert deadline.stop() is True
    assert deadline.stop() is True  # again: the same answer, no second uncancel
    task = asyncio.current_task()
    assert task is not None and task.cancelling() == 0
    await _turns()  # and the task goes on


async def test_a_cancellation_from_elsewhere_is_not_taken_for_a_timeout() -> None:
    task = asyncio.current_task()
    assert task is not None
    deadline = Deadline(asyncio.get_running_loop().time())
    await _cancelled()  # the deadline fired...
    task.cancel()  # ...and the server is stopping too
    assert deadline.stop() is False  # the caller re-raises: not a timeout
    await _cancelled()  # the server's cancellation is still delivered
    assert task.uncancel() == 0


async def test_a_pushed_deadline_waits_for_the_new_time() -> None:
    deadline = Deadline(asyncio.get_running_loop().time())  # due at once...
    deadline.push(3600)  # ...but moved an hour on before the timer fired
    await _turns()  # the timer fired early and re-armed itself: no cancellation
    assert deadline.stop() is False


async def test_a_held_deadline_fires_only_after_the_next_push() -> None:
    deadline = Deadline(asyncio.get_running_loop().time())
    deadline.hold()  # the relay is writing to the client
    await _turns()
    assert not deadline.expired
    deadline.push(0)  # reading again, and already late
    await _cancelled()
    assert deadline.stop() is True


async def test_a_stopped_deadline_never_fires() -> None:
    deadline = Deadline(asyncio.get_running_loop().time())
    assert deadline.stop() is False
    await _turns()
    assert not deadline.expired


# ------------------------------------------------------------------ through the app


class Held(httpx.AsyncByteStream):
    """Sends ``chunks``, then holds the stream open until the proxy closes it (``closed``),
    which, like a closed connection, ends a pending read with an error."""

    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = chunks
        self.closed = asyncio.Event()

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self.chunks:
            yield chunk
        await self.closed.wait()
        raise httpx.ReadError("the connection was closed")

    async def aclose(self) -> None:
        self.closed.set()


def _home(home: Paths, proxy: str) -> Paths:
    write_config(
        home,
        '[backends.qwen]\nproviders = ["one"]\n[message_backend]\ndefault = "qwen"\n'
        f"[proxy]\n{proxy}\n",
        '[qwen.one]\nbase_url = "https://one.example/v1"\napi_key = "sk-one-secret-key-123456"\n'
        'model = "one-model"\n',
    )
    return home


def _held(stream: Held) -> Any:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, stream=stream)

    return handler


@pytest.mark.parametrize(
    ("limits", "chunks"),
    [
        # first-token shorter than idle: a deadline of its own from the head
        ("first_token_timeout = 0.001\nidle_timeout = 60", []),
        # equal limits, a head in pieces: the rest of the first event within the limit too
        ("first_token_timeout = 0.001\nidle_timeout = 0.001", [b'data: {"choi']),
    ],
)
async def test_no_first_event_within_the_first_token_limit_is_a_504(
    home: Paths, clock: Clock, limits: str, chunks: list[bytes]
) -> None:
    stream = Held(chunks)
    client = AsgiClient({"model": "m", "messages": [], "stream": True})
    async with thinking_app(_home(home, limits), clock, _held(stream)) as app:
        await asyncio.wait_for(client.call(app), 10)
    assert client.sent[0]["status"] == 504
    assert stream.closed.is_set(), "the upstream was left open"
    (row,) = logged(home)
    assert row.status == 504 and row.error is not None
    assert "no first token within the first-token limit" in row.error


async def test_a_stream_that_stalls_past_the_idle_limit_ends_with_an_error_event(
    home: Paths, clock: Clock
) -> None:
    stream = Held([EVENT, EVENT])
    client = AsgiClient({"model": "m", "messages": [], "stream": True})
    limits = "first_token_timeout = 60\nidle_timeout = 0.001\ncontinue_streams = false"
    async with thinking_app(_home(home, limits), clock, _held(stream)) as app:
        await asyncio.wait_for(client.call(app), 10)
    bodies = b"".join(m.get("body", b"") for m in client.sent[1:])
    assert bodies.startswith(EVENT)
    assert b"no data for 0.001s" in bodies and not client.sent[-1].get("more_body")
    assert stream.closed.is_set()
    (row,) = logged(home)
    assert row.error is not None and "no data for 0.001s" in row.error


class Leaving(AsgiClient):
    """A client that goes away as soon as the first events arrive."""

    async def send(self, message: dict[str, Any]) -> None:
        await super().send(message)
        if message.get("body"):
            self.gone.set()


@pytest.mark.parametrize("watch_after", [0.0, None])
async def test_a_client_gone_mid_stream_aborts_the_upstream_and_logs_499(
    home: Paths, clock: Clock, monkeypatch: pytest.MonkeyPatch, watch_after: float | None
) -> None:
    if watch_after is not None:
        monkeypatch.setattr(relay, "WATCH_AFTER", watch_after)
    stream = Held([EVENT])
    client = Leaving({"model": "m", "messages": [], "stream": True})
    async with thinking_app(_home(home, ""), clock, _held(stream)) as app:
        await asyncio.wait_for(client.call(app), 10)  # returns: the watcher aborted the read
    assert stream.closed.is_set(), "the proxy kept the upstream stream open"
    (row,) = logged(home)
    assert row.status == 499 and row.error == "client disconnected mid-stream"
