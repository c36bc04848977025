#!/usr/bin/env python3
"""What reading headroom costs per proxied answer (issue 19): ``parse_headroom`` over an
answer's raw headers, then the mark (``below_mark``) and the coalescing test (``changed``),
as the proxy runs them once per successful answer.

    python benchmarks/bench_headroom.py [repeats]

Header sets: an answer with no rate-limit headers (the common case for a local model), the
OpenAI-style six, Anthropic's twelve, and the two subscriptions' (issue 20), each among ten
ordinary headers as aiohttp hands them over (raw bytes). Prints the best-of-5 microseconds
per answer for each.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

from auto_router.limits.headroom import Mark, below_mark, changed, parse_headroom

ORDINARY = [
    (b"Date", b"Wed, 02 Dec 2026 01:00:00 GMT"),
    (b"Content-Type", b"application/json"),
    (b"Content-Length", b"412"),
    (b"Connection", b"keep-alive"),
    (b"x-request-id", b"req_0123456789abcdef"),
    (b"openai-processing-ms", b"312"),
    (b"strict-transport-security", b"max-age=31536000"),
    (b"cf-ray", b"8f0a1b2c3d4e5f60-AMS"),
    (b"server", b"cloudflare"),
    (b"alt-svc", b'h3=":443"; ma=86400'),
]
OPENAI = [
    (b"x-ratelimit-limit-requests", b"5000"),
    (b"x-ratelimit-limit-tokens", b"160000"),
    (b"x-ratelimit-remaining-requests", b"4999"),
    (b"x-ratelimit-remaining-tokens", b"159976"),
    (b"x-ratelimit-reset-requests", b"12ms"),
    (b"x-ratelimit-reset-tokens", b"6m0s"),
]
ANTHROPIC = [
    (f"anthropic-ratelimit-{w}-{f}".encode(), v)
    for w in ("requests", "tokens", "input-tokens", "output-tokens")
    for f, v in (("limit", b"4000"), ("remaining", b"3999"), ("reset", b"2026-12-02T01:01:00Z"))
]
#: A Claude subscription's unified set (issue 20) and a Codex-on-ChatGPT answer's.
CLAUDE_SUBSCRIPTION = [
    (b"anthropic-ratelimit-unified-status", b"allowed"),
    (b"anthropic-ratelimit-unified-reset", b"1790003600"),
    (b"anthropic-ratelimit-unified-representative-claim", b"five_hour"),
    (b"anthropic-ratelimit-unified-fallback-percentage", b"0.5"),
    (b"anthropic-ratelimit-unified-5h-status", b"allowed"),
    (b"anthropic-ratelimit-unified-5h-utilization", b"0.42"),
    (b"anthropic-ratelimit-unified-5h-reset", b"1790003600"),
    (b"anthropic-ratelimit-unified-7d-status", b"allowed"),
    (b"anthropic-ratelimit-unified-7d-utilization", b"0.12"),
    (b"anthropic-ratelimit-unified-7d-reset", b"1790400000"),
    (b"anthropic-ratelimit-unified-overage-status", b"rejected"),
]
CODEX_SUBSCRIPTION = [
    (b"x-codex-primary-used-percent", b"42"),
    (b"x-codex-primary-window-minutes", b"300"),
    (b"x-codex-primary-reset-after-seconds", b"3600"),
    (b"x-codex-primary-reset-at", b"1790003600"),
    (b"x-codex-secondary-used-percent", b"12"),
    (b"x-codex-secondary-window-minutes", b"10080"),
    (b"x-codex-secondary-reset-after-seconds", b"400000"),
    (b"x-codex-secondary-reset-at", b"1790400000"),
]
SETS = {
    "no rate-limit headers": ORDINARY,
    "openai-style (6)": ORDINARY + OPENAI,
    "anthropic (12)": ORDINARY + ANTHROPIC,
    "claude subscription (11)": ORDINARY + CLAUDE_SUBSCRIPTION,
    "codex subscription (8)": ORDINARY + CODEX_SUBSCRIPTION,
}


def per_answer(headers: list[tuple[bytes, bytes]], repeats: int) -> float:
    """Best of 5 runs, microseconds per answer: parse, mark, coalescing test."""
    now = time.time()
    mark = Mark()
    last = parse_headroom(headers, now)

    def one() -> None:
        windows = parse_headroom(headers, now)
        if windows:
            below_mark(windows, mark, now)
            changed(last, windows)

    return best(one, repeats)


def best(fn: Callable[[], None], repeats: int) -> float:
    runs = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(repeats):
            fn()
        runs.append((time.perf_counter() - start) / repeats * 1e6)
    return min(runs)


def main() -> None:
    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    for name, headers in SETS.items():
        print(f"{name:24} {per_answer(headers, repeats):6.2f} us per answer")


if __name__ == "__main__":
    main()
