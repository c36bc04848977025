#!/usr/bin/env python3
# ruff: noqa: E501
"""What the proxy adds over calling the upstream directly; writes docs/performance.md.

Starts the fast mock upstream and ``auto-router proxy --upstream`` (pinned to CPU 1; the
mock and the load generator share CPU 0), then, per scenario and concurrency, runs the
closed-loop load generator against the mock directly and through the proxy, interleaved.
The mock and the load generator are the shared harness's (``--bench-dir``, default
``../shared/bench`` next to the project, else ``/work/shared/bench``).

    python benchmarks/bench_proxy.py [--duration 5] [--concurrency 1,16,64,256]
                                     [--scenarios chat,stream,chat50,stream50] [--no-write]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = {
    # name: (stream, mock config)
    "chat": (False, {"latency_ms": 0, "chunk_delay_ms": 0}),
    "stream": (True, {"latency_ms": 0, "chunk_delay_ms": 0}),
    "chat50": (False, {"latency_ms": 50, "chunk_delay_ms": 0}),
    "stream50": (True, {"latency_ms": 50, "chunk_delay_ms": 5}),
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def pinned(cpus: str, argv: list[str]) -> list[str]:
    return ["taskset", "-c", cpus, *argv] if cpus and shutil.which("taskset") else argv


def post(url: str, body: dict[str, Any]) -> int:
    req = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"content-type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=5) as resp:
        resp.read()
        status: int = resp.status
        return status


def wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float = 30) -> float:
    start = time.monotonic()
    body = {"model": "mock-gpt", "messages": [{"role": "user", "content": "hi"}]}
    while True:
        try:
            if post(f"{url}/chat/completions", body) == 200:
                return time.monotonic() - start
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() - start > timeout:
            raise SystemExit(f"{url} did not come up")
        time.sleep(0.02)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def loadgen(args: argparse.Namespace, base: str, stream: bool, concurrency: int) -> dict[str, Any]:
    cmd = pinned(
        args.client_cpus,
        [
            sys.executable,
            str(args.bench_dir / "loadgen.py"),
            "--base-url",
            base,
            "--concurrency",
            str(concurrency),
            "--duration",
            str(args.duration),
            "--warmup",
            str(args.warmup),
            *(["--stream"] if stream else []),
        ],
    )
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=args.duration * 4 + 60)
    lines = [json.loads(x) for x in out.stdout.splitlines() if x.startswith("{")]
    if not lines:
        raise SystemExit(f"loadgen failed: {out.stderr[-2000:]}")
    result: dict[str, Any] = lines[-1]
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    default_bench = ROOT.parent / "shared" / "bench"
    if not default_bench.exists():
        default_bench = Path("/work/shared/bench")
    ap.add_argument("--bench-dir", type=Path, default=default_bench)
    ap.add_argument("--duration", type=float, default=5.0)
    ap.add_argument("--warmup", type=float, default=1.0)
    ap.add_argument("--concurrency", default="1,16,64,256")
    ap.add_argument("--scenarios", default="chat,stream,chat50,stream50")
    ap.add_argument("--client-cpus", default="0")
    ap.add_argument("--proxy-cpus", default="1")
    ap.add_argument("--proxy-cmd", default=str(Path(sys.executable).parent / "auto-router"))
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "performance.md")
    ap.add_argument("--json-out", type=Path, default=ROOT / "benchmarks" / "out" / "results.json")
    ap.add_argument("--no-write", action="store_true", help="print only")
    ap.add_argument("--render", type=Path, help="only re-render docs from a results.json")
    args = ap.parse_args(argv)
    if args.render:
        args.out.write_text(render(json.loads(args.render.read_text()), args))
        print(f"wrote {args.out}")
        return 0

    mock_port, proxy_port = free_port(), free_port()
    direct = f"http://127.0.0.1:{mock_port}/v1"
    through = f"http://127.0.0.1:{proxy_port}/v1"
    procs: list[subprocess.Popen[bytes]] = []
    try:
        mock = subprocess.Popen(
            pinned(
                args.client_cpus,
                [
                    sys.executable,
                    str(args.bench_dir / "mock_upstream.py"),
                    "--port",
                    str(mock_port),
                ],
            ),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        procs.append(mock)
        wait_ready(direct, mock)
        started = time.monotonic()
        proxy = subprocess.Popen(
            pinned(
                args.proxy_cpus,
                [args.proxy_cmd, "proxy", "--port", str(proxy_port), "--upstream", direct],
            ),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        procs.append(proxy)
        wait_ready(through, proxy)
        ready = time.monotonic() - started
        time.sleep(1.0)
        idle_rss = rss_mb(proxy.pid)
        rows = []
        for name in args.scenarios.split(","):
            stream, mock_config = SCENARIOS[name]
            post(f"http://127.0.0.1:{mock_port}/__mock/config", mock_config)
            for c in [int(x) for x in args.concurrency.split(",")]:
                d = loadgen(args, direct, stream, c)
                p = loadgen(args, through, stream, c)
                row = {"scenario": name, "concurrency": c, "direct": d, "proxy": p}
                rows.append(row)
                print(_line(row), flush=True)
        peak_rss = rss_mb(proxy.pid)
    finally:
        for proc in procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(10)
    summary = {"ready_s": round(ready, 3), "idle_rss_mb": round(idle_rss, 1),
               "rss_after_mb": round(peak_rss, 1), "rows": rows}  # fmt: skip
    print(json.dumps({k: v for k, v in summary.items() if k != "rows"}))
    if not args.no_write:
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        args.json_out.write_text(json.dumps(summary, indent=1))
        args.out.write_text(render(summary, args))
        print(f"wrote {args.json_out} and {args.out}")
    return 0


def render(summary: dict[str, Any], args: argparse.Namespace) -> str:
    """docs/performance.md: the target check, the full table, and the peer comparison."""
    rows = summary["rows"]

    def find(scenario: str, c: int) -> dict[str, Any] | None:
        return next((r for r in rows if r["scenario"] == scenario and r["concurrency"] == c), None)

    def ratio(r: dict[str, Any] | None) -> float | None:
        return None if r is None else r["proxy"]["rps"] / r["direct"]["rps"]

    def added(r: dict[str, Any] | None, key: str) -> float | None:
        if r is None or key not in r["proxy"]:
            return None
        return float(r["proxy"][key]["p50"] - r["direct"][key]["p50"])

    def verdict(value: float | None, ok: bool) -> str:
        return "not measured" if value is None else ("met" if ok else "**missed**")

    p50 = added(find("chat", 1), "lat_ms")
    c64 = ratio(find("chat50", 64))
    s256 = ratio(find("stream50", 256))
    ttfb = added(find("stream", 1), "ttfb_ms")
    checks = [
        ("added p50, c=1, non-streaming", "<= 0.25 ms", _fmt(p50, " ms"), verdict(p50, (p50 or 0) <= 0.25)),
        ("50 ms upstream, c=64, throughput", ">= 0.95x direct", _fmt(c64, "x"), verdict(c64, (c64 or 0) >= 0.95)),
        ("50 ms upstream, 256 streams, throughput", ">= 0.9x direct", _fmt(s256, "x"), verdict(s256, (s256 or 0) >= 0.9)),
        ("TTFB, c=1, stream (added)", "<= 1 ms", _fmt(ttfb, " ms"), verdict(ttfb, (ttfb or 0) <= 1.0)),
        ("idle RSS", "<= 60 MB", f"{summary['idle_rss_mb']} MB", verdict(1, summary["idle_rss_mb"] <= 60)),
        ("ready (process start to first 200)", "<= 1 s", f"{summary['ready_s']} s", verdict(1, summary["ready_s"] <= 1)),
    ]  # fmt: skip
    out = [
        "# Proxy performance",
        "",
        "Generated by `benchmarks/bench_proxy.py` (re-run it to refresh this file). The proxy",
        "runs as `auto-router proxy --upstream <mock>` pinned to CPU 1; the shared harness's",
        "mock upstream and load generator share CPU 0 (`../shared/bench/`). Each cell: "
        f"{args.warmup:g} s warm-up + {args.duration:g} s measured, direct and proxied interleaved.",
        "",
        "## Targets",
        "",
        "| target | goal | measured | |",
        "|---|---|---|---|",
        *(f"| {a} | {b} | {c} | {d} |" for a, b, c, d in checks),
        "",
        "## All cells",
        "",
        "| scenario | c | direct req/s | proxy req/s | x direct | direct p50 ms | proxy p50 ms"
        " | +p50 ms | +p99 ms | +TTFB p50 ms |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        d, p = r["direct"], r["proxy"]
        ttfb_added = added(r, "ttfb_ms")
        out.append(
            f"| {r['scenario']} | {r['concurrency']} | {d['rps']:.0f} | {p['rps']:.0f} | "
            f"{p['rps'] / d['rps']:.3f} | {d['lat_ms']['p50']:.3f} | {p['lat_ms']['p50']:.3f} | "
            f"{p['lat_ms']['p50'] - d['lat_ms']['p50']:+.3f} | "
            f"{p['lat_ms']['p99'] - d['lat_ms']['p99']:+.3f} | {_fmt(ttfb_added, '')} |"
        )
    notes = ROOT / "benchmarks" / "notes.md"
    if notes.exists():
        out += ["", notes.read_text().rstrip()]
    # bench_startup.py owns its section of the same file: keep it as it is.
    current = args.out.read_text() if args.out.exists() else ""
    begin, end = "<!-- bench_startup: begin -->", "<!-- bench_startup: end -->"
    if begin in current and end in current:
        out += ["", begin + current.split(begin, 1)[1].split(end, 1)[0] + end]
    return "\n".join(out) + "\n"


def _fmt(value: float | None, unit: str) -> str:
    return "-" if value is None else f"{value:.3f}{unit}"


def _line(row: dict[str, Any]) -> str:
    d, p = row["direct"], row["proxy"]
    text = (
        f"{row['scenario']:<9} c={row['concurrency']:<4} direct {d['rps']:>8.1f} req/s "
        f"p50 {d['lat_ms']['p50']:.3f} | proxy {p['rps']:>8.1f} req/s p50 {p['lat_ms']['p50']:.3f}"
        f" | x{p['rps'] / d['rps']:.3f} +p50 {p['lat_ms']['p50'] - d['lat_ms']['p50']:+.3f} ms"
    )
    if "ttfb_ms" in p and "ttfb_ms" in d:
        text += f" +ttfb {p['ttfb_ms']['p50'] - d['ttfb_ms']['p50']:+.3f} ms"
    return text


if __name__ == "__main__":
    sys.exit(main())
