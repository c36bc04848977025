"""The upstream HTTP client behind a two-method seam.

``AiohttpUpstream`` is the data path: one long-lived ``aiohttp.ClientSession`` with a tuned
connector (httpx's pool polls every idle connection on every request and collapses under
concurrency; see docs/performance.md). ``httpx_upstream.HttpxUpstream`` runs the same
proxy over any ``httpx`` transport, which is what the unit tests use (``MockTransport``).

Foreign exceptions are translated here and nowhere else: ``UpstreamTimeout`` (-> 504 or
failover) and ``UpstreamConnectionError`` (-> 502 or failover). What a hostile upstream can
send back is refused here too (issue 18): a redirect (never relayed, never followed), a body
or a stream past its cap (``UpstreamRefused``, counted by ``Meter``, never copied).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit

import aiohttp

from ..config.proxy import MAX_EVENT_BYTES, MAX_RESPONSE_BYTES, MAX_STREAM_BYTES

Headers = Sequence[tuple[str, str]]


@dataclass(frozen=True, slots=True)
class Timeouts:
    """The limits of one provider: times in seconds (see docs/proxy.md, "Failure
    handling"), and the caps on what it sends back in bytes ("Caps on answers")."""

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
    #: A whole (non-streamed) body, decompressed.
    body_bytes: int = MAX_RESPONSE_BYTES
    #: One SSE event (the bytes between two blank lines).
    event_bytes: int = MAX_EVENT_BYTES
    #: A whole stream, decompressed.
    stream_bytes: int = MAX_STREAM_BYTES

    @property
    def stream_read(self) -> float:
        """The socket read limit of a stream: the largest of header, first-token and idle
        (``send``, ``attempts`` and the relays hold the smaller ones themselves with a
        ``Deadline``): the socket limit also bounds the wait for the head, so a smaller one
        would cut a ``header_timeout`` longer than the others (issue 18)."""
        return max(self.header, self.first_token, self.idle)


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


class UpstreamRefused(UpstreamError):
    """The upstream answered what the proxy will not take: a redirect, an answer past a
    cap, JSON nested too deep. A failure of that provider (failover before the first byte,
    an error event after it), not worth a second try there."""

    kind = "refused"


def redirect_refused(status: int, location: str | None) -> UpstreamRefused:
    """A 3xx: relayed, an SDK re-POSTs the prompt (and maybe the key) to the foreign host;
    followed, so would the proxy. Neither: the reason names where it pointed (origin only:
    a query could carry a token)."""
    where = ""
    if location:
        parts = urlsplit(location)
        where = f" to {parts.scheme}://{parts.netloc}" if parts.netloc else " (relative)"
    return UpstreamRefused(
        f"the upstream answered HTTP {status}, a redirect{where}: not followed (check base_url)"
    )


def too_large(what: str, setting: str, cap: int) -> UpstreamRefused:
    return UpstreamRefused(f"the upstream {what} passed [proxy] {setting} ({cap} bytes)")


class Meter:
    """Counts a stream as it passes: the total, and (SSE) the bytes since the last blank
    line, so one endless event is refused before any buffer holds it. Counters only, no
    copy: one ``endswith`` per chunk in the common case (chunks end on an event)."""

    __slots__ = ("_event", "_event_cap", "_left", "_sse", "_stream_cap", "_tail")

    def __init__(self, limits: Timeouts, sse: bool) -> None:
        self._left = self._stream_cap = limits.stream_bytes
        self._event = 0
        self._event_cap = limits.event_bytes
        self._sse = sse
        self._tail = b""

    def count(self, chunk: bytes) -> None:
        """Raise ``UpstreamRefused`` once the stream or its current event passes its cap."""
        self._left -= len(chunk)
        if self._left < 0:
            raise too_large("stream", "max_stream_bytes", self._stream_cap)
        if not self._sse:
            return
        if chunk.endswith(b"\n\n"):  # the usual chunk: whole events
            self._event, self._tail = 0, b""
            return
        if b"\n" not in chunk and b"\r" not in chunk:  # memchr: inside a long line
            after = -1
        else:
            after = _after_boundary(chunk)
            if after < 0 and _after_boundary(self._tail + chunk[:3]) >= 0:
                after = len(chunk)  # the blank line straddled two chunks (a few bytes off)
        self._event = self._event + len(chunk) if after < 0 else after
        self._tail = chunk[-3:] if len(chunk) >= 3 else (self._tail + chunk)[-3:]
        if self._event > self._event_cap:
            raise too_large("SSE event", "max_event_bytes", self._event_cap)


def _after_boundary(data: bytes) -> int:
    """How many bytes follow the last blank line in ``data`` (-1: none). LF, CRLF and CR
    line ends, as ``translate.sse`` reads them: three C-level searches from the end."""
    lf = data.rfind(b"\n\n")
    crlf = data.rfind(b"\n\r\n")
    cr = data.rfind(b"\r\r")
    end = max(lf + 2 if lf >= 0 else -1, crlf + 3 if crlf >= 0 else -1, cr + 2 if cr >= 0 else -1)
    return len(data) - end if end >= 0 else -1


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
    __slots__ = ("_cap", "_meter", "_resp", "status")

    def __init__(self, resp: aiohttp.ClientResponse, limits: Timeouts, stream: bool) -> None:
        self._resp = resp
        self.status = resp.status
        self._cap = limits.body_bytes
        sse = stream and "event-stream" in resp.headers.get("content-type", "")
        self._meter = Meter(limits, sse) if stream else None

    def raw_headers(self) -> Sequence[tuple[bytes, bytes]]:
        return self._resp.raw_headers

    def header(self, name: str) -> str | None:
        return self._resp.headers.get(name)

    async def read(self) -> bytes:
        resp = self._resp
        try:
            length = resp.content_length
            if length is not None and "content-encoding" not in resp.headers:
                if length > self._cap:  # said so up front: not read at all
                    resp.close()
                    raise too_large("answer", "max_response_bytes", self._cap)
                return await resp.read()  # the usual answer: exactly that many bytes
            return await self._read_capped()
        except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
            raise UpstreamTimeout("timed out reading the upstream response") from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise UpstreamConnectionError(f"upstream connection failed: {_describe(exc)}") from exc
        finally:
            self._resp.release()

    async def _read_capped(self) -> bytes:
        """A body of unknown size (chunked, or compressed: a small gzip bomb inflates to
        gigabytes), counted as it is decompressed and refused past the cap."""
        content, cap = self._resp.content, self._cap
        parts: list[bytes] = []
        size = 0
        while chunk := await content.readany():
            size += len(chunk)
            if size > cap:
                self._resp.close()
                raise too_large("answer", "max_response_bytes", cap)
            parts.append(chunk)
        return b"".join(parts)

    async def readany(self) -> bytes:
        try:
            chunk = await self._resp.content.readany()
        except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
            raise UpstreamTimeout("timed out waiting for the upstream stream") from exc
        except (aiohttp.ClientError, OSError) as exc:
            # --- leak fix (issue 10): aiohttp raises one shared "Connection closed" instance
            # for every aborted stream, and each raise prepends this frame (which holds the
            # response) to its traceback: clear it, or every aborted response stays alive.
            exc.__traceback__ = None
            raise UpstreamConnectionError(f"upstream stream broke: {_describe(exc)}") from None
        if self._meter is not None:
            self._meter.count(chunk)
        return chunk

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
        if 300 <= resp.status < 400:
            resp.close()
            raise redirect_refused(resp.status, resp.headers.get("location"))
        return _AiohttpResponse(resp, timeouts, stream)


def _client_timeout(timeouts: Timeouts, stream: bool) -> aiohttp.ClientTimeout:
    if stream:
        return aiohttp.ClientTimeout(
            total=None, connect=timeouts.connect, sock_read=timeouts.stream_read
        )
    return aiohttp.ClientTimeout(total=timeouts.total, connect=timeouts.connect)


def _describe(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text[:300]
