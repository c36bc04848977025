#!/usr/bin/env python3
# ruff: noqa: E501
"""CPU per chunk of the stream decoders and encoders, in process (no sockets, no proxy).

A translated stream goes through ``stream_decoder(upstream).feed`` once per upstream chunk
and ``stream_encoder(client).encode`` once per decoded batch, so these are translation's
share of a translated stream's cost. For comparing two versions, run it with each tree
first on ``PYTHONPATH``, alternating:

    PYTHONPATH=<tree> python benchmarks/bench_streams.py [--rounds 7]

Prints two Markdown tables, best of ``--rounds`` in CPU microseconds per chunk: each
upstream's 20-chunk text stream decoded one chunk at a time, then closed (``close`` and the
finish/usage chunks count in the per-chunk figure); and the Chat stream's decoded events
encoded for each client protocol, one chunk's events at a time.
"""

from __future__ import annotations

import argparse
import functools
import json
import time
import timeit
from collections.abc import Callable
from typing import Any

from auto_router import translate


def _chat() -> list[bytes]:
    head = '"id":"c","object":"chat.completion.chunk","created":1,"model":"m"'
    chunks = [
        f'data: {{{head},"choices":[{{"index":0,"delta":{{"content":"tok{i} "}},"finish_reason":null}}]}}\n\n'
        for i in range(20)
    ]
    chunks.append(
        f'data: {{{head},"choices":[{{"index":0,"delta":{{}},"finish_reason":"stop"}}]}}\n\n'
    )
    chunks.append(
        f'data: {{{head},"choices":[],"usage":{{"prompt_tokens":5,"completion_tokens":20}}}}\n\n'
    )
    chunks.append("data: [DONE]\n\n")
    return [c.encode() for c in chunks]


def _anthropic() -> list[bytes]:
    def event(name: str, data: dict[str, object]) -> bytes:
        return f"event: {name}\ndata: {json.dumps({'type': name, **data})}\n\n".encode()

    start = {
        "message": {"id": "msg_1", "model": "m", "usage": {"input_tokens": 5, "output_tokens": 1}}
    }
    chunks = [event("message_start", start),
              event("content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}})]  # fmt: skip
    chunks += [
        event(
            "content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": f"tok{i} "}}
        )
        for i in range(20)
    ]
    chunks += [event("content_block_stop", {"index": 0}),
               event("message_delta", {"delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 20}}),
               event("message_stop", {})]  # fmt: skip
    return chunks


def _gemini() -> list[bytes]:
    def chunk(part: dict[str, object], extra: str = "") -> bytes:
        candidate = {"content": {"role": "model", "parts": [part]}, "index": 0}
        body = {"candidates": [candidate], "modelVersion": "m", "responseId": "r"}
        text = json.dumps(body)
        return f"data: {text[:-1] + extra + '}' if extra else text}\n\n".encode()

    chunks = [chunk({"text": f"tok{i} "}) for i in range(20)]
    chunks.append(
        chunk({"text": ""}, ',"usageMetadata":{"promptTokenCount":5,"candidatesTokenCount":20}')
    )
    return chunks


STREAMS = {"chat": _chat(), "anthropic": _anthropic(), "gemini": _gemini()}


def decode(upstream: str, chunks: list[bytes]) -> int:
    decoder = translate.stream_decoder(upstream)
    count = 0
    for chunk in chunks:
        count += len(decoder.feed(chunk))
    return count + len(decoder.close())


def encode(client: str, batches: list[list[Any]]) -> int:
    encoder = translate.stream_encoder(client, "m", include_usage=True)
    return sum(len(encoder.encode(events)) for events in batches)


def best(run: Callable[[], int], args: argparse.Namespace, chunks: int) -> float:
    # CPU time, not wall time: several processes share two cores here.
    times = timeit.repeat(run, number=args.number, repeat=args.rounds, timer=time.process_time)
    return min(times) / args.number / chunks * 1e6


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--number", type=int, default=2000, help="streams per round")
    args = ap.parse_args(argv)
    print(f"<!-- {translate.__file__} -->")
    print(f"| upstream (decoder) | chunks | events | CPU us per chunk (best of {args.rounds}) |")
    print("|---|---|---|---|")
    for upstream, chunks in STREAMS.items():
        events = decode(upstream, chunks)
        cost = best(functools.partial(decode, upstream, chunks), args, len(chunks))
        print(f"| {upstream} | {len(chunks)} | {events} | {cost:.3f} |", flush=True)
    decoder = translate.stream_decoder("chat")
    batches = [decoder.feed(chunk) for chunk in STREAMS["chat"]] + [decoder.close()]
    print(f"\n| client (encoder) | chunks | bytes | CPU us per chunk (best of {args.rounds}) |")
    print("|---|---|---|---|")
    for client in ("chat", "responses", "anthropic", "gemini"):
        size = encode(client, batches)
        cost = best(functools.partial(encode, client, batches), args, len(batches))
        print(f"| {client} | {len(batches)} | {size} | {cost:.3f} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
