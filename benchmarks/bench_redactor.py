#!/usr/bin/env python3
"""What the redactor costs per log line, with eight configured keys (auto_router/redaction.py).

Every proxied request writes one log line, and every line goes through ``Redactor.text``
before it is written; error bodies and response headers go through ``binary``. This times
both on lines the proxy really writes (logfmt and JSON request lines, a warning with an
upstream message, a line with long ids) and on one that does quote a piece of a key.
It also times the gate's check of a success response's headers (``Redactor.headers``; a
tree without it is timed on what its gate did: ``found`` over the values, then ``binary``).
The figure is the minimum over ``--rounds`` of process CPU per call (the round least
disturbed on a shared machine). Run it with another tree first on ``PYTHONPATH`` to
compare versions (it uses only the public ``Redactor`` API):

    python benchmarks/bench_redactor.py [--calls 5000] [--rounds 15]
"""

from __future__ import annotations

import argparse
import random
import string
import time
from collections.abc import Callable

from auto_router.redaction import Redactor

_rng = random.Random(16)
_ALPHA = string.ascii_letters + string.digits


def _key(prefix: str, size: int, extra: str = "") -> str:
    return prefix + "".join(_rng.choice(_ALPHA + extra) for _ in range(size))


#: Eight credentials shaped like real ones (OpenAI project, Anthropic, Google, tokens).
KEYS = [
    *(_key("sk-proj-", 48) for _ in range(3)),
    *(_key("sk-ant-api03-", 40, "-_") for _ in range(2)),
    _key("AIza", 35),
    _key("admin-", 24),
    _key("client-", 24),
]
LINES = {
    "request (logfmt)": "timestamp=2026-12-01T22:20:11.123456 level=info event=request "
    "method=POST endpoint=chat backend=upstream provider=upstream model=mock-gpt status=200 "
    "attempts=1 stream=true ms=12.34",
    "request (json)": '{"method": "POST", "endpoint": "messages", "backend": "claude", '
    '"provider": "anthropic-main", "model": "claude-3-5-sonnet-20241022", "status": 200, '
    '"attempts": 1, "stream": true, "ms": 812.5, "level": "info", '
    '"timestamp": "2026-12-01T22:20:11.123456", "event": "request"}',
    "warning (upstream text)": "timestamp=2026-12-01T22:20:11.123456 level=warning "
    'event="upstream stream broke" provider=openai/primary error="upstream timed out '
    "waiting for the response head (request req_011CSqqzZ2b7xkQm3vYtP9aN, "
    'https://api.openai.com/v1/chat/completions)"',
    "quotes a piece of a key": "timestamp=2026-12-01T22:20:11.123456 level=warning "
    f'event="request refused" error="invalid api key {KEYS[0][:20]}... (HTTP 401)"',
}

#: The headers of a real OpenAI chat completion as the gate sees them: names lowercased,
#: without those the proxy never relays (``date``, ``server``, ``set-cookie``...), plus its own.
HEADERS = [
    (b"content-type", b"application/json"),
    (b"openai-organization", b"user-q3vyhd8fzkmb1x2n"),
    (b"openai-processing-ms", b"532"),
    (b"openai-version", b"2020-10-01"),
    (b"x-ratelimit-limit-requests", b"10000"),
    (b"x-ratelimit-limit-tokens", b"30000000"),
    (b"x-ratelimit-remaining-requests", b"9999"),
    (b"x-ratelimit-remaining-tokens", b"29999980"),
    (b"x-ratelimit-reset-requests", b"6ms"),
    (b"x-ratelimit-reset-tokens", b"0s"),
    (b"x-request-id", b"req_5b2f4e0c8a7d4c21a9d7e2b1f3c4a5d6"),
    (b"strict-transport-security", b"max-age=31536000; includeSubDomains; preload"),
    (b"cf-cache-status", b"DYNAMIC"),
    (b"x-content-type-options", b"nosniff"),
    (b"cf-ray", b"8f3a2b1c4d5e6f70-AMS"),
    (b"alt-svc", b'h3=":443"; ma=86400'),
    (b"x-auto-router-provider", b"upstream/upstream"),
    (b"x-auto-router-model", b"gpt-4o-mini"),
    (b"content-length", b"1532"),
]


def check_headers(redactor: Redactor) -> Callable[[], object]:
    """What the gate does to a success response's headers, in this tree."""
    headers = getattr(redactor, "headers", None)
    if headers is not None:
        return lambda: headers(HEADERS)

    def before() -> object:  # the gate before Redactor.headers
        if redactor.found(b"\n".join([v for _, v in HEADERS])):
            return [(name, redactor.binary(value)) for name, value in HEADERS]
        return HEADERS

    return before


def per_call(fn: Callable[[], object], calls: int, rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        started = time.process_time()
        for _ in range(calls):
            fn()
        best = min(best, (time.process_time() - started) / calls)
    return best * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    redactor = Redactor(KEYS)
    print(f"{len(KEYS)} keys; microseconds of CPU per call (min of {args.rounds} rounds)")
    print("| line | chars | text() us | binary() us | masked |")
    print("|---|---|---|---|---|")
    for label, line in LINES.items():
        data = line.encode()
        text = per_call(lambda line=line: redactor.text(line), args.calls, args.rounds)
        binary = per_call(lambda data=data: redactor.binary(data), args.calls, args.rounds)
        masked = "yes" if redactor.text(line) != line else "no"
        print(f"| {label} | {len(line)} | {text:.2f} | {binary:.2f} | {masked} |")
    size = sum(len(v) for _, v in HEADERS)
    gate = per_call(check_headers(redactor), args.calls, args.rounds)
    print(f"| success headers ({len(HEADERS)}; gate) | {size} | | {gate:.2f} | no |")


if __name__ == "__main__":
    main()
