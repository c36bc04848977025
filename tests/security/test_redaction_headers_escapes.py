"""Issue 18, item 6: the two ways a key still reached the client.

* A success response's header quoting a short piece of the key (``key=sk-one-s-``: shorter
  than the ten characters that count as a leak in prose) was relayed as it came.
* A same-protocol error body spelling the key with JSON escapes (``\\u0073\\u006b...``) was
  relayed as it came, and every JSON client decodes it to the whole key.

Both on real sockets: the proxy on uvicorn, a fake provider that echoes the key it was sent.
The stored request log is searched too (it was redacted before and must stay so).
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from auto_router.demo.fake_upstream import FakeUpstream, Reply, Seen
from auto_router.paths import Paths
from auto_router.redaction import MASK, MIN_FRAGMENT, MIN_SECRET, Redactor
from tests.security.conftest import KEY_ONE, configure, make_app, running

pytestmark = pytest.mark.integration

ANSWER = {
    "id": "c1",
    "object": "chat.completion",
    "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}
    ],
}


def _escaped(text: str) -> str:
    """``text`` with every character written as a JSON ``\\uXXXX`` escape."""
    return "".join(f"\\u{ord(c):04x}" for c in text)


def _leaking_headers(key: str) -> dict[str, str]:
    return {
        "x-debug": f"key={key[:8]}-",  # the head, cut short (what the attack found)
        "x-key-tail": f"...{key[-6:]}",
        "x-key-middle": f"[{key[7:14]}]",
        "x-request-id": "req_5b2f4e0c8a7d4c21",  # nothing of the key: untouched
    }


def echo(seen: Seen) -> Reply:
    key = seen.key()[1]
    said = seen.document()["messages"][0]["content"]
    if said == "error":
        raw = '{"error":{"message":"invalid key ' + _escaped(key) + '","type":"auth"}}'
        return Reply(401, raw.encode(), {})
    if said == "partly":  # escapes mixed with plain characters, and an escaped slash
        spelled = key[:4] + _escaped(key[4:12]) + key[12:]
        raw = '{"error":{"message":"key \\/ ' + spelled + '","type":"auth"}}'
        return Reply(401, raw.encode(), {})
    return Reply(200, ANSWER, _leaking_headers(key))


def _pieces(secret: str, size: int) -> list[str]:
    return [secret[i : i + size] for i in range(len(secret) - size + 1)]


def _survivors(text: str) -> list[str]:
    return [p for p in _pieces(KEY_ONE, MIN_SECRET) if p in text]


def _chat(port: int, content: str) -> httpx.Response:
    body = {"model": "m", "messages": [{"role": "user", "content": content}]}
    return httpx.post(f"http://127.0.0.1:{port}/v1/chat/completions", json=body, timeout=20)


def test_success_headers_and_escaped_error_bodies_hide_the_key(home: Paths) -> None:
    with FakeUpstream(echo) as upstream:
        configure(home, upstream.url, proxy="[proxy.request_log]\nbodies = true")
        with running(make_app(home)) as port:
            plain = _chat(port, "hi")
            error = _chat(port, "error")
            partly = _chat(port, "partly")
    assert {s.key()[1] for s in upstream.seen} == {KEY_ONE}  # the provider did get the key
    assert plain.status_code == 200 and plain.json() == ANSWER
    assert plain.headers["x-debug"] == f"key={MASK}"
    assert plain.headers["x-key-tail"] == f"...{MASK}"
    assert plain.headers["x-key-middle"] == f"[{MASK}]"
    assert plain.headers["x-request-id"] == "req_5b2f4e0c8a7d4c21"
    assert not _survivors(json.dumps(dict(plain.headers)))
    for resp in (error, partly):
        assert resp.status_code == 401
        decoded = json.dumps(resp.json(), ensure_ascii=False)  # what the client reads
        assert MASK in decoded
        assert not [p for p in _pieces(KEY_ONE, MIN_FRAGMENT) if p in decoded], decoded
    assert partly.json()["error"]["message"] == f"key / {MASK}"
    stored = b"".join(p.read_bytes() for p in Path(home.data_dir).glob("auto-router.db*"))
    assert KEY_ONE.encode() not in stored


def test_every_short_piece_in_a_header_is_masked_and_the_rest_kept() -> None:
    redactor = Redactor([KEY_ONE])
    for size in range(MIN_SECRET, len(KEY_ONE) + 1):
        for piece in _pieces(KEY_ONE, size):
            for shift in range(8):  # every position against the screen's sampling grid
                value = f"{'v' * shift}; key={piece}-; ok".encode()
                headers = [(b"content-type", b"application/json"), (b"x-debug", value)]
                out = dict(redactor.headers(headers))
                masked = out[b"x-debug"].decode()
                assert masked.startswith(f"{'v' * shift}; key={MASK}"), value
                assert masked.endswith("; ok") and not _survivors(masked), value
                assert out[b"content-type"] == b"application/json"
    clean = [(b"content-type", b"application/json"), (b"x-request-id", b"req_0a1b2c3d4e")]
    assert redactor.headers(clean) is clean  # nothing to mask: the very same list


def test_json_escapes_are_decoded_only_to_find_a_key() -> None:
    redactor = Redactor([KEY_ONE, 'sk-q"uote\\slash-0123456789'])
    spelled = _escaped(KEY_ONE)
    assert redactor.text(f'{{"m": "{spelled}"}}') == f'{{"m": "{MASK}"}}'
    assert redactor.binary(f'{{"m": "{spelled}"}}'.encode()) == f'{{"m": "{MASK}"}}'.encode()
    quoted = _escaped('sk-q"uote\\slash-0123456789')  # decodes to the quote and backslash
    assert json.loads(redactor.text(f'"{quoted}"')) == MASK
    # An escaped backslash followed by "u..." is a backslash and text, not an escape.
    short = Redactor(["s3cr3t"])
    literal = '"\\\\u00733cr3t"'  # the JSON for the text \u00733cr3t: no secret in it
    assert short.text(literal) is literal
    assert short.text('"\\u00733cr3t"') == f'"{MASK}"'
    # Text with escapes but no key keeps its spelling, and is the same object.
    line = '{"m": "caf\\u00e9 \\/ \\u0000 \\ud83d\\ude00"}'
    assert redactor.text(line) is line
