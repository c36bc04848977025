"""The upstream seam over httpx: the unit tests run the proxy on ``httpx.MockTransport``.

Not imported by the proxy itself (the data path is aiohttp; see ``upstream.py``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

import httpx

from .upstream import (
    Headers,
    Meter,
    Timeouts,
    UpstreamConnectionError,
    UpstreamResponse,
    UpstreamTimeout,
    redirect_refused,
    too_large,
)


class _HttpxResponse:
    __slots__ = ("_cap", "_iter", "_meter", "_resp", "status")

    def __init__(self, resp: httpx.Response, limits: Timeouts, stream: bool) -> None:
        self._resp = resp
        self.status = resp.status_code
        self._iter: AsyncIterator[bytes] | None = None
        self._cap = limits.body_bytes
        sse = stream and "event-stream" in resp.headers.get("content-type", "")
        self._meter = Meter(limits, sse) if stream else None

    def raw_headers(self) -> Sequence[tuple[bytes, bytes]]:
        return self._resp.headers.raw

    def header(self, name: str) -> str | None:
        value: str | None = self._resp.headers.get(name)
        return value

    async def read(self) -> bytes:
        parts: list[bytes] = []
        size = 0
        try:
            async for chunk in self._resp.aiter_bytes():  # decompressed: counted as it comes
                size += len(chunk)
                if size > self._cap:
                    raise too_large("answer", "max_response_bytes", self._cap)
                parts.append(chunk)
            return b"".join(parts)
        except httpx.TimeoutException as exc:
            raise UpstreamTimeout("timed out reading the upstream response") from exc
        except httpx.HTTPError as exc:
            raise UpstreamConnectionError(f"upstream connection failed: {exc}") from exc
        finally:
            await self._resp.aclose()

    async def readany(self) -> bytes:
        if self._iter is None:
            self._iter = self._resp.aiter_bytes()
        try:
            chunk = await self._iter.__anext__()
        except StopAsyncIteration:
            return b""
        except httpx.TimeoutException as exc:
            raise UpstreamTimeout("timed out waiting for the upstream stream") from exc
        except (httpx.HTTPError, httpx.StreamError) as exc:
            raise UpstreamConnectionError(f"upstream stream broke: {exc}") from exc
        if self._meter is not None:
            self._meter.count(chunk)
        return chunk

    async def release(self) -> None:
        await self._resp.aclose()

    async def abort(self) -> None:
        await self._resp.aclose()


class HttpxUpstream:
    """The same seam over httpx: for tests with ``httpx.MockTransport``."""

    def __init__(self, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._transport = transport
        self._client: httpx.AsyncClient | None = None

    async def open(self) -> None:
        self._client = httpx.AsyncClient(transport=self._transport)

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def send(
        self,
        method: str,
        url: str,
        headers: Headers,
        body: bytes | None,
        timeouts: Timeouts,
        *,
        stream: bool = False,
    ) -> UpstreamResponse:
        if self._client is None:
            raise UpstreamConnectionError("the upstream client is closed")
        read = timeouts.stream_read if stream else timeouts.total
        request = self._client.build_request(
            method,
            url,
            headers=list(headers),
            content=body,
            timeout=httpx.Timeout(read, connect=timeouts.connect),
        )
        try:
            async with asyncio.timeout(timeouts.header if stream else timeouts.total):
                resp = await self._client.send(request, stream=True)
        except (httpx.TimeoutException, TimeoutError) as exc:
            raise UpstreamTimeout(f"upstream timed out: {exc}") from exc
        except httpx.HTTPError as exc:
            raise UpstreamConnectionError(f"cannot reach upstream: {exc}") from exc
        if 300 <= resp.status_code < 400:
            await resp.aclose()
            raise redirect_refused(resp.status_code, resp.headers.get("location"))
        return _HttpxResponse(resp, timeouts, stream)
