"""The stream checks' fast forms answer exactly as the plain ones they replace.

``malformed``, ``first_event_in`` and ``token_usage`` run on every streamed answer; they
were made cheap (literal-prefix searches instead of a ``^`` tried at every byte, no split
into lines, the usage regex only from the first "oken"). The references below are the
plain forms, and hypothesis feeds both the shapes an SSE stream takes (CR, LF, CRLF,
comments, pings, [DONE], broken JSON lines).
"""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from auto_router.proxy.exchange import token_usage
from auto_router.proxy.streams import finished, first_event_in, malformed, needs_done

_REFERENCE_BAD = re.compile(
    rb"^data:[ \t]*+(?!\r?$|\[DONE\][ \t]*\r?$|\{.*\}[ \t]*\r?$|\[.*\][ \t]*\r?$)", re.M
)
_REFERENCE_USAGE = re.compile(
    rb'"(prompt_tokens|input_tokens|promptTokenCount|completion_tokens|output_tokens|'
    rb'candidatesTokenCount|total_tokens|totalTokenCount)"\s*:\s*(\d+)'
)


def _reference_first_event(head: bytes) -> bool:
    lf, crlf = head.rfind(b"\n\n"), head.rfind(b"\r\n\r\n")
    end = max(lf + 2 if lf >= 0 else -1, crlf + 4 if crlf >= 0 else -1)
    if end < 0:
        return False
    return any(
        line.startswith(b"data:") and b'"ping"' not in line for line in head[:end].splitlines()
    )


def _reference_usage(*parts: bytes) -> tuple[int | None, int | None, int | None]:
    found: dict[str, int] = {}
    for part in parts:
        for name, value in _REFERENCE_USAGE.findall(part):
            kind = "total" if name.startswith(b"total") else "prompt"
            if name in (b"completion_tokens", b"output_tokens", b"candidatesTokenCount"):
                kind = "completion"
            found[kind] = int(value)
    total = found.get("total")
    if total is None and "prompt" in found and "completion" in found:
        total = found["prompt"] + found["completion"]
    return found.get("prompt"), found.get("completion"), total


_PIECES = st.sampled_from(
    [
        b"data: ",
        b"data:",
        b"data: {",
        b'{"a":1}',
        b"}",
        b"[1]",
        b"[DONE]",
        b"\n",
        b"\r",
        b"\r\n",
        b"\n\n",
        b" ",
        b"\t",
        b": comment",
        b"event: ping",
        b'"ping"',
        b'"prompt_tokens": 7',
        b'"output_tokens":3',
        b'"totalTokenCount" : 12',
        b'"completion_tokens": 5',
        b'"candidatesTokenCount":4',
        b"oken",
        b'"finish_reason":"stop"',
        b"message_stop",
        b"x",
    ]
)
_STREAMS = st.lists(_PIECES, max_size=30).map(b"".join)


@settings(max_examples=600, deadline=None)
@given(_STREAMS)
def test_malformed_is_the_multiline_check(events: bytes) -> None:
    assert malformed(events) == (_REFERENCE_BAD.search(events) is not None)


@settings(max_examples=600, deadline=None)
@given(_STREAMS)
def test_first_event_in_is_the_line_by_line_check(head: bytes) -> None:
    assert first_event_in(head) == _reference_first_event(head)


@settings(max_examples=400, deadline=None)
@given(_STREAMS, _STREAMS)
def test_token_usage_is_the_whole_scan(head: bytes, tail: bytes) -> None:
    assert token_usage(head, tail) == _reference_usage(head, tail)
    assert token_usage(head, head) == _reference_usage(head, head)


@settings(max_examples=300, deadline=None)
@given(_STREAMS)
def test_finished_and_done(tail: bytes) -> None:
    done = b"[DONE]" in tail
    assert finished("chat", tail) == (
        done or re.search(rb'"finish_reason"\s*:\s*"', tail) is not None
    )
    assert finished("messages", tail) == (b"message_stop" in tail)
    assert needs_done("chat", tail) == (not done)


def test_a_broken_line_after_good_ones_is_found() -> None:
    good = b'data: {"a":1}\n\n' * 20
    assert not malformed(good + b"data: [DONE]\n\n")
    assert malformed(good + b'data: {"a":\n\n')
    assert malformed(b'data: {"a":\n\n' + good)
    assert malformed(good.replace(b"\n\n", b"\r\n\r\n") + b"data: oops\r\n\r\n")


def test_usage_names_found_whatever_comes_first() -> None:
    # The regex starts a little before the first "oken": far enough for the longest name.
    assert token_usage(b'{"completion_tokens": 5, "prompt_tokens": 2}') == (2, 5, 7)
    assert token_usage(b'{"candidatesTokenCount":4,"promptTokenCount":1}') == (1, 4, 5)
