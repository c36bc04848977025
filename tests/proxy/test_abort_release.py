"""Aborted upstream streams are released: nothing keeps an aborted response alive.

aiohttp raises one module-level ``ClientConnectionError("Connection closed")`` instance for
every closed stream; each raise used to prepend the frames of ``readany`` (holding the
response) to that instance's traceback, so every client that left mid-stream leaked ~4 KB.
"""

from __future__ import annotations

import gc
import threading
import weakref

import aiohttp
import pytest

from auto_router.demo.fake_upstream import FakeUpstream, Stream
from auto_router.demo.wire import chat_chunks
from auto_router.proxy.upstream import AiohttpUpstream, Timeouts, UpstreamConnectionError

pytestmark = pytest.mark.anyio


async def _abort_mid_stream(upstream: AiohttpUpstream, url: str) -> weakref.ref[object]:
    resp = await upstream.send("POST", url, [], b"{}", Timeouts(5, 5))
    assert await resp.readany()  # the first event arrived: the stream is under way
    raw = resp._resp  # type: ignore[attr-defined]
    assert isinstance(raw, aiohttp.ClientResponse)
    ref: weakref.ref[object] = weakref.ref(raw)
    await resp.abort()  # what the proxy does when its client goes away
    with pytest.raises(UpstreamConnectionError):
        while await resp.readany():
            pass
    return ref


async def test_aborted_responses_are_released() -> None:
    release = threading.Event()

    def script(seen: object) -> Stream:
        return Stream(chat_chunks("m", ["a", "b", "c"]), hold_at=1, release=release)

    with FakeUpstream(script) as fake:
        upstream = AiohttpUpstream()
        await upstream.open()
        try:
            refs = [await _abort_mid_stream(upstream, fake.url + "/chat") for _ in range(3)]
            gc.collect()
            assert [r() for r in refs] == [None, None, None]
        finally:
            release.set()
            await upstream.aclose()
