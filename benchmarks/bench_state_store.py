#!/usr/bin/env python3
"""What the Redis state store adds to a proxied request, next to the SQLite one (issue 22).

The proxy's ASGI app in-process (uvicorn in a thread, request log off), the project's
fake upstream on a loopback socket, one provider; the same run with ``[state]`` absent
(SQLite) and with ``[state] url`` (a real Redis). Per store: the p50 latency of sequential
requests (concurrency 1) and the throughput of 64 concurrent ones, in alternating rounds so
that the load of a shared machine falls on both alike.

    AUTO_ROUTER_TEST_REDIS_URL=redis://127.0.0.1:6379/0 \\
        python benchmarks/bench_state_store.py [--requests 2000] [--rounds 3] [--session]

"Redis commands per proxied request" counts every client's commands: give it a Redis of its
own (``redis-server --port 6390 --save ''``) when other work shares the server.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import uvicorn

from auto_router.demo.fake_upstream import FakeUpstream, free_port
from auto_router.paths import resolve_paths
from auto_router.proxy import ProxyOptions, create_app
from auto_router.proxy.logs import configure_logging

DEVNULL = open(os.devnull, "w")  # noqa: SIM115 - open for the whole run
BODY = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}


def config_dir(root: Path, upstream: str, state: str) -> Path:
    conf = root / uuid.uuid4().hex
    conf.mkdir()
    (conf / "llm_config.toml").write_text(
        '[backends.b]\nproviders = ["p"]\n\n[proxy.request_log]\nenabled = false\n' + state
    )
    (conf / "provider_metadata.toml").write_text(
        f'[b.p]\nbase_url = "{upstream}"\napi_key = "sk-bench"\nmodel = "m"\n'
    )
    return conf


@contextlib.contextmanager
def proxy(conf: Path) -> Iterator[str]:
    """The proxy app on uvicorn in a thread, on a free loopback port; yields its URL."""
    app = create_app(ProxyOptions(paths=resolve_paths(conf), config_interval=1.0))
    # The log line of every request as `auto-router proxy` writes it (logfmt, redacted),
    # into /dev/null: structlog's default console renderer costs far more per line than
    # what is measured here, and a terminal's or a file's writes would be noise.
    configure_logging(stream=DEVNULL, redactor=lambda: app.services.redactors.current)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)


async def one_store(base: str, requests: int, session: bool) -> tuple[float, float]:
    """(p50 ms at concurrency 1, requests/s at 64); with ``session``, every request in one
    session (its binding is then read, and kept, in the store on each request)."""
    limits = httpx.Limits(max_connections=64)
    headers = {"x-auto-router-session": "bench"} if session else {}
    async with httpx.AsyncClient(base_url=base, limits=limits, headers=headers) as client:
        for _ in range(50):  # warm: connections, the plan cache
            (await client.post("/v1/chat/completions", json=BODY)).raise_for_status()
        times = []
        for _ in range(requests):
            start = time.perf_counter()
            (await client.post("/v1/chat/completions", json=BODY)).raise_for_status()
            times.append(time.perf_counter() - start)
        queue = iter(range(requests))

        async def worker() -> None:
            for _ in queue:
                (await client.post("/v1/chat/completions", json=BODY)).raise_for_status()

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(64)))
        rate = requests / (time.perf_counter() - start)
    return statistics.median(times) * 1000, rate


def redis_calls(url: str) -> int:
    """Commands Redis has run (every client's): what the Redis store asks per request."""
    import redis

    client = redis.Redis.from_url(url)
    stats = client.info("commandstats")
    client.close()
    return sum(int(v["calls"]) for v in stats.values())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--session", action="store_true", help="X-Auto-Router-Session on all")
    args = parser.parse_args()
    url = os.environ.get("AUTO_ROUTER_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    prefix = f"ar-bench-{uuid.uuid4().hex[:8]}"
    stores = {"sqlite": "", "redis": f'\n[state]\nurl = "{url}"\nprefix = "{prefix}"\n'}
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in stores}
    calls_before = redis_calls(url)
    with tempfile.TemporaryDirectory() as tmp, FakeUpstream() as up:
        os.environ["AUTO_ROUTER_HOME"] = tmp
        for _ in range(args.rounds):
            for name, state in stores.items():
                conf = config_dir(Path(tmp), up.url, state)
                with proxy(conf) as base:
                    results[name].append(asyncio.run(one_store(base, args.requests, args.session)))
    print("| store | p50 ms, concurrency 1 | requests/s, concurrency 64 |")
    print("|---|---|---|")
    for name, rows in results.items():
        p50 = min(r[0] for r in rows)
        rate = max(r[1] for r in rows)
        print(f"| {name} | {p50:.3f} | {rate:.0f} |")
    for name, rows in results.items():  # the spread: the noise a difference must beat
        print(f"{name} p50 per round: " + ", ".join(f"{r[0]:.3f}" for r in rows))
    per_request = (redis_calls(url) - calls_before) / (args.rounds * (2 * args.requests + 50))
    print(f"\nRedis commands per proxied request: {per_request:.4f}")
    added = min(r[0] for r in results["redis"]) - min(r[0] for r in results["sqlite"])
    print(
        f"\nRedis adds {added * 1000:.0f} µs at p50 (best round of {args.rounds})", file=sys.stderr
    )


if __name__ == "__main__":
    main()
