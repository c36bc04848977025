"""The upstream HTTP client behind a two-method seam.

``AiohttpUpstream`` is the data path: one long-lived ``aiohttp.ClientSession`` with a tuned
connector (httpx's pool polls every idle connection on every request and collapses under
concurrency; see docs/performance.md). ``httpx_upstream.HttpxUpstream`` runs the same
proxy over any ``httpx`` transport, which is what the unit tests use (``MockTransport``).

Foreign exceptions are translated here and nowhere else: ``UpstreamTimeout`` (-> 504 or
failover) and ``UpstreamConnectionError`` (-> 502 or failover).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import aiohttp

Headers = Sequence[tuple[str, str]]


@dataclass(frozen=True, slots=True)
class Timeouts:
    """The limits of one provider, in seconds (see docs/proxy.md, "Failure handling")."""

    #: To open the connection.
    connect: float = 10.0
    #: Streams: to the response head.
    header: float = 30.0
    #: Streams: from the head to the first event (enforced by ``attempts``).
    first_token: float = 60.0
    #: Streams: the longest gap between two chunks.
    idle: float = 60.0
    #: Non-streaming: the whole exchange.
    total: float = 600.0

    @property
    def stream_read(self) -> float:
        """The socket read limit of a stream: the larger of first-token and idle
        (``attempts`` and the relay hold the smaller one themselves when they differ)."""
        return max(self.first_token, self.idle)


class Deadline:
    """Cancels the task that made it once the loop's clock passes ``at``: what
    ``asyncio.timeout`` does, for the stream path, without a context object per read.

    One timer serves a deadline moved on every chunk (the idle limit): ``push`` moves it by
    an assignment, ``hold`` suspends it (while the relay writes to the client, which is
    not the upstream's time), and the timer re-arms itself only when it fires early or
    was held. ``stop`` disarms it and says whether it fired; the caller then turns its
    ``CancelledError`` into a timeout.
    """

    __slots__ = ("_cancelling", "_handle", "_loop", "_ours", "_stopped", "_task", "at", "expired")

    def __init__(self, at: float) -> None:
        self._loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None, "a deadline cancels the task that made it"
        self._task = task
        self._cancelling = task.cancelling()  # cancellations asked before this deadline
        self._ours = False
        self.at: float | None = at
        self.expired = False
        self._stopped = False
        self._handle: asyncio.TimerHandle | None = self._loop.call_at(at, self._fire)

    @classmethod
    def after(cls, seconds: float) -> Deadline:
        return cls(asyncio.get_running_loop().time() + seconds)

    def push(self, seconds: float) -> None:
        """The deadline is now ``seconds`` from now."""
        self.at = at = self._loop.time() + seconds
        if self._handle is None and not self._stopped:  # it fired while held
            self._handle = self._loop.call_at(at, self._fire)

    def hold(self) -> None:
        """No deadline until the next ``push``."""
        self.at = None

    def _fire(self) -> None:
        at = self.at
        self._handle = None
        if at is None:  # held: ``push`` re-arms it
            return
        if self._loop.time() < at:  # pushed since it was armed: wait for the rest
            self._handle = self._loop.call_at(at, self._fire)
            return
        self.expired = True
        self._task.cancel()

    def stop(self) -> bool:
        """Disarm; ``True`` when it fired and its cancellation was the only one (taken
        back, as ``asyncio.timeout`` does: a cancellation from elsewhere, the client gone or
        the server stopping, wins). Calling it again changes nothing."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        if self.expired and not self._stopped:
            self._ours = self._task.uncancel() <= self._cancelling
        self._stopped = True
        return self._ours


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
        self,
        method: str,
        url: str,
        headers: Headers,
        body: bytes | None,
        timeouts: Timeouts,
        *,
        stream: bool = False,
    ) -> UpstreamResponse:
        """Send and return once the response head arrived (within ``header`` for a
        stream, within ``total`` for the whole of a non-streaming exchange)."""
        ...


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
            # --- leak fix (issue 10): aiohttp raises one shared "Connection closed" instance
            # for every aborted stream, and each raise prepends this frame (which holds the
            # response) to its traceback: clear it, or every aborted response stays alive.
            exc.__traceback__ = None
            raise UpstreamConnectionError(f"upstream stream broke: {_describe(exc)}") from None

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
        self._timeouts: dict[tuple[Timeouts, bool], aiohttp.ClientTimeout] = {}

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
        self,
        method: str,
        url: str,
        headers: Headers,
        body: bytes | None,
        timeouts: Timeouts,
        *,
        stream: bool = False,
    ) -> UpstreamResponse:
        session = self._session
        if session is None:
            raise UpstreamConnectionError("the upstream client is closed")
        timeout = self._timeouts.get((timeouts, stream))
        if timeout is None:
            timeout = self._timeouts[(timeouts, stream)] = _client_timeout(timeouts, stream)
        # The head of a stream comes quickly, or the provider is stuck. Without a shorter
        # header limit the client's socket limit (``stream_read``) already bounds the wait.
        deadline = (
            Deadline.after(timeouts.header)
            if stream and timeouts.header < timeouts.stream_read
            else None
        )
        try:
            resp = await session.request(
                method, url, headers=headers, data=body, timeout=timeout, allow_redirects=False
            )
        except asyncio.CancelledError:
            if deadline is None or not deadline.stop():
                raise
            raise UpstreamTimeout("upstream timed out waiting for the response head") from None
        except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
            what = "response head" if stream else "answer"
            raise UpstreamTimeout(f"upstream timed out waiting for the {what}") from exc
        except (aiohttp.ClientError, OSError, ValueError) as exc:
            raise UpstreamConnectionError(f"cannot reach upstream: {_describe(exc)}") from exc
        finally:
            if deadline is not None:
                deadline.stop()
        return _AiohttpResponse(resp)


def _client_timeout(timeouts: Timeouts, stream: bool) -> aiohttp.ClientTimeout:
    if stream:
        return aiohttp.ClientTimeout(
            total=None, connect=timeouts.connect, sock_read=timeouts.stream_read
        )
    return aiohttp.ClientTimeout(total=timeouts.total, connect=timeouts.connect)


def _describe(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text[:300]
