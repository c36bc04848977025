#!/usr/bin/env python3
"""Throughput of several proxies, alternating, in rounds: req/s and CPU per request.

The shared harness (``run_peers.sh``/``bench.py``) measures each peer once per cell; on a
machine shared with other work one cell can lose half its CPU to a neighbour. This script
uses the harness's own mock upstream and load generator, starts every proxy once (pinned to
one core, the mock and load generator on the other), and then measures them in turns for
several rounds, rotating the order each round. It reports, per scenario and proxy, the
median req/s, the median CPU time the proxy spent per request (from ``/proc``: robust to
time the proxy was not scheduled), and each proxy's median ratio to the first one measured
in the same round.

    python benchmarks/bench_peers_ab.py --harness /tmp/bench --venvs /tmp/peerbench \\
        --peer 'old=/tmp/ar-old proxy --port {port} --upstream {upstream}' \\
        --peer 'new=/tmp/ar-new proxy --port {port} --upstream {upstream}' \\
        --naive --rounds 5

``--harness`` is a copy of the shared bench directory (mock_upstream.py, loadgen.py,
naive_proxy.py), ``--venvs`` the directory with its ``venv-mock``, ``venv-loadgen`` and
``venv-naive`` (what ``run_peers.sh`` installs). Only loopback addresses are used.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import signal
import statistics
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

_TICK = os.sysconf("SC_CLK_TCK")
_BODY = json.dumps({"model": "mock-gpt", "messages": [{"role": "user", "content": "hi"}]})


@dataclass
class Peer:
    name: str
    command: str
    port: int
    proc: subprocess.Popen[bytes] | None = None
    rps: dict[str, list[float]] = field(default_factory=dict)
    cpu_us: dict[str, list[float]] = field(default_factory=dict)


def cpu_seconds(pid: int) -> float:
    """User + system CPU of ``pid`` and its reaped children (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(v) for v in fields[11:15]) / _TICK


def _ready(port: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/v1/chat/completions",
        data=_BODY.encode(),
        headers={"content-type": "application/json", "authorization": "Bearer sk-bench"},
    )
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(request, timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.25)
    raise SystemExit(f"nothing answered on port {port} within {timeout:g}s")


def _start(argv: list[str], cpus: str, log: Path) -> subprocess.Popen[bytes]:
    out = log.open("wb")
    return subprocess.Popen(
        ["taskset", "-c", cpus, *argv], stdout=out, stderr=out, start_new_session=True
    )


def _stop(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(10)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(proc.pid, signal.SIGKILL)


def measure(peer: Peer, scenario: str, args: argparse.Namespace, loadgen: list[str]) -> None:
    assert peer.proc is not None
    argv = [
        *loadgen,
        "--base-url",
        f"http://127.0.0.1:{peer.port}/v1",
        "--concurrency",
        str(args.concurrency),
        "--warmup",
        str(args.warmup),
        "--duration",
        str(args.duration),
    ]
    if scenario == "stream":
        argv.append("--stream")
    gen = subprocess.Popen(
        ["taskset", "-c", args.client_cpus, *argv], stdout=subprocess.PIPE, text=True
    )
    time.sleep(args.warmup)
    before = cpu_seconds(peer.proc.pid)
    time.sleep(args.duration)
    spent = cpu_seconds(peer.proc.pid) - before
    out, _ = gen.communicate(timeout=args.warmup + args.duration + 60)
    result = json.loads(out.strip().splitlines()[-1])
    rps = float(result["rps"])
    peer.rps.setdefault(scenario, []).append(rps)
    peer.cpu_us.setdefault(scenario, []).append(spent / max(1.0, rps * args.duration) * 1e6)
    print(
        f"  {scenario:6} {peer.name:8} {rps:8.0f} req/s  "
        f"{peer.cpu_us[scenario][-1]:6.0f} us CPU/req  errors={result['error_count']}",
        file=sys.stderr,
        flush=True,
    )


def report(peers: list[Peer], scenarios: list[str]) -> str:
    first = peers[0]
    lines = [
        "| scenario | proxy | req/s (median) | runs | CPU us/req (median) "
        f"| req/s ratio to {first.name} (median of rounds) |",
        "|---|---|---|---|---|---|",
    ]
    for scenario in scenarios:
        for peer in peers:
            rps = peer.rps[scenario]
            ratios = [a / b for a, b in zip(rps, first.rps[scenario], strict=True)]
            lines.append(
                f"| {scenario} | {peer.name} | {statistics.median(rps):,.0f} "
                f"| {', '.join(f'{r:,.0f}' for r in rps)} "
                f"| {statistics.median(peer.cpu_us[scenario]):.0f} "
                f"| {statistics.median(ratios):.2f} |"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--harness", type=Path, required=True)
    parser.add_argument("--venvs", type=Path, required=True)
    parser.add_argument("--peer", action="append", default=[], help="NAME=COMMAND")
    parser.add_argument("--naive", action="store_true", help="add the naive aiohttp proxy")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--scenarios", default="chat,stream")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--client-cpus", default="0")
    parser.add_argument("--proxy-cpus", default="1")
    parser.add_argument("--mock-port", type=int, default=18600)
    parser.add_argument("--logs", type=Path, default=Path("/tmp/bench_peers_ab"))
    args = parser.parse_args()
    args.logs.mkdir(parents=True, exist_ok=True)
    upstream = f"http://127.0.0.1:{args.mock_port}/v1"
    specs = [spec.split("=", 1) for spec in args.peer]
    if args.naive:
        naive = f"{args.venvs}/venv-naive/bin/python {args.harness}/naive_proxy.py"
        specs.append(["naive", f"{naive} --client aiohttp --port {{port}} --upstream {{upstream}}"])
    peers = [Peer(name, cmd, args.mock_port + 1 + i) for i, (name, cmd) in enumerate(specs)]
    scenarios = args.scenarios.split(",")
    loadgen = [f"{args.venvs}/venv-loadgen/bin/python", f"{args.harness}/loadgen.py"]
    mock_argv = [f"{args.venvs}/venv-mock/bin/python", f"{args.harness}/mock_upstream.py"]
    mock = _start([*mock_argv, "--port", str(args.mock_port)], args.client_cpus, args.logs / "mock")
    try:
        for peer in peers:
            argv = shlex.split(peer.command.format(port=peer.port, upstream=upstream))
            peer.proc = _start(argv, args.proxy_cpus, args.logs / peer.name)
        for peer in peers:
            _ready(peer.port)
        for round_ in range(args.rounds):
            print(f"round {round_ + 1}/{args.rounds}", file=sys.stderr, flush=True)
            for scenario in scenarios:
                turn = peers[round_ % len(peers) :] + peers[: round_ % len(peers)]
                for peer in turn:
                    measure(peer, scenario, args, loadgen)
        print(report(peers, scenarios))
    finally:
        for peer in peers:
            if peer.proc is not None:
                _stop(peer.proc)
        _stop(mock)


if __name__ == "__main__":
    main()
