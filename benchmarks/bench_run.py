#!/usr/bin/env python3
"""What ``auto-router run --via-proxy`` costs: a warm run (proxy already up) against a direct
run, and a cold start of the managed proxy (spawn until it says ready).

    .venv/bin/python benchmarks/bench_run.py [--runs 15] [--cold 8]

- ``python -c pass``: the interpreter's own start-up, for reference;
- ``run --direct -- true``: today's direct run;
- ``run --via-proxy -- true`` with a proxy already running (another run holds it): joining
  the proxy (lock, registration, a TCP connect to check it) and leaving it;
- cold start: ``managed.spawn.join`` with no proxy running. The launcher binds the port and
  hands the socket to the new proxy process, so it waits only for the spawn (the agent's
  first connection waits in the socket's backlog); the second figure is the time until the
  proxy prints ``ready <port>`` (serving).

Everything is local: one fake provider URL that is never called (``true`` sends nothing).
Prints a Markdown table (median and p90 of wall time, milliseconds).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from auto_router.launcher.spawn import join, leave  # noqa: E402
from auto_router.paths import Paths  # noqa: E402
from auto_router.runs import RunEntry, RuntimeDir, new_token, pid_alive  # noqa: E402

LLM = '[backends.gen]\nproviders = ["one"]\n[message_backend]\ndefault = "gen"\n'
PROVIDERS = '[gen.one]\nbase_url = "http://127.0.0.1:9/v1"\napi_key = "sk-bench-0000000000"\n'


def timed(command: list[str], env: dict[str, str], runs: int) -> list[float]:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL)
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def cold_starts(base: Path, runs: int) -> tuple[list[float], list[float]]:
    """(what the launcher waits: join returns, spawn until the proxy says ready)."""
    joins: list[float] = []
    samples: list[float] = []
    for i in range(runs):
        home = base / f"cold-{i}"
        home.mkdir()
        (home / "llm_config.toml").write_text(LLM)
        (home / "provider_metadata.toml").write_text(PROVIDERS)
        paths = Paths(home, home)
        token = new_token()
        entry = RunEntry(f"bench-{i}", "gen", os.getpid(), time.time())
        started = time.perf_counter()
        joined = join(paths, token, entry)
        joins.append((time.perf_counter() - started) * 1000)
        assert joined.ready is not None
        joined.ready.wait()
        samples.append((time.perf_counter() - started) * 1000)
        record = RuntimeDir(paths).read_proxy()
        leave(joined)
        while record is not None and pid_alive(record.pid):  # let it retire before the next
            time.sleep(0.05)
    return joins, samples


def row(name: str, samples: list[float]) -> str:
    ordered = sorted(samples)
    p90 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.9))]
    return f"| {name} | {len(samples)} | {statistics.median(samples):.0f} | {p90:.0f} |"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--cold", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-run-") as tmp:
        base = Path(tmp)
        home = base / "home"
        home.mkdir()
        (home / "llm_config.toml").write_text(LLM)
        (home / "provider_metadata.toml").write_text(PROVIDERS)
        env = {k: v for k, v in os.environ.items() if not k.startswith("AUTO_ROUTER")}
        auto = [sys.executable, "-m", "auto_router", "--config-dir", str(home), "run"]
        # A holder keeps the proxy up, as another agent session would. The three commands
        # take turns, so that a change in the machine's load hits them alike.
        holder = join(Paths(home, home), new_token(), RunEntry("holder", "gen", os.getpid(), 0.0))
        commands = {
            "python -c pass": [sys.executable, "-c", "pass"],
            "run --direct -- true": [*auto, "--direct", "--", "true"],
            "run --via-proxy -- true, proxy running": [*auto, "--via-proxy", "--", "true"],
        }
        samples: dict[str, list[float]] = {name: [] for name in commands}
        try:
            for _ in range(args.runs):
                for name, command in commands.items():
                    samples[name] += timed(command, env, 1)
        finally:
            leave(holder)
        rows = [row(name, values) for name, values in samples.items()]
        joins, readies = cold_starts(base, args.cold)
        rows.append(row("cold start: the launcher's wait (socket bound, proxy spawned)", joins))
        rows.append(row("cold start: spawn until the proxy is ready", readies))
    print("| what | runs | median ms | p90 ms |")
    print("|---|---|---|---|")
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
