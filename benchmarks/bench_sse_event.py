#!/usr/bin/env python3
"""One long SSE event, end to end: the time a proxy takes to relay a stream whose one event
is 16 to 128 MiB, for the three places a stream is framed (issue 18).

Linear parsing shows as a time that doubles with the size; the quadratic framing it
replaced (the held part of an event joined and searched again for every chunk) showed as a
time that quadrupled: 64 MiB 2.9 s, 128 MiB 17 s, 256 MiB 63 s.

* ``head``: the long event comes first (the attempt reads the head before answering);
* ``chat``: it comes second, in a native Chat stream (``streams.Framer``);
* ``anthropic``: it comes second, translated for an Anthropic client (``translate.sse``).

``auto-router proxy`` runs in a subprocess (caps raised past the sizes), the one fake
upstream (``auto_router.demo``) in this process sends the event in 64 KiB chunks, and an
aiohttp client reads the answer to its end. Compare two trees by running this script with
``PYTHONPATH=<tree>`` for each (older trees ignore the cap settings):

    python benchmarks/bench_sse_event.py [--sizes 16,32,64,128] [--paths head,chat,anthropic]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

from auto_router.demo.actions import Pour, Seen
from auto_router.demo.fake_upstream import FakeUpstream, free_port

MiB = 1 << 20
PIECE = b"a" * 65536
FIRST = b'data: {"choices":[{"index":0,"delta":{"role":"assistant","content":"hi "}}]}\n\n'
OPEN = b'data: {"choices":[{"index":0,"delta":{"content":"'
CLOSE = b'"},"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n'
CAPS = "max_event_bytes = 1000000000\nmax_stream_bytes = 1000000000\n"  # the checks' largest
CASES = {
    # path: (client path, extra body, headers, whether the long event comes first)
    "head": ("/v1/chat/completions", {}, {}, True),
    "chat": ("/v1/chat/completions", {}, {}, False),
    "anthropic": ("/v1/messages", {"max_tokens": 16}, {"anthropic-version": "2023-06-01"}, False),
}


class LongEvent:
    """The fake's script: the request's ``x-size`` MiB in one event, first or second."""

    def __call__(self, seen: Seen) -> Pour:
        size = int(seen.headers.get("x-size", "1")) * MiB
        first = seen.headers.get("x-first") == "1"
        return Pour(
            lead=b"" if first else FIRST,  # a chunk of its own: the head is one whole event
            head=OPEN,
            piece=PIECE,
            times=size // len(PIECE),
            tail=CLOSE,
            headers={"content-type": "text/event-stream"},
            chunked=True,
        )


async def relay_once(base: str, case: str, size_mib: int) -> tuple[float, int]:
    path, extra, headers, first = CASES[case]
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "stream": True, **extra}
    sent = {**headers, "x-size": str(size_mib), "x-first": "1" if first else "0"}
    timeout = aiohttp.ClientTimeout(total=600)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        started = time.perf_counter()
        async with session.post(base + path, json=body, headers=sent) as resp:
            got = 0
            async for chunk in resp.content.iter_any():
                got += len(chunk)
        return time.perf_counter() - started, got


def start_proxy(home: Path, upstream: str) -> tuple[subprocess.Popen[bytes], str]:
    (home / "llm_config.toml").write_text(
        '[backends.b]\nmodel = "m"\nproviders = ["p"]\n[message_backend]\ndefault = "b"\n'
        f"[proxy]\n{CAPS}idle_timeout = 600\nfirst_token_timeout = 600\n"
        "[proxy.request_log]\nenabled = false\n"
    )
    (home / "provider_metadata.toml").write_text(
        f'[b.p]\nbase_url = "{upstream}"\napi_key = "sk-bench-0123456789"\n'
    )
    port = free_port()
    env = {**os.environ, "XDG_DATA_HOME": str(home), "XDG_STATE_HOME": str(home)}
    argv = [sys.executable, "-m", "auto_router", "--config-dir", str(home), "proxy"]
    proc = subprocess.Popen([*argv, "--port", str(port)], env=env, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            import urllib.request

            with urllib.request.urlopen(f"{base}/health", timeout=1):
                return proc, base
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("the proxy did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="16,32,64,128", help="event sizes in MiB")
    parser.add_argument("--paths", default="head,chat,anthropic")
    parser.add_argument("--rounds", type=int, default=1, help="best of this many")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    paths = args.paths.split(",")
    with tempfile.TemporaryDirectory() as tmp, FakeUpstream(LongEvent()) as up:
        proc, base = start_proxy(Path(tmp), up.url)
        try:
            print("| path | " + " | ".join(f"{s} MiB" for s in sizes) + " |")
            print("|---|" + "---|" * len(sizes))
            for case in paths:
                cells = []
                for size in sizes:
                    runs = [asyncio.run(relay_once(base, case, size)) for _ in range(args.rounds)]
                    seconds, got = min(runs)
                    ok = got >= size * MiB
                    cells.append(f"{seconds:.2f} s" + ("" if ok else f" (got {got} B)"))
                print(f"| {case} | " + " | ".join(cells) + " |", flush=True)
        finally:
            proc.terminate()
            proc.wait(30)
    print(json.dumps({"python": sys.version.split()[0], "load": os.getloadavg()}))


if __name__ == "__main__":
    main()
