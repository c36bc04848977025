#!/usr/bin/env python3
"""What a backend's ``strategy`` and a session cost ``Router.plan`` per request (issue 19).

    python benchmarks/bench_strategies.py [calls]

A backend of three providers, the state in memory (so only the router's own work is timed,
not the one ``PRAGMA data_version`` a real proxy adds per request). For each strategy, and
for a request with a bound session, prints the median over 7 runs of nanoseconds per
``plan`` call with the plan already cached: the hot path. Then the cost of making a plan
afresh (what a state change costs the next request), per strategy.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

from auto_router.config import load_config
from auto_router.paths import resolve_paths
from auto_router.proxy.routing import Router
from auto_router.rotation.state import MemoryStateStore

FAMILY = "openai+"


def router(directory: Path, strategy: str) -> Router:
    (directory / "llm_config.toml").write_text(
        f'[backends.qwen]\nproviders = ["a", "b", "c"]\nstrategy = "{strategy}"\n'
    )
    (directory / "provider_metadata.toml").write_text(
        "".join(
            f'[qwen.{n}]\nbase_url = "http://127.0.0.1:9/v1"\napi_key = "sk-{n}-0000000000"\n'
            for n in "abc"
        )
    )
    return Router(load_config(resolve_paths(directory)), MemoryStateStore())


def per_call(fn: object, calls: int) -> float:
    call = fn  # a bound method or a closure
    runs = []
    for _ in range(7):
        start = time.perf_counter_ns()
        for _ in range(calls):
            call()  # type: ignore[operator]
        runs.append((time.perf_counter_ns() - start) / calls)
    return statistics.median(runs)


def main(calls: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        for strategy in ("sticky", "priority", "round-robin"):
            directory = Path(tmp) / strategy
            directory.mkdir()
            r = router(directory, strategy)
            plan = r.plan("qwen", FAMILY)
            r.bind("s", plan, plan.candidates[1])
            cached = per_call(lambda r=r: r.plan("qwen", FAMILY), calls)
            session = per_call(lambda r=r: r.plan("qwen", FAMILY, session="s"), calls)
            fresh = per_call(lambda r=r: r._plans.clear() or r.plan("qwen", FAMILY), calls // 10)
            print(
                f"{strategy:<12} cached plan {cached:6.0f} ns   with a session {session:6.0f} ns"
                f"   made afresh {fresh / 1000:6.1f} us"
            )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)
