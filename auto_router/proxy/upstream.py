"""The upstream HTTP client behind a two-method seam.

``AiohttpUpstream`` is the data path: one long-lived ``aiohttp.ClientSession`` with a tuned
connector (httpx's pool polls every idle connection on every request and collapses under
concurrency; see docs/performance.md). ``HttpxUpstream`` runs the same proxy over any
``httpx`` transport, which is what the unit tests use (``httpx.MockTransport``).

Foreign exceptions are translated here and nowhere else: ``UpstreamTimeout`` (-> 504 or
failover) and ``UpstreamConnectionError`` (-> 502 or failover).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Protocol

import aiohttp
import httpx

Headers = Sequence[tuple[str, str]]


@dataclass(frozen=True, slots=True)
class Timeouts:
    connect: float
    #: Time to the response head, and between body chunks.
    read: float


class UpstreamError(Exception):
    """The upstream could not be reached or stopped answering."""

    kind = "connection"


class UpstreamTimeout(UpstreamError):
    kind = "timeout"


class UpstreamConnectionError(UpstreamError):
    kind = "connection"


class UpstreamResponse(Protocol):
    status: int

    def raw_headers(self) -> Sequence[tuple[bytes, bytes]]: ...

    def header(self, name: str) -> str | None: ...

    async def read(self) -> bytes: ...

    async def readany(self) -> bytes:
        """The next chunk as it arrives; ``b""`` at the end."""
        ...

    async def release(self) -> None:
        """The body was read to the end: give the connection back to the pool."""
        ...

    async def abort(self) -> None:
        """Stop early (client gone, stream broken): close the upstream connection."""
        ...


class Upstream(Protocol):
    async def open(self) -> None: ...

    async def aclose(self) -> None: ...

    async def send(
        self, method: str, url: str, headers: Headers, body: bytes | None, timeouts: Timeouts
    ) -> UpstreamResponse: ...


# --------------------------------------------------------------------------- aiohttp


class _AiohttpResponse:
    __slots__ = ("_resp", "status")

    def __init__(self, resp: aiohttp.ClientResponse) -> None:
        self._resp = resp
        self.status = resp.status

    def raw_headers(self) -> Sequence[tuple[bytes, bytes]]:
        return self._resp.raw_headers

    def header(self, name: str) -> str | None:
        return self._resp.headers.get(name)

    async def read(self) -> bytes:
        try:
            return await self._resp.read()
        except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
            raise UpstreamTimeout("timed out reading the upstream response") from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise UpstreamConnectionError(f"upstream connection failed: {_describe(exc)}") from exc
        finally:
            self._resp.release()

    async def readany(self) -> bytes:
        try:
            return await self._resp.content.readany()
        except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
            raise UpstreamTimeout("timed out waiting for the upstream stream") from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise UpstreamConnectionError(f"upstream stream broke: {_describe(exc)}") from exc

    async def release(self) -> None:
        self._resp.release()

    async def abort(self) -> None:
        self._resp.close()


class AiohttpUpstream:
    """The production client: pooled keep-alive connections, no cookies, no env proxies."""

    def __init__(self, *, limit: int = 1024, keepalive_timeout: float = 60.0) -> None:
        self._limit = limit
        self._keepalive = keepalive_timeout
        self._session: aiohttp.ClientSession | None = None
        self._timeouts: dict[Timeouts, aiohttp.ClientTimeout] = {}

    async def open(self) -> None:
        connector = aiohttp.TCPConnector(
            limit=self._limit,
            limit_per_host=0,
            ttl_dns_cache=300,
            keepalive_timeout=self._keepalive,
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            cookie_jar=aiohttp.DummyCookieJar(),
            auto_decompress=True,
            skip_auto_headers=("User-Agent",),
            timeout=aiohttp.ClientTimeout(total=None, connect=10, sock_read=300),
        )

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def send(
        self, method: str, url: str, headers: Headers, body: bytes | None, timeouts: Timeouts
    ) -> UpstreamResponse:
        session = self._session
        if session is None:
            raise UpstreamConnectionError("the upstream client is closed")
        timeout = self._timeouts.get(timeouts)
        if timeout is None:
            timeout = self._timeouts[timeouts] = aiohttp.ClientTimeout(
                total=None, connect=timeouts.connect, sock_read=timeouts.read
            )
        try:
            resp = await session.request(
                method, url, headers=headers, data=body, timeout=timeout, allow_redirects=False
            )
        except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
            raise UpstreamTimeout(f"upstream timed out: {_describe(exc)}") from exc
        except (aiohttp.ClientError, OSError, ValueError) as exc:
            raise UpstreamConnectionError(f"cannot reach upstream: {_describe(exc)}") from exc
        return _AiohttpResponse(resp)


def _describe(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text[:300]


# ----------------------------------------------------------------------------- httpx


class _HttpxResponse:
    __slots__ = ("_iter", "_resp", "status")

    def __init__(self, resp: httpx.Response) -> None:
        self._resp = resp
        self.status = resp.status_code
        self._iter: AsyncIterator[bytes] | None = None

    def raw_headers(self) -> Sequence[tuple[bytes, bytes]]:
        return self._resp.headers.raw

    def header(self, name: str) -> str | None:
        value: str | None = self._resp.headers.get(name)
        return value

    async def read(self) -> bytes:
        try:
            return await self._resp.aread()
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
            return await self._iter.__anext__()
        except StopAsyncIteration:
            return b""
        except httpx.TimeoutException as exc:
            raise UpstreamTimeout("timed out waiting for the upstream stream") from exc
        except (httpx.HTTPError, httpx.StreamError) as exc:
            raise UpstreamConnectionError(f"upstream stream broke: {exc}") from exc

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
        self, method: str, url: str, headers: Headers, body: bytes | None, timeouts: Timeouts
    ) -> UpstreamResponse:
        if self._client is None:
            raise UpstreamConnectionError("the upstream client is closed")
        request = self._client.build_request(
            method,
            url,
            headers=list(headers),
            content=body,
            timeout=httpx.Timeout(timeouts.read, connect=timeouts.connect),
        )
        try:
            resp = await self._client.send(request, stream=True)
        except httpx.TimeoutException as exc:
            raise UpstreamTimeout(f"upstream timed out: {exc}") from exc
        except httpx.HTTPError as exc:
            raise UpstreamConnectionError(f"cannot reach upstream: {exc}") from exc
        return _HttpxResponse(resp)
