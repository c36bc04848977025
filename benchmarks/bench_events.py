#!/usr/bin/env python3
"""How long a failover takes to reach a ``GET /v1/events`` subscriber, on real sockets.

The proxy (uvicorn, uvloop, httptools) in front of two fake upstreams: the first answers every
request with a 429 that asks for five minutes, so each request fails over to the second and
the rotation service publishes a ``rotation`` event. An SSE client (httpx) reads the stream.
Per round: reset the backend through the management API, send one request, and time from the
event's own timestamp (taken when the state write that made it returned, in the proxy) to the
moment the client has parsed it; and from the request's start to the same moment. The issue's
bound is 100 ms.

    python benchmarks/bench_events.py [--rounds 50]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from auto_router.demo.fake_upstream import FakeUpstream, Reply, Seen
from auto_router.paths import Paths
from auto_router.proxy import ProxyOptions, create_app
from auto_router.secrets import Secret
from tests.helpers import serve
from tests.proxy.conftest import two_providers

TOKEN = "bench-admin-0123456789abcdefXYZ"
AUTH = {"authorization": f"Bearer {TOKEN}"}
CHAT = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}


def limited(seen: Seen) -> Reply:
    return Reply(429, {"error": {"message": "Rate limit reached"}}, {"retry-after": "300"})


def measure(base: str, rounds: int) -> tuple[list[float], list[float]]:
    """(event -> client, request start -> client) per round, in milliseconds."""
    delivery: list[float] = []
    end_to_end: list[float] = []
    with (
        httpx.Client(base_url=base, timeout=30) as client,
        httpx.stream("GET", f"{base}/v1/events", headers=AUTH, timeout=30) as events,
    ):
        lines = events.iter_lines()
        assert next(lines) == ": connected"
        for _ in range(rounds):
            client.post("/v1/backends/qwen/reset", headers=AUTH)
            started = time.time()
            threading.Thread(
                target=client.post, args=("/v1/chat/completions",), kwargs={"json": CHAT}
            ).start()
            name = ""
            for line in lines:
                if line.startswith("event: "):
                    name = line[7:]
                elif line.startswith("data: ") and name == "rotation":
                    data = json.loads(line[6:])
                    if data["to"] == "two":
                        now = time.time()
                        delivery.append((now - data["ts"]) * 1000)
                        end_to_end.append((now - started) * 1000)
                        break
    return delivery, end_to_end


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=50)
    rounds = parser.parse_args().rounds
    home_dir = Path(tempfile.mkdtemp())
    home = Paths(config_dir=home_dir, data_dir=home_dir)
    with FakeUpstream(limited) as one, FakeUpstream() as two:
        two_providers(home, one.url, two.url)
        app = create_app(ProxyOptions(paths=home, admin_token=Secret(TOKEN), request_log=False))
        with serve(app) as base:
            delivery, end_to_end = measure(base, rounds)
    for label, values in (("event -> client", delivery), ("request start -> client", end_to_end)):
        values.sort()
        print(
            f"{label:>24}: median {statistics.median(values):6.2f} ms  "
            f"p95 {values[int(len(values) * 0.95) - 1]:6.2f} ms  max {values[-1]:6.2f} ms  "
            f"({len(values)} rounds)"
        )


if __name__ == "__main__":
    main()
