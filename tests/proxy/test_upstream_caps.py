"""The pieces behind the caps and the linear framing (issue 18), cut every way a socket
can cut a stream: the upstream client's ``Meter``, the relay's ``Framer`` and ``Head``,
translation's ``SSEParser``. The end-to-end behaviour is in ``test_hostile_upstreams``."""

from __future__ import annotations

import pytest

from auto_router.proxy.streams import Framer, Head, drop_malformed
from auto_router.proxy.upstream import Meter, Timeouts, UpstreamRefused
from auto_router.translate.sse import SSEParser

EVENT = b'data: {"choices":[{"index":0,"delta":{"content":"a"}}]}\n\n'
LIMITS = Timeouts(event_bytes=100, stream_bytes=10_000)


def _cuts(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


@pytest.mark.parametrize("size", [1, 2, 3, 7, 64])
@pytest.mark.parametrize("end", [b"\n\n", b"\r\n\r\n", b"\r\r"])
def test_the_meter_sees_every_blank_line_however_the_chunks_fall(size: int, end: bytes) -> None:
    """90-byte events never pass a 100-byte event cap, whatever cuts their blank lines."""
    event = b"data: " + b"x" * (90 - 6 - len(end)) + end
    meter = Meter(LIMITS, sse=True)
    for chunk in _cuts(event * 50, size):
        meter.count(chunk)


def test_the_meter_refuses_one_event_past_its_cap() -> None:
    meter = Meter(LIMITS, sse=True)
    meter.count(b"data: " + b"x" * 90)
    with pytest.raises(UpstreamRefused, match="max_event_bytes"):
        meter.count(b"x" * 20)


def test_the_meter_refuses_a_stream_past_its_cap_and_ignores_events_without_sse() -> None:
    meter = Meter(LIMITS, sse=False)
    meter.count(b"x" * 5000)  # no events in a JSON stream: only the total counts
    with pytest.raises(UpstreamRefused, match="max_stream_bytes"):
        meter.count(b"x" * 5001)


@pytest.mark.parametrize("size", [1, 2, 3, 5, 17, 1000])
def test_the_framer_gives_whole_events_however_the_chunks_fall(size: int) -> None:
    events = EVENT * 5 + EVENT.replace(b"\n\n", b"\r\n\r\n") * 5
    framer = Framer()
    out = b"".join(framer.feed(chunk) for chunk in _cuts(events, size))
    assert out == events and framer.pending == b""


def test_the_framer_keeps_a_long_event_as_parts_until_its_end() -> None:
    framer = Framer()
    long_event = b'data: {"a":"' + b"x" * 10_000 + b'"}\n\n'
    got = [framer.feed(chunk) for chunk in _cuts(long_event, 100)]
    assert got[:-1] == [b""] * (len(got) - 1) and got[-1] == long_event
    assert framer.pending == b""


def test_the_framer_drops_a_malformed_event_and_keeps_the_rest() -> None:
    framer = Framer()
    bad = b'data: {"choices": [{"delta": {"content": "x\n\n'
    assert framer.feed(EVENT + bad + EVENT) == EVENT + EVENT
    assert framer.skipped == 1
    assert drop_malformed(bad.replace(b"\n\n", b"\r\n\r\n") + EVENT) == (EVENT, 1)


@pytest.mark.parametrize("size", [1, 4, 9, 1000])
def test_the_head_is_found_after_pings_however_the_chunks_fall(size: int) -> None:
    ping = b'event: ping\ndata: {"type":"ping"}\n\n'
    stream = ping * 3 + EVENT + EVENT
    head = Head()
    for chunk in _cuts(stream, size):
        if head.add(chunk):
            break
    else:
        raise AssertionError("no first event found")
    got = head.bytes()
    assert got.startswith(ping * 3 + EVENT) and stream.startswith(got)


def test_a_head_of_pings_only_has_no_first_event() -> None:
    head = Head()
    assert not any(head.add(b'data: {"type":"ping"}\n\n') for _ in range(10))
    assert head.bytes() == b'data: {"type":"ping"}\n\n' * 10


@pytest.mark.parametrize("size", [1, 2, 3, 5, 1000])
@pytest.mark.parametrize("end", [b"\n", b"\r\n", b"\r"])
def test_the_sse_parser_reads_every_line_end_however_the_chunks_fall(size: int, end: bytes) -> None:
    one = b"event: e" + end + b"data: {}" + end + end
    parser = SSEParser()
    got = [pair for chunk in _cuts(one * 4, size) for pair in parser.feed(chunk)]
    assert got + parser.close() == [("e", "{}")] * 4


def test_the_sse_parser_holds_a_long_event_as_parts() -> None:
    parser = SSEParser()
    long_event = b'data: {"a":"' + b"x" * 10_000 + b'"}\n\n'
    got = [parser.feed(chunk) for chunk in _cuts(long_event, 100)]
    assert got[:-1] == [[]] * (len(got) - 1)
    assert got[-1] == [(None, long_event[6:-2].decode())]
