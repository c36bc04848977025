#!/usr/bin/env python3
# ruff: noqa: E501
"""What protocol translation adds: the same proxy and upstream, one client speaking the
upstream's protocol (Chat Completions, untranslated) and one speaking Anthropic Messages
(translated to Chat Completions and back), interleaved per cell.

Starts the shared harness's mock upstream (Chat Completions only) and
``auto-router proxy`` with one OpenAI-type provider pointing at it (proxy pinned to CPU 1;
the mock and this script's closed-loop load generator on CPU 0). Prints a Markdown table
for docs/performance.md.

    python benchmarks/bench_translate.py [--duration 3] [--concurrency 1,64]
    python benchmarks/bench_translate.py --micro   # CPU per request, in process (steadier
                                                   # than end to end on a busy machine)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_proxy import ROOT, free_port, pinned, wait_ready

PROMPT = [{"role": "user", "content": "Say hello"}]
CASES = {
    # name: (path, body, extra headers)
    "chat": ("/v1/chat/completions", {"model": "mock-gpt", "messages": PROMPT, "max_tokens": 16}, {}),
    "anthropic": ("/v1/messages", {"model": "mock-gpt", "messages": PROMPT, "max_tokens": 16},
                  {"anthropic-version": "2023-06-01"}),
}  # fmt: skip


async def run(
    base: str, case: str, stream: bool, concurrency: int, duration: float, warmup: float
) -> dict[str, Any]:
    path, body, headers = CASES[case]
    payload = json.dumps({**body, "stream": stream}).encode()
    headers = {"content-type": "application/json", "authorization": "Bearer x", **headers}
    latencies: list[float] = []
    ttfbs: list[float] = []
    errors = 0
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        start = time.perf_counter()
        measure_from = start + warmup
        stop = measure_from + duration

        async def worker() -> None:
            nonlocal errors
            while (now := time.perf_counter()) < stop:
                async with session.post(base + path, data=payload, headers=headers) as resp:
                    first = await resp.content.readany()
                    ttfb = time.perf_counter() - now
                    while await resp.content.readany():
                        pass
                    ok = resp.status == 200 and bool(first)
                end = time.perf_counter()
                if now >= measure_from and end <= stop:
                    if ok:
                        latencies.append((end - now) * 1000)
                        ttfbs.append(ttfb * 1000)
                    else:
                        errors += 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return {
        "rps": len(latencies) / duration,
        "p50": statistics.median(latencies) if latencies else float("nan"),
        "ttfb_p50": statistics.median(ttfbs) if ttfbs else float("nan"),
        "errors": errors,
    }


def micro() -> None:
    """Best-of-7 CPU time of each step, in microseconds: what translation adds per request."""
    import timeit

    from auto_router import translate
    from auto_router.proxy.routing import Target
    from auto_router.proxy.upstream import Timeouts

    anthropic_body = {**CASES["anthropic"][1], "system": "You are Claude Code.",
                      "tools": [{"name": "read", "description": "Read a file", "input_schema": {
                          "type": "object", "properties": {"path": {"type": "string"}}}}]}  # fmt: skip
    raw = json.dumps(anthropic_body).encode()
    chat_answer = json.dumps({"id": "c", "object": "chat.completion", "created": 1, "model": "m",
                              "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello there"},
                                           "finish_reason": "stop"}],
                              "usage": {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15}}).encode()  # fmt: skip
    chunk = (b'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m",'
             b'"choices":[{"index":0,"delta":{"content":"tok "},"finish_reason":null}]}\n\n')  # fmt: skip
    target = Target("b", "p", "openai", "m", None, (), (), {}, "", Timeouts(1, 1), ())

    def untranslated_hook() -> None:
        target.translate.get("chat")
        target.upstream_model("mock-gpt")

    def request() -> None:
        req = translate.parse_request("anthropic", json.loads(raw))
        json.dumps(translate.build_request("chat", req, "m")).encode()

    def answer() -> None:
        json.dumps(
            translate.translate_response("chat", "anthropic", json.loads(chat_answer), "m")
        ).encode()

    decoder, encoder = translate.stream_decoder("chat"), translate.stream_encoder("anthropic", "m")
    encoder.encode(decoder.feed(chunk))

    def stream_chunk() -> None:
        encoder.encode(decoder.feed(chunk))

    for name, fn, n in (("untranslated path: the hook's lookups", untranslated_hook, 200_000),
                        ("anthropic request -> chat request (parse, convert, dump)", request, 5_000),
                        ("chat answer -> anthropic answer (JSON)", answer, 5_000),
                        ("one streamed chat chunk -> anthropic event", stream_chunk, 20_000),
                        ("reference: json.loads of that chunk (machine speed)", lambda: json.loads(chunk[6:-2]), 20_000)):  # fmt: skip
        best = min(timeit.repeat(fn, number=n, repeat=7)) / n * 1e6
        print(f"| {name} | {best:.2f} us |")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    default_bench = ROOT.parent / "shared" / "bench"
    if not default_bench.exists():
        default_bench = Path("/work/shared/bench")
    ap.add_argument("--bench-dir", type=Path, default=default_bench)
    ap.add_argument("--duration", type=float, default=3.0)
    ap.add_argument("--warmup", type=float, default=1.0)
    ap.add_argument("--concurrency", default="1,64")
    ap.add_argument("--proxy-cmd", default=str(Path(sys.executable).parent / "auto-router"))
    ap.add_argument("--micro", action="store_true", help="in-process CPU cost per step only")
    args = ap.parse_args(argv)
    if args.micro:
        micro()
        return 0
    with contextlib.suppress(AttributeError, OSError):
        os.sched_setaffinity(0, {0})
    mock_port, proxy_port = free_port(), free_port()
    procs: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory() as home:
        Path(home, "llm_config.toml").write_text(
            '[backends.pool]\nproviders = ["mock"]\n\n[message_backend]\ndefault = "pool"\n'
        )
        Path(home, "provider_metadata.toml").write_text(
            f'[pool.mock]\nbase_url = "http://127.0.0.1:{mock_port}/v1"\napi_key = "sk-bench"\nmodel = "mock-gpt"\n'
        )
        try:
            mock = subprocess.Popen(
                pinned("0", [sys.executable, str(args.bench_dir / "mock_upstream.py"), "--port", str(mock_port)]),
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
            )  # fmt: skip
            procs.append(mock)
            wait_ready(f"http://127.0.0.1:{mock_port}/v1", mock)
            proxy = subprocess.Popen(
                pinned("1", [args.proxy_cmd, "--config-dir", home, "proxy", "--port", str(proxy_port)]),
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
            )  # fmt: skip
            procs.append(proxy)
            base = f"http://127.0.0.1:{proxy_port}"
            wait_ready(f"{base}/v1", proxy)
            print(
                "| stream | c | chat (untranslated) req/s | anthropic->chat req/s | ratio | chat p50 ms | anthropic p50 ms | added p50 ms | added TTFB p50 ms |"
            )
            print("|---|---|---|---|---|---|---|---|---|")
            for stream in (False, True):
                for c in [int(x) for x in args.concurrency.split(",")]:
                    same = asyncio.run(run(base, "chat", stream, c, args.duration, args.warmup))
                    translated = asyncio.run(
                        run(base, "anthropic", stream, c, args.duration, args.warmup)
                    )
                    assert not same["errors"] and not translated["errors"], (same, translated)
                    print(
                        f"| {'yes' if stream else 'no'} | {c} | {same['rps']:.0f} | {translated['rps']:.0f} | "
                        f"{translated['rps'] / same['rps']:.3f} | {same['p50']:.3f} | {translated['p50']:.3f} | "
                        f"{translated['p50'] - same['p50']:+.3f} | {translated['ttfb_p50'] - same['ttfb_p50']:+.3f} |",
                        flush=True,
                    )
        finally:
            for proc in procs:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(10)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
