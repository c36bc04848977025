#!/usr/bin/env python3
"""What the peer uid check (proxy/peers.py) costs a new connection, with N others open.

The proxy looks the client's uid up once per connection: through sock_diag netlink (an exact
lookup by the 4-tuple, ``diag_uid``), or where the kernel lacks it in /proc/net/tcp, read
only until the client's row (``peer_uid``). The file lists every TCP socket of the network
namespace, so its cost grows with what is open: this script opens N loopback connections
(2 N rows: both ends are here), then times both lookups for connections picked across them
(a row's place in the file is the kernel's hash order), and one whole read of the file.
Linux only.

    python benchmarks/bench_peer_uid.py [--open 0 100 1000 4000] [--lookups 200]

Prints, per N and lookup, the median and the 90th percentile microseconds of wall time per
lookup (a few system calls: wall time is CPU time unless the machine is busy), the median of
one whole read of /proc/net/tcp, and how many rows the file had.
"""

from __future__ import annotations

import argparse
import random
import resource
import socket
import statistics
import time
from pathlib import Path

from auto_router.proxy.peers import diag_uid, diag_works, peer_uid


def open_connections(count: int) -> tuple[socket.socket, list[tuple[socket.socket, socket.socket]]]:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4096)
    pairs = []
    for _ in range(count):
        client = socket.create_connection(listener.getsockname())
        accepted, _ = listener.accept()
        pairs.append((client, accepted))
    return listener, pairs


def timed(samples: int, call: object) -> list[float]:
    times = []
    for _ in range(samples):
        start = time.perf_counter()
        call()  # type: ignore[operator]
        times.append((time.perf_counter() - start) * 1e6)
    return times


def measure(count: int, lookups: int, netlink: bool) -> None:
    listener, pairs = open_connections(max(count, 1))
    try:
        picks = [random.choice(pairs)[1] for _ in range(lookups)]
        ends = [(a.getpeername(), a.getsockname()) for a in picks]
        ways = [("sock_diag", diag_uid)] if netlink else []
        ways.append(("/proc/net/tcp", peer_uid))
        for name, lookup in ways:
            times = []
            for peer, local in ends:
                start = time.perf_counter()
                uid = lookup(peer, local)
                times.append((time.perf_counter() - start) * 1e6)
                assert uid is not None
            p90 = statistics.quantiles(times, n=10)[-1]
            print(
                f"{count:>6} open, {name:<13}: median {statistics.median(times):8.1f} us, "
                f"p90 {p90:8.1f} us"
            )
        whole = timed(min(lookups, 50), lambda: Path("/proc/net/tcp").read_bytes())
        rows = Path("/proc/net/tcp").read_bytes().count(b"\n") - 1
        print(
            f"{count:>6} open, whole /proc/net/tcp ({rows} rows): {statistics.median(whole):.1f} us"
        )
    finally:
        for client, accepted in pairs:
            client.close()
            accepted.close()
        listener.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--open", type=int, nargs="+", default=[0, 100, 1000, 4000])
    parser.add_argument("--lookups", type=int, default=200)
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = 2 * max(args.open) + 64
    if soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(need, hard), hard))
    netlink = diag_works()
    if not netlink:
        print("no sock_diag here: only the /proc/net/tcp lookup is measured")
    for count in args.open:
        measure(count, args.lookups, netlink)


if __name__ == "__main__":
    main()
