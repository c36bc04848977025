"""Request bodies, headers, internal errors: refused or answered without leaking."""

from __future__ import annotations

import io
import socket
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import openai
import pytest
import structlog

from auto_router.demo.fake_upstream import FakeUpstream
from auto_router.paths import Paths
from auto_router.proxy.gate import MAX_HEADER_BYTES
from auto_router.proxy.logs import configure_logging
from auto_router.proxy.upstream import Timeouts, UpstreamResponse
from tests.helpers import closed_after_test

from .conftest import KEY_ONE, configure, make_app, running

pytestmark = pytest.mark.integration

SMALL = 2000
MESSAGES = [{"role": "user", "content": "hi"}]


def _big(size: int) -> list[dict[str, str]]:
    return [{"role": "user", "content": "x" * size}]


def test_bodies_over_the_limit_get_413_in_each_protocol(
    home: Paths, upstream: FakeUpstream
) -> None:
    configure(home, upstream.url, proxy=f"max_body_bytes = {SMALL}")
    with running(make_app(home)) as port:
        base = f"http://127.0.0.1:{port}"
        client = closed_after_test(openai.OpenAI(base_url=f"{base}/v1", api_key="k", max_retries=0))
        with pytest.raises(openai.APIStatusError) as caught:
            client.chat.completions.create(model="m", messages=_big(SMALL))  # type: ignore[arg-type]
        assert caught.value.status_code == 413
        assert caught.value.body["code"] == "request_too_large"  # type: ignore[index]
        claude = closed_after_test(anthropic.Anthropic(base_url=base, api_key="k", max_retries=0))
        with pytest.raises(anthropic.APIStatusError) as refused:
            claude.messages.create(model="m", max_tokens=5, messages=_big(SMALL))  # type: ignore[arg-type]
        assert refused.value.status_code == 413
        assert refused.value.body["type"] == "error"  # type: ignore[index]
        with httpx.Client(timeout=10) as raw:
            gemini = raw.post(
                f"{base}/v1beta/models/g:generateContent", content=b"{" + b" " * SMALL + b"}"
            )
            assert gemini.status_code == 413
            assert gemini.json()["error"]["code"] == 413  # Gemini's own error shape

            # Chunked (no content-length): counted while read, refused past the limit...
            def chunks(total: int) -> Iterator[bytes]:
                sent = 0
                while sent < total:
                    yield b" " * 500
                    sent += 500

            over = raw.post(f"{base}/v1/chat/completions", content=chunks(SMALL * 3))
            assert over.status_code == 413
            # ... and served below it.
            body = b'{"model": "m", "messages": [{"role": "user", "content": "hi"}]}'
            under = raw.post(
                f"{base}/v1/chat/completions",
                content=iter([body[:10], body[10:]]),
                headers={"content-type": "application/json"},
            )
            assert under.status_code == 200, under.text
        # The management API has the same limit.
        with httpx.Client(timeout=10) as raw:
            admin = raw.post(f"{base}/v1/providers", content=b"x" * (SMALL + 1))
            assert admin.status_code == 413
    assert len(upstream.seen) == 1  # only the small chunked request went upstream


def test_the_default_limit_is_32_mib(home: Paths, upstream: FakeUpstream) -> None:
    configure(home, upstream.url)
    with running(make_app(home)) as port:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            head = (
                f"POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\n"
                f"content-type: application/json\r\ncontent-length: {32 * 1024 * 1024 + 1}"
                "\r\n\r\n"
            )
            sock.sendall(head.encode())  # the body is never sent: the answer comes first
            answer = sock.recv(65536).decode()
        assert answer.startswith("HTTP/1.1 413")
        assert "connection: close" in answer.lower()


def _raw(port: int, head: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head)
        out = b""
        while True:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            out += chunk
        return out


def test_oversized_or_too_many_headers_are_refused(home: Paths, upstream: FakeUpstream) -> None:
    configure(home, upstream.url)
    with running(make_app(home)) as port:
        host = f"host: 127.0.0.1:{port}\r\n".encode()
        huge = b"x-filler: " + b"a" * (MAX_HEADER_BYTES + 10) + b"\r\n"
        # A complete oversized head (it arrives in one read): refused by the server.
        answer = _raw(port, b"GET /health HTTP/1.1\r\n" + host + huge + b"\r\n")
        assert answer.startswith(b"HTTP/1.1 400")
        # A head that never ends (memory growth): the server answers 400 and closes.
        endless = b"GET /health HTTP/1.1\r\n" + host + b"x-filler: " + b"a" * 200_000
        assert _raw(port, endless).startswith(b"HTTP/1.1 400")
        many = b"".join(b"x-h%d: v\r\n" % i for i in range(150))
        answer = _raw(port, b"GET /health HTTP/1.1\r\n" + host + many + b"\r\n")
        assert answer.startswith(b"HTTP/1.1 400")
        # A normal request on a new connection is still served.
        ok = _raw(port, b"GET /health HTTP/1.1\r\n" + host + b"connection: close\r\n\r\n")
        assert ok.startswith(b"HTTP/1.1 200")
    assert upstream.seen == []


class _Exploding:
    """An upstream client with a bug: it raises with the key in its message and locals."""

    async def open(self) -> None:
        return None

    async def aclose(self) -> None:
        return None

    async def send(
        self,
        method: str,
        url: str,
        headers: list[tuple[str, str]],
        body: bytes | None,
        timeouts: Timeouts,
        *,
        stream: bool = False,
    ) -> UpstreamResponse:
        bearer = dict(headers).get("authorization", "")
        raise RuntimeError(f"bug while sending {bearer}")


class _Terminal(io.StringIO):
    def isatty(self) -> bool:  # the console renderer, where locals used to be printed
        return True


@pytest.fixture
def terminal_log() -> Iterator[_Terminal]:
    out = _Terminal()
    yield out
    structlog.reset_defaults()


def test_internal_errors_give_an_id_not_details(home: Paths, terminal_log: _Terminal) -> None:
    configure(home, "http://127.0.0.1:9/v1")
    app = make_app(home, upstream_client=_Exploding())
    configure_logging(stream=terminal_log, redactor=lambda: app.services.redactor)
    with running(app) as port:
        client = closed_after_test(
            openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="k", max_retries=0)
        )
        with pytest.raises(openai.APIStatusError) as caught:
            client.chat.completions.create(model="m", messages=MESSAGES)  # type: ignore[arg-type]
    error: Any = caught.value.body
    assert caught.value.status_code == 502
    assert "request id" in error["message"]
    assert "RuntimeError" not in error["message"] and "bug" not in error["message"]
    request_id = error["message"].rsplit(" ", 1)[1].rstrip(")")
    logged = terminal_log.getvalue()
    assert request_id in logged and "RuntimeError" in logged  # the details are in the log
    assert "Traceback" in logged
    assert KEY_ONE not in logged  # redacted
    assert "bearer =" not in logged and "locals" not in logged.lower()  # no local variables
